"""Generation-aware transactional offset commits (KIP-447) and stable offset reads for aiokafka.

aiokafka 0.14 sends ``TxnOffsetCommit`` v0, which carries no consumer-group generation: the
group coordinator accepts a commit from a replica that has lost its partitions, and the
committed offset can move backwards. It also reads committed offsets with ``OffsetFetch`` v3,
which cannot ask the broker to wait for transactions still open on them.

``install()`` teaches aiokafka two newer versions of those requests, as Kafka defines them:

- ``TxnOffsetCommit`` v3 carries the generation id, member id and group instance id of the
  consumer that fetched the records (a ``GroupIdentity``). A commit from an older generation or
  an unknown member is refused by the coordinator (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID,
  FENCED_INSTANCE_ID); the refusal aborts the transaction (its status events are never
  visible) and leaves the producer usable.
- ``OffsetFetch`` v7 asks for stable offsets (``require_stable``): a partition whose offsets
  are part of a transaction still in flight answers UNSTABLE_OFFSET_COMMIT, and the consumer
  asks again, so a new owner starts after the previous owner's last commit, never before it.

Both fall back to aiokafka's own versions when the broker does not offer the newer ones. The
replacement reaches into aiokafka's sender and group coordinator, which are private: the
project pins the aiokafka version, and ``tests/kafka/test_group_commit.py`` proves the
behaviour on a real broker.
"""

from __future__ import annotations

import collections
import logging
from typing import TYPE_CHECKING, Any, ClassVar, Final, Self

import aiokafka.consumer.group_coordinator as _group_coordinator
import aiokafka.errors as kafka_errors
import aiokafka.producer.sender as _sender
from aiokafka.errors import KafkaError
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.commit import (
    OffsetFetchRequest_v1,
    OffsetFetchRequest_v2,
    OffsetFetchRequest_v3,
)
from aiokafka.protocol.transaction import TxnOffsetCommitRequest_v0
from aiokafka.protocol.types import (
    Boolean,
    CompactArray,
    CompactString,
    Int16,
    Int32,
    Int64,
    Schema,
    TaggedFields,
)
from aiokafka.structs import TopicPartition

if TYPE_CHECKING:
    from collections.abc import Iterable
    from io import BytesIO

__all__ = [
    "FencedInstanceIdError",
    "GroupIdentity",
    "identity_of",
    "install",
    "installed",
    "is_fenced_commit",
]

_log = logging.getLogger("bridge.kafka.group_commit")

_ILLEGAL_GENERATION: Final = 22
_UNKNOWN_MEMBER_ID: Final = 25
_COORDINATOR_LOAD_IN_PROGRESS: Final = 14
_FENCED_INSTANCE_ID: Final = 82
_UNSTABLE_OFFSET_COMMIT: Final = 88
_NO_TAGS: Final[dict[int, bytes]] = {}
_TXN_COMMIT_WITH_IDENTITY: Final = 3
"""The first TxnOffsetCommit version that carries the member and generation (KIP-447)."""
_FETCH_STABLE: Final = 7
"""The first OffsetFetch version that can ask for stable offsets (KIP-447)."""
_FETCH_WITHOUT_PARTITIONS: Final = 2
"""The first OffsetFetch version that may leave the partitions out."""


class FencedInstanceIdError(KafkaError):  # type: ignore[misc] # aiokafka's errors are untyped
    """Another consumer took this static member's group instance id (Kafka error 82)."""

    errno = _FENCED_INSTANCE_ID
    message = "FENCED_INSTANCE_ID"
    description = "The group instance id is used by another, newer consumer."


def is_fenced_commit(error: BaseException) -> bool:
    """Whether ``error`` is the group coordinator refusing a commit from an old member."""
    return isinstance(
        error,
        kafka_errors.IllegalGenerationError
        | kafka_errors.UnknownMemberIdError
        | FencedInstanceIdError,
    )


