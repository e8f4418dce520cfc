"""The channel cascade through the use case: scripted Zalo per channel, real SQLite ledger."""

from __future__ import annotations

import json

import pytest
from structlog.testing import capture_logs

from bridge.delivery.cascade import CascadeConfig, Route
from bridge.delivery.deliverer import DeliveryStatus
from bridge.delivery.flow import BreakerState
from bridge.errors import (
    AccountError,
    DeliveryInDoubtError,
    InvalidEventReason,
    MessageRejectedError,
    RecipientUnreachableError,
    RetryableDeliveryError,
    TokenError,
)
from bridge.events import CaseState
from cascade_support import (
    BY_PHONE,
    CS,
    DAY,
    LINKED,
    PHONE,
    UID,
    USER,
    ChannelZalo,
    FakeDirectory,
    deliverer,
    not_follower,
    outside_window,
    phone_only,
    record_of,
)


class TestCascade:
    async def test_inside_the_window_the_cs_text_is_enough(
        self, make_event, encode, ledger, clock, sleeps
    ):
        zalo = ChannelZalo()
        citizens = FakeDirectory(interactions={USER: clock.now - DAY})
        outcome = await deliverer(zalo, ledger, clock, sleeps, citizens=citizens).handle(
            record_of(encode(make_event(recipient={"phone": PHONE})))
        )
        assert zalo.channels() == [(CS, USER)]
        assert (outcome.status, outcome.channel, outcome.message_id) == (
            DeliveryStatus.DELIVERED,
            CS,
            "zalo_cs-1",
        )
        [step] = outcome.deliveries
        assert (step.channel, step.recipient, step.zalo_user_id) == (CS, "event_user", USER)

    async def test_an_unknown_interaction_tries_cs_and_the_window_error_moves_to_the_template(
        self, make_event, encode, ledger, clock, sleeps
    ):
        zalo = ChannelZalo(zalo_cs=[outside_window()])
        outcome = await deliverer(zalo, ledger, clock, sleeps).handle(
            record_of(encode(make_event()))
        )
        assert zalo.channels() == [(CS, USER), (UID, USER)]
        template_id, data = zalo.sent[1][2]
        assert template_id == "tpl-uid"
        assert data["ma_ho_so"] == "000.20.31.H56-260310-0042"
        assert data["trang_thai"] == "Được tiếp nhận"
        assert (outcome.status, outcome.channel, outcome.message_id) == (
            DeliveryStatus.DELIVERED,
            UID,
            "zalo_template_uid-2",
        )
        assert outcome.attempts == 2
        assert [(d.channel, d.status, d.reason) for d in outcome.deliveries] == [
            (CS, DeliveryStatus.FAILED, "unreachable:-230"),
            (UID, DeliveryStatus.DELIVERED, None),
        ]
        assert sleeps.waits == []  # the window is not retried

    async def test_a_known_old_interaction_skips_cs_without_calling_zalo(
        self, make_event, encode, ledger, clock, sleeps
    ):
        zalo = ChannelZalo()
        citizens = FakeDirectory(interactions={USER: clock.now - 8 * DAY})
        outcome = await deliverer(zalo, ledger, clock, sleeps, citizens=citizens).handle(
            record_of(encode(make_event()))
        )
        assert zalo.channels() == [(UID, USER)]
        assert outcome.channel is UID
        skipped = outcome.deliveries[0]
        assert (skipped.channel, skipped.reason, skipped.attempts) == (
            CS,
            "unreachable:window",
            0,
        )

    async def test_no_zalo_user_with_consent_and_a_phone_goes_by_phone(
        self, make_event, encode, ledger, clock, sleeps
    ):
        zalo = ChannelZalo()
        payload = phone_only(make_event)
        outcome = await deliverer(zalo, ledger, clock, sleeps).handle(record_of(encode(payload)))
        [(channel, phone, (template_id, data, tracking_id))] = zalo.sent
        assert (channel, phone, template_id) == (BY_PHONE, PHONE, "tpl-phone")
        assert tracking_id == payload["event_id"].replace("-", "")
        assert data["ma_ho_so"] == "000.20.31.H56-260310-0042"
        assert (outcome.status, outcome.channel) == (DeliveryStatus.DELIVERED, BY_PHONE)
        assert outcome.deliveries[0].recipient == "phone"
        assert outcome.deliveries[0].zalo_user_id is None

    async def test_when_no_user_channel_works_the_phone_is_the_last_resort(
        self, make_event, encode, ledger, clock, sleeps
    ):
        zalo = ChannelZalo(zalo_cs=[not_follower()], zalo_template_uid=[not_follower()])
        outcome = await deliverer(zalo, ledger, clock, sleeps).handle(
            record_of(encode(make_event(recipient={"phone": PHONE})))
        )
        assert zalo.channels() == [(CS, USER), (UID, USER), (BY_PHONE, PHONE)]
        assert (outcome.status, outcome.channel) == (DeliveryStatus.DELIVERED, BY_PHONE)

    async def test_nothing_works_so_the_event_failed_as_unreachable(
        self, make_event, encode, ledger, clock, sleeps
    ):
        zalo = ChannelZalo(zalo_cs=[not_follower()], zalo_template_uid=[not_follower()])
        outcome = await deliverer(zalo, ledger, clock, sleeps).handle(
            record_of(encode(make_event()))
        )
        assert (outcome.status, outcome.reason) == (DeliveryStatus.FAILED, "unreachable:-213")
        assert outcome.reason.startswith("unreachable")
        assert outcome.dead_letter is None
        assert len(outcome.deliveries) == 2

    async def test_a_phone_without_a_zalo_account_fails_as_unreachable(
        self, make_event, encode, ledger, clock, sleeps
    ):
        zalo = ChannelZalo(
            zalo_template_phone=[RecipientUnreachableError("no Zalo account", code=-118)]
        )
        outcome = await deliverer(zalo, ledger, clock, sleeps).handle(
            record_of(encode(phone_only(make_event)))
        )
        assert (outcome.status, outcome.reason, outcome.channel) == (
            DeliveryStatus.FAILED,
            "unreachable:-118",
            BY_PHONE,
        )

    async def test_without_consent_the_phone_is_never_used(
        self, make_event, encode, ledger, clock, sleeps
    ):
        zalo = ChannelZalo()
        payload = make_event(
            recipient={"zalo_user_id": None, "phone": PHONE, "notify_consent": False}
        )
        outcome = await deliverer(zalo, ledger, clock, sleeps).handle(record_of(encode(payload)))
        assert (outcome.status, outcome.reason) == (DeliveryStatus.SUPPRESSED, "no_consent")
        assert zalo.sent == []

    async def test_a_phone_only_recipient_without_a_phone_channel_is_unreachable(
        self, make_event, encode, ledger, clock, sleeps
    ):
        zalo = ChannelZalo()
        cs_only = CascadeConfig()
        outcome = await deliverer(zalo, ledger, clock, sleeps, cascade=cs_only).handle(
            record_of(encode(phone_only(make_event)))
        )
        assert (outcome.status, outcome.reason) == (
            DeliveryStatus.FAILED,
            "unreachable:no_zalo_user_id",
        )
        assert zalo.sent == []


