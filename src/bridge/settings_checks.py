"""Cross-field checks of the settings: combinations that would quietly break a guarantee.

Each check names the keys involved, their values and the guarantee at stake, so an operator can
fix the configuration from the message alone. They run whenever the settings load: the service
refuses to start, and every command and the chart's tests report the same message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Iterator

    from bridge.announcements.settings import AnnouncementSettings
    from bridge.case_kinds.settings import CaseKindSettings
    from bridge.citizens.settings import LinkingSettings, RetentionSettings
    from bridge.delivery.settings import DeliverySettings
    from bridge.feedback.settings import FeedbackSettings
    from bridge.kafka.settings import KafkaSettings
    from bridge.quiet_hours.settings import QuietHoursSettings
    from bridge.submissions.settings import SubmissionSettings
    from bridge.webhook.settings import WebhookSettings
    from bridge.zalo.settings import ZaloSettings

__all__ = ["AIOKAFKA_HEARTBEAT_INTERVAL_MS", "Problem", "Sections", "cross_field_problems"]

AIOKAFKA_HEARTBEAT_INTERVAL_MS = 3_000
"""aiokafka's heartbeat interval (not configurable in bridge): the session must outlast it."""
_HOUR = 3600.0
_LINK_ATTEMPT_WINDOW_HOURS = 1.0
"""The chat's link-attempt limit counts the failures of the last hour (citizen_desk)."""
_POLL_SHARE = 0.8


class Sections(Protocol):
    """The sections of the settings the checks read (``bridge.settings.Settings`` has them)."""

    @property
    def announcements(self) -> AnnouncementSettings:
        """The ``announcements`` section."""
        ...

    @property
    def case_kinds(self) -> CaseKindSettings:
        """The ``case_kinds`` section."""
        ...

    @property
    def delivery(self) -> DeliverySettings:
        """The ``delivery`` section."""
        ...

    @property
    def feedback(self) -> FeedbackSettings:
        """The ``feedback`` section."""
        ...

    @property
    def submissions(self) -> SubmissionSettings:
        """The ``submissions`` section."""
        ...

    @property
    def linking(self) -> LinkingSettings:
        """The ``linking`` section."""
        ...

    @property
    def kafka(self) -> KafkaSettings:
        """The ``kafka`` section."""
        ...

    @property
    def quiet_hours(self) -> QuietHoursSettings:
        """The ``quiet_hours`` section."""
        ...

    @property
    def retention(self) -> RetentionSettings:
        """The ``retention`` section."""
        ...

    @property
    def webhook(self) -> WebhookSettings:
        """The ``webhook`` section."""
        ...

    @property
    def zalo(self) -> ZaloSettings:
        """The ``zalo`` section."""
        ...


@dataclass(frozen=True, slots=True)
class Problem:
    """One inconsistent combination: the keys involved and what goes wrong."""

    keys: tuple[str, ...]
    message: str

    def __str__(self) -> str:
        """``key, key: message``."""
        return f"{', '.join(self.keys)}: {self.message}"


def _num(value: float) -> str:
    """``30`` rather than ``30.0``; ``0.5`` stays."""
    return f"{value:g}"


def cross_field_problems(settings: Sections) -> list[Problem]:
    """Every inconsistent combination in ``settings`` (empty when they are consistent)."""
    return [
        *_kafka(settings),
        *_delivery(settings),
        *_webhook(settings),
        *_retention(settings),
        *_tokens(settings),
        *_feedback(settings),
        *_submissions(settings),
        *_case_kinds(settings),
    ]


def _case_kinds(settings: Sections) -> Iterator[Problem]:
    overrides = settings.case_kinds.deadlines
    if not overrides:
        return
    from bridge.case_kinds.statutory import statutory_catalogue  # noqa: PLC0415 - only if set
    from bridge.errors import ConfigurationError  # noqa: PLC0415 - idem

    try:
        statutory_catalogue().with_overrides(overrides)
    except ConfigurationError as error:
        yield Problem(("case_kinds.deadlines",), str(error))