class GroupIdentity(str):
    """A consumer group id that also names the member and generation offsets belong to.

    It is the group id for every purpose aiokafka has (equality, hashing, encoding), so it
    passes through ``send_offsets_to_transaction`` unchanged; the v3 commit reads the rest.
    """

    __slots__ = ("generation", "instance_id", "member_id")

    generation: int
    member_id: str
    instance_id: str | None

    def __new__(
        cls, group_id: str, *, generation: int, member_id: str, instance_id: str | None = None
    ) -> Self:
        """The group id ``group_id`` of ``member_id`` in ``generation``."""
        identity = super().__new__(cls, group_id)
        identity.generation = generation
        identity.member_id = member_id
        identity.instance_id = instance_id
        return identity

    def same_member(self, other: GroupIdentity) -> bool:
        """Whether ``other`` is the same group, member and generation."""
        return (
            str(self) == str(other)
            and self.generation == other.generation
            and self.member_id == other.member_id
            and self.instance_id == other.instance_id
        )

    def describe(self) -> str:
        """A short text for logs: group, generation and member."""
        return f"{self!s}@generation {self.generation} ({self.member_id or 'no member'})"


def identity_of(consumer: Any, topic: str, partition: int) -> GroupIdentity | None:
    """The identity offsets of a record just fetched by ``consumer`` are committed under.

    None when the consumer does not own the partition at this moment: it is between two
    assignments, has been dropped from the group (generation -1), or the partition is not in its
    assignment. Such a record must not be processed: the partition's next owner reads it again.
    """
    coordinator = getattr(consumer, "_coordinator", None)
    subscription = getattr(consumer, "_subscription", None)
    if coordinator is None or subscription is None:
        return None
    generation = getattr(coordinator, "generation", -1)
    member_id = getattr(coordinator, "member_id", "")
    if not isinstance(generation, int) or generation <= 0 or not member_id:
        return None
    if subscription.reassignment_in_progress:
        return None
    if TopicPartition(topic, partition) not in consumer.assignment():
        return None
    return GroupIdentity(
        coordinator.group_id,
        generation=generation,
        member_id=member_id,
        instance_id=getattr(coordinator, "_group_instance_id", None),
    )


# ------------------------------------------------------------------ TxnOffsetCommit v3


