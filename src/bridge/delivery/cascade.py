"""The channel cascade's decisions: who hears about an event, on which channels, in what order."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal

from bridge.status import Channel

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from bridge.delivery.settings import CascadeRoute, CascadeSettings
    from bridge.events import CaseState, CaseStateEvent
    from bridge.wording import CitizenMessage

__all__ = [
    "DEFAULT_WINDOW_SECONDS",
    "CascadeConfig",
    "Recipients",
    "Route",
    "Step",
    "cascade_config",
    "delivery_key",
    "document_key",
    "may_reach",
    "phone_step",
    "recipients_of",
    "user_steps",
]

DEFAULT_WINDOW_SECONDS = 7 * 86_400.0
"""Zalo's CS interaction window: 7 days (reference §4)."""

_CHANNELS: Mapping[str, Channel] = MappingProxyType(
    {
        "cs": Channel.ZALO_CS,
        "template_uid": Channel.ZALO_TEMPLATE_UID,
        "template_phone": Channel.ZALO_TEMPLATE_PHONE,
    }
)
_USER_CHANNELS = frozenset({Channel.ZALO_CS, Channel.ZALO_TEMPLATE_UID})

WINDOW_SKIP = "unreachable:window"
"""The reason a CS step settles with when the citizen's last interaction is known too old."""


@dataclass(frozen=True, slots=True)
class Route:
    """The cascade of one dossier state: channel order and template settings."""

    channels: tuple[Channel, ...] = (
        Channel.ZALO_CS,
        Channel.ZALO_TEMPLATE_UID,
        Channel.ZALO_TEMPLATE_PHONE,
    )
    template_id_uid: str | None = None
    template_id_phone: str | None = None
    template_params: Mapping[str, str] = field(default_factory=dict)

    def usable(self) -> tuple[Channel, ...]:
        """The channels in order, without the template channels that have no template id."""
        return tuple(
            channel
            for channel in self.channels
            if (channel is not Channel.ZALO_TEMPLATE_UID or self.template_id_uid)
            and (channel is not Channel.ZALO_TEMPLATE_PHONE or self.template_id_phone)
        )

    def template_data(self, message: CitizenMessage) -> dict[str, str]:
        """The template parameters: mapped from the message's data, or that data as it is."""
        data = message.template_data
        if not self.template_params:
            return dict(data)
        return {param: data.get(key, "") for param, key in self.template_params.items()}


@dataclass(frozen=True, slots=True)
class CascadeConfig:
    """The cascade of a deployment: a default route, overrides per state, the CS window."""

    default: Route = field(default_factory=Route)
    states: Mapping[CaseState, Route] = field(default_factory=dict)
    window_seconds: float = DEFAULT_WINDOW_SECONDS

    def route(self, state: CaseState) -> Route:
        """The route of ``state``."""
        return self.states.get(state, self.default)


def cascade_config(settings: CascadeSettings) -> CascadeConfig:
    """Build the cascade from its settings; a state's unset keys take the defaults."""
    default = Route(
        channels=_channels(settings.channels),
        template_id_uid=settings.template_id_uid,
        template_id_phone=settings.template_id_phone,
        template_params=MappingProxyType(dict(settings.template_params)),
    )

    def override(route: CascadeRoute) -> Route:
        return Route(
            channels=_channels(route.channels) if route.channels else default.channels,
            template_id_uid=route.template_id_uid or default.template_id_uid,
            template_id_phone=route.template_id_phone or default.template_id_phone,
            template_params=(
                MappingProxyType(dict(route.template_params))
                if route.template_params is not None
                else default.template_params
            ),
        )

    return CascadeConfig(
        default=default,
        states=MappingProxyType({state: override(r) for state, r in settings.states.items()}),
        window_seconds=settings.interaction_window_days * 86_400,
    )


def _channels(names: Iterable[str]) -> tuple[Channel, ...]:
    return tuple(_CHANNELS[name] for name in names)


RecipientKind = Literal["event_user", "linked_user", "phone"]


@dataclass(frozen=True, slots=True)
class Recipients:
    """Who may be told about an event.

    Args:
        users: Zalo users: the event's own (when it carries consent) first, then the users
            linked to the dossier through the OA (linking is their consent); no duplicates.
        event_user: The event's Zalo user, when it is among ``users``.
        phone: The event's phone, when the event carries consent: the last resort.
    """

    users: tuple[str, ...]
    event_user: str | None
    phone: str | None

    def kind(self, user_id: str) -> RecipientKind:
        """How ``user_id`` came to be a recipient."""
        return "event_user" if user_id == self.event_user else "linked_user"


def recipients_of(event: CaseStateEvent, linked: Sequence[str]) -> Recipients:
    """The recipients of ``event`` given the users linked to its dossier.

    A denunciation reaches its denouncer only, by Zalo user id: never a linked user, never a
    phone (a number may have changed hands), since the law protects the denouncer's identity
    (Luật Tố cáo 2018 Art. 8(3), 47; docs/complaints-and-disputes.md §9.3, R1).
    """
    recipient = event.recipient
    own = recipient.zalo_user_id if recipient.notify_consent else None
    details = event.kind_details
    if details is not None and details.protects_identity:
        return Recipients(users=(own,) if own else (), event_user=own, phone=None)
    users = tuple(dict.fromkeys([*([own] if own else []), *linked]))
    phone = recipient.phone if recipient.notify_consent else None
    return Recipients(users=users, event_user=own, phone=phone)