def _feedback(settings: Sections) -> Iterator[Problem]:
    feedback = settings.feedback
    if not feedback.enabled:
        return
    if not settings.webhook.enabled:
        yield Problem(
            ("feedback.enabled", "webhook.oa_secret_key"),
            "the survey's answers arrive through the OA webhook, which is off without its secret "
            "key: citizens would be asked and never heard",
        )
    if feedback.pseudonym_key is None and settings.linking.hmac_key is None:
        yield Problem(
            ("feedback.pseudonym_key", "linking.hmac_key"),
            "feedback events name citizens by a keyed pseudonym: set one of the two keys",
        )


def _submissions(settings: Sections) -> Iterator[Problem]:
    if settings.submissions.enabled and not settings.webhook.enabled:
        yield Problem(
            ("submissions.enabled", "webhook.oa_secret_key"),
            "citizens answer the forms through the OA webhook, which is off without its secret "
            "key: no dossier could ever be filed",
        )


def _kafka(settings: Sections) -> Iterator[Problem]:
    kafka, announcements = settings.kafka, settings.announcements
    topics = {
        "kafka.input_topic": kafka.input_topic,
        "kafka.dead_letter_topic": kafka.dead_letter_topic,
        "kafka.status_topic": kafka.status_topic,
    }
    if kafka.v2_enabled:
        topics["kafka.v2_input_topic"] = kafka.v2_input_topic
        topics["kafka.v2_dead_letter_topic"] = kafka.v2_dead_letter_topic
        topics["kafka.v2_status_topic"] = kafka.v2_status_topic
    if announcements.enabled:
        topics["announcements.topic"] = announcements.topic
        topics["announcements.dead_letter_topic"] = announcements.dead_letter_topic
    if settings.feedback.enabled:
        topics["feedback.topic"] = settings.feedback.topic
    if settings.submissions.enabled:
        topics["submissions.topic"] = settings.submissions.topic
    by_name: dict[str, list[str]] = {}
    for key, name in topics.items():
        by_name.setdefault(name, []).append(key)
    for name, keys in by_name.items():
        if len(keys) > 1:
            yield Problem(
                tuple(keys),
                f"name the same topic {name!r}: bridge would read its own dead letters or status "
                "events as input, and a record would never reach exactly one outcome",
            )
    announcement_group = announcements.consumer_group or f"{kafka.consumer_group}-announcements"
    if announcements.enabled and announcement_group == kafka.consumer_group:
        yield Problem(
            ("announcements.consumer_group", "kafka.consumer_group"),
            f"are both {kafka.consumer_group!r}: one group subscribed to two topics by different "
            "consumers rebalances endlessly; leave announcements.consumer_group unset",
        )
    if kafka.session_timeout_ms <= AIOKAFKA_HEARTBEAT_INTERVAL_MS:
        yield Problem(
            ("kafka.session_timeout_ms",),
            f"{kafka.session_timeout_ms} must exceed the consumer's heartbeat interval "
            f"({AIOKAFKA_HEARTBEAT_INTERVAL_MS} ms), or the broker drops a healthy consumer",
        )


