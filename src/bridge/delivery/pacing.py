"""Pace a message sender through the OA's rate limiter, for senders outside the delivery path."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from bridge.delivery.deliverer import MessageSender, RateLimiter
    from bridge.zalo.client import SendReceipt

__all__ = ["PacedButtonSender", "PacedSender", "ReplyBudget"]


class PacedSender:
    """A ``MessageSender`` whose every call first takes a slot of the OA's rate limiter.

    Zalo's limit counts every call of the app, so the chat's answers (linking, lookups) share the
    bucket the case notifications and announcements use, instead of adding to it unseen.
    """

    def __init__(self, sender: MessageSender, limiter: RateLimiter) -> None:
        self._sender = sender
        self._limiter = limiter

    async def send_text(self, user_id: str, text: str) -> SendReceipt:
        """See ``MessageSender.send_text``."""
        await self._limiter.acquire()
        return await self._sender.send_text(user_id, text)

    async def find_sent(self, user_id: str, text: str, *, since: float) -> str | None:
        """See ``MessageSender.find_sent``."""
        await self._limiter.acquire()
        return await self._sender.find_sent(user_id, text, since=since)

    async def send_template(
        self, user_id: str, template_id: str, template_data: Mapping[str, str]
    ) -> SendReceipt:
        """See ``MessageSender.send_template``."""
        await self._limiter.acquire()
        return await self._sender.send_template(user_id, template_id, template_data)

    async def send_template_by_phone(
        self, phone: str, template_id: str, template_data: Mapping[str, str], tracking_id: str
    ) -> SendReceipt:
        """See ``MessageSender.send_template_by_phone``."""
        await self._limiter.acquire()
        return await self._sender.send_template_by_phone(
            phone, template_id, template_data, tracking_id
        )


class PacedButtonSender(PacedSender):
    """A ``PacedSender`` of a sender that also sends texts with buttons (the survey's question)."""

    async def send_text_with_buttons(
        self, user_id: str, text: str, buttons: Sequence[tuple[str, str]]
    ) -> SendReceipt:
        """See ``ZaloClient.send_text_with_buttons``."""
        await self._limiter.acquire()
        sender: Any = self._sender  # checked by the caller: it sends buttons
        receipt: SendReceipt = await sender.send_text_with_buttons(user_id, text, buttons)
        return receipt


class ReplyBudget:
    """The chat's own slice of the OA's calls: a slot within ``wait`` seconds, or no answer.

    The chat desk takes a slot before each answer (then the answer takes one of the OA's
    shared limiter too), so citizens' texts, however many, use at most this limiter's rate of
    the OA's budget and never queue the notifications behind them.
    """

    def __init__(self, limiter: RateLimiter, *, wait: float = 5.0) -> None:
        self._limiter = limiter
        self._wait = wait

    async def take(self) -> bool:
        """True when an answer may go out; False when none was free within ``wait``."""
        try:
            await asyncio.wait_for(self._limiter.acquire(), self._wait)
        except TimeoutError:
            return False
        return True