def may_reach(event: CaseStateEvent, linked: Sequence[str], route: Route) -> bool:
    """Whether the cascade would try anyone for ``event``: a user on a user channel, or the phone.

    Quiet hours hold exactly the events this is true of (the others settle without a send).
    """
    usable = route.usable()
    recipients = recipients_of(event, linked)
    if recipients.users and any(channel in _USER_CHANNELS for channel in usable):
        return True
    return recipients.phone is not None and Channel.ZALO_TEMPLATE_PHONE in usable


@dataclass(frozen=True, slots=True)
class Step:
    """One send of the cascade, claimed and settled in the ledger under ``key``.

    Args:
        key: The ledger key: one per (event, recipient, channel).
        channel: How it goes.
        recipient: Whom it addresses (see ``Recipients.kind``).
        user_id: The Zalo user, for user channels.
        phone: The phone, for the phone channel.
        template_id: The template, for template channels.
        template_data: The template's parameters.
        tracking_id: Correlates Zalo's receipt of a phone template with the event.
        skip: Settle without sending, with this reason (a CS window known to be closed).
        document: For a result document's step, its index in ``result.documents``.
        taken: For a result document's step, the Zalo message ids the event's other documents
            to the same user are settled with: an in-doubt send's read-back never takes them.
    """

    key: str
    channel: Channel
    recipient: RecipientKind
    user_id: str | None = None
    phone: str | None = None
    template_id: str | None = None
    template_data: Mapping[str, str] = field(default_factory=dict)
    tracking_id: str | None = None
    skip: str | None = None
    document: int | None = None
    taken: frozenset[str] = frozenset()


def delivery_key(event: CaseStateEvent, channel: Channel, user_id: str | None) -> str:
    """The ledger key of one step; the channel stays the key's last segment.

    The event's own user on CS keeps the key used before the cascade (``<event id>/zalo_cs``),
    so events settled by an earlier release are still recognised when redelivered. The phone
    needs no segment: an event has at most one.
    """
    if channel is Channel.ZALO_CS and user_id == event.recipient.zalo_user_id:
        return f"{event.event_id}/{channel.value}"
    who = user_id if user_id is not None else "phone"
    return f"{event.event_id}/{who}/{channel.value}"


def document_key(event: CaseStateEvent, user_id: str, index: int, channel: Channel) -> str:
    """The ledger key of one result document for one user: one per (event, document, user).

    The user stays a segment of its own (the citizen's erasure finds it), the channel the last.
    """
    return f"{event.event_id}/{user_id}/doc{index}/{channel.value}"


def user_steps(  # noqa: PLR0913 - the facts one user's steps depend on
    event: CaseStateEvent,
    message: CitizenMessage,
    route: Route,
    recipients: Recipients,
    user_id: str,
    *,
    last_interaction: float | None,
    now: float,
    window_seconds: float,
) -> list[Step]:
    """The steps that may reach ``user_id``, in the route's order.

    A CS step is always listed, so that a redelivery walks the same settled steps; when the
    user's last interaction is known and older than the window it is marked to be skipped
    (settled without a send). An unknown last interaction (no webhook seen) tries CS, and
    Zalo's window error moves on to the next channel.
    """
    steps: list[Step] = []
    kind = recipients.kind(user_id)
    for channel in route.usable():
        if channel not in _USER_CHANNELS:
            continue
        key = delivery_key(event, channel, user_id)
        if channel is Channel.ZALO_CS:
            closed = last_interaction is not None and now - last_interaction > window_seconds
            steps.append(
                Step(key, channel, kind, user_id=user_id, skip=WINDOW_SKIP if closed else None)
            )
        else:
            steps.append(
                Step(
                    key,
                    channel,
                    kind,
                    user_id=user_id,
                    template_id=route.template_id_uid,
                    template_data=route.template_data(message),
                )
            )
    return steps


def phone_step(event: CaseStateEvent, message: CitizenMessage, route: Route) -> Step | None:
    """The template by phone, when the event carries consent and a phone and the route has it."""
    phone = event.recipient.phone
    usable = Channel.ZALO_TEMPLATE_PHONE in route.usable()
    details = event.kind_details
    if details is not None and details.protects_identity:
        return None  # a number may have changed hands: a denouncer is told by Zalo user only
    if not (usable and phone and event.recipient.notify_consent):
        return None
    return Step(
        delivery_key(event, Channel.ZALO_TEMPLATE_PHONE, None),
        Channel.ZALO_TEMPLATE_PHONE,
        "phone",
        phone=phone,
        template_id=route.template_id_phone,
        template_data=route.template_data(message),
        tracking_id=event.event_id.hex,
    )