def _delivery(settings: Sections) -> Iterator[Problem]:
    delivery, zalo, kafka = settings.delivery, settings.zalo, settings.kafka
    budget_ms = delivery.attempt_budget_seconds * 1000
    if budget_ms >= kafka.max_poll_interval_ms * _POLL_SHARE:
        yield Problem(
            ("delivery.attempt_budget_seconds", "kafka.max_poll_interval_ms"),
            f"{_num(delivery.attempt_budget_seconds)} s must stay below 80% of "
            f"{kafka.max_poll_interval_ms} ms, or the consumer is evicted from its group "
            "mid-retry",
        )
    request = zalo.connect_timeout_seconds + zalo.timeout_seconds
    leases = {
        "delivery.lease_seconds": delivery.lease_seconds,
        "announcements.lease_seconds": settings.announcements.lease_seconds,
    }
    if settings.webhook.enabled:
        leases["webhook.inbox_lease_seconds"] = settings.webhook.inbox_lease_seconds
    for key, lease in leases.items():
        if lease <= request:
            yield Problem(
                (key, "zalo.connect_timeout_seconds", "zalo.timeout_seconds"),
                f"{_num(lease)} s must exceed the longest Zalo call, connect_timeout_seconds + "
                f"timeout_seconds = {_num(request)} s: another replica would take a send over "
                "while it is still in flight and send it twice",
            )
    if settings.quiet_hours.enabled and (
        settings.quiet_hours.release_lease_seconds <= delivery.lease_seconds
    ):
        yield Problem(
            ("quiet_hours.release_lease_seconds", "delivery.lease_seconds"),
            f"{_num(settings.quiet_hours.release_lease_seconds)} s must exceed "
            f"{_num(delivery.lease_seconds)} s: releasing a held record sends it, and another "
            "replica must not release it meanwhile",
        )
    if delivery.initial_backoff_seconds > delivery.max_backoff_seconds:
        yield Problem(
            ("delivery.initial_backoff_seconds", "delivery.max_backoff_seconds"),
            f"the first back-off ({_num(delivery.initial_backoff_seconds)} s) is longer than "
            f"the longest ({_num(delivery.max_backoff_seconds)} s)",
        )
    if delivery.breaker_open_seconds > delivery.breaker_max_open_seconds:
        yield Problem(
            ("delivery.breaker_open_seconds", "delivery.breaker_max_open_seconds"),
            f"the first open period ({_num(delivery.breaker_open_seconds)} s) is longer than "
            f"the longest ({_num(delivery.breaker_max_open_seconds)} s)",
        )


def _webhook(settings: Sections) -> Iterator[Problem]:
    webhook, retention = settings.webhook, settings.retention
    if not webhook.enabled:
        return
    oa_limit = settings.delivery.rate_limit_per_minute
    if oa_limit and webhook.reply_rate_per_minute >= oa_limit:
        yield Problem(
            ("webhook.reply_rate_per_minute", "delivery.rate_limit_per_minute"),
            f"chat answers ({webhook.reply_rate_per_minute}/min) may take the OA's whole budget "
            f"({oa_limit}/min): a flood of texts would starve the notifications; keep it well "
            "below",
        )
    dedupe = retention.webhook_dedupe_hours * _HOUR
    if webhook.max_age_seconds == 0:
        yield Problem(
            ("webhook.max_age_seconds", "retention.webhook_dedupe_hours"),
            "0 turns the age check off, yet handled events are forgotten after "
            f"{_num(retention.webhook_dedupe_hours)} h: a captured, signed event replayed "
            "after that would be handled again; set max_age_seconds (default 300)",
        )
    elif 2 * webhook.max_age_seconds >= dedupe:
        yield Problem(
            ("webhook.max_age_seconds", "retention.webhook_dedupe_hours"),
            f"an event is accepted from {_num(webhook.max_age_seconds)} s before its timestamp "
            f"until as long after, {_num(2 * webhook.max_age_seconds)} s in all, but its dedupe "
            f"key is kept only {_num(retention.webhook_dedupe_hours)} h: a replay inside the "
            "window would be handled twice; keep 2 × max_age_seconds below the dedupe retention",
        )


def _retention(settings: Sections) -> Iterator[Problem]:
    retention = settings.retention
    if retention.link_attempt_hours < _LINK_ATTEMPT_WINDOW_HOURS:
        yield Problem(
            ("retention.link_attempt_hours", "linking.attempts_per_hour"),
            f"{_num(retention.link_attempt_hours)} h is shorter than the hour the attempt "
            "limit counts: purged failures would let a guesser try again early",
        )


def _tokens(settings: Sections) -> Iterator[Problem]:
    zalo = settings.zalo
    if zalo.token_encryption_key is None:
        return
    margin = (1 - zalo.token_refresh_at_fraction) * zalo.access_token_lifetime_seconds
    needed = zalo.token_retry_max_seconds + zalo.oauth_timeout_seconds
    if margin <= needed:
        yield Problem(
            (
                "zalo.token_refresh_at_fraction",
                "zalo.access_token_lifetime_seconds",
                "zalo.token_retry_max_seconds",
            ),
            f"the refresh starts {_num(margin)} s before the token expires, less than one "
            f"retry at the longest wait plus an OAuth call ({_num(needed)} s): a failed "
            "refresh would let the token expire and stop delivery",
        )
