"""Group commit of dossier states: one write per batch, each caller gets its own row's result."""

from __future__ import annotations

import asyncio

import pytest

from bridge.citizens.state_recorder import StateRecorder
from bridge.errors import StoreError, StoreValueError


class Writes:
    def __init__(self, *, fail_first=False):
        self.batches = []
        self.fail_first = fail_first
        self.gate = asyncio.Event()

    async def __call__(self, states):
        self.batches.append(list(states))
        await self.gate.wait()
        if self.fail_first and len(self.batches) == 1:
            raise OSError("disk full")


async def test_states_recorded_during_a_write_share_the_next_one():
    writes = Writes()
    recorder = StateRecorder(writes, max_batch=3)
    first = asyncio.create_task(recorder.record("s0"))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    rest = [asyncio.create_task(recorder.record(f"s{i}")) for i in range(1, 6)]
    await asyncio.sleep(0)
    assert not first.done()
    writes.gate.set()
    await asyncio.gather(first, *rest)
    assert writes.batches == [["s0"], ["s1", "s2", "s3"], ["s4", "s5"]]


async def test_a_failed_write_fails_its_callers_only():
    writes = Writes(fail_first=True)
    recorder = StateRecorder(writes)
    first = asyncio.create_task(recorder.record("a"))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    second = asyncio.create_task(recorder.record("b"))
    writes.gate.set()
    with pytest.raises(OSError, match="disk full"):
        await first
    await second
    assert writes.batches == [["a"], ["b"]]


async def test_a_later_record_starts_a_new_flush():
    writes = Writes()
    writes.gate.set()
    recorder = StateRecorder(writes)
    await recorder.record("a")
    await recorder.record("b")
    assert writes.batches == [["a"], ["b"]]


class RefusingWrites:
    """A store that refuses any batch holding a bad row, or fails whole while it is down."""

    def __init__(self, bad: set[str], *, down: int = 0) -> None:
        self.bad = bad
        self.down = down
        self.batches: list[list[str]] = []
        self.gate = asyncio.Event()

    async def __call__(self, states):
        self.batches.append(list(states))
        await self.gate.wait()
        if self.down:
            self.down -= 1
            raise StoreError("citizen store: OperationalError")
        if self.bad & set(states):
            raise StoreValueError("citizen store refused a value: DataError")


async def record_all(recorder, states):
    """Record ``states`` so that the first is written alone and the rest share a batch."""
    tasks = [asyncio.create_task(recorder.record(states[0]))]
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    tasks += [asyncio.create_task(recorder.record(state)) for state in states[1:]]
    await asyncio.sleep(0)
    return tasks


async def test_one_dossiers_bad_row_never_fails_another_dossiers():
    writes = RefusingWrites(bad={"bad"})
    recorder = StateRecorder(writes)
    first, *batch = await record_all(recorder, ["a", "b", "bad", "c"])
    writes.gate.set()
    results = await asyncio.gather(first, *batch, return_exceptions=True)
    assert results[:2] == [None, None]
    assert isinstance(results[2], StoreValueError)
    assert results[3] is None
    assert writes.batches == [["a"], ["b", "bad", "c"], ["b"], ["bad"], ["c"]]


async def test_an_unreachable_store_fails_the_whole_batch_without_trying_row_by_row():
    writes = RefusingWrites(bad=set(), down=2)
    recorder = StateRecorder(writes)
    first, *batch = await record_all(recorder, ["a", "b", "c"])
    writes.gate.set()
    results = await asyncio.gather(first, *batch, return_exceptions=True)
    assert all(isinstance(result, StoreError) for result in results)
    assert writes.batches == [["a"], ["b", "c"]]
