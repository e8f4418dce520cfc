"""A denunciation through the use case: to its denouncer only; her name nowhere else.

Luật Tố cáo 2018 Art. 8(3) and 47 protect the denouncer's identity; docs/complaints-and-disputes.md
§9.3 has the rules (R1 one recipient, R3 wording, R4 logs, R5 metrics, R6 status events).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import generate_latest
from structlog.testing import capture_logs

from bridge.delivery.outbox import outputs_for
from bridge.observability.masking import pseudonymise
from bridge.observability.metrics import Metrics
from bridge.status import DeliveryStatus
from cascade_support import (
    CS,
    LINKED,
    UID,
    USER,
    ChannelZalo,
    FakeDirectory,
    deliverer,
    not_follower,
    record_of,
)

CODE = "TC-2026-000117"
NAME = "Nguyễn Thị Tố Nga"


def denunciation(state: str, name: str = NAME, **changes: Any) -> bytes:
    document = {
        "schema_version": 2,
        "event_id": str(uuid.uuid4()),
        "occurred_at": "2026-12-01T09:00:00+07:00",
        "province": "thanh-hoa",
        "sequence": 3,
        "case": {
            "kind": "DENUNCIATION",
            "code": CODE,
            # A careless producer puts the denouncer's name into free text.
            "procedure_name": f"Đơn tố cáo của bà {name}",
            "receiving_agency": {"name": "Thanh tra tỉnh Thanh Hóa"},
            "handling_department": f"Tiếp công dân: {name}",
        },
        "state": state,
        "meeting": {"at": "2026-12-10T08:30:00+07:00", "place": f"Nhà bà {name}"},
        "result": {"note": f"Bà {name} đến nhận"},
        "recipient": {"zalo_user_id": USER, "phone": "0912345678", "notify_consent": True},
        **changes,
    }
    return json.dumps(document, ensure_ascii=False).encode()


def status_of(value: bytes, outcome) -> str:
    [status, *_] = outputs_for(record_of(value), outcome, status_topic="s", dead_letter_topic="d")
    return status.value.decode()


class TestOnlyTheDenouncer:
    async def test_linked_users_and_the_phone_never_hear_of_it(self, ledger, clock, sleeps):
        zalo = ChannelZalo()
        citizens = FakeDirectory(linked={CODE: [LINKED]})
        outcome = await deliverer(zalo, ledger, clock, sleeps, citizens=citizens).handle(
            record_of(denunciation("ACCEPTED"))
        )
        assert zalo.channels() == [(CS, USER)]
        assert outcome.status is DeliveryStatus.DELIVERED
        [text] = [payload for _, _, payload in zalo.sent]
        assert "Đơn tố cáo số TC-2026-000117 đã được thụ lý giải quyết." in text
        assert NAME not in text
        assert "Tra cứu" not in text

    async def test_unreachable_by_zalo_it_is_not_sent_by_phone(self, ledger, clock, sleeps):
        zalo = ChannelZalo(zalo_cs=[not_follower()], zalo_template_uid=[not_follower()])
        outcome = await deliverer(zalo, ledger, clock, sleeps).handle(
            record_of(denunciation("ACCEPTED"))
        )
        assert [channel for channel, _ in zalo.channels()] == [CS, UID]
        assert outcome.status is DeliveryStatus.FAILED

    async def test_an_internal_step_is_not_sent(self, ledger, clock, sleeps):
        zalo = ChannelZalo()
        outcome = await deliverer(zalo, ledger, clock, sleeps).handle(
            record_of(denunciation("VERIFYING"))
        )
        assert zalo.sent == []
        assert outcome.reason == "not_citizen_news"


class TestNoFootprint:
    async def test_logs_the_status_event_and_the_metrics_name_nobody(self, ledger, clock, sleeps):
        zalo = ChannelZalo(zalo_cs=[not_follower()])
        metrics = Metrics()
        value = denunciation("NOT_ACCEPTED", reason="Nội dung tố cáo không rõ ràng")
        with capture_logs() as logs:
            outcome = await deliverer(zalo, ledger, clock, sleeps).handle(record_of(value))
        metrics.settled(
            outcome.status, outcome.reason, attempts=outcome.attempts, deliveries=outcome.deliveries
        )
        written = json.dumps(logs, ensure_ascii=False, default=str)
        status = status_of(value, outcome)
        exposed = generate_latest(metrics.registry).decode()
        for text in (written, status, exposed):
            assert NAME not in text
            assert USER not in text
            assert pseudonymise(USER) not in text, "not even the keyed pseudonym"
        assert json.loads(status)["deliveries"][0]["zalo_user_id"] is None


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    # A person's name as people write it: two to four words, each capitalised. (A bare word
    # such as "handle" would be found in the log's own vocabulary, "event handled".)
    name=st.lists(
        st.builds(
            str.__add__,
            st.sampled_from("ĂÂBCDĐEÊGHIKLMNOÔƠPQRSTUƯVXY"),
            st.text(alphabet="aăâbcdđeêghiklmnoôơpqrstuưvxyàáảãạ", min_size=1, max_size=7),
        ),
        min_size=2,
        max_size=4,
    ).map(" ".join),
    state=st.sampled_from(["RECEIVED", "ACCEPTED", "CONCLUDED", "CLOSED", "NOT_ACCEPTED"]),
)
async def test_whatever_the_name_it_reaches_no_message_log_or_status(tmp_path_factory, name, state):
    from bridge.delivery.sqlite_ledger import SqliteLedger  # noqa: PLC0415 - per example
    from bridge.store.migrate import upgrade_sync  # noqa: PLC0415 - per example
    from cascade_support import Clock, Sleeps  # noqa: PLC0415 - per example

    path = tmp_path_factory.mktemp("ledger") / "l.sqlite3"
    upgrade_sync(f"sqlite:///{path}")
    ledger = SqliteLedger.open(str(path))
    clock = Clock()
    zalo = ChannelZalo()
    value = denunciation(state, name=name)
    try:
        with capture_logs() as logs:
            outcome = await deliverer(zalo, ledger, clock, Sleeps(clock)).handle(record_of(value))
    finally:
        ledger._db.close()
    sent = " ".join(str(payload) for _, _, payload in zalo.sent)
    written = json.dumps(logs, ensure_ascii=False, default=str)
    for text in (sent, written, status_of(value, outcome)):
        assert name not in text