class TestLinkedUsers:
    async def test_linked_users_hear_even_without_the_events_consent(
        self, make_event, encode, ledger, clock, sleeps
    ):
        payload = make_event(recipient={"notify_consent": False, "phone": PHONE})
        citizens = FakeDirectory(linked={payload["case"]["code"]: [LINKED]})
        zalo = ChannelZalo()
        outcome = await deliverer(zalo, ledger, clock, sleeps, citizens=citizens).handle(
            record_of(encode(payload))
        )
        assert zalo.channels() == [(CS, LINKED)]
        assert outcome.status is DeliveryStatus.DELIVERED
        assert outcome.deliveries[0].recipient == "linked_user"

    async def test_the_event_user_and_each_linked_user_are_told_once(
        self, make_event, encode, ledger, clock, sleeps
    ):
        payload = make_event()
        citizens = FakeDirectory(linked={payload["case"]["code"]: [LINKED, USER]})
        zalo = ChannelZalo()
        use_case = deliverer(zalo, ledger, clock, sleeps, citizens=citizens)
        first = await use_case.handle(record_of(encode(payload)))
        again = await use_case.handle(record_of(encode(payload), offset=99))
        assert zalo.channels() == [(CS, USER), (CS, LINKED)]
        assert first.message_id == again.message_id == "zalo_cs-1"
        assert [d.zalo_user_id for d in again.deliveries] == [USER, LINKED]

    async def test_a_linked_user_who_is_reached_spares_the_phone(
        self, make_event, encode, ledger, clock, sleeps
    ):
        payload = make_event(recipient={"phone": PHONE})
        citizens = FakeDirectory(linked={payload["case"]["code"]: [LINKED]})
        zalo = ChannelZalo(zalo_cs=[not_follower()], zalo_template_uid=[not_follower()])
        outcome = await deliverer(zalo, ledger, clock, sleeps, citizens=citizens).handle(
            record_of(encode(payload))
        )
        assert zalo.channels() == [(CS, USER), (UID, USER), (CS, LINKED)]
        assert (outcome.status, outcome.channel) == (DeliveryStatus.DELIVERED, CS)

    async def test_a_citizen_store_outage_delays_the_event_and_loses_nothing(
        self, make_event, encode, ledger, clock, sleeps
    ):
        zalo = ChannelZalo()
        citizens = FakeDirectory(failures=2)
        outcome = await deliverer(zalo, ledger, clock, sleeps, citizens=citizens).handle(
            record_of(encode(make_event()))
        )
        assert outcome.status is DeliveryStatus.DELIVERED
        # Waited out with a growing backoff (0.5 s doubling, jittered), never longer than a pause.
        assert len(sleeps.waits) == 2
        assert 0.5 <= sleeps.waits[0] <= 1.0
        assert 1.0 <= sleeps.waits[1] <= 1.5
        assert len(zalo.sent) == 1


