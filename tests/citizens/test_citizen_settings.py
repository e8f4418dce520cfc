"""The webhook, linking and retention settings: environment names, secrets, consistency."""

from __future__ import annotations

import os

import pytest

from bridge.citizens.services import CitizenServices, retention_policy
from bridge.errors import ConfigurationError
from bridge.events import CaseStateEvent
from bridge.settings import load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in list(os.environ):
        if name.startswith(("BRIDGE_", "KAFKA_")):
            monkeypatch.delenv(name)


class NoSender:
    async def send_text(self, user_id, text):
        raise AssertionError((user_id, text))

    async def find_sent(self, user_id, text, *, since):
        raise AssertionError((user_id, text, since))


def test_environment_names(monkeypatch):
    monkeypatch.setenv("BRIDGE_WEBHOOK__OA_SECRET_KEY", "s3cret")
    monkeypatch.setenv("BRIDGE_WEBHOOK__SIGNATURE_VARIANT", "any")
    monkeypatch.setenv("BRIDGE_WEBHOOK__MAX_AGE_SECONDS", "600")
    monkeypatch.setenv("BRIDGE_LINKING__SECOND_FACTOR", "phone_last4")
    monkeypatch.setenv("BRIDGE_LINKING__ATTEMPTS_PER_HOUR", "3")
    monkeypatch.setenv("BRIDGE_RETENTION__UNLINKED_DAYS", "7")
    monkeypatch.setenv("BRIDGE_RETENTION__HELD_HOURS", "2")
    settings = load_settings()
    assert settings.webhook.path == "/webhook/zalo"
    assert settings.webhook.oa_secret_key.get_secret_value() == "s3cret"
    assert "s3cret" not in settings.model_dump_json()
    assert settings.webhook.signature_variant == "any"
    assert settings.webhook.max_age_seconds == 600
    assert settings.linking.second_factor == "phone_last4"
    assert settings.linking.attempts_per_hour == 3
    assert retention_policy(settings.retention).unlinked == 7 * 86_400
    assert retention_policy(settings.retention).held == 2 * 3_600


def test_an_unknown_variant_names_its_variable(monkeypatch):
    monkeypatch.setenv("BRIDGE_WEBHOOK__SIGNATURE_VARIANT", "hmac")
    with pytest.raises(ConfigurationError, match="BRIDGE_WEBHOOK__SIGNATURE_VARIANT"):
        load_settings()


async def test_the_webhook_needs_the_linking_key(tmp_path):
    settings = load_settings(
        store={"url": f"sqlite:///{tmp_path / 'b.sqlite3'}"},
        webhook={"app_id": "1", "oa_secret_key": "s"},
    )
    with pytest.raises(ConfigurationError, match=r"linking\.hmac_key"):
        await CitizenServices.open(settings, sender=NoSender())


async def test_the_variant_needs_its_id(tmp_path):
    settings = load_settings(
        store={"url": f"sqlite:///{tmp_path / 'b.sqlite3'}"},
        webhook={"oa_secret_key": "s", "signature_variant": "oa_id_oa_secret_key"},
        linking={"hmac_key": "k"},
    )
    with pytest.raises(ConfigurationError, match="signature_variant"):
        await CitizenServices.open(settings, sender=NoSender())


async def test_without_a_secret_the_webhook_is_off_and_states_are_still_kept(tmp_path, make_event):
    settings = load_settings(store={"url": f"sqlite:///{tmp_path / 'b.sqlite3'}"})
    services = await CitizenServices.open(settings, sender=NoSender())
    try:
        assert services.inbox is None
        event = CaseStateEvent.model_validate(
            make_event(recipient={"phone": "0912345678", "notify_consent": True})
        )
        await services.record_event(event)
        kept = await services.store.dossier(event.case.code)
        assert kept.state.value == "RECEIVED"
        assert kept.phone_last4_hash is None  # no key: nothing derived from the phone
    finally:
        await services.close()


@pytest.mark.parametrize("length", ["4", "5"])
def test_a_receipt_secret_shorter_than_6_is_refused(monkeypatch, length):
    monkeypatch.setenv("BRIDGE_LINKING__RECEIPT_SECRET_LENGTH", length)
    with pytest.raises(ConfigurationError, match="BRIDGE_LINKING__RECEIPT_SECRET_LENGTH"):
        load_settings()


def test_the_lock_out_and_the_chat_budget_are_settings(monkeypatch):
    settings = load_settings()
    assert (settings.linking.dossier_failures_before_lock, settings.linking.dossier_lock_hours) == (
        5,
        24,
    )
    assert settings.webhook.reply_rate_per_minute == 400
    monkeypatch.setenv("BRIDGE_LINKING__DOSSIER_FAILURES_BEFORE_LOCK", "3")
    monkeypatch.setenv("BRIDGE_LINKING__DOSSIER_LOCK_HOURS", "6")
    monkeypatch.setenv("BRIDGE_WEBHOOK__REPLY_RATE_PER_MINUTE", "60")
    settings = load_settings()
    assert settings.linking.dossier_failures_before_lock == 3
    assert settings.linking.dossier_lock_hours == 6
    assert settings.webhook.reply_rate_per_minute == 60
    monkeypatch.setenv("BRIDGE_WEBHOOK__REPLY_RATE_PER_MINUTE", "0")
    with pytest.raises(ConfigurationError, match="REPLY_RATE_PER_MINUTE"):
        load_settings()


async def test_the_desk_gets_the_lock_out_and_the_budget(tmp_path):
    settings = load_settings(
        store={"url": f"sqlite:///{tmp_path / 'b.sqlite3'}"},
        webhook={"app_id": "1", "oa_secret_key": "s", "reply_rate_per_minute": 60},
        linking={"hmac_key": "k", "dossier_failures_before_lock": 3, "dossier_lock_hours": 2},
        retention={"purge_interval_seconds": 0, "dossier_days": 10},
    )
    services = await CitizenServices.open(settings, sender=NoSender())
    try:
        assert services.desk is not None
        lock = services.desk._policy.lock
        assert (lock.threshold, lock.seconds) == (3, 7_200)
        assert services.desk._budget is not None
    finally:
        await services.close()
    assert retention_policy(settings.retention).link_guards == 10 * 86_400
