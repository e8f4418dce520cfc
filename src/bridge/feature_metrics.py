"""Expose the features' own counts (tokens, quiet hours, announcements, citizens) as metrics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bridge.citizen_desk import LINK_RESULTS, REPLY_RESULTS
from bridge.webhook import REQUEST_RESULTS

if TYPE_CHECKING:
    from collections.abc import Callable

    from bridge.announcements.service import AnnouncementService
    from bridge.citizen_desk import CitizenDesk
    from bridge.citizen_services import CitizenServices
    from bridge.holding import Releaser
    from bridge.metrics import Counts, Metrics
    from bridge.zalo.managed_token import ManagedToken

__all__ = ["watch_features"]

TOKEN_OUTCOMES = ("refreshed", "adopted", "failed")
HOLD_STATUSES = ("held", "releasing", "released", "superseded")
RECIPIENT_STATUSES = ("pending", "sent", "failed", "expired")
INBOX_OUTCOMES = ("handled", "retried", "failed")


def watch_features(
    metrics: Metrics,
    *,
    tokens: ManagedToken | None,
    releaser: Callable[[], Releaser | None],
    announcements: Callable[[], AnnouncementService | None],
    citizens: Callable[[], CitizenServices | None],
) -> None:
    """Register the features' families; each is left out while its feature is off.

    Counters are this process's counts since it started (Prometheus' ``rate`` and ``increase``
    handle restarts); gauges of held records and announcement progress are read from the store
    at each scrape.
    """
    if tokens is not None:
        _watch_tokens(metrics, tokens)
    _watch_quiet_hours(metrics, releaser)
    _watch_announcements(metrics, announcements)
    _watch_citizens(metrics, citizens)


def _with_zeros(counts: Counts, known: tuple[str, ...]) -> dict[Any, float]:
    """``counts`` with every ``known`` key present (a series exists before its first event)."""
    return {**dict.fromkeys(known, 0.0), **counts}


def _flag(on: bool) -> Counts:  # noqa: FBT001 - a gauge of one boolean
    return {(): 1.0 if on else 0.0}


def _watch_tokens(metrics: Metrics, tokens: ManagedToken) -> None:
    metrics.watch_counter(
        "token_refreshes",
        "Refresh rounds of the managed OA token: refreshed (a refresh token was spent), "
        "adopted (another replica's new pair was taken), failed.",
        lambda: _with_zeros(tokens.outcomes, TOKEN_OUTCOMES),
        ["outcome"],
    )
    metrics.watch_gauge(
        "token_healthy",
        "1 while a usable OA access token is at hand, else 0 (delivery is paused).",
        lambda: _flag(tokens.healthy),
    )
    metrics.watch_gauge(
        "token_refresh_failing",
        "1 while the last refresh attempt of the OA token failed, else 0.",
        lambda: _flag(tokens.refresh_failing),
    )


@dataclass
class _Snapshot:
    """Counts read from a store before a scrape; None until read, or when the read failed."""

    values: dict[str, Counts] | None = None

    def get(self, key: str) -> Counts | None:
        return None if self.values is None else self.values.get(key)


def _watch_quiet_hours(metrics: Metrics, releaser: Callable[[], Releaser | None]) -> None:
    held = _Snapshot()

    async def refresh() -> None:
        held.values = None
        current = releaser()
        if current is not None:
            counts = await current.store.counts()
            held.values = {"status": _with_zeros(counts, HOLD_STATUSES)}

    metrics.refresh_before_scrape("quiet_hours", refresh)
    metrics.watch_gauge(
        "held_records",
        "Records kept by quiet hours, by status (held, releasing, released, superseded); "
        "read from the store at scrape time.",
        lambda: held.get("status"),
        ["status"],
    )
    metrics.watch_counter(
        "held_releases",
        "Held records released (delivered through the cascade) by this process.",
        lambda: None if (r := releaser()) is None else {(): r.released},
    )


def _watch_announcements(
    metrics: Metrics, service: Callable[[], AnnouncementService | None]
) -> None:
    progress = _Snapshot()

    async def refresh() -> None:
        progress.values = None
        current = service()
        if current is None:
            return
        recipients = dict.fromkeys(RECIPIENT_STATUSES, 0.0)
        rate, eta = 0.0, 0.0
        ids = await current.store.active_ids()
        for announcement_id in ids:
            found = await current.store.progress(announcement_id)
            if found is None:
                continue
            recipients["pending"] += found.pending
            recipients["sent"] += found.sent
            recipients["failed"] += found.failed
            recipients["expired"] += found.expired
            rate += found.per_minute or 0.0
            eta = max(eta, found.eta_seconds or 0.0)
        progress.values = {
            "recipients": recipients,
            "active": {(): len(ids)},
            "rate": {(): rate},
            "eta": {(): eta},
        }

    metrics.refresh_before_scrape("announcements", refresh)
    metrics.watch_gauge(
        "announcement_recipients",
        "Recipients of the announcements still waiting or going out, by status (pending, "
        "sent, failed, expired); read from the store at scrape time.",
        lambda: progress.get("recipients"),
        ["status"],
    )
    metrics.watch_gauge(
        "announcements_active",
        "Announcements still waiting or going out.",
        lambda: progress.get("active"),
    )
    metrics.watch_gauge(
        "announcement_fanout_per_minute",
        "Copies settled per minute since each active announcement started, summed.",
        lambda: progress.get("rate"),
    )
    metrics.watch_gauge(
        "announcement_eta_seconds",
        "Seconds until the slowest active announcement is through, at its rate so far "
        "(0 when none is going out or the rate is unknown).",
        lambda: progress.get("eta"),
    )

    def sends() -> Counts | None:
        current = service()
        if current is None:
            return None
        stats = current.fanout.stats
        counts: dict[Any, float] = {("sent", "none"): stats.sent}
        counts.update({("failed", reason): n for reason, n in stats.failed.items()})
        return counts

    metrics.watch_counter(
        "announcement_sends",
        "Announcement copies settled by this process, by outcome (sent, failed) and the "
        "failure's class (rejected, unreachable, expired, …).",
        sends,
        ["outcome", "reason"],
    )
    metrics.watch_counter(
        "announcement_send_retries",
        "Announcement copies that failed transiently and wait to be sent again.",
        lambda: None if (s := service()) is None else {(): s.fanout.stats.retried},
    )
    metrics.watch_counter(
        "announcement_reconciled",
        "Announcement copies whose unanswered send was found in the conversation (not resent).",
        lambda: None if (s := service()) is None else {(): s.fanout.stats.reconciled},
    )


def _watch_citizens(metrics: Metrics, citizens: Callable[[], CitizenServices | None]) -> None:
    _watch_webhook_inbox(metrics, citizens)

    def inbox() -> Counts | None:
        current = citizens()
        if current is None or current.inbox is None:
            return None
        return _with_zeros(current.inbox.results, REQUEST_RESULTS)

    def desk(part: str, known: tuple[str, ...] = ()) -> Callable[[], Counts | None]:
        def read() -> Counts | None:
            current = citizens()
            if current is None or current.desk is None:
                return None
            return _with_zeros(getattr(current.desk.stats, part), known)

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
    rows = _Snapshot()

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
        return _with_zeros(current.inbox.outcomes, INBOX_OUTCOMES)

    metrics.watch_counter(
        "webhook_inbox_attempts",
        "Attempts at handling stored OA events by this process, by outcome: handled, retried "
        "(an error; tried again after a back-off), failed (no attempt left).",
        outcomes,
        ["outcome"],
    )
