"""`restock agent items`: the item outlooks the agent kept, for a household without a
dashboard."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import msgspec
from click.testing import CliRunner

from edge_agent.cli import cli
from edge_agent.protocol import ItemOutlook, RunOutTimes
from edge_agent.store import AgentStore
from tests.items import T0
from tests.test_agent_approval import write_config


def test_cli_shows_each_items_outlook_and_its_sensors_note(tmp_path: Path) -> None:
    """`restock agent items` prints the outlooks the agent kept, by item: level, stock on
    its way, rate, run-out quantiles, the sensor's state and the note on a fault."""
    config = write_config(tmp_path)
    store = AgentStore(tmp_path / "agent.db")
    hour = timedelta(hours=1)
    store.save_outlook(
        ItemOutlook(
            item="milk",
            ts=T0,
            unit="g",
            sensor="ok",
            level=812.25,
            on_the_way=1000.0,
            rate_per_day=390.4,
            run_out=RunOutTimes(p10=T0 + 40 * hour, p50=T0 + 50 * hour, p90=T0 + 58 * hour),
        )
    )
    stuck = ItemOutlook(item="coffee", ts=T0, unit="g", sensor="stuck", since=T0 - 9 * hour)
    store.save_outlook(msgspec.structs.replace(stuck, note="The hopper is stuck."))
    store.save_outlook(msgspec.structs.replace(stuck, note="The hopper is still stuck."))
    store.close()
    result = CliRunner().invoke(cli, ["agent", "items", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert result.output == (
        "coffee  no forecast yet  sensor stuck  as of 2026-01-05T00:00:00Z\n"
        "  The hopper is still stuck.\n"
        "milk  812.2 g, 1000 g on the way, 390 g/day, runs out ~Wed 07 Jan 02:00 UTC"
        " (P10 Tue 06 Jan 16:00, P90 Wed 07 Jan 10:00)  sensor ok  as of 2026-01-05T00:00:00Z\n"
    )


def test_a_kept_outlook_that_no_longer_reads_is_skipped() -> None:
    """A row another version wrote, that this one cannot read, is left out, not fatal:
    the running agent replaces it within the hour."""
    store = AgentStore(memory=True)
    store.save_outlook(ItemOutlook(item="milk", ts=T0, unit="g", sensor="waiting"))
    store.db.table("outlooks").insert({"item": "eggs", "ts": "x", "outlook": '{"item": 3}'})
    assert [outlook.item for outlook in store.outlooks()] == ["milk"]
