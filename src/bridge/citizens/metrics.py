"""The citizens' side as metrics: webhook requests and inbox, OA events, links and lookups."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bridge.citizens.desk import LINK_RESULTS, REPLY_RESULTS
from bridge.observability.metrics import Snapshot, with_zeros
from bridge.webhook.endpoint import REQUEST_RESULTS

if TYPE_CHECKING:
    from collections.abc import Callable

    from bridge.citizens.desk import CitizenDesk
    from bridge.citizens.services import CitizenServices
    from bridge.observability.metrics import Counts, Metrics

__all__ = ["watch_citizens"]

INBOX_OUTCOMES = ("handled", "retried", "failed")


def watch_citizens(metrics: Metrics, citizens: Callable[[], CitizenServices | None]) -> None:
    """Register the webhook's requests and inbox, the desk's events, links, unlinks, lookups.

    Each family is left out while the citizens' side is off (no webhook secret).
    """
    _watch_webhook_inbox(metrics, citizens)

    def inbox() -> Counts | None:
        current = citizens()
        if current is None or current.inbox is None:
            return None
        return with_zeros(current.inbox.results, REQUEST_RESULTS)

    def desk(part: str, known: tuple[str, ...] = ()) -> Callable[[], Counts | None]:
        def read() -> Counts | None:
            current = citizens()
            if current is None or current.desk is None:
                return None
            return with_zeros(getattr(current.desk.stats, part), known)

        return read

    metrics.watch_counter(
        "webhook_requests",
        "OA webhook requests by result: accepted (stored), duplicate (stored before), busy "
        "(a verified event not stored in time: 503); refused with a 4xx: bad_request (400), "
        "bad_signature (401), too_old (403), method_not_allowed (405), too_large (413).",
        inbox,
        ["result"],
    )
    metrics.watch_counter(
        "oa_events",
        "Accepted OA events by name and result: handled, duplicate (a Zalo retry), no_user.",
        desk("events"),
        ["event", "result"],
    )
    metrics.watch_counter(
        "citizen_link_attempts",
        "Attempts to link a dossier in the chat: linked, refused (wrong code or second factor), "
        "rate_limited (past the account's hourly limit: not checked, not answered), locked "
        "(the dossier is locked: not checked).",
        desk("link_attempts", LINK_RESULTS),
        ["result"],
    )
    metrics.watch_counter(
        "citizen_dossier_locks",
        "Dossiers locked against linking after too many wrong second factors from any "
        "accounts (a steady rate means someone is guessing).",
        lambda: None if (d := _desk(citizens)) is None else {(): d.stats.dossier_locks},
    )
    metrics.watch_counter(
        "citizen_chat_replies",
        "Chat answers by result: sent, failed (Zalo refused it), over_budget (no slot of "
        "webhook.reply_rate_per_minute in time: not sent).",
        desk("replies", REPLY_RESULTS),
        ["result"],
    )
    metrics.watch_counter(
        "citizen_link_notices",
        "Notices to the accounts already linked to a dossier that another account linked, by "
        "result (sent, failed, over_budget).",
        desk("link_notices", REPLY_RESULTS),
        ["result"],
    )
    metrics.watch_counter(
        "citizen_unlinks",
        "Links ended, by how: command (HUY) or unfollow.",
        desk("unlinks", ("command", "unfollow")),
        ["via"],
    )
    metrics.watch_counter(
        "citizen_lookups",
        "Dossier states asked for in the chat: answered, or pending (no state known yet).",
        desk("lookups", ("answered", "pending")),
        ["result"],
    )


def _desk(citizens: Callable[[], CitizenServices | None]) -> CitizenDesk | None:
    current = citizens()
    return None if current is None else current.desk


def _watch_webhook_inbox(metrics: Metrics, citizens: Callable[[], CitizenServices | None]) -> None:
    rows = Snapshot()

    async def refresh() -> None:
        rows.values = None
        current = citizens()
        if current is not None and current.inbox is not None:
            rows.values = {"status": dict(await current.inbox.counts())}

    metrics.refresh_before_scrape("webhook_inbox", refresh)
    metrics.watch_gauge(
        "webhook_inbox_events",
        "OA events in the durable webhook inbox, by status (pending, claimed, done, failed); "
        "read from the store at scrape time.",
        lambda: rows.get("status"),
        ["status"],
    )

    def outcomes() -> Counts | None:
        current = citizens()
        if current is None or current.inbox is None:
            return None
        return with_zeros(current.inbox.outcomes, INBOX_OUTCOMES)

    metrics.watch_counter(
        "webhook_inbox_attempts",
        "Attempts at handling stored OA events by this process, by outcome: handled, retried "
        "(an error; tried again after a back-off), failed (no attempt left).",
        outcomes,
        ["outcome"],
    )
