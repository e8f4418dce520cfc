"""Settings: sources, precedence, and errors that name the setting."""

from __future__ import annotations

import os

import pytest

from bridge.errors import ConfigurationError
from bridge.settings import load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """No BRIDGE_* or KAFKA_* variable of the machine leaks into these tests."""
    for name in list(os.environ):
        if name.startswith(("BRIDGE_", "KAFKA_")):
            monkeypatch.delenv(name)


class TestLoadSettings:
    def test_defaults_are_valid(self):
        settings = load_settings()
        assert settings.kafka.input_topic == "case-state-events"
        assert settings.kafka.dead_letter_topic == "case-state-events.dlq"
        assert str(settings.zalo.base_url) == "https://openapi.zalo.me/"
        assert settings.province.timezone == "Asia/Ho_Chi_Minh"

    def test_environment_variables_use_the_bridge_prefix_and_double_underscores(self, monkeypatch):
        monkeypatch.setenv("BRIDGE_KAFKA__INPUT_TOPIC", "ho-so.events")
        monkeypatch.setenv("BRIDGE_ZALO__ACCESS_TOKEN", "secret-token")
        settings = load_settings()
        assert settings.kafka.input_topic == "ho-so.events"
        assert settings.zalo.access_token is not None
        assert settings.zalo.access_token.get_secret_value() == "secret-token"

    def test_the_yaml_file_is_read_and_the_environment_wins_over_it(self, tmp_path, monkeypatch):
        config = tmp_path / "bridge.yaml"
        config.write_text(
            "kafka:\n  input_topic: from-file\n  consumer_group: g1\nprovince:\n  slug: an-giang\n",
            encoding="utf-8",
        )
        monkeypatch.setenv("BRIDGE_KAFKA__CONSUMER_GROUP", "from-env")
        settings = load_settings(config)
        assert settings.kafka.input_topic == "from-file"
        assert settings.kafka.consumer_group == "from-env"
        assert settings.province.slug == "an-giang"

    def test_bridge_config_file_names_the_yaml_file(self, tmp_path, monkeypatch):
        config = tmp_path / "bridge.yaml"
        config.write_text("kafka:\n  input_topic: named-by-env\n", encoding="utf-8")
        monkeypatch.setenv("BRIDGE_CONFIG_FILE", str(config))
        assert load_settings().kafka.input_topic == "named-by-env"

    def test_a_missing_yaml_file_is_an_error(self, tmp_path):
        with pytest.raises(ConfigurationError, match="does not exist"):
            load_settings(tmp_path / "absent.yaml")

    def test_kafka_bootstrap_servers_points_at_an_existing_cluster(self, monkeypatch):
        monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "10.0.0.1:9092, 10.0.0.2:9092")
        assert load_settings().kafka.bootstrap_servers == "10.0.0.1:9092,10.0.0.2:9092"

    def test_the_bridge_variable_wins_over_kafka_bootstrap_servers(self, monkeypatch):
        monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "10.0.0.1:9092")
        monkeypatch.setenv("BRIDGE_KAFKA__BOOTSTRAP_SERVERS", "10.0.0.3:9092")
        assert load_settings().kafka.bootstrap_servers == "10.0.0.3:9092"

    @pytest.mark.parametrize(
        ("variable", "value", "named"),
        [
            ("BRIDGE_KAFKA__CONSUMERS", "0", "BRIDGE_KAFKA__CONSUMERS"),
            ("BRIDGE_KAFKA__BOOTSTRAP_SERVERS", "no-port", "BRIDGE_KAFKA__BOOTSTRAP_SERVERS"),
            ("BRIDGE_ZALO__BASE_URL", "not a url", "BRIDGE_ZALO__BASE_URL"),
            ("BRIDGE_PROVINCE__TIMEZONE", "Mars/Olympus", "BRIDGE_PROVINCE__TIMEZONE"),
            ("BRIDGE_PROVINCE__LOOKUP_URL_TEMPLATE", "https://x.vn/tra-cuu", "LOOKUP_URL_TEMPLATE"),
            ("BRIDGE_LOG__LEVEL", "LOUD", "BRIDGE_LOG__LEVEL"),
        ],
    )
    def test_an_invalid_value_is_reported_with_the_setting_name(
        self, monkeypatch, variable, value, named
    ):
        monkeypatch.setenv(variable, value)
        with pytest.raises(ConfigurationError) as caught:
            load_settings()
        assert named in str(caught.value)

    def test_unknown_keys_in_the_file_are_refused(self, tmp_path):
        config = tmp_path / "bridge.yaml"
        config.write_text("kafka:\n  input_topik: typo\n", encoding="utf-8")
        with pytest.raises(ConfigurationError, match="input_topik"):
            load_settings(config)

    def test_retries_longer_than_the_poll_interval_are_refused(self):
        """Retrying past max.poll.interval.ms would get the consumer evicted mid-record."""
        with pytest.raises(ConfigurationError, match="attempt_budget_seconds"):
            load_settings(
                delivery={"attempt_budget_seconds": 250}, kafka={"max_poll_interval_ms": 300_000}
            )

    def test_a_watchdog_shorter_than_the_legitimate_waits_is_refused(self):
        """It would restart a pod that is only waiting out an in-doubt hold."""
        assert load_settings().delivery.watchdog_stall_seconds == 600
        with pytest.raises(ConfigurationError, match="watchdog_stall_seconds") as caught:
            load_settings(delivery={"watchdog_stall_seconds": 400})
        assert "465" in str(caught.value)  # 30 + 120 + 15 + 300, the defaults
        with pytest.raises(ConfigurationError, match="watchdog_stall_seconds"):
            load_settings(delivery={"in_doubt_hold_seconds": 900})
        assert load_settings(delivery={"watchdog_stall_seconds": 0}).delivery  # off
        assert load_settings(
            delivery={"watchdog_stall_seconds": 1000, "in_doubt_hold_seconds": 800}
        ).delivery

    def test_the_access_token_is_hidden_when_printed(self, monkeypatch):
        monkeypatch.setenv("BRIDGE_ZALO__ACCESS_TOKEN", "secret-token")
        settings = load_settings()
        assert "secret-token" not in repr(settings)
        assert "secret-token" not in settings.model_dump_json()
