"""JSON views of the emulator's state, as the `/_emulator/` admin API shows them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bridge_devkit.emulator.clock import to_iso
from bridge_devkit.emulator.faults import DelayFault, ErrorFault, HttpFault
from bridge_devkit.emulator.template_store import TEMPLATE_PATHS

if TYPE_CHECKING:
    from bridge_devkit.emulator.config import RuntimeSettings
    from bridge_devkit.emulator.faults import FaultRule
    from bridge_devkit.emulator.followers import Follower
    from bridge_devkit.emulator.message_log import MessageRecord, ReadRecord
    from bridge_devkit.emulator.tokens import AccessToken

__all__ = [
    "fault_view",
    "follower_view",
    "read_view",
    "record_view",
    "settings_view",
    "token_view",
]


def record_view(record: MessageRecord) -> dict[str, object]:
    """Show one message-log record (a template message also shows its template fields)."""
    view: dict[str, object] = {
        "seq": record.seq,
        "message_id": record.message_id,
        "user_id": record.user_id,
        "text": record.text,
        "body": record.body,
        "raw_body": record.raw_body,
        "received_at": to_iso(record.received_at),
        "sent_time": record.sent_time,
        "endpoint": record.endpoint,
        "accepted": record.accepted,
        "error": record.error,
        "http_status": record.http_status,
        "fault": record.fault,
    }
    if record.attachment is not None or record.buttons:
        view |= {
            "attachment": record.attachment,
            "asset_id": record.asset_id,
            "buttons": [
                {"title": b.title, "type": b.type, "payload": b.payload} for b in record.buttons
            ],
        }
    if record.endpoint in TEMPLATE_PATHS:
        view |= {
            "template_id": record.template_id,
            "template_data": record.template_data,
            "phone": record.phone,
            "tracking_id": record.tracking_id,
            "mode": record.mode,
        }
    return view


def follower_view(follower: Follower) -> dict[str, object]:
    """Show one user."""
    return {
        "user_id": follower.user_id,
        "display_name": follower.display_name,
        "last_interaction_at": to_iso(follower.last_interaction_at),
        "is_follower": follower.is_follower,
    }


def fault_view(rule: FaultRule) -> dict[str, object]:
    """Show one pending fault rule, in the shape it was queued with.

    A probabilistic or timed rule also shows `probability`, `expires_at` and `applied` (how
    many calls it has hit); its `count` is null when it has no limit.
    """
    view: dict[str, object] = {"id": rule.id, "kind": rule.fault.kind}
    fault = rule.fault
    if isinstance(fault, ErrorFault):
        view |= {"error": fault.code, "message": fault.message}
    elif isinstance(fault, HttpFault):
        view |= {"status": fault.status, "body": fault.body}
    elif isinstance(fault, DelayFault):
        view["ms"] = fault.ms
    view |= {"count": rule.remaining, "user_id": rule.user_id, "endpoint": rule.endpoint}
    if rule.is_chaos:
        view |= {
            "probability": rule.probability,
            "expires_at": None if rule.expires_at is None else to_iso(rule.expires_at),
            "applied": rule.applied,
        }
    return view


def read_view(record: ReadRecord) -> dict[str, object]:
    """Show one read-log record."""
    return {
        "seq": record.seq,
        "endpoint": record.endpoint,
        "user_id": record.user_id,
        "offset": record.offset,
        "count": record.count,
        "returned": record.returned,
        "received_at": to_iso(record.received_at),
        "error": record.error,
        "http_status": record.http_status,
        "fault": record.fault,
    }


def settings_view(settings: RuntimeSettings) -> dict[str, object]:
    """Show the runtime knobs."""
    return {
        "latency_ms": settings.latency_ms,
        "latency_jitter_ms": settings.latency_jitter_ms,
        "rate_limit_per_minute": settings.rate_limit_per_minute,
        "interaction_window_days": settings.interaction_window_days,
        "include_quota": settings.include_quota,
        "max_text_length": settings.max_text_length,
        "oa_name": settings.oa_name,
        "max_buttons": settings.max_buttons,
        "max_button_title_length": settings.max_button_title_length,
        "max_query_payload_length": settings.max_query_payload_length,
        "max_list_elements": settings.max_list_elements,
        "max_request_title_length": settings.max_request_title_length,
        "max_request_subtitle_length": settings.max_request_subtitle_length,
        "button_templates": settings.button_templates,
        "conversation_count_over_limit": settings.conversation_count_over_limit.value,
        "error_code_overrides": {
            str(code): answered for code, answered in settings.error_code_overrides.items()
        },
    }


def token_view(token: AccessToken) -> dict[str, object]:
    """Show one access token."""
    return {
        "access_token": token.value,
        "expires_at": None if token.expires_at is None else to_iso(token.expires_at),
        "revoked": token.revoked,
    }
