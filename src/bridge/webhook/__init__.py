"""The OA webhook: verified events stored durably, then handed to the chat desk."""

from bridge.webhook.endpoint import REQUEST_RESULTS, InboxPolicy, WebhookInbox, webhook_endpoint
from bridge.webhook.events import InboundAttachment, OaEvent, SignatureKeys
from bridge.webhook.inbox import InboxStatus, InboxStore, webhook_inbox
from bridge.webhook.settings import WebhookSettings

__all__ = [
    "REQUEST_RESULTS",
    "InboundAttachment",
    "InboxPolicy",
    "InboxStatus",
    "InboxStore",
    "OaEvent",
    "SignatureKeys",
    "WebhookInbox",
    "WebhookSettings",
    "webhook_endpoint",
    "webhook_inbox",
]
