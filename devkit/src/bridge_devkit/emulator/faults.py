"""Injected faults: what can go wrong with a call, and the queue that hands them out.

A fault rule applies to the next `count` matching calls to the Zalo API endpoints, where a
call matches when the rule's `endpoint` (if set) equals the request path and the rule's
`user_id` (if set) equals the call's recipient (`recipient.user_id` of a send, `user_id` of a
read). Rules are tried in the order they were queued; the first match is used and its count
goes down by one. Faults are chosen before any Zalo rule (token, rate limit, validation...) is
evaluated.

For chaos testing a rule may also carry a `probability` (each matching call draws from the
emulator's seedable random generator, and a call the rule spares goes on to the next rule) and
an expiry time. Such a rule has no count by default: it stays active until it expires or the
queue is cleared. Expired rules are dropped as soon as the queue is looked at.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from typing import TypeAlias

__all__ = ["DelayFault", "DropFault", "ErrorFault", "Fault", "FaultQueue", "FaultRule", "HttpFault"]


@dataclass(frozen=True, slots=True)
class ErrorFault:
    """Answer HTTP 200 with Zalo error `code` and `message`; the message is not recorded."""

    code: int
    message: str

    kind = "error"


@dataclass(frozen=True, slots=True)
class HttpFault:
    """Answer with HTTP `status` and a small non-Zalo body; the message is not recorded."""

    status: int
    body: str

    kind = "http"


@dataclass(frozen=True, slots=True)
class DelayFault:
    """Process the call normally (recording the message) but answer `ms` milliseconds late."""

    ms: float

    kind = "delay"


@dataclass(frozen=True, slots=True)
class DropFault:
    """Close the connection without answering; the message is not recorded."""

    kind = "drop"


Fault: TypeAlias = ErrorFault | HttpFault | DelayFault | DropFault
"""Any injectable fault."""


@dataclass(slots=True)
class FaultRule:
    """A queued fault with its matching conditions and how long it still applies.

    Attributes:
        id: `fault-<n>`, unique within one queue.
        fault: What happens to a call the rule applies to.
        remaining: Calls it still applies to; None for no limit (until it expires or is cleared).
        user_id: Only calls to this recipient, if set.
        endpoint: Only calls to this path, if set.
        probability: If set, the chance (0 < p <= 1) that a matching call gets the fault.
        expires_at: If set, the epoch second from which the rule no longer applies.
        applied: How many calls the rule has applied to so far.
    """

    id: str
    fault: Fault
    remaining: int | None
    user_id: str | None = None
    endpoint: str | None = None
    probability: float | None = None
    expires_at: float | None = None
    applied: int = 0

    def matches(self, endpoint: str, user_id: str | None, *, named_only: bool = False) -> bool:
        """Return whether a call to `endpoint` for `user_id` is affected by this rule.

        With `named_only`, a rule without an `endpoint` does not match (the OAuth endpoint only
        gets the faults that name it).
        """
        if self.endpoint is None and named_only:
            return False
        if self.endpoint is not None and self.endpoint != endpoint:
            return False
        return self.user_id is None or self.user_id == user_id

    def expired(self, now: float | None) -> bool:
        """Return whether the rule has expired at `now` (never when `now` is None)."""
        return self.expires_at is not None and now is not None and now >= self.expires_at

    @property
    def is_chaos(self) -> bool:
        """Whether the rule is probabilistic or timed (shown with its chaos fields)."""
        return self.probability is not None or self.expires_at is not None


class FaultQueue:
    """The pending fault rules, in the order they were queued."""

    __slots__ = ("_ids", "_rng", "_rules")

    def __init__(self, rng: random.Random | None = None) -> None:
        """Create an empty queue; `rng` draws the probabilistic faults (seed it to replay a run)."""
        self._rules: list[FaultRule] = []
        self._ids = itertools.count(1)
        self._rng = rng if rng is not None else random.Random()  # noqa: S311 - chaos, not crypto

    def add(  # noqa: PLR0913 - one keyword per matching condition
        self,
        fault: Fault,
        *,
        count: int | None = 1,
        user_id: str | None = None,
        endpoint: str | None = None,
        probability: float | None = None,
        expires_at: float | None = None,
    ) -> FaultRule:
        """Queue `fault` for calls matching `user_id` and `endpoint`.

        Args:
            fault: What happens to an affected call.
            count: How many calls it applies to; None for no limit, which needs a
                `probability` or an `expires_at`.
            user_id: Only calls to this recipient.
            endpoint: Only calls to this path.
            probability: The chance (0 < p <= 1) that a matching call is affected.
            expires_at: Epoch seconds from which the rule no longer applies.

        Returns:
            The queued rule.

        Raises:
            ValueError: For a count below 1, a probability outside (0, 1], or an unlimited
                rule that is neither probabilistic nor timed.
        """
        if count is not None and count < 1:
            raise ValueError("count must be >= 1")
        if probability is not None and not 0.0 < probability <= 1.0:
            raise ValueError("probability must be in (0, 1]")
        if count is None and probability is None and expires_at is None:
            raise ValueError("a fault without a count needs a probability or an expiry")
        rule = FaultRule(
            id=f"fault-{next(self._ids)}",
            fault=fault,
            remaining=count,
            user_id=user_id,
            endpoint=endpoint,
            probability=probability,
            expires_at=expires_at,
        )
        self._rules.append(rule)
        return rule

    def take(
        self,
        endpoint: str,
        user_id: str | None,
        now: float | None = None,
        *,
        named_only: bool = False,
    ) -> Fault | None:
        """Return the fault for a call to `endpoint` for `user_id` at `now`, using one of its count.

        Rules expired at `now` are dropped first (none when `now` is None). A probabilistic rule
        that spares the call lets the next matching rule decide. With `named_only`, only rules
        naming `endpoint` apply.
        """
        if not self._rules:
            return None
        self._drop_expired(now)
        for rule in self._rules:
            if not rule.matches(endpoint, user_id, named_only=named_only):
                continue
            if rule.probability is not None and self._rng.random() >= rule.probability:
                continue
            rule.applied += 1
            if rule.remaining is not None:
                rule.remaining -= 1
                if rule.remaining <= 0:
                    self._rules.remove(rule)
            return rule.fault
        return None

    def pending(self, now: float | None = None) -> list[FaultRule]:
        """Return the rules that still apply to some calls (not expired at `now`)."""
        self._drop_expired(now)
        return list(self._rules)

    def remove(self, rule_id: str) -> bool:
        """Drop the rule `rule_id`; return False if no such rule is pending."""
        for rule in self._rules:
            if rule.id == rule_id:
                self._rules.remove(rule)
                return True
        return False

    def clear(self) -> int:
        """Drop every pending rule and return how many there were."""
        count = len(self._rules)
        self._rules.clear()
        return count

    def _drop_expired(self, now: float | None) -> None:
        if now is not None and any(rule.expired(now) for rule in self._rules):
            self._rules = [rule for rule in self._rules if not rule.expired(now)]