class TestPerState:
    CONFIG = CascadeConfig(
        default=Route(template_id_uid="tpl-default"),
        states={
            CaseState.RESULT_READY: Route(
                channels=(UID, BY_PHONE),
                template_id_uid="tpl-ready",
                template_id_phone="tpl-ready-phone",
                template_params={"ma": "ma_ho_so", "link": "tra_cuu"},
            ),
            CaseState.STOPPED: Route(channels=(CS, UID)),
        },
    )

    async def test_a_state_override_changes_order_template_and_parameters(
        self, make_event, encode, ledger, clock, sleeps
    ):
        zalo = ChannelZalo()
        await deliverer(zalo, ledger, clock, sleeps, cascade=self.CONFIG).handle(
            record_of(encode(make_event(state="RESULT_READY")))
        )
        [(channel, user, (template_id, data))] = zalo.sent
        assert (channel, user, template_id) == (UID, USER, "tpl-ready")
        assert data == {
            "ma": "000.20.31.H56-260310-0042",
            "link": "https://dvc.example.gov.vn/tra-cuu?ma=000.20.31.H56-260310-0042",
        }

    async def test_other_states_keep_the_default_template(
        self, make_event, encode, ledger, clock, sleeps
    ):
        zalo = ChannelZalo(zalo_cs=[outside_window()])
        await deliverer(zalo, ledger, clock, sleeps, cascade=self.CONFIG).handle(
            record_of(encode(make_event()))
        )
        assert [(c, payload[0]) for c, _, payload in zalo.sent if c is UID] == [
            (UID, "tpl-default")
        ]

    async def test_a_state_without_a_template_id_skips_that_channel(
        self, make_event, encode, ledger, clock, sleeps
    ):
        no_template = CascadeConfig(states={CaseState.STOPPED: Route(channels=(CS, UID))})
        zalo = ChannelZalo(zalo_cs=[outside_window()])
        outcome = await deliverer(zalo, ledger, clock, sleeps, cascade=no_template).handle(
            record_of(encode(make_event(state="STOPPED")))
        )
        assert zalo.channels() == [(CS, USER)]
        assert (outcome.status, outcome.reason) == (DeliveryStatus.FAILED, "unreachable:-230")


