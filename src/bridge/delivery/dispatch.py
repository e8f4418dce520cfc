"""Process records concurrently, in order per dossier; commit up to the first unsettled record."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bridge.delivery.faults import OutageWatch, backoff, infrastructure_of
from bridge.delivery.outbox import FencedError, OwnershipLostError, PublishError
from bridge.errors import exception_name
from bridge.observability.logs import get_logger

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence

    from structlog.typing import FilteringBoundLogger

    from bridge.delivery.faults import Outage
    from bridge.delivery.flow import FlowControl
    from bridge.delivery.outbox import OutboundRecord
    from bridge.delivery.records import InboundRecord

__all__ = ["CLOSING", "WINDOW_FULL", "Dispatcher", "Partition", "Unsettled"]

CLOSING = "closing"
"""The flow-control reason that stops fetching while the dispatcher closes."""
WINDOW_FULL = "in_flight_window_full"
"""The flow-control reason that stops fetching while too many records are in flight."""

_log = get_logger("bridge.dispatch")

Partition = tuple[str, int]
"""A topic partition: (topic, partition)."""


@dataclass(frozen=True, slots=True)
class Unsettled:
    """The oldest record of a partition that is read and not settled yet."""

    topic: str
    partition: int
    offset: int
    read_at: float
    """When it was read, on the dispatcher's clock."""


@dataclass(eq=False, slots=True)
class _Entry:
    record: InboundRecord
    read_at: float = 0.0
    owner: str | None = None
    """Whose offsets these are: the group identity the record was fetched under."""
    outputs: list[OutboundRecord] | None = None
    skip: bool = False
    """Fetched while closing: never processed, so never committed past."""


@dataclass(slots=True)
class _Window:
    """The records of one partition that are read but not committed, in offset order."""

    entries: deque[_Entry] = field(default_factory=deque)
    owner: str | None = None
    """The group identity (member and generation) the entries were fetched under."""

    def ready(self) -> tuple[int, list[_Entry]]:
        """How many leading entries are settled, and those entries."""
        done = []
        for entry in self.entries:
            if entry.outputs is None:
                break
            done.append(entry)
        return len(done), done


@dataclass(slots=True)
class _Batch:
    """What one transaction commits: the settled prefixes read under one group identity."""

    owner: str | None
    outputs: list[OutboundRecord] = field(default_factory=list)
    offsets: dict[Partition, int] = field(default_factory=dict)
    counts: dict[Partition, int] = field(default_factory=dict)


def _owner_key(owner: str | None) -> tuple[object, ...]:
    """A group identity as a value: group, generation, member and instance.

    A ``GroupIdentity`` compares equal to its plain group id; this tells generations apart.
    """
    return (
        owner,
        getattr(owner, "generation", None),
        getattr(owner, "member_id", None),
        getattr(owner, "instance_id", None),
    )


def _same_owner(first: str | None, second: str | None) -> bool:
    """Whether two group identities are the same member in the same generation."""
    return _owner_key(first) == _owner_key(second)


