"""Group commit: the writes of requests that arrive together share one transaction.

Each commit waits for the disk (``synchronous=FULL``: an answered order survives a
power cut), and that wait, not the work, bounds how many orders a second one bridge
takes. :class:`GroupCommit` runs the writes submitted over the same few turns of the
event loop inside one transaction, each in its own savepoint, so one fsync covers them all.
A write that raises is rolled back alone; nobody is answered before the commit.

(A writer thread with its own connection, so that the loop goes on while the disk
works, measured no faster on two cores: bench/bridge.py. The loop does the writes.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Final, Generic, TypeVar

from cloud_bridge.store import Store

C = TypeVar("C")
T = TypeVar("T")

#: Writes per transaction at most; more wait for the next turn.
MAX_BATCH: Final = 256
#: Turns of the event loop a batch may wait for more writes.
MAX_TURNS: Final = 4

_Outcome = tuple[Any, BaseException | None]


class GroupCommit(Generic[C]):
    """Runs synchronous writes on ``store`` in shared transactions.

    Each write is given ``context`` (for the bridge, the :class:`~cloud_bridge.orders.Orders`
    over ``store``).
    """

    def __init__(self, store: Store, context: C, *, max_batch: int = MAX_BATCH) -> None:
        self._store = store
        self._context = context
        self._max_batch = max_batch
        self._pending: list[tuple[Callable[[C], Any], asyncio.Future[Any]]] = []
        self._scheduled = False

    async def run(self, write: Callable[[C], T]) -> T:
        """Run ``write`` in the next shared transaction; its result once committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._pending.append((write, future))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._gather, len(self._pending), 0)
        return await future

    def _gather(self, seen: int, turns: int) -> None:
        """Flush once a turn of the loop adds no write, or after :data:`MAX_TURNS` turns.

        Requests read in one turn reach their write a turn or two later; waiting for
        them costs microseconds and saves a disk flush each.
        """
        if len(self._pending) > seen and turns < MAX_TURNS and len(self._pending) < self._max_batch:
            asyncio.get_running_loop().call_soon(self._gather, len(self._pending), turns + 1)
            return
        self._flush()

    def _flush(self) -> None:
        batch = self._pending[: self._max_batch]
        self._pending = self._pending[self._max_batch :]
        self._scheduled = bool(self._pending)
        if self._scheduled:
            asyncio.get_running_loop().call_soon(self._gather, len(self._pending), 0)
        try:
            outcomes = self._write([write for write, _ in batch])
        except Exception as exc:  # the commit itself failed: nothing was written
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), (value, error) in zip(batch, outcomes, strict=True):
            if future.done():  # the request was cancelled; its write stands
                continue
            if error is None:
                future.set_result(value)
            else:
                future.set_exception(error)

    def _write(self, writes: list[Callable[[C], Any]]) -> list[_Outcome]:
        """One transaction, a savepoint per write."""
        outcomes: list[_Outcome] = []
        with self._store.transaction():
            for write in writes:
                try:
                    with self._store.savepoint():
                        outcomes.append((write(self._context), None))
                except Exception as exc:
                    outcomes.append((None, exc))
        return outcomes
