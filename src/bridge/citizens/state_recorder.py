"""Record dossiers' latest states by group commit: events arriving together share a transaction."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from bridge.delivery.faults import infrastructure_of
from bridge.observability.logs import get_logger

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from bridge.citizens.dossiers import DossierState

__all__ = ["StateRecorder"]

_log = get_logger("bridge.state_recorder")


class StateRecorder:
    """``record`` returns once its state is committed, so a record's offset is committed after it.

    While one batch is being written, the states recorded meanwhile wait and go together in the
    next one: one transaction per batch instead of one per event, and nothing is acknowledged
    before it is stored.

    One dossier's bad row never fails another's: when a batch fails for any reason but an
    infrastructure fault (``bridge.delivery.faults.infrastructure_of``: the database cannot be
    reached,
    so every row would fail alike), its rows are written again one by one, and each caller gets
    the result of its own row.

    Args:
        write: Stores a batch in one transaction (``CitizenStore.record_states``).
        max_batch: Most states per transaction.
    """

    def __init__(
        self, write: Callable[[list[DossierState]], Awaitable[None]], *, max_batch: int = 500
    ) -> None:
        self._write = write
        self._max_batch = max_batch
        self._pending: list[tuple[DossierState, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def record(self, state: DossierState) -> None:
        """Store ``state``; raises what the write raised for its batch."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((state, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="state-recorder")
        await done

    async def _flush(self) -> None:
        while self._pending:
            batch = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
            try:
                await self._write([state for state, _ in batch])
            except Exception as error:  # noqa: BLE001 - handed to the waiters, row by row
                if len(batch) == 1 or infrastructure_of(error) is not None:
                    for _, done in batch:
                        _finish(done, error)
                    continue
                _log.warning(
                    "a batch of dossier states failed; writing its rows one by one",
                    rows=len(batch),
                    error=type(error).__name__,
                )
                for state, done in batch:
                    try:
                        await self._write([state])
                    except Exception as alone:  # noqa: BLE001 - this row's caller gets it
                        _finish(done, alone)
                    else:
                        _finish(done, None)
            else:
                for _, done in batch:
                    _finish(done, None)


def _finish(done: asyncio.Future[None], error: BaseException | None) -> None:
    """Hand a waiter its result, unless it stopped waiting."""
    if done.done():
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)
