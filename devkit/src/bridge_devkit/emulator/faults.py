"""Injected faults: what can go wrong with a call, and the queue that hands them out.

A fault rule applies to the next `count` matching calls to the Zalo API endpoints, where a
call matches when the rule's `endpoint` (if set) equals the request path and the rule's
`user_id` (if set) equals the body's `recipient.user_id`. Rules are tried in the order they
were queued; the first match is used and its count goes down by one. Faults are chosen before
any Zalo rule (token, rate limit, validation...) is evaluated.
"""

from __future__ import annotations

import itertools
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
    """A queued fault with its matching conditions and the number of calls it still applies to."""

    id: str
    fault: Fault
    remaining: int
    user_id: str | None = None
    endpoint: str | None = None

    def matches(self, endpoint: str, user_id: str | None) -> bool:
        """Return whether a call to `endpoint` for `user_id` is affected by this rule."""
        if self.endpoint is not None and self.endpoint != endpoint:
            return False
        return self.user_id is None or self.user_id == user_id


class FaultQueue:
    """The pending fault rules, in the order they were queued."""

    __slots__ = ("_ids", "_rules")

    def __init__(self) -> None:
        """Create an empty queue."""
        self._rules: list[FaultRule] = []
        self._ids = itertools.count(1)

    def add(
        self,
        fault: Fault,
        *,
        count: int = 1,
        user_id: str | None = None,
        endpoint: str | None = None,
    ) -> FaultRule:
        """Queue `fault` for the next `count` calls matching `user_id` and `endpoint`."""
        if count < 1:
            raise ValueError("count must be >= 1")
        rule = FaultRule(
            id=f"fault-{next(self._ids)}",
            fault=fault,
            remaining=count,
            user_id=user_id,
            endpoint=endpoint,
        )
        self._rules.append(rule)
        return rule

    def take(self, endpoint: str, user_id: str | None) -> Fault | None:
        """Return the fault for a call to `endpoint` for `user_id`, using one of its count."""
        if not self._rules:
            return None
        for index, rule in enumerate(self._rules):
            if rule.matches(endpoint, user_id):
                rule.remaining -= 1
                if rule.remaining <= 0:
                    del self._rules[index]
                return rule.fault
        return None

    def pending(self) -> list[FaultRule]:
        """Return the rules that still apply to some calls."""
        return list(self._rules)

    def clear(self) -> int:
        """Drop every pending rule and return how many there were."""
        count = len(self._rules)
        self._rules.clear()
        return count
