"""Result documents: fetched, checked against the event, uploaded to Zalo and sent into the chat."""

from bridge.result_documents.kinds import Plan, channel_for, plan, sniff
from bridge.result_documents.sender import ZaloDocuments
from bridge.result_documents.settings import DocumentSettings

__all__ = ["DocumentSettings", "Plan", "ZaloDocuments", "channel_for", "plan", "sniff"]
