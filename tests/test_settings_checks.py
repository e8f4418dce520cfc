"""Cross-field checks: combinations that would break a guarantee are refused, naming the keys."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.errors import ConfigurationError
from bridge.settings import load_settings

WEBHOOK_ON = {"oa_secret_key": "oa-secret", "app_id": "1"}
MANAGED = {"token_encryption_key": "k", "app_id": "1", "app_secret": "s", "oa_id": "2"}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """No BRIDGE_* or KAFKA_* variable of the machine leaks into these tests."""
    for name in list(os.environ):
        if name.startswith(("BRIDGE_", "KAFKA_")):
            monkeypatch.delenv(name)


def refused(**sections) -> str:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(**sections)
    return str(caught.value)


def test_the_defaults_and_the_defaults_with_every_feature_on_are_consistent():
    load_settings()
    load_settings(webhook=WEBHOOK_ON, linking={"hmac_key": "h"}, zalo=MANAGED)


@pytest.mark.parametrize(
    ("sections", "keys"),
    [
        # A replay after the dedupe keys are purged would be handled again.
        (
            {"webhook": {**WEBHOOK_ON, "max_age_seconds": 0}},
            ["webhook.max_age_seconds", "retention.webhook_dedupe_hours"],
        ),
        (
            {
                "webhook": {**WEBHOOK_ON, "max_age_seconds": 12 * 3600},
                "retention": {"webhook_dedupe_hours": 24},
            },
            ["webhook.max_age_seconds", "retention.webhook_dedupe_hours"],
        ),
        # Chat answers allowed the OA's whole budget: a flood of texts starves notifications.
        (
            {
                "webhook": {**WEBHOOK_ON, "reply_rate_per_minute": 4000},
                "delivery": {"rate_limit_per_minute": 4000},
            },
            ["webhook.reply_rate_per_minute", "delivery.rate_limit_per_minute"],
        ),
        # Leases shorter than one Zalo call: another replica sends the same message again.
        (
            {"delivery": {"lease_seconds": 12}, "zalo": {"timeout_seconds": 10}},
            ["delivery.lease_seconds", "zalo.connect_timeout_seconds", "zalo.timeout_seconds"],
        ),
        (
            {"announcements": {"lease_seconds": 5}},
            ["announcements.lease_seconds", "zalo.timeout_seconds"],
        ),
        (
            {"webhook": {**WEBHOOK_ON, "inbox_lease_seconds": 5}},
            ["webhook.inbox_lease_seconds", "zalo.timeout_seconds"],
        ),
        (
            {"quiet_hours": {"release_lease_seconds": 30}, "delivery": {"lease_seconds": 30}},
            ["quiet_hours.release_lease_seconds", "delivery.lease_seconds"],
        ),
        # Retries longer than the poll interval: the consumer is evicted mid-retry.
        (
            {
                "delivery": {"attempt_budget_seconds": 250},
                "kafka": {"max_poll_interval_ms": 300_000},
            },
            ["delivery.attempt_budget_seconds", "kafka.max_poll_interval_ms"],
        ),
        # One topic for two roles: records loop or are read as the wrong thing.
        (
            {"kafka": {"dead_letter_topic": "case-state-events"}},
            ["kafka.input_topic", "kafka.dead_letter_topic"],
        ),
        (
            {"announcements": {"topic": "case-state-events.status"}},
            ["kafka.status_topic", "announcements.topic"],
        ),
        (
            {"announcements": {"consumer_group": "zalo-bridge"}},
            ["announcements.consumer_group", "kafka.consumer_group"],
        ),
        ({"kafka": {"session_timeout_ms": 3000}}, ["kafka.session_timeout_ms"]),
        # The chat's attempt limit counts an hour: purging sooner resets it.
        (
            {"retention": {"link_attempt_hours": 0.5}},
            ["retention.link_attempt_hours", "linking.attempts_per_hour"],
        ),
        (
            {"delivery": {"initial_backoff_seconds": 40, "max_backoff_seconds": 30}},
            ["delivery.initial_backoff_seconds", "delivery.max_backoff_seconds"],
        ),
        (
            {"delivery": {"breaker_open_seconds": 200, "breaker_max_open_seconds": 120}},
            ["delivery.breaker_open_seconds", "delivery.breaker_max_open_seconds"],
        ),
        # A refresh that starts too late to be retried once before the token expires.
        (
            {"zalo": {**MANAGED, "token_refresh_at_fraction": 0.999}},
            ["zalo.token_refresh_at_fraction", "zalo.token_retry_max_seconds"],
        ),
    ],
)
def test_inconsistent_combinations_are_refused_with_the_keys_named(sections, keys):
    message = refused(**sections)
    assert message.startswith("invalid settings: inconsistent settings: ")
    for key in keys:
        assert key in message


def test_every_problem_is_reported_at_once():
    message = refused(
        webhook={**WEBHOOK_ON, "max_age_seconds": 0},
        kafka={"dead_letter_topic": "case-state-events"},
        delivery={"lease_seconds": 5},
    )
    assert "webhook.max_age_seconds" in message
    assert "kafka.dead_letter_topic" in message
    assert "delivery.lease_seconds" in message


def test_checks_of_features_that_are_off_do_not_apply():
    # No webhook served: its age check and inbox lease guard nothing.
    load_settings(webhook={"max_age_seconds": 0, "inbox_lease_seconds": 1})
    # No announcements consumed: their topic and group may be anything.
    load_settings(announcements={"enabled": False, "topic": "case-state-events"})
    # No quiet hours: nothing is released.
    load_settings(quiet_hours={"enabled": False, "release_lease_seconds": 1})
    # A static token is never refreshed.
    load_settings(zalo={"token_refresh_at_fraction": 0.999})


def test_the_environment_reaches_the_same_checks(monkeypatch):
    monkeypatch.setenv("BRIDGE_WEBHOOK__OA_SECRET_KEY", "oa-secret")
    monkeypatch.setenv("BRIDGE_WEBHOOK__MAX_AGE_SECONDS", "0")
    assert "webhook.max_age_seconds" in refused()


@settings(max_examples=200, deadline=None)
@given(
    max_age=st.floats(min_value=0, max_value=3 * 86_400, allow_nan=False),
    dedupe_hours=st.floats(min_value=0.01, max_value=72, allow_nan=False),
)
def test_an_accepted_webhook_configuration_never_accepts_a_replay_after_its_dedupe_key_is_gone(
    max_age, dedupe_hours
):
    """Accepted: every time a signed event is accepted, its dedupe key (kept from its first
    handling for dedupe_hours) still exists, wherever in the acceptance window it first came."""
    sections = {
        "webhook": {**WEBHOOK_ON, "max_age_seconds": max_age},
        "retention": {"webhook_dedupe_hours": dedupe_hours},
    }
    # The event (timestamp 0) is accepted for |now| <= max_age; first handled at -max_age at the
    # earliest, its key lives until -max_age + dedupe; the last accepted replay is at +max_age.
    safe = max_age > 0 and -max_age + dedupe_hours * 3600 > max_age
    if safe:
        load_settings(**sections)
    else:
        with pytest.raises(ConfigurationError, match=r"webhook\.max_age_seconds.*dedupe_hours"):
            load_settings(**sections)
