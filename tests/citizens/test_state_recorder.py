"""Group commit of dossier states: one write per batch, each caller released after its write."""

from __future__ import annotations

import asyncio

import pytest

from bridge.citizens.state_recorder import StateRecorder


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
