"""JSON views of the OAuth, template and webhook state, as the admin API shows them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bridge_devkit.emulator.clock import to_iso

if TYPE_CHECKING:
    from bridge_devkit.emulator.oauth_store import (
        AuthorizationCode,
        OAuthSettings,
        RefreshAttempt,
        RefreshToken,
    )
    from bridge_devkit.emulator.template_store import Template, TemplateStore
    from bridge_devkit.emulator.webhook import DeliveryAttempt, WebhookEvent, WebhookOutbox

__all__ = [
    "code_view",
    "delivery_view",
    "event_view",
    "oauth_settings_view",
    "refresh_attempt_view",
    "refresh_token_view",
    "template_view",
    "webhook_view",
    "zbs_view",
]


def _iso(epoch_s: float | None) -> str | None:
    return None if epoch_s is None else to_iso(epoch_s)


def code_view(code: AuthorizationCode, now: float) -> dict[str, object]:
    """Show one authorization code."""
    if code.used_at is not None:
        status = "used"
    else:
        status = "expired" if now >= code.expires_at else "valid"
    return {
        "code": code.value,
        "status": status,
        "code_challenge": code.code_challenge,
        "redirect_uri": code.redirect_uri,
        "issued_at": to_iso(code.issued_at),
        "expires_at": to_iso(code.expires_at),
        "used_at": _iso(code.used_at),
    }


def refresh_token_view(token: RefreshToken, now: float) -> dict[str, object]:
    """Show one refresh token."""
    return {
        "refresh_token": token.value,
        "status": token.status(now),
        "source": token.source.value,
        "issued_at": to_iso(token.issued_at),
        "expires_at": to_iso(token.expires_at),
        "spent_at": _iso(token.spent_at),
        "replaced_by": token.replaced_by,
        "access_token": token.access_token,
    }


def refresh_attempt_view(attempt: RefreshAttempt) -> dict[str, object]:
    """Show one refresh attempt."""
    return {
        "seq": attempt.seq,
        "at": to_iso(attempt.at),
        "refresh_token": attempt.refresh_token,
        "outcome": attempt.outcome.value,
        "error": attempt.error,
        "access_token": attempt.access_token,
        "new_refresh_token": attempt.new_refresh_token,
        "fault": attempt.fault,
    }


def oauth_settings_view(settings: OAuthSettings) -> dict[str, object]:
    """Show the OAuth knobs."""
    return {
        "access_token_lifetime_s": settings.access_token_lifetime_s,
        "refresh_token_lifetime_s": settings.refresh_token_lifetime_s,
        "code_lifetime_s": settings.code_lifetime_s,
        "revoke_previous_access_token": settings.revoke_previous_access_token,
        "redirect_uris": list(settings.redirect_uris),
        "error_codes": {kind.value: code for kind, code in settings.error_codes.items()},
    }


def template_view(template: Template) -> dict[str, object]:
    """Show one template."""
    return {
        "template_id": template.template_id,
        "params": [
            {"name": p.name, "max_length": p.max_length, "required": p.required}
            for p in template.params
        ],
        "allow_uid": template.allow_uid,
    }


def zbs_view(store: TemplateStore, now: float) -> dict[str, object]:
    """Show the template-message knobs and today's count."""
    settings = store.settings
    return {
        "daily_quota": settings.daily_quota,
        "sent_today": store.sent_today(now),
        "remaining_today": store.remaining(now),
        "phones_without_account": sorted(settings.phones_without_account),
        "token_error": settings.token_error,
        "admin_phones": sorted(settings.admin_phones),
        "dev_quota": settings.dev_quota,
        "dev_mode_receipts": settings.dev_mode_receipts,
    }


def webhook_view(outbox: WebhookOutbox) -> dict[str, object]:
    """Show the webhook knobs, whether it is on, and the warnings for the OA admin."""
    settings = outbox.settings
    return {
        "url": settings.url,
        "enabled": settings.enabled,
        "active": settings.active,
        "signature_first_term": settings.signature_first_term.value,
        "signature_secret": settings.signature_secret.value,
        "mac_prefix": settings.mac_prefix,
        "auto_receipts": settings.auto_receipts,
        "receipt_delay_s": settings.receipt_delay_s,
        "timeout_s": settings.timeout_s,
        "retry_delays_s": list(settings.retry_delays_s),
        "auto_deliver": settings.auto_deliver,
        "disabled_reason": settings.disabled_reason,
        "disabled_at": _iso(settings.disabled_at),
        "warnings": [{"at": to_iso(w.at), "warning": w.text} for w in outbox.warnings],
    }


def delivery_view(attempt: DeliveryAttempt) -> dict[str, object]:
    """Show one delivery attempt."""
    return {
        "attempt": attempt.number,
        "num_retry": attempt.number or None,
        "url": attempt.url,
        "at": to_iso(attempt.at),
        "http_status": attempt.http_status,
        "error": attempt.error,
        "ok": attempt.ok,
        "duration_ms": attempt.duration_ms,
    }


def event_view(event: WebhookEvent) -> dict[str, object]:
    """Show one webhook event with its delivery attempts."""
    return {
        "seq": event.seq,
        "event_name": event.event_name,
        "user_id": event.user_id,
        "status": event.status.value,
        "created_at": to_iso(event.created_at),
        "next_attempt_at": _iso(event.next_attempt_at),
        "payload": event.payload,
        "body": event.body,
        "signature": event.signature,
        "headers": event.headers,
        "attempts": [delivery_view(a) for a in event.attempts],
    }
