"""The evaluation chart: a PNG with one panel per item, on a small hand-made case."""

from __future__ import annotations

import struct
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from simulators.charts import PolicyRun, write_chart
from simulators.errors import SimulatorError
from tests.items import COFFEE, MILK, T0

DAY = timedelta(days=1)
END = T0 + 10 * DAY
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

EAGER = PolicyRun(
    policy="eager",
    levels={
        "milk": [(T0, 3000.0), (T0 + DAY, 2000.0), (T0 + 2 * DAY, 3500.0), (T0 + 5 * DAY, 500.0)],
        "coffee": [(T0, 1500.0), (T0 + 4 * DAY, 1000.0)],
    },
    orders={"milk": [T0 + DAY]},
    deliveries={"milk": [T0 + 2 * DAY]},
)
LAZY = PolicyRun(
    policy="lazy",
    levels={
        "milk": [(T0, 3000.0), (T0 + 3 * DAY, 0.0), (T0 + 6 * DAY, 2000.0)],
        "coffee": [(T0, 1500.0), (T0 + 8 * DAY, 0.0)],
    },
    orders={"milk": [T0 + 4 * DAY], "coffee": [T0 + 8 * DAY]},
    deliveries={"milk": [T0 + 6 * DAY]},
)


def png_size(path: Path) -> tuple[int, int]:
    """The width and height in the PNG's IHDR chunk, which always comes first."""
    width, height = struct.unpack(">II", path.read_bytes()[16:24])
    return width, height


def test_writes_a_png(tmp_path: Path) -> None:
    """Two items under two policies make a real, non-trivial PNG at the given path."""
    path = write_chart(
        tmp_path / "chart.png",
        title="Two items, two policies",
        items=[MILK, COFFEE],
        start=T0,
        end=END,
        runs=[EAGER, LAZY],
    )
    assert path == tmp_path / "chart.png"
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert len(data) > 10_000


def test_height_grows_with_items(tmp_path: Path) -> None:
    """Each item gets its own panel, so a chart of two items is taller than one of one."""
    one = write_chart(
        tmp_path / "one.png", title="one", items=[MILK], start=T0, end=END, runs=[EAGER, LAZY]
    )
    two = write_chart(
        tmp_path / "two.png",
        title="two",
        items=[MILK, COFFEE],
        start=T0,
        end=END,
        runs=[EAGER, LAZY],
    )
    (one_width, one_height), (two_width, two_height) = png_size(one), png_size(two)
    assert one_width == two_width
    assert two_height > one_height + 150


def test_no_runs_is_an_error(tmp_path: Path) -> None:
    """A chart of no policies says so."""
    with pytest.raises(SimulatorError, match="no policy runs"):
        write_chart(tmp_path / "c.png", title="t", items=[MILK], start=T0, end=END, runs=[])


def test_no_items_is_an_error(tmp_path: Path) -> None:
    """A chart of no items says so."""
    with pytest.raises(SimulatorError, match="no items"):
        write_chart(tmp_path / "c.png", title="t", items=[], start=T0, end=END, runs=[EAGER])


@pytest.mark.parametrize("levels", [{}, {"coffee": []}], ids=["absent", "empty"])
def test_missing_levels_name_the_policy_and_item(
    tmp_path: Path, levels: dict[str, list[tuple[datetime, float]]]
) -> None:
    """A run without a level history for a charted item names both the policy and the item."""
    run = PolicyRun(
        policy="broken",
        levels={"milk": EAGER.levels["milk"], **levels},
        orders={},
        deliveries={},
    )
    with pytest.raises(SimulatorError, match=r"'broken'.*'coffee'"):
        write_chart(
            tmp_path / "c.png", title="t", items=[MILK, COFFEE], start=T0, end=END, runs=[run]
        )
    assert not (tmp_path / "c.png").exists()


def test_end_must_follow_start(tmp_path: Path) -> None:
    """An empty or reversed time span is refused rather than drawn as a blank axis."""
    with pytest.raises(SimulatorError, match="not after start"):
        write_chart(tmp_path / "c.png", title="t", items=[MILK], start=END, end=T0, runs=[EAGER])


def test_unwritable_path_is_a_simulator_error(tmp_path: Path) -> None:
    """A chart that cannot be saved raises the simulators' error, naming the path."""
    path = tmp_path / "missing" / "c.png"
    with pytest.raises(SimulatorError, match="cannot write chart"):
        write_chart(path, title="t", items=[MILK], start=T0, end=END, runs=[EAGER])
