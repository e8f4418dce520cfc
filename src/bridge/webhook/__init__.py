"""The OA webhook: verified events stored durably, then handed to the chat desk."""
