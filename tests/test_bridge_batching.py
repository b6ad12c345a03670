"""Group commit: writes that arrive together share one transaction, and fail alone."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from cloud_bridge.batching import GroupCommit
from cloud_bridge.errors import CloudBridgeError
from cloud_bridge.store import Store
from tests.test_bridge_store import T0


@pytest.fixture
def store() -> Iterator[Store]:
    with Store(memory=True) as store:
        yield store


async def test_writes_together_share_one_commit(store: Store) -> None:
    """Three writes submitted in the same turn are committed by a single COMMIT."""
    statements: list[str] = []
    store.db.conn.set_trace_callback(statements.append)
    commit = GroupCommit(store, store)
    async with asyncio.timeout(5):
        secrets = await asyncio.gather(
            *(commit.run(lambda s, n=n: s.add_device("home1", f"d{n}", now=T0)) for n in range(3))
        )
    store.db.conn.set_trace_callback(None)
    assert len(set(secrets)) == 3
    assert [s for s in statements if s.strip().upper() == "COMMIT"] == ["COMMIT"]


async def test_a_failing_write_is_rolled_back_alone(store: Store) -> None:
    """A write that raises gets its error; the others in its transaction are kept."""

    def failing(s: Store) -> str:
        s.add_device("home1", "half", now=T0)
        raise CloudBridgeError("boom")

    commit = GroupCommit(store, store)
    async with asyncio.timeout(5):
        results = await asyncio.gather(
            commit.run(lambda s: s.add_device("home1", "first", now=T0)),
            commit.run(failing),
            commit.run(lambda s: s.add_device("home1", "last", now=T0)),
            return_exceptions=True,
        )
    assert isinstance(results[1], CloudBridgeError)
    assert sorted(d.device for d in store.devices(limit=10)) == ["first", "last"]