class _TxnOffsetCommitResponseV3(Response):  # type: ignore[misc] # aiokafka's protocol is partly typed
    API_KEY = 28
    API_VERSION = 3
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        (
            "topics",
            CompactArray(
                ("name", CompactString("utf-8")),
                (
                    "partitions",
                    CompactArray(
                        ("partition_index", Int32), ("error_code", Int16), ("tags", TaggedFields)
                    ),
                ),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class _TxnOffsetCommitRequestV3(RequestStruct):  # type: ignore[misc] # as above
    FLEXIBLE_VERSION = True
    API_KEY = 28
    API_VERSION = 3
    RESPONSE_TYPE = _TxnOffsetCommitResponseV3
    SCHEMA = Schema(
        ("transactional_id", CompactString("utf-8")),
        ("group_id", CompactString("utf-8")),
        ("producer_id", Int64),
        ("producer_epoch", Int16),
        ("generation_id", Int32),
        ("member_id", CompactString("utf-8")),
        ("group_instance_id", CompactString("utf-8")),
        (
            "topics",
            CompactArray(
                ("name", CompactString("utf-8")),
                (
                    "partitions",
                    CompactArray(
                        ("partition_index", Int32),
                        ("committed_offset", Int64),
                        ("committed_leader_epoch", Int32),
                        ("committed_metadata", CompactString("utf-8")),
                        ("tags", TaggedFields),
                    ),
                ),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class TxnOffsetCommitRequest(
    Request[TxnOffsetCommitRequest_v0 | _TxnOffsetCommitRequestV3]  # type: ignore[misc]
):
    """``TxnOffsetCommit``: v3 with the group identity when the broker has it, else v0."""

    API_KEY = 28

    def __init__(
        self,
        transactional_id: str,
        group_id: str,
        producer_id: int,
        producer_epoch: int,
        topics: list[tuple[str, list[tuple[int, int, str]]]],
    ) -> None:
        self._transactional_id = transactional_id
        self._group_id = group_id
        self._producer_id = producer_id
        self._producer_epoch = producer_epoch
        self._topics = topics

    def build(self, request_struct_class: type[Any]) -> Any:
        if request_struct_class.API_VERSION < _TXN_COMMIT_WITH_IDENTITY:
            return request_struct_class(
                self._transactional_id,
                self._group_id,
                self._producer_id,
                self._producer_epoch,
                self._topics,
            )
        identity = self._group_id
        generation = getattr(identity, "generation", -1)
        member_id = getattr(identity, "member_id", "")
        instance_id = getattr(identity, "instance_id", None)
        topics = [
            (
                topic,
                [
                    (partition, offset, -1, metadata or "", _NO_TAGS)
                    for partition, offset, metadata in partitions
                ],
                _NO_TAGS,
            )
            for topic, partitions in self._topics
        ]
        return request_struct_class(
            self._transactional_id,
            str(identity),
            self._producer_id,
            self._producer_epoch,
            generation,
            member_id,
            instance_id,
            topics,
            _NO_TAGS,
        )


def _partition_errors(response: Any) -> Iterable[tuple[str, int, int]]:
    """(topic, partition, error code) of a TxnOffsetCommit response of any version."""
    if response.API_VERSION >= _TXN_COMMIT_WITH_IDENTITY:
        for name, partitions, _tags in response.topics:
            for partition, error_code, _partition_tags in partitions:
                yield name, partition, error_code
        return
    for topic, partitions in response.errors:
        for partition, error_code in partitions:
            yield topic, partition, error_code


class TxnOffsetCommitHandler(_sender.TxnOffsetCommitHandler):  # type: ignore[misc]
    """aiokafka's handler, reading v3 responses and aborting on a fenced member.

    A refusal for an old generation, an unknown member or a fenced static member makes the
    transaction abortable (``send_offsets_to_transaction`` raises it), not fatal: the producer
    stays usable.
    """

    def create_request(self) -> TxnOffsetCommitRequest:
        txn_manager = self._sender._txn_manager  # noqa: SLF001 - aiokafka's handler contract
        offset_data: dict[str, list[tuple[int, int, str]]] = collections.defaultdict(list)
        for tp, offset in sorted(self._offsets.items()):
            offset_data[tp.topic].append((tp.partition, offset.offset, offset.metadata))
        return TxnOffsetCommitRequest(
            transactional_id=txn_manager.transactional_id,
            group_id=self._group_id,
            producer_id=txn_manager.producer_id,
            producer_epoch=txn_manager.producer_epoch,
            topics=list(offset_data.items()),
        )

    def handle_response(self, response: Any) -> float | None:
        txn_manager = self._sender._txn_manager  # noqa: SLF001 - aiokafka's handler contract
        errors = list(_partition_errors(response))
        for topic, partition, error_code in errors:
            fenced = _fenced_error(error_code)
            if fenced is not None:
                _log.warning(
                    "offsets of %s[%s] refused for group %s: %s",
                    topic,
                    partition,
                    getattr(self._group_id, "describe", lambda: self._group_id)(),
                    fenced.message,
                )
                _abortable(txn_manager, fenced)
                return None
        flattened = _FlatTxnOffsetCommitResponse(errors)
        result: float | None = super().handle_response(flattened)
        return result


class _FlatTxnOffsetCommitResponse:
    """A v3 response in the v0 shape aiokafka's handler reads."""

    API_VERSION = 0

    def __init__(self, errors: list[tuple[str, int, int]]) -> None:
        by_topic: dict[str, list[tuple[int, int]]] = collections.defaultdict(list)
        for topic, partition, error_code in errors:
            by_topic[topic].append((partition, error_code))
        self.errors = list(by_topic.items())


def _abortable(txn_manager: Any, error: KafkaError) -> None:
    """Make the open transaction abortable with ``error``, so that its abort reaches the broker.

    aiokafka's ``error_transaction`` forgets the partitions and the group already added to the
    transaction; the abort then looks empty and is never sent, the transaction stays open on
    the broker, and the next commit of this producer would make its records visible. They are
    put back, so ``abort_transaction`` sends EndTxn(abort).
    """
    partitions = set(txn_manager._txn_partitions)  # noqa: SLF001 - see the docstring
    group = txn_manager._txn_consumer_group  # noqa: SLF001
    txn_manager.error_transaction(error)
    txn_manager._txn_partitions.update(partitions)  # noqa: SLF001
    txn_manager._txn_consumer_group = group  # noqa: SLF001
    # aiokafka replaces this waiter when the transaction is aborted, without reading it: read it
    # here, so asyncio does not report its exception as never retrieved.
    txn_manager.wait_for_transaction_end().exception()


def _fenced_error(error_code: int) -> KafkaError | None:
    if error_code == _ILLEGAL_GENERATION:
        return kafka_errors.IllegalGenerationError()
    if error_code == _UNKNOWN_MEMBER_ID:
        return kafka_errors.UnknownMemberIdError()
    if error_code == _FENCED_INSTANCE_ID:
        return FencedInstanceIdError()
    return None


# ------------------------------------------------------------------ OffsetFetch v7


class _OffsetFetchResponseV7(Response):  # type: ignore[misc] # aiokafka's protocol is partly typed
    API_KEY = 9
    API_VERSION = 7
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        (
            "topics",
            CompactArray(
                ("name", CompactString("utf-8")),
                (
                    "partitions",
                    CompactArray(
                        ("partition_index", Int32),
                        ("committed_offset", Int64),
                        ("committed_leader_epoch", Int32),
                        ("metadata", CompactString("utf-8")),
                        ("error_code", Int16),
                        ("tags", TaggedFields),
                    ),
                ),
                ("tags", TaggedFields),
            ),
        ),
        ("error_code", Int16),
        ("tags", TaggedFields),
    )

    @classmethod
    def decode(cls, data: BytesIO | bytes) -> Any:
        """Decode, then reshape into the v3 form aiokafka's group coordinator reads.

        UNSTABLE_OFFSET_COMMIT becomes COORDINATOR_LOAD_IN_PROGRESS, which aiokafka already
        answers by asking again after its retry backoff.
        """
        raw = super().decode(data)
        topics = [
            (
                name,
                [
                    (
                        partition,
                        offset,
                        metadata or "",
                        _COORDINATOR_LOAD_IN_PROGRESS
                        if error_code == _UNSTABLE_OFFSET_COMMIT
                        else error_code,
                    )
                    for partition, offset, _epoch, metadata, error_code, _tags in partitions
                ],
            )
            for name, partitions, _topic_tags in raw.topics
        ]
        return _FlatOffsetFetchResponse(topics, raw.error_code)


class _FlatOffsetFetchResponse:
    """A v7 response in the v3 shape."""

    API_VERSION = 7

    def __init__(self, topics: list[Any], error_code: int) -> None:
        self.topics = topics
        self.error_code = error_code


class _OffsetFetchRequestV7(RequestStruct):  # type: ignore[misc] # as above
    FLEXIBLE_VERSION = True
    API_KEY = 9
    API_VERSION = 7
    RESPONSE_TYPE = _OffsetFetchResponseV7
    SCHEMA = Schema(
        ("group_id", CompactString("utf-8")),
        (
            "topics",
            CompactArray(
                ("name", CompactString("utf-8")),
                ("partition_indexes", CompactArray(Int32)),
                ("tags", TaggedFields),
            ),
        ),
        ("require_stable", Boolean),
        ("tags", TaggedFields),
    )


class OffsetFetchRequest(
    Request[  # type: ignore[misc]
        OffsetFetchRequest_v1
        | OffsetFetchRequest_v2
        | OffsetFetchRequest_v3
        | _OffsetFetchRequestV7
    ]
):
    """``OffsetFetch``: v7 with ``require_stable`` when the broker has it, else aiokafka's."""

    API_KEY = 9

    def __init__(self, consumer_group: str, partitions: list[tuple[str, list[int]]] | None) -> None:
        self._consumer_group = consumer_group
        self._partitions = partitions

    def build(self, request_struct_class: type[Any]) -> Any:
        if request_struct_class.API_VERSION < _FETCH_STABLE:
            if (
                request_struct_class.API_VERSION < _FETCH_WITHOUT_PARTITIONS
                and self._partitions is None
            ):
                raise kafka_errors.IncompatibleBrokerVersion(
                    "OffsetFetchRequest < v2 needs the partitions to fetch offsets for"
                )
            return request_struct_class(self._consumer_group, self._partitions)
        topics = (
            None
            if self._partitions is None
            else [(topic, list(partitions), _NO_TAGS) for topic, partitions in self._partitions]
        )
        return request_struct_class(self._consumer_group, topics, True, _NO_TAGS)  # noqa: FBT003 - require_stable


# ------------------------------------------------------------------ installing


class _Installed:
    done: ClassVar[bool] = False


def install() -> None:
    """Make aiokafka commit offsets with the group identity and read them stable (idempotent)."""
    if _Installed.done:
        return
    _sender.TxnOffsetCommitRequest = TxnOffsetCommitRequest
    _sender.TxnOffsetCommitHandler = TxnOffsetCommitHandler
    _group_coordinator.OffsetFetchRequest = OffsetFetchRequest
    _Installed.done = True


def installed() -> bool:
    """Whether ``install()`` has run in this process."""
    return _Installed.done
