"""The outbox published once per dossier, retention, and the centre's first event linking her."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from bridge.delivery.records import InboundRecord
from bridge.errors import BridgeError
from bridge.objects.local import LocalObjectStore
from bridge.store.database import open_database
from bridge.store.migrate import upgrade_sync
from bridge.submissions import SubmissionSettings, load_forms
from bridge.submissions.contract import CitizenSubmission
from bridge.submissions.linking import LINK_FACTOR, SubmissionLinker
from bridge.submissions.outbox import SubmissionWorker
from bridge.submissions.service import SubmissionDesk
from bridge.submissions.store import Filed, SubmissionStore

USER = "2512523625412515"
SUBMISSION = "HS-20260310ABCD1234"
DAY = 86_400.0


class Publisher:
    def __init__(self) -> None:
        self.events: list[dict] = []
        self.fail = False

    async def publish(self, event):
        if self.fail:
            raise BridgeError("broker down")
        self.events.append(event)


class Links:
    def __init__(self) -> None:
        self.links: list[tuple[str, str, str]] = []

    async def link(self, user_id, case_code, *, factor, at):  # noqa: ARG002 - the port
        self.links.append((user_id, case_code, factor))


def event_of(key: str) -> dict:
    return json.loads(
        CitizenSubmission.model_validate(
            {
                "submission_id": SUBMISSION,
                "province": "da-nang",
                "procedure_code": "1.001193",
                "procedure_name": "Đăng ký khai sinh",
                "citizen": {
                    "zalo_user_id": USER,
                    "consent": {"given_at": "2026-03-10T05:00:00Z", "text": "Đồng ý."},
                },
                "fields": {"child_full_name": "Nguyễn An"},
                "attachments": [
                    {
                        "document": "birth_certificate",
                        "document_label": "Giấy chứng sinh",
                        "object_key": key,
                        "sha256": "0" * 64,
                        "content_type": "application/pdf",
                        "size": 3,
                    }
                ],
                "started_at": "2026-03-10T04:00:00Z",
                "submitted_at": "2026-03-10T05:00:00Z",
            }
        ).model_dump_json()
    )


@pytest.fixture
async def parts(ledger_url, tmp_path):
    upgrade_sync(ledger_url)
    database = open_database(ledger_url)
    now = [1_000_000.0]
    store = SubmissionStore(database)
    objects = LocalObjectStore(
        tmp_path / "objects", max_object_bytes=1 << 20, presign_expiry=timedelta(hours=1)
    )
    settings = SubmissionSettings(retention_days=30)
    desk = SubmissionDesk(
        catalogue=load_forms(settings),
        store=store,
        sender=None,  # type: ignore[arg-type] - nobody is written to here
        intake=None,  # type: ignore[arg-type]
        province="da-nang",
        timezone="Asia/Ho_Chi_Minh",
        clock=lambda: now[0],
    )
    publisher = Publisher()
    worker = SubmissionWorker(
        settings=settings,
        store=store,
        desk=desk,
        objects=objects,
        publisher=publisher,
        owner="replica-1",
        clock=lambda: now[0],
    )
    key = "submissions/abc-0"
    await objects.put(key, b"%PD", content_type="application/pdf")
    filed = Filed(SUBMISSION, USER, "1.001193", event_of(key), (key,), now[0])
    await store.apply(USER, event_key="m1", draft=None, at=now[0], read=None, filed=filed)
    try:
        yield store, objects, worker, publisher, now
    finally:
        await database.dispose()


async def test_each_dossier_is_published_once_keyed_by_its_id_with_no_bytes(parts):
    store, _, worker, publisher, _ = parts
    publisher.fail = True
    with pytest.raises(BridgeError):
        await worker.publish_pending()
    assert len(await store.unpublished()) == 1  # kept in the outbox
    publisher.fail = False
    assert await worker.publish_pending() == 1
    assert await worker.publish_pending() == 0
    [event] = publisher.events
    assert event["submission_id"] == SUBMISSION
    attachment = event["attachments"][0]
    assert attachment["object_key"] == "submissions/abc-0"
    assert attachment["url"] is None  # a local store without a signer: bucket access only
    CitizenSubmission.model_validate(event)


async def test_attachments_are_deleted_after_the_retention_once_published(parts):
    store, objects, worker, _, now = parts
    now[0] += 31 * DAY
    assert await worker.keep_retention() == 0  # not published yet: the centre has not read it
    await worker.publish_pending()
    assert await worker.keep_retention() == 1
    assert not await objects.exists("submissions/abc-0")
    assert await worker.keep_retention() == 0
    assert await store.filed(SUBMISSION) is not None  # the record of the dossier stays


async def test_the_first_case_event_naming_the_submission_links_her_once(parts, make_event, encode):
    store, _, _, _, _ = parts
    links = Links()
    linker = SubmissionLinker(
        store=store, citizens=links, input_topic="case-state-events", max_event_bytes=1 << 20
    )
    handled: list[InboundRecord] = []

    async def deliver(record):
        handled.append(record)
        return "delivered"

    handle = linker.before(deliver)
    code = "000.20.31.H56-260310-0042"
    first = make_event(submission_id=SUBMISSION, case={"code": code})
    record = InboundRecord(
        topic="case-state-events", partition=0, offset=1, key=None, value=encode(first), headers=()
    )
    assert await handle(record) == "delivered"
    assert links.links == [(USER, code, LINK_FACTOR)]
    assert await handle(record) == "delivered"  # a redelivery
    assert len(links.links) == 2  # linking is idempotent in the citizen store
    assert linker.linked == 1
    assert (await store.filed(SUBMISSION)).submission_id == SUBMISSION
    broken = InboundRecord(
        topic="case-state-events", partition=0, offset=2, key=None, value=b"{", headers=()
    )
    assert await handle(broken) == "delivered"  # the deliverer dead-letters it
    unknown = make_event(submission_id="HS-20260310ZZZZ0000")
    other = InboundRecord(
        topic="case-state-events",
        partition=0,
        offset=3,
        key=None,
        value=encode(unknown),
        headers=(),
    )
    await handle(other)
    assert len(links.links) == 2
    assert len(handled) == 4


async def test_a_dossier_claimed_by_another_worker_is_left_to_it_until_its_lease_ends(parts):
    store, _, worker, publisher, now = parts
    assert await store.claim(SUBMISSION, owner="replica-2", now=now[0], lease=60.0)
    assert await worker.publish_pending() == 0
    assert publisher.events == []
    now[0] += 61  # replica-2 died holding it
    assert await worker.publish_pending() == 1
    assert not await store.claim(SUBMISSION, owner="replica-2", now=now[0], lease=60.0)
