"""Generation-aware transactional commits and stable offset reads, on a real broker (KIP-447)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bridge.delivery.outbox import OutboundRecord, OwnershipLostError, TransactionalPublisher
from bridge.kafka.group_commit import GroupIdentity, identity_of, install

pytestmark = pytest.mark.kafka

PARTITIONS = 3


@pytest.fixture
async def names(kafka_bootstrap: str) -> tuple[str, str, str]:
    """A fresh input topic, output topic and group."""
    suffix = uuid.uuid4().hex[:10]
    topic, output, group = f"fence-in-{suffix}", f"fence-out-{suffix}", f"fence-{suffix}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(topic, num_partitions=PARTITIONS, replication_factor=1),
                NewTopic(output, num_partitions=1, replication_factor=1),
            ]
        )
    finally:
        await admin.close()
    return topic, output, group


@pytest.fixture
async def producer(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    install()
    started = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap,
        transactional_id=f"fence-tx-{uuid.uuid4().hex[:8]}",
        enable_idempotence=True,
    )
    await started.start()
    try:
        yield started
    finally:
        await started.stop()


def consumer(bootstrap: str, topic: str, group: str, **options: object) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=6000,
        heartbeat_interval_ms=500,
        rebalance_timeout_ms=6000,
        **options,
    )


async def joined(*members: AIOKafkaConsumer, partitions: int = PARTITIONS) -> None:
    """Poll every member until together they own every partition in one generation."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while True:
        await asyncio.gather(*(m.getmany(timeout_ms=200) for m in members))
        owned = [tp for m in members for tp in m.assignment()]
        generations = {m._coordinator.generation for m in members}
        settled = not any(m._subscription.reassignment_in_progress for m in members)
        if len(owned) == partitions and len(generations) == 1 and settled:
            return
        assert loop.time() < deadline, "the group did not settle"


def owner_of(members: list[AIOKafkaConsumer], topic: str, partition: int) -> AIOKafkaConsumer:
    return next(m for m in members if TopicPartition(topic, partition) in m.assignment())


async def read_committed(bootstrap: str, topic: str) -> list[bytes]:
    reader = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        isolation_level="read_committed",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await reader.start()
    try:
        values: list[bytes] = []
        tp = TopicPartition(topic, 0)
        reader.assign([tp])
        await reader.seek_to_end(tp)
        end = await reader.position(tp)
        reader.seek(tp, 0)
        while await reader.position(tp) < end:
            batch = await reader.getmany(tp, timeout_ms=1000)
            values.extend(r.value for r in batch.get(tp, []))
        return values
    finally:
        await reader.stop()


async def test_a_member_the_group_moved_past_cannot_commit_and_the_offset_never_goes_back(
    kafka_bootstrap: str, names: tuple[str, str, str], producer: AIOKafkaProducer
) -> None:
    topic, output, group = names
    first = consumer(kafka_bootstrap, topic, group)
    await first.start()
    second = consumer(kafka_bootstrap, topic, group)
    try:
        await joined(first)
        old = identity_of(first, topic, 0)
        assert old is not None
        assert old.generation > 0
        publisher = TransactionalPublisher(producer, group)
        # The first member commits 20 on partition 0, as its owner.
        await publisher.publish([OutboundRecord(output, b"k", b"first@20")], {(topic, 0): 20}, old)

        await second.start()
        await joined(first, second)
        members = [first, second]
        # Whoever owns partition 0 now, the identity of the old generation is refused, however
        # old the offset: the zombie's offset 5 and its status event never become visible.
        with pytest.raises(OwnershipLostError):
            await publisher.publish(
                [OutboundRecord(output, b"k", b"zombie@5")], {(topic, 0): 5}, old
            )
        owner = owner_of(members, topic, 0)
        assert (await owner.committed(TopicPartition(topic, 0))) == 20

        # The producer stays usable: the owner's commit under the new generation goes through.
        current = identity_of(owner, topic, 0)
        assert current is not None
        assert current.generation > old.generation
        await publisher.publish(
            [OutboundRecord(output, b"k", b"owner@25")], {(topic, 0): 25}, current
        )
        assert (await owner.committed(TopicPartition(topic, 0))) == 25
        assert await read_committed(kafka_bootstrap, output) == [b"first@20", b"owner@25"]
    finally:
        await second.stop()
        await first.stop()


async def test_an_unknown_member_is_refused(
    kafka_bootstrap: str, names: tuple[str, str, str], producer: AIOKafkaProducer
) -> None:
    topic, output, group = names
    member = consumer(kafka_bootstrap, topic, group)
    await member.start()
    try:
        await joined(member)
        real = identity_of(member, topic, 0)
        assert real is not None
        stranger = GroupIdentity(group, generation=real.generation, member_id="not-a-member")
        publisher = TransactionalPublisher(producer, group)
        with pytest.raises(OwnershipLostError):
            await publisher.publish([OutboundRecord(output, None, b"x")], {(topic, 0): 3}, stranger)
        assert (await member.committed(TopicPartition(topic, 0))) is None
    finally:
        await member.stop()


async def test_no_identity_is_given_for_a_partition_the_member_does_not_own(
    kafka_bootstrap: str, names: tuple[str, str, str]
) -> None:
    topic, _, group = names
    first = consumer(kafka_bootstrap, topic, group)
    second = consumer(kafka_bootstrap, topic, group)
    await first.start()
    await second.start()
    try:
        await joined(first, second)
        for partition in range(PARTITIONS):
            owner = owner_of([first, second], topic, partition)
            other = second if owner is first else first
            assert identity_of(owner, topic, partition) is not None
            assert identity_of(other, topic, partition) is None
    finally:
        await second.stop()
        await first.stop()


async def test_a_new_owner_reads_the_offset_of_a_transaction_still_in_flight_once_it_ends(
    kafka_bootstrap: str, names: tuple[str, str, str], producer: AIOKafkaProducer
) -> None:
    """OffsetFetch v7 asks for stable offsets: no read of the value before an open commit."""
    topic, output, group = names
    member = consumer(kafka_bootstrap, topic, group)
    await member.start()
    try:
        await joined(member)
        identity = identity_of(member, topic, 1)
        assert identity is not None
        publisher = TransactionalPublisher(producer, group)
        await publisher.publish([], {(topic, 1): 10}, identity)

        await producer.begin_transaction()
        await producer.send_and_wait(output, b"in flight")
        await producer.send_offsets_to_transaction({TopicPartition(topic, 1): 30}, identity)
        # The offsets are written but their transaction is open: a read now must wait for it.
        reading = asyncio.create_task(member.committed(TopicPartition(topic, 1)))
        await asyncio.sleep(0.5)  # let the read reach the broker while the transaction is open
        await producer.commit_transaction()
        assert await asyncio.wait_for(reading, timeout=30) == 30
    finally:
        await member.stop()