class TestOnceAcrossChannels:
    async def test_a_redelivered_event_walks_the_settled_steps_and_sends_nothing(
        self, make_event, encode, ledger, clock, sleeps
    ):
        raw = encode(make_event(recipient={"phone": PHONE}))
        zalo = ChannelZalo(zalo_cs=[outside_window()], zalo_template_uid=[not_follower()])
        first = await deliverer(zalo, ledger, clock, sleeps, owner="p1").handle(record_of(raw))
        # Meanwhile the citizen wrote to the OA: CS would now work, but it was settled.
        citizens = FakeDirectory(interactions={USER: clock.now})
        again = await deliverer(zalo, ledger, clock, sleeps, owner="p2", citizens=citizens).handle(
            record_of(raw, offset=77)
        )
        assert zalo.channels() == [(CS, USER), (UID, USER), (BY_PHONE, PHONE)]
        assert again.status is DeliveryStatus.DELIVERED
        assert (again.channel, again.message_id) == (first.channel, first.message_id)
        assert [d.status for d in again.deliveries] == [d.status for d in first.deliveries]

    async def test_a_skipped_cs_step_stays_skipped_when_redelivered(
        self, make_event, encode, ledger, clock, sleeps
    ):
        raw = encode(make_event())
        old = FakeDirectory(interactions={USER: clock.now - 30 * DAY})
        zalo = ChannelZalo(zalo_template_uid=[MessageRejectedError("bad data", code=-201)])
        first = await deliverer(zalo, ledger, clock, sleeps, citizens=old).handle(record_of(raw))
        fresh = FakeDirectory(interactions={USER: clock.now})
        again = await deliverer(zalo, ledger, clock, sleeps, citizens=fresh).handle(record_of(raw))
        assert zalo.channels() == [(UID, USER)]
        assert first.status is again.status is DeliveryStatus.DEAD_LETTERED

    async def test_a_stale_event_is_suppressed_whatever_channel_delivered_the_newer_one(
        self, make_event, encode, ledger, clock, sleeps
    ):
        zalo = ChannelZalo(zalo_cs=[outside_window()])
        use_case = deliverer(zalo, ledger, clock, sleeps)
        await use_case.handle(record_of(encode(make_event(sequence=5, state="RESULT_READY"))))
        outcome = await use_case.handle(record_of(encode(make_event(sequence=3))))
        assert (outcome.status, outcome.reason) == (DeliveryStatus.SUPPRESSED, "stale")
        assert zalo.channels() == [(CS, USER), (UID, USER)]


class TestInDoubtPerChannel:
    async def test_a_template_in_doubt_is_held_then_resent_without_reading_the_conversation(
        self, make_event, encode, ledger, clock, sleeps
    ):
        zalo = ChannelZalo(
            zalo_cs=[outside_window()], zalo_template_uid=[DeliveryInDoubtError("read timeout")]
        )
        outcome = await deliverer(zalo, ledger, clock, sleeps).handle(
            record_of(encode(make_event()))
        )
        assert zalo.lookups == 0
        assert 100 in sleeps.waits  # in_doubt_hold, not the 2 s settle time
        assert zalo.channels() == [(CS, USER), (UID, USER), (UID, USER)]
        assert (outcome.status, outcome.channel) == (DeliveryStatus.DELIVERED, UID)

    async def test_a_phone_template_in_doubt_is_held_then_resent(
        self, make_event, encode, ledger, clock, sleeps
    ):
        zalo = ChannelZalo(zalo_template_phone=[DeliveryInDoubtError("reset")])
        outcome = await deliverer(zalo, ledger, clock, sleeps).handle(
            record_of(encode(phone_only(make_event)))
        )
        assert zalo.lookups == 0
        assert 100 in sleeps.waits
        assert len(zalo.sent) == 2
        assert outcome.status is DeliveryStatus.DELIVERED

    async def test_a_template_left_in_flight_by_a_dead_replica_is_held_not_looked_up(
        self, make_event, encode, ledger, clock, sleeps
    ):
        payload = make_event(recipient={"zalo_user_id": None, "phone": PHONE})
        await ledger.claim(
            f"{payload['event_id']}/phone/zalo_template_phone",
            event_id=payload["event_id"],
            case_code=payload["case"]["code"],
            sequence=payload["sequence"],
            owner="dead",
            now=clock.now - 100,
            lease_seconds=30,
        )
        zalo = ChannelZalo()
        outcome = await deliverer(zalo, ledger, clock, sleeps).handle(record_of(encode(payload)))
        assert zalo.lookups == 0
        assert sleeps.waits == [100]  # the hold, counted from when the lease was found expired
        assert zalo.channels() == [(BY_PHONE, PHONE)]
        assert (outcome.status, outcome.attempts) == (DeliveryStatus.DELIVERED, 2)

    async def test_a_cs_text_in_doubt_is_still_reconciled_first(
        self, make_event, encode, ledger, clock, sleeps
    ):
        zalo = ChannelZalo(zalo_cs=[DeliveryInDoubtError("read timeout")])
        outcome = await deliverer(zalo, ledger, clock, sleeps).handle(
            record_of(encode(make_event()))
        )
        assert zalo.lookups == 1
        assert 2 in sleeps.waits
        assert zalo.channels() == [(CS, USER), (CS, USER)]
        assert outcome.channel is CS


