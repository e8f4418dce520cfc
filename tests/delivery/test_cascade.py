"""The cascade's pure decisions: recipients, routes per state, steps and their ledger keys."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from bridge.delivery.cascade import (
    WINDOW_SKIP,
    CascadeConfig,
    Route,
    cascade_config,
    delivery_key,
    may_reach,
    phone_step,
    recipients_of,
    user_steps,
)
from bridge.delivery.settings import CascadeSettings
from bridge.events import CaseState, CaseStateEvent
from bridge.status import Channel
from bridge.templates import BuiltinRenderer
from bridge.wording import CitizenMessage, MessageContext

USER = "2512523625412515"
LINKED = "7001"
NOW = 1_800_000_000.0
DAY = 86_400.0

RENDERER = BuiltinRenderer(
    MessageContext(
        lookup_url_template="https://dvc.example.gov.vn/tra-cuu?ma={case_code}",
        timezone=ZoneInfo("Asia/Ho_Chi_Minh"),
    )
)
FULL = Route(template_id_uid="tpl-uid", template_id_phone="tpl-phone")


@pytest.fixture
def event_of(make_event):
    def build(**changes) -> CaseStateEvent:
        return CaseStateEvent.model_validate(make_event(**changes))

    return build


def message_of(event: CaseStateEvent) -> CitizenMessage:
    message = RENDERER.render(event)
    assert message is not None
    return message


class TestRecipients:
    def test_the_events_user_first_then_the_linked_users_once_each(self, event_of):
        recipients = recipients_of(event_of(), [LINKED, USER, LINKED])
        assert recipients.users == (USER, LINKED)
        assert recipients.kind(USER) == "event_user"
        assert recipients.kind(LINKED) == "linked_user"

    def test_without_consent_only_linked_users_remain_and_no_phone(self, event_of):
        event = event_of(recipient={"notify_consent": False, "phone": "0912345678"})
        recipients = recipients_of(event, [LINKED])
        assert (recipients.users, recipients.event_user, recipients.phone) == (
            (LINKED,),
            None,
            None,
        )

    def test_the_phone_comes_with_consent(self, event_of):
        event = event_of(recipient={"zalo_user_id": None, "phone": "0912345678"})
        assert recipients_of(event, []).phone == "0912345678"
        assert recipients_of(event, []).users == ()


class TestRoutes:
    def test_template_channels_without_a_template_id_are_skipped(self):
        assert Route().usable() == (Channel.ZALO_CS,)
        assert Route(template_id_phone="p").usable() == (
            Channel.ZALO_CS,
            Channel.ZALO_TEMPLATE_PHONE,
        )
        assert FULL.usable() == FULL.channels

    def test_a_states_override_inherits_what_it_leaves_unset(self):
        settings = CascadeSettings(
            template_id_uid="uid-default",
            template_id_phone="phone-default",
            template_params={"ma": "ma_ho_so"},
            states={
                "RESULT_READY": {"channels": ["template_uid"], "template_id_uid": "uid-ready"},
                "STOPPED": {"channels": ["cs"], "template_params": {}},
            },
            interaction_window_days=3,
        )
        config = cascade_config(settings)
        ready = config.route(CaseState.RESULT_READY)
        assert ready.usable() == (Channel.ZALO_TEMPLATE_UID,)
        assert (ready.template_id_uid, ready.template_id_phone) == ("uid-ready", "phone-default")
        assert dict(ready.template_params) == {"ma": "ma_ho_so"}
        assert dict(config.route(CaseState.STOPPED).template_params) == {}
        received = config.route(CaseState.RECEIVED)
        assert received.template_id_uid == "uid-default"
        assert received.usable() == FULL.channels
        assert config.window_seconds == 3 * DAY

    def test_the_default_settings_send_cs_texts_only(self):
        config = cascade_config(CascadeSettings())
        assert config.route(CaseState.RECEIVED).usable() == (Channel.ZALO_CS,)
        assert config.window_seconds == 7 * DAY

    def test_template_data_is_mapped_or_sent_as_it_is(self, event_of):
        message = message_of(event_of())
        assert FULL.template_data(message) == dict(message.template_data)
        mapped = Route(template_params={"ma_hs": "ma_ho_so", "ghi_chu": "no_such_key"})
        assert mapped.template_data(message) == {
            "ma_hs": "000.20.31.H56-260310-0042",
            "ghi_chu": "",
        }


class TestSteps:
    def test_the_events_own_cs_step_keeps_the_key_of_earlier_releases(self, event_of):
        event = event_of()
        assert delivery_key(event, Channel.ZALO_CS, USER) == f"{event.event_id}/zalo_cs"
        assert delivery_key(event, Channel.ZALO_CS, LINKED) == f"{event.event_id}/{LINKED}/zalo_cs"
        assert (
            delivery_key(event, Channel.ZALO_TEMPLATE_UID, USER)
            == f"{event.event_id}/{USER}/zalo_template_uid"
        )
        assert (
            delivery_key(event, Channel.ZALO_TEMPLATE_PHONE, None)
            == f"{event.event_id}/phone/zalo_template_phone"
        )

    @pytest.mark.parametrize(
        ("last", "skip"),
        [(None, None), (NOW - 6 * DAY, None), (NOW - 7 * DAY, None), (NOW - 8 * DAY, WINDOW_SKIP)],
    )
    def test_cs_is_skipped_only_when_the_last_interaction_is_known_to_be_too_old(
        self, event_of, last, skip
    ):
        event = event_of()
        steps = user_steps(
            event,
            message_of(event),
            FULL,
            recipients_of(event, []),
            USER,
            last_interaction=last,
            now=NOW,
            window_seconds=7 * DAY,
        )
        assert [s.channel for s in steps] == [Channel.ZALO_CS, Channel.ZALO_TEMPLATE_UID]
        assert steps[0].skip == skip
        assert steps[1].template_id == "tpl-uid"
        assert steps[1].template_data["ma_ho_so"] == "000.20.31.H56-260310-0042"

    def test_the_phone_step_needs_consent_a_phone_and_a_template(self, event_of):
        event = event_of(recipient={"phone": "0912345678"})
        step = phone_step(event, message_of(event), FULL)
        assert step is not None
        assert (step.phone, step.template_id, step.tracking_id) == (
            "0912345678",
            "tpl-phone",
            event.event_id.hex,
        )
        assert len(step.tracking_id or "") <= 48
        assert phone_step(event, message_of(event), Route(template_id_uid="u")) is None
        refused = event_of(recipient={"phone": "0912345678", "notify_consent": False})
        assert phone_step(refused, message_of(refused), FULL) is None
        assert phone_step(event_of(), message_of(event_of()), FULL) is None

    def test_a_route_without_cs_lists_templates_only(self, event_of):
        event = event_of()
        config = CascadeConfig(
            states={
                CaseState.RECEIVED: Route(
                    channels=(Channel.ZALO_TEMPLATE_UID,), template_id_uid="t"
                )
            }
        )
        steps = user_steps(
            event,
            message_of(event),
            config.route(event.state),
            recipients_of(event, []),
            USER,
            last_interaction=None,
            now=NOW,
            window_seconds=config.window_seconds,
        )
        assert [s.channel for s in steps] == [Channel.ZALO_TEMPLATE_UID]


class TestMayReach:
    """What quiet hours ask before holding an event: would the cascade try anyone?"""

    def test_a_phone_counts_only_when_the_route_has_a_template_by_phone(self, event_of):
        phone_only = event_of(recipient={"zalo_user_id": None, "phone": "0912345678"})
        assert not may_reach(phone_only, [], Route())
        assert may_reach(phone_only, [], FULL)

    def test_a_user_counts_only_when_the_route_has_a_user_channel(self, event_of):
        phone_route = Route(channels=(Channel.ZALO_TEMPLATE_PHONE,), template_id_phone="tpl")
        no_phone = event_of(recipient={"phone": None})
        assert may_reach(no_phone, [], Route())
        assert not may_reach(no_phone, [LINKED], phone_route)

    def test_linked_users_count_without_the_events_consent(self, event_of):
        event = event_of(recipient={"notify_consent": False})
        assert not may_reach(event, [], FULL)
        assert may_reach(event, [LINKED], Route())
