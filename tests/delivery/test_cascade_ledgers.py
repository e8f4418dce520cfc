"""The cascade's steps on both ledger stores: once per channel, across replicas and redeliveries."""

from __future__ import annotations

import asyncio

import pytest

from bridge.delivery.deliverer import DeliveryStatus
from cascade_support import (
    BY_PHONE,
    CS,
    PHONE,
    UID,
    USER,
    ChannelZalo,
    Clock,
    Sleeps,
    deliverer,
    not_follower,
    outside_window,
    record_of,
)


@pytest.fixture
def ledger(any_ledger):
    """The ledger on each database (SQLite, PostgreSQL)."""
    return any_ledger


async def test_each_step_is_sent_once_by_two_replicas_and_a_redelivery(ledger, make_event, encode):
    clock = Clock()
    raw = encode(make_event(recipient={"phone": PHONE}))
    zalo = ChannelZalo(zalo_cs=[outside_window()], zalo_template_uid=[not_follower()])
    replicas = [
        deliverer(zalo, ledger, clock, Sleeps(clock), owner=owner) for owner in ("p1", "p2")
    ]
    both = await asyncio.gather(*(r.handle(record_of(raw)) for r in replicas))
    again = await replicas[0].handle(record_of(raw, offset=99))
    assert sorted(zalo.channels()) == sorted([(CS, USER), (UID, USER), (BY_PHONE, PHONE)])
    for outcome in [*both, again]:
        assert (outcome.status, outcome.channel) == (DeliveryStatus.DELIVERED, BY_PHONE)
        assert [d.reason for d in outcome.deliveries] == [
            "unreachable:-230",
            "unreachable:-213",
            None,
        ]
    keys = {(channel.value, address) for channel, address, _ in zalo.sent}
    assert len(keys) == len(zalo.sent)


async def test_a_stale_event_is_suppressed_on_every_store(ledger, make_event, encode):
    clock = Clock()
    zalo = ChannelZalo(zalo_cs=[outside_window()])
    use_case = deliverer(zalo, ledger, clock, Sleeps(clock))
    await use_case.handle(record_of(encode(make_event(sequence=5, state="RESULT_READY"))))
    outcome = await use_case.handle(record_of(encode(make_event(sequence=3))))
    assert (outcome.status, outcome.reason) == (DeliveryStatus.SUPPRESSED, "stale")
    assert zalo.channels() == [(CS, USER), (UID, USER)]