class Dispatcher:
    """Runs one lane per dossier: events of a case go one after another, cases go side by side.

    ``submit`` returns at once, so the consumer keeps polling; when ``max_in_flight`` records are
    read but not committed, ``flow`` pauses the partitions until commits make room again. A
    committer publishes, every ``commit_interval`` seconds, the outputs of each partition's
    settled prefix and commits the offset after it, in one transaction: an offset is never
    committed past a record that is not settled, and outputs are never published for a record
    that will be processed again.

    Every record gets its outputs in bounded time. ``process`` settles what it can itself; when
    it raises all the same, an infrastructure fault (``bridge.delivery.faults.infrastructure_of``)
    is
    waited out with backoff for as long as it lasts (the partitions are paused and the pod is
    unready meanwhile, through ``outage``), and any other exception (a bug) is tried again up to
    ``max_tries`` times in all, after which ``give_up`` gives the record its outputs
    (dead-lettered as ``processing_failed``), so the partition moves on.

    Partitions handed over (``revoke``, ``close``) get at most the grace period to settle, and
    none at all while nothing can settle (``can_settle``: Zalo unavailable, an outage): what is
    settled is committed, the rest is left to the next owner. Offsets are committed under the
    group identity the records were fetched under, so a replica the group has moved past can
    never commit them (``bridge.kafka.group_commit``).

    Args:
        process: Settles one record and returns what to publish; it retries internally and only
            returns with a final outcome.
        publish: Publishes outputs and commits offsets atomically (``TransactionalPublisher``).
        flow: Pauses and resumes the consumer.
        max_in_flight: Records read but not committed before the partitions are paused.
        commit_interval: Seconds between commits; also the first wait before a record is tried
            again.
        on_fatal: Called when this process must stop (its transactional id was taken over).
        give_up: The outputs of a record that failed ``max_tries`` times: the record, the last
            exception, the number of tries.
        max_tries: Tries of a record whose processing raises an unexpected exception.
        max_backoff: Longest wait before a record is tried again.
        outage: Holds the consumer while a record waits out an infrastructure fault.
        sleep: Awaited for every wait before a retry; tests pass a fake.
        clock: Monotonic seconds, for the progress the watchdog reads; tests pass a fake.
        can_settle: Whether records can settle now; a hand-over does not wait while they cannot.
    """

    def __init__(  # noqa: PLR0913 - collaborators and knobs, all keyword-only
        self,
        *,
        process: Callable[[InboundRecord], Awaitable[list[OutboundRecord]]],
        publish: Callable[
            [Sequence[OutboundRecord], Mapping[Partition, int], str | None], Awaitable[None]
        ],
        flow: FlowControl,
        max_in_flight: int,
        commit_interval: float,
        on_fatal: Callable[[BaseException], None],
        give_up: Callable[[InboundRecord, BaseException, int], list[OutboundRecord]],
        max_tries: int = 5,
        max_backoff: float = 30.0,
        outage: Outage | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        can_settle: Callable[[], bool] = lambda: True,
    ) -> None:
        self._process = process
        self._publish = publish
        self._flow = flow
        self._give_up = give_up
        self._max_tries = max(1, max_tries)
        self._max_backoff = max_backoff
        self._outage = outage
        self._sleep = sleep
        self._max_in_flight = max_in_flight
        self._resume_below = max(1, int(max_in_flight * 0.75))
        self._commit_interval = commit_interval
        self._on_fatal = on_fatal
        self._windows: dict[Partition, _Window] = {}
        self._lanes: dict[tuple[Partition, bytes | int], deque[_Entry]] = {}
        self._tasks: dict[tuple[Partition, bytes | int], asyncio.Task[None]] = {}
        self._in_flight = 0
        self._closing = False
        self._committer: asyncio.Task[None] | None = None
        self._flush_lock = asyncio.Lock()
        self._progress = asyncio.Event()
        self._clock = clock
        self._can_settle = can_settle
        self._settled_at: float | None = None
        self._fenced = False

    @property
    def in_flight(self) -> int:
        """Records read and not yet committed."""
        return self._in_flight

    @property
    def open_lanes(self) -> int:
        """Dossiers with a record read and not yet settled (a lane lives only while it has one).

        Nothing is kept per dossier once its records are settled: memory follows the records in
        flight, never the number of dossiers seen.
        """
        return len(self._lanes)

    @property
    def last_settled_at(self) -> float | None:
        """When a record was last settled (on the dispatcher's clock); None before the first."""
        return self._settled_at

    def oldest_unsettled(self) -> dict[Partition, Unsettled | None]:
        """Each partition records were read from: its oldest record not settled yet, or None."""
        oldest: dict[Partition, Unsettled | None] = {}
        for (topic, partition), window in self._windows.items():
            entry = next((e for e in window.entries if e.outputs is None and not e.skip), None)
            oldest[topic, partition] = (
                None
                if entry is None
                else Unsettled(topic, partition, entry.record.offset, entry.read_at)
            )
        return oldest

    def start(self) -> None:
        """Start the committer."""
        if self._committer is None:
            self._committer = asyncio.create_task(self._commit_loop(), name="bridge-committer")

    def submit(self, record: InboundRecord, owner: str | None = None) -> None:
        """Take ``record`` in: it joins its partition's window and its dossier's lane.

        ``owner`` is the group identity the record was fetched under; its offset is committed
        under it. A record fetched under another identity than its partition's window, or at an
        offset the window already holds (the consumer went back), starts the window afresh: the
        older entries belong to an assignment that is gone and are read again.
        """
        tp = (record.topic, record.partition)
        entry = _Entry(record, read_at=self._clock(), owner=owner)
        window = self._windows.get(tp)
        if window is not None and (
            not _same_owner(window.owner, owner)
            or (window.entries and record.offset <= window.entries[-1].record.offset)
        ):
            _log.info(
                "partition read again under a new assignment; earlier records forgotten",
                topic=tp[0],
                partition=tp[1],
                offset=record.offset,
            )
            self._forget({tp})
            window = None
        if window is None:
            window = self._windows[tp] = _Window(owner=owner)
        window.entries.append(entry)
        self._in_flight += 1
        if self._in_flight >= self._max_in_flight:
            self._flow.hold(WINDOW_FULL, on=True)
        if self._closing:
            entry.skip = True
            return
        lane_key = (tp, record.key if record.key is not None else record.offset)
        lane = self._lanes.get(lane_key)
        if lane is None:
            lane = self._lanes[lane_key] = deque()
        lane.append(entry)
        if lane_key not in self._tasks:
            self._tasks[lane_key] = asyncio.create_task(self._run_lane(lane_key, lane))

    async def _run_lane(self, lane_key: tuple[Partition, bytes | int], lane: deque[_Entry]) -> None:
        try:
            while lane:
                entry = lane[0]
                entry.outputs = await self._settle(entry.record)
                lane.popleft()
                self._settled_at = self._clock()
                self._progress.set()
        finally:
            if self._tasks.get(lane_key) is asyncio.current_task():
                del self._tasks[lane_key]
                self._lanes.pop(lane_key, None)

    async def _settle(self, record: InboundRecord) -> list[OutboundRecord]:
        """The outputs of ``record``: outages waited out, other faults tried ``max_tries`` times."""
        log = _log.bind(topic=record.topic, partition=record.partition, offset=record.offset)
        tries = outages = 0
        with OutageWatch(self._outage) as watch:
            while True:
                try:
                    return await self._process(record)
                except Exception as error:  # sorted below: nothing may escape a lane
                    kind = infrastructure_of(error)
                    if kind is not None:
                        outages += 1
                        watch.failed(kind)
                        wait = backoff(
                            outages, initial=self._commit_interval, cap=self._max_backoff
                        )
                        log.warning(
                            "infrastructure unavailable; the record is kept and tried again",
                            infrastructure=kind,
                            error=exception_name(error),
                            rest_s=round(wait, 2),
                        )
                        await self._sleep(wait)
                        continue
                    watch.recovered()
                    outages = 0
                    tries += 1
                    if tries >= self._max_tries:
                        outputs = self._gave_up(record, error, tries, log)
                        if outputs is not None:
                            return outputs
                        await self._sleep(self._max_backoff)
                        continue
                    wait = self._backoff(tries)
                    log.exception(
                        "record processing failed; retrying",
                        error=exception_name(error),
                        tries=tries,
                        max_tries=self._max_tries,
                        rest_s=round(wait, 2),
                    )
                    await self._sleep(wait)

    def _backoff(self, failures: int) -> float:
        return backoff(failures, initial=self._commit_interval, cap=self._max_backoff)

    def _gave_up(
        self, record: InboundRecord, error: Exception, tries: int, log: FilteringBoundLogger
    ) -> list[OutboundRecord] | None:
        """The dead-letter outputs of a record that kept failing; None if even they failed."""
        log.error(
            "record kept failing; dead-lettered as processing_failed",
            error=exception_name(error),
            tries=tries,
        )
        try:
            return self._give_up(record, error, tries)
        except Exception:  # a bug in the fallback itself: keep the record
            log.exception("cannot dead-letter the record; it is kept and tried again")
            return None

    async def _commit_loop(self) -> None:
        while True:
            await asyncio.sleep(self._commit_interval)
            try:
                await self.flush()
            except FencedError as error:
                _log.critical("fenced by another process; stopping", error=str(error))
                self._fenced = True  # nothing can be committed any more: the process stops
                self._on_fatal(error)
                return
            except PublishError as error:
                _log.warning("commit failed; retrying", error=str(error))
            except Exception as error:  # noqa: BLE001 - a dead committer would commit nothing again
                # Nothing would commit again while the process looks healthy: restart it.
                _log.exception("commit failed unexpectedly; stopping")
                self._on_fatal(error)
                return

    async def flush(self) -> None:
        """Publish the settled prefix of every partition and commit the offsets after it.

        One transaction per group identity (normally one): the coordinator accepts each only
        from the member and generation that fetched the records. A refused one is aborted (its
        outputs are never visible) and its partitions are forgotten: their owner reads them.
        """
        async with self._flush_lock:
            if self._fenced:
                return  # another process owns this transactional id: it commits, not this one
            for batch in self._batches():
                try:
                    await self._publish(batch.outputs, batch.offsets, batch.owner)
                except OwnershipLostError as error:
                    # Every partition read under that identity is stale, settled or not.
                    stale = {
                        tp
                        for tp, window in self._windows.items()
                        if _same_owner(window.owner, batch.owner)
                    }
                    _log.warning(
                        "the group moved on; these partitions are left to their new owner",
                        partitions=sorted(stale),
                        error=str(error),
                    )
                    self._forget(stale)
                    continue
                for tp, count in batch.counts.items():
                    remaining = self._windows.get(tp)
                    if remaining is None:
                        continue
                    for _ in range(count):
                        remaining.entries.popleft()
                    self._in_flight -= count
            if self._in_flight < self._resume_below:
                self._flow.hold(WINDOW_FULL, on=False)

    def _batches(self) -> list[_Batch]:
        """The settled prefixes of every partition, one batch per group identity."""
        batches: dict[tuple[object, ...], _Batch] = {}
        for tp, window in self._windows.items():
            count, done = window.ready()
            if count:
                key = _owner_key(window.owner)
                batch = batches.get(key)
                if batch is None:
                    batch = batches[key] = _Batch(window.owner)
                batch.counts[tp] = count
                batch.offsets[tp] = done[-1].record.offset + 1
                for entry in done:
                    batch.outputs.extend(entry.outputs or ())
        return list(batches.values())

    def _forget(self, partitions: set[Partition]) -> None:
        """Stop working on ``partitions``: cancel their lanes and drop what was read from them.

        Nothing of theirs is committed, so their next owner reads it again; the ledger keeps a
        message already sent from being sent twice.
        """
        for lane_key, task in list(self._tasks.items()):
            if lane_key[0] in partitions:
                task.cancel()
                del self._tasks[lane_key]
                self._lanes.pop(lane_key, None)
        for tp in partitions:
            window = self._windows.pop(tp, None)
            if window is not None:
                self._in_flight -= len(window.entries)
        if self._in_flight < self._resume_below:
            self._flow.hold(WINDOW_FULL, on=False)

    async def _wait_settled(self, partitions: Iterable[Partition], timeout: float) -> bool:
        """Wait until every entry of ``partitions`` is settled (or skipped); False on timeout."""
        wanted = set(partitions)

        def unsettled() -> bool:
            return any(
                entry.outputs is None and not entry.skip
                for tp, window in self._windows.items()
                if tp in wanted
                for entry in window.entries
            )

        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while unsettled():
            remaining = deadline - loop.time()
            if remaining <= 0 or not self._can_settle():
                # Out of time, or nothing can settle now (Zalo unavailable, an outage…):
                # waiting would only keep the partitions from their next owner.
                return False
            self._progress.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._progress.wait(), timeout=min(remaining, 0.5))
        return True

    async def revoke(self, partitions: Iterable[Partition], timeout: float) -> None:
        """Give partitions back: settle what ``timeout`` allows, commit it, forget the rest.

        What is forgotten is not committed, so the next owner reads it again; the ledger keeps
        it from being sent twice.
        """
        partitions = set(partitions)
        settled = await self._wait_settled(partitions, timeout)
        try:
            await self.flush()
        except PublishError as error:
            _log.warning("could not commit before giving partitions back", error=str(error))
        self._forget(partitions)
        if not settled:
            _log.warning(
                "partitions given back with unsettled records", partitions=sorted(partitions)
            )

    async def close(self, timeout: float) -> None:
        """Stop taking records, settle and commit what is in flight (up to ``timeout``), stop."""
        self._closing = True
        self._flow.hold(CLOSING, on=True)  # fetch nothing more while the rest settles
        await self.revoke(list(self._windows), timeout)
        if self._committer is not None:
            self._committer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._committer
            self._committer = None
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
