"""Fakes and builders for the channel-cascade tests (imported as ``cascade_support``)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bridge.delivery.cascade import CascadeConfig, Route
from bridge.delivery.deliverer import Deliverer, DeliveryPolicy
from bridge.delivery.flow import CircuitBreaker
from bridge.delivery.records import InboundRecord
from bridge.errors import RecipientUnreachableError, StoreError
from bridge.status import Channel
from bridge.templates import BuiltinRenderer
from bridge.wording import MessageContext
from bridge.zalo import SendReceipt

USER = "2512523625412515"
LINKED = "7001"
PHONE = "0912345678"
DAY = 86_400.0
CS, UID, BY_PHONE = Channel.ZALO_CS, Channel.ZALO_TEMPLATE_UID, Channel.ZALO_TEMPLATE_PHONE
FULL = CascadeConfig(default=Route(template_id_uid="tpl-uid", template_id_phone="tpl-phone"))
RENDERER = BuiltinRenderer(
    MessageContext(
        lookup_url_template="https://dvc.example.gov.vn/tra-cuu?ma={case_code}",
        timezone=ZoneInfo("Asia/Ho_Chi_Minh"),
    )
)


class Clock:
    """Wall-clock seconds that only move when the test (or a fake sleep) moves them."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class Sleeps:
    """A fake ``asyncio.sleep``: records each wait and moves the clock by it."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.clock.now += seconds


class ChannelZalo:
    """Answers each send on a channel with the next failure scripted for it, then success."""

    def __init__(self, **failures: list[Exception]) -> None:
        self.failures = {Channel(name): list(errors) for name, errors in failures.items()}
        self.sent: list[tuple[Channel, str, object]] = []
        self.lookups = 0

    def _answer(self, channel: Channel, address: str, payload: object) -> SendReceipt:
        self.sent.append((channel, address, payload))
        script = self.failures.get(channel, [])
        if script:
            raise script.pop(0)
        return SendReceipt(
            message_id=f"{channel.value}-{len(self.sent)}", user_id=None, sent_time=None
        )

    async def send_text(self, user_id: str, text: str) -> SendReceipt:
        return self._answer(CS, user_id, text)

    async def find_sent(self, user_id: str, text: str, *, since: float) -> str | None:  # noqa: ARG002 - the MessageSender protocol
        self.lookups += 1
        return None

    async def send_template(self, user_id, template_id, template_data) -> SendReceipt:
        return self._answer(UID, user_id, (template_id, dict(template_data)))

    async def send_template_by_phone(
        self, phone, template_id, template_data, tracking_id
    ) -> SendReceipt:
        return self._answer(BY_PHONE, phone, (template_id, dict(template_data), tracking_id))

    def channels(self) -> list[tuple[Channel, str]]:
        return [(channel, address) for channel, address, _ in self.sent]


class FakeDirectory:
    def __init__(
        self,
        linked: dict[str, list[str]] | None = None,
        interactions: dict[str, float] | None = None,
        failures: int = 0,
    ) -> None:
        self.linked = linked or {}
        self.interactions = interactions or {}
        self.failures = failures

    async def linked_users(self, case_code: str) -> list[str]:
        if self.failures:
            self.failures -= 1
            raise StoreError("citizen store: OperationalError")
        return list(self.linked.get(case_code, []))

    async def last_interaction_at(self, user_id: str) -> float | None:
        return self.interactions.get(user_id)


def deliverer(
    zalo,
    ledger,
    clock,
    sleeps,
    *,
    cascade=FULL,
    citizens=None,
    owner="p1",
    in_doubt="reconcile",
    documents=None,
) -> Deliverer:
    policy = DeliveryPolicy(
        max_attempts=3,
        initial_backoff=0.5,
        max_backoff=4,
        budget=60,
        pause=10,
        lease=30,
        in_doubt=in_doubt,
        in_doubt_settle=2,
        in_doubt_hold=100,
    )
    breaker = CircuitBreaker(
        failure_threshold=3,
        open_seconds=5,
        max_open_seconds=60,
        clock=lambda: clock.now,
        sleep=sleeps,
    )
    return Deliverer(
        sender=zalo,
        ledger=ledger,
        renderer=RENDERER,
        policy=policy,
        max_event_bytes=64 * 1024,
        owner=owner,
        breaker=breaker,
        citizens=citizens,
        cascade=cascade,
        clock=clock,
        sleep=sleeps,
        documents=documents,
    )


def record_of(value: bytes, offset: int = 41) -> InboundRecord:
    return InboundRecord(topic="in", partition=1, offset=offset, key=b"k", value=value)


def outside_window() -> RecipientUnreachableError:
    return RecipientUnreachableError("Zalo error -230: no interaction in 7 days", code=-230)


def not_follower() -> RecipientUnreachableError:
    return RecipientUnreachableError("Zalo error -213: User has not followed OA", code=-213)


def phone_only(make_event, **changes):
    return make_event(recipient={"zalo_user_id": None, "phone": PHONE}, **changes)
