"""The cascade's settings (env and YAML), and its trace in the delivery-status event."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from bridge.delivery.flow import CircuitBreaker
from bridge.delivery.outbox import outputs_for
from bridge.delivery.records import DeliveryOutcome, InboundRecord
from bridge.errors import ConfigurationError
from bridge.events import CaseState, CaseStateEvent
from bridge.settings import load_settings
from bridge.status import Channel, ChannelDelivery, DeliveryStatus, DeliveryStatusEvent

SCHEMA = Path(__file__).parents[2] / "schemas" / "delivery-status-event.v1.json"


class TestCascadeSettings:
    def test_defaults(self):
        settings = load_settings()
        cascade = settings.cascade
        assert cascade.channels == ("cs", "template_uid", "template_phone")
        assert (cascade.template_id_uid, cascade.template_id_phone) == (None, None)
        assert cascade.interaction_window_days == 7
        assert str(settings.zalo.business_base_url) == "https://business.openapi.zalo.me/"
        assert settings.zalo.template_uid_path == "/v3.0/oa/message/template"

    def test_environment_variables_configure_the_cascade_and_its_states(self, monkeypatch):
        monkeypatch.setenv("BRIDGE_CASCADE__TEMPLATE_ID_UID", "tpl-uid")
        monkeypatch.setenv("BRIDGE_CASCADE__CHANNELS", '["template_uid", "template_phone"]')
        monkeypatch.setenv(
            "BRIDGE_CASCADE__STATES",
            json.dumps({"RESULT_READY": {"template_id_phone": "tpl-ready", "channels": ["cs"]}}),
        )
        monkeypatch.setenv("BRIDGE_CASCADE__INTERACTION_WINDOW_DAYS", "5")
        monkeypatch.setenv("BRIDGE_ZALO__BUSINESS_BASE_URL", "http://127.0.0.1:9000")
        settings = load_settings()
        cascade = settings.cascade
        assert cascade.template_id_uid == "tpl-uid"
        assert cascade.channels == ("template_uid", "template_phone")
        ready = cascade.states[CaseState.RESULT_READY]
        assert (ready.template_id_phone, ready.channels) == ("tpl-ready", ("cs",))
        assert cascade.interaction_window_days == 5
        assert str(settings.zalo.business_base_url) == "http://127.0.0.1:9000/"

    def test_nested_variables_configure_one_state(self, monkeypatch):
        monkeypatch.setenv("BRIDGE_CASCADE__STATES__RESULT_READY__TEMPLATE_ID_UID", "tpl-ready")
        monkeypatch.setenv("BRIDGE_CASCADE__TEMPLATE_PARAMS__MA_HS", "ma_ho_so")
        cascade = load_settings().cascade
        assert cascade.states[CaseState.RESULT_READY].template_id_uid == "tpl-ready"
        assert cascade.template_params == {"ma_hs": "ma_ho_so"}

    def test_uncertain_zns_codes_are_reclassified_by_setting(self, monkeypatch):
        monkeypatch.setenv("BRIDGE_ZALO__ZNS_ERROR_CLASSES", '{"-144": "transient"}')
        assert load_settings().zalo.zns_error_classes == {-144: "transient"}
        monkeypatch.setenv("BRIDGE_ZALO__ZNS_ERROR_CLASSES", '{"-144": "retry"}')
        with pytest.raises(ConfigurationError, match=r"zalo\.zns_error_classes"):
            load_settings()

    def test_a_yaml_file_configures_template_parameters_per_state(self, tmp_path):
        config = tmp_path / "bridge.yaml"
        config.write_text(
            "cascade:\n"
            "  template_id_uid: '7895417a7d3f9461cd2e'\n"
            "  states:\n"
            "    SUPPLEMENT_REQUESTED:\n"
            "      template_id_uid: 'abc'\n"
            "      template_params: {ma_hs: ma_ho_so, han: ngay_hen_tra}\n",
            encoding="utf-8",
        )
        route = load_settings(config).cascade.states[CaseState.SUPPLEMENT_REQUESTED]
        assert route.template_params == {"ma_hs": "ma_ho_so", "han": "ngay_hen_tra"}

    @pytest.mark.parametrize(
        ("variable", "value", "named"),
        [
            ("BRIDGE_CASCADE__CHANNELS", '["template_phone", "cs"]', "cascade.channels"),
            ("BRIDGE_CASCADE__CHANNELS", '["cs", "cs"]', "cascade.channels"),
            ("BRIDGE_CASCADE__CHANNELS", "[]", "cascade.channels"),
            ("BRIDGE_CASCADE__CHANNELS", '["sms"]', "cascade.channels"),
            ("BRIDGE_CASCADE__STATES", '{"APPROVED": {}}', "cascade.states"),
            ("BRIDGE_CASCADE__STATES", '{"RECEIVED": {"channels": ["x"]}}', "cascade.states"),
            ("BRIDGE_CASCADE__INTERACTION_WINDOW_DAYS", "0", "cascade.interaction_window_days"),
        ],
    )
    def test_invalid_values_are_refused_with_the_setting_name(
        self, monkeypatch, variable, value, named
    ):
        monkeypatch.setenv(variable, value)
        with pytest.raises(ConfigurationError, match=named):
            load_settings()


def record() -> InboundRecord:
    return InboundRecord(topic="in", partition=2, offset=7, key=b"k", value=b"{}")


class TestStatusEvent:
    def test_the_status_event_names_the_channel_and_each_step(self, make_event):
        event = CaseStateEvent.model_validate(make_event())
        steps = (
            ChannelDelivery(
                channel=Channel.ZALO_CS,
                recipient="event_user",
                zalo_user_id="2512523625412515",
                status=DeliveryStatus.FAILED,
                reason="unreachable:-230",
                attempts=1,
            ),
            ChannelDelivery(
                channel=Channel.ZALO_TEMPLATE_PHONE,
                recipient="phone",
                status=DeliveryStatus.DELIVERED,
                zalo_message_id="m2",
                attempts=1,
            ),
        )
        outcome = DeliveryOutcome(
            DeliveryStatus.DELIVERED,
            message_id="m2",
            attempts=2,
            event=event,
            channel=Channel.ZALO_TEMPLATE_PHONE,
            deliveries=steps,
        )
        [output] = outputs_for(record(), outcome, status_topic="s", dead_letter_topic="d")
        body = json.loads(output.value)
        assert body["channel"] == "zalo_template_phone"
        assert [d["channel"] for d in body["deliveries"]] == ["zalo_cs", "zalo_template_phone"]
        assert body["deliveries"][1] == {
            "channel": "zalo_template_phone",
            "recipient": "phone",
            "zalo_user_id": None,
            "status": "delivered",
            "reason": None,
            "zalo_message_id": "m2",
            "attempts": 1,
        }
        assert "0912345678" not in output.value.decode()

    def test_who_linked_the_dossier_stays_with_bridge(self, make_event):
        event = CaseStateEvent.model_validate(make_event())
        steps = tuple(
            ChannelDelivery(
                channel=Channel.ZALO_CS,
                recipient=kind,
                zalo_user_id=user,
                status=DeliveryStatus.DELIVERED,
                zalo_message_id=f"m-{kind}",
                attempts=1,
            )
            for kind, user in (("event_user", "2512523625412515"), ("linked_user", "7700112233"))
        )
        outcome = DeliveryOutcome(
            DeliveryStatus.DELIVERED, message_id="m", attempts=2, event=event, deliveries=steps
        )
        [output] = outputs_for(record(), outcome, status_topic="s", dead_letter_topic="d")
        body = json.loads(output.value)
        assert [d["zalo_user_id"] for d in body["deliveries"]] == ["2512523625412515", None]
        assert [d["recipient"] for d in body["deliveries"]] == ["event_user", "linked_user"]
        assert "7700112233" not in output.value.decode()

    def test_a_status_event_of_the_previous_release_still_reads(self):
        """Additive: events written before the cascade (no deliveries) stay valid."""
        old = {
            "schema_version": 1,
            "event_id": str(uuid.uuid4()),
            "case_code": "000.20.31.H56-260310-0042",
            "province": "thanh-hoa",
            "channel": "zalo_cs",
            "status": "delivered",
            "reason": None,
            "zalo_message_id": "m1",
            "attempts": 1,
            "template_version": "builtin-1",
            "event_occurred_at": None,
            "settled_at": "2026-03-10T02:30:11Z",
            "source": {"topic": "in", "partition": 0, "offset": 1},
        }
        assert DeliveryStatusEvent.model_validate(old).deliveries == ()

    def test_the_schema_adds_only_optional_fields(self):
        schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
        assert "deliveries" in schema["properties"]
        assert "deliveries" not in schema.get("required", [])
        assert "documents" not in schema.get("required", [])
        # zalo_file and zalo_image name result documents, in `documents` only: the top-level
        # channel and the cascade's steps keep the first three.
        assert set(schema["$defs"]["Channel"]["enum"]) == {
            "zalo_cs",
            "zalo_template_uid",
            "zalo_template_phone",
            "zalo_file",
            "zalo_image",
        }


class TestBreakerProbe:
    async def test_a_probe_that_made_no_call_lets_the_next_caller_probe(self):
        now = [0.0]

        async def sleep(seconds: float) -> None:
            now[0] += seconds

        breaker = CircuitBreaker(
            failure_threshold=1,
            open_seconds=5,
            max_open_seconds=60,
            clock=lambda: now[0],
            sleep=sleep,
        )
        assert await breaker.before_call() is None  # closed: not a probe
        breaker.trip("token refused")
        probe = await breaker.before_call()
        assert probe is not None
        breaker.release_probe(probe)
        # Without the release this second caller would wait for a verdict that never comes.
        assert await breaker.before_call() is not None
        breaker.success()
        assert await breaker.before_call() is None
