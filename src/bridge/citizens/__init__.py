"""Citizens in the OA chat: links to dossiers, lookups, replies, receipts, retention."""