class TestFailuresPerChannel:
    @pytest.mark.parametrize(
        "error",
        [
            TokenError("Zalo ZNS error -124: Access token is invalid", code=-124),
            AccountError("Zalo ZNS error -144: daily quota", code=-144),
        ],
    )
    async def test_token_and_account_trouble_on_a_template_block_and_lose_nothing(
        self, make_event, encode, ledger, clock, sleeps, error
    ):
        zalo = ChannelZalo(zalo_cs=[not_follower()], zalo_template_phone=[error, error])
        use_case = deliverer(
            zalo,
            ledger,
            clock,
            sleeps,
            cascade=CascadeConfig(
                default=Route(channels=(CS, BY_PHONE), template_id_phone="tpl-phone")
            ),
        )
        outcome = await use_case.handle(record_of(encode(make_event(recipient={"phone": PHONE}))))
        assert outcome.status is DeliveryStatus.DELIVERED
        # The CS refusal was settled once; only the blocked phone send was repeated.
        assert zalo.channels() == [(CS, USER), *[(BY_PHONE, PHONE)] * 3]
        assert use_case._breaker.state is BreakerState.CLOSED

    async def test_a_rejected_template_falls_to_the_next_channel(
        self, make_event, encode, ledger, clock, sleeps
    ):
        zalo = ChannelZalo(
            zalo_cs=[outside_window()],
            zalo_template_uid=[
                MessageRejectedError("template_data.ma_ho_so is invalid", code=-201)
            ],
        )
        outcome = await deliverer(zalo, ledger, clock, sleeps).handle(
            record_of(encode(make_event(recipient={"phone": PHONE})))
        )
        assert (outcome.status, outcome.channel, outcome.dead_letter) == (
            DeliveryStatus.DELIVERED,
            BY_PHONE,
            None,
        )
        assert [d.reason for d in outcome.deliveries] == ["unreachable:-230", "rejected:-201", None]

    async def test_a_rejection_with_no_other_way_is_parked_with_every_channels_history(
        self, make_event, encode, ledger, clock, sleeps
    ):
        zalo = ChannelZalo(
            zalo_cs=[outside_window()],
            zalo_template_uid=[
                RetryableDeliveryError("503"),
                MessageRejectedError("bad", code=-201),
            ],
        )
        outcome = await deliverer(zalo, ledger, clock, sleeps).handle(
            record_of(encode(make_event()))
        )
        assert (outcome.status, outcome.reason, outcome.channel) == (
            DeliveryStatus.DEAD_LETTERED,
            "rejected:-201",
            UID,
        )
        assert outcome.dead_letter is not None
        assert outcome.dead_letter.reason is InvalidEventReason.ZALO_REJECTED
        assert outcome.history == (
            "zalo_cs: Zalo error -230: no interaction in 7 days",
            "zalo_template_uid: 503",
            "zalo_template_uid: bad",
        )

    async def test_send_message_failed_twice_parks_that_step_and_the_cascade_goes_on(
        self, make_event, encode, ledger, clock, sleeps
    ):
        failed = RetryableDeliveryError("Zalo error -200: Send message failed", code=-200)
        zalo = ChannelZalo(zalo_cs=[outside_window()], zalo_template_uid=[failed, failed])
        outcome = await deliverer(zalo, ledger, clock, sleeps).handle(
            record_of(encode(make_event(recipient={"phone": PHONE})))
        )
        assert zalo.channels() == [(CS, USER), (UID, USER), (UID, USER), (BY_PHONE, PHONE)]
        assert outcome.status is DeliveryStatus.DELIVERED
        assert outcome.deliveries[1].reason == "rejected:-200"

    async def test_the_log_names_neither_the_phone_nor_the_user(
        self, make_event, encode, ledger, clock, sleeps
    ):
        zalo = ChannelZalo(zalo_cs=[not_follower()], zalo_template_uid=[not_follower()])
        with capture_logs() as logs:
            await deliverer(zalo, ledger, clock, sleeps).handle(
                record_of(encode(make_event(recipient={"phone": PHONE})))
            )
        text = json.dumps(logs, default=str)
        assert PHONE not in text
        assert PHONE[1:] not in text
        assert USER not in text
        [line] = [entry for entry in logs if entry["event"] == "event handled"]
        assert (line["channel"], line["steps"]) == ("zalo_template_phone", 3)
