"""Citizens in the OA chat: links to dossiers, lookups, replies, receipts, retention."""

from bridge.citizens.metrics import watch_citizens
from bridge.citizens.receipt_qr import is_case_code, oa_chat_link, render_qr
from bridge.citizens.second_factor import receipt_secret
from bridge.citizens.services import CitizenServices, retention_policy
from bridge.citizens.settings import CitizensConfig, LinkingSettings, RetentionSettings
from bridge.citizens.store import CitizenStore

__all__ = [
    "CitizenServices",
    "CitizenStore",
    "CitizensConfig",
    "LinkingSettings",
    "RetentionSettings",
    "is_case_code",
    "oa_chat_link",
    "receipt_secret",
    "render_qr",
    "retention_policy",
    "watch_citizens",
]
