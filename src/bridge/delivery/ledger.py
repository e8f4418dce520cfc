"""The delivery ledger port: what the use case must remember so that nothing is sent twice."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

__all__ = [
    "ENTRY_COLUMNS",
    "SETTLED_STATUSES",
    "Claim",
    "ClaimResult",
    "Ledger",
    "LedgerEntry",
    "SettledStatus",
    "Settlement",
    "decide",
    "entry_from_row",
    "first_claim",
    "first_sight",
]


class SettledStatus(StrEnum):
    """Final states of a delivery in the ledger."""

    DELIVERED = "delivered"
    FAILED = "failed"
    SUPPRESSED = "suppressed"
    DEAD_LETTERED = "dead_lettered"


class ClaimResult(StrEnum):
    """What ``Ledger.claim`` decided."""

    CLAIMED = "claimed"
    """Nobody sent it yet: this owner may send now."""
    SETTLED = "settled"
    """It was settled before (a redelivery, a replay, a duplicate publish): do not send."""
    STALE = "stale"
    """A later event of the same case was already delivered: it is now settled as suppressed."""
    BUSY = "busy"
    """Another owner holds a valid lease on it: wait."""
    IN_DOUBT = "in_doubt"
    """A send may have happened (answer lost, or its owner died): reconcile before resending."""


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One delivery as the ledger knows it."""

    status: str
    attempts: int
    reason: str | None = None
    zalo_message_id: str | None = None
    template_version: str | None = None
    lease_until: float | None = None
    first_attempt_at: float | None = None
    in_doubt_since: float | None = None


@dataclass(frozen=True, slots=True)
class Claim:
    """The answer of ``Ledger.claim``: the decision and the entry it was based on."""

    result: ClaimResult
    entry: LedgerEntry


@dataclass(frozen=True, slots=True)
class Settlement:
    """A final outcome to record."""

    status: SettledStatus
    attempts: int
    reason: str | None = None
    zalo_message_id: str | None = None
    template_version: str | None = None


class Ledger(Protocol):
    """Durable memory of deliveries, keyed by (event, channel), shared by every replica.

    Times are epoch seconds (UTC); ``owner`` identifies one running process.
    """

    async def claim(  # noqa: PLR0913 - the identity of one send, all keyword-only
        self,
        key: str,
        *,
        event_id: str,
        case_code: str,
        sequence: int,
        owner: str,
        now: float,
        lease_seconds: float,
    ) -> Claim:
        """Decide, atomically, whether ``owner`` may send the delivery ``key`` now.

        A claimed delivery is leased to ``owner`` for ``lease_seconds``; an expired lease makes
        the delivery in doubt for everyone else. An event whose ``sequence`` is lower than the
        case's last delivered one is settled as suppressed (``STALE``).
        """
        ...

    async def reclaim(
        self, key: str, *, owner: str, now: float, lease_seconds: float
    ) -> int | None:
        """Take an in-doubt delivery back, leased, to send it again.

        Returns:
            The attempt count including this one, or None when it is no longer in doubt (another
            replica took or settled it first).
        """
        ...

    async def mark_in_doubt(self, key: str, *, now: float) -> None:
        """Record that the last send of ``key`` may or may not have reached Zalo."""
        ...

    async def release(self, key: str, *, now: float) -> None:
        """Record that the last attempt of ``key`` sent nothing; it may be claimed again."""
        ...

    async def settle(
        self, key: str, settlement: Settlement, *, case_code: str, sequence: int, now: float
    ) -> None:
        """Record the final outcome; a delivery also raises the case's last delivered sequence."""
        ...

    async def close(self) -> None:
        """Release the connections."""
        ...


SETTLED_STATUSES = frozenset(status.value for status in SettledStatus)

SENDING = "sending"
"""Claimed and leased: the owner is sending (or about to)."""
IN_DOUBT = "in_doubt"
"""The request may have reached Zalo; its answer never came back."""
RETRY = "retry"
"""The last attempt certainly sent nothing."""


def decide(
    status: str, *, row_owner: str | None, lease_until: float | None, owner: str, now: float
) -> ClaimResult:
    """Decide what a claim on an existing ledger row means; shared by every store.

    Args:
        status: The row's status.
        row_owner: Who holds (or held) the lease.
        lease_until: When that lease ends.
        owner: Who asks.
        now: The current time.
    """
    if status in SETTLED_STATUSES:
        return ClaimResult.SETTLED
    if status == SENDING:
        if lease_until is not None and lease_until > now and row_owner != owner:
            return ClaimResult.BUSY
        # Its owner died, or lost it mid-send: the request may have left.
        return ClaimResult.IN_DOUBT
    if status == IN_DOUBT:
        return ClaimResult.IN_DOUBT
    return ClaimResult.CLAIMED


def first_sight(*, stale: bool, owner: str, now: float, lease_seconds: float) -> dict[str, Any]:
    """The columns of a delivery row written when it is first seen, in the stores' column order."""
    if stale:
        return {
            "status": SettledStatus.SUPPRESSED.value,
            "reason": "stale",
            "attempts": 0,
            "owner": None,
            "lease_until": None,
            "first_attempt_at": now,
            "last_attempt_at": None,
            "settled_at": now,
        }
    return {
        "status": SENDING,
        "reason": None,
        "attempts": 1,
        "owner": owner,
        "lease_until": now + lease_seconds,
        "first_attempt_at": now,
        "last_attempt_at": now,
        "settled_at": None,
    }


def first_claim(first: dict[str, Any]) -> Claim:
    """The claim that a first sight stands for: claimed, or settled at once as stale."""
    result = ClaimResult.STALE if first["status"] != SENDING else ClaimResult.CLAIMED
    entry = LedgerEntry(
        status=first["status"],
        attempts=first["attempts"],
        reason=first["reason"],
        lease_until=first["lease_until"],
        first_attempt_at=first["first_attempt_at"],
    )
    return Claim(result, entry)


ENTRY_COLUMNS = (
    "status, attempts, reason, zalo_message_id, template_version, owner, lease_until,"
    " first_attempt_at, in_doubt_since"
)
"""The columns every store selects to build a ``LedgerEntry`` (``entry_from_row``)."""


def entry_from_row(row: tuple[Any, ...]) -> LedgerEntry:
    """Build an entry from a row of ``ENTRY_COLUMNS``."""
    status, attempts, reason, message_id, version, _owner, lease, first, doubt = row
    return LedgerEntry(
        status=status,
        attempts=attempts,
        reason=reason,
        zalo_message_id=message_id,
        template_version=version,
        lease_until=lease,
        first_attempt_at=first,
        in_doubt_since=doubt,
    )
