"""The PNG chart of one scenario evaluated under several policies: one panel per item.

Each panel shows every policy's true stock as a step line, the item's capacity, and the
instants orders were placed (triangles) and deliveries arrived (dots), in the policy's colour.

Drawing uses matplotlib's object-oriented API on an Agg canvas and never touches pyplot,
so it keeps no global figure registry: safe in worker processes and in long loops.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt
from matplotlib import colormaps
from matplotlib import dates as mdates
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from edge_agent.catalog import ItemSpec
from simulators.errors import SimulatorError

WIDTH_INCHES = 12.0
INCHES_PER_ITEM = 2.2
#: Room for the title and the legend above the first panel.
HEADER_INCHES = 0.6
TITLE_TOP_INCHES = 0.05
DPI = 100
#: Headroom above the capacity line, so markers at capacity stay visible.
HEADROOM = 1.08
CAPACITY_COLOUR = "0.45"

Floats = npt.NDArray[np.float64]
#: An RGBA colour, each channel 0 to 1.
Colour = tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class PolicyRun:
    """What one policy did to a household, for charting."""

    policy: str
    #: Per item id: the true stock level history, (instant, level) steps in time order;
    #: the level holds until the next step.
    levels: Mapping[str, Sequence[tuple[datetime, float]]]
    #: Per item id: the instants orders containing the item were placed.
    orders: Mapping[str, Sequence[datetime]]
    #: Per item id: the instants deliveries containing the item arrived.
    deliveries: Mapping[str, Sequence[datetime]]


def write_chart(
    path: Path,
    *,
    title: str,
    items: Sequence[ItemSpec],
    start: datetime,
    end: datetime,
    runs: Sequence[PolicyRun],
) -> Path:
    """Draw ``runs`` of ``items`` from ``start`` to ``end`` as a PNG at ``path``; return it."""
    _check(items, start, end, runs)
    height = INCHES_PER_ITEM * len(items) + HEADER_INCHES
    figure = Figure(figsize=(WIDTH_INCHES, height), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.subplots(len(items), 1, sharex=True, squeeze=False)[:, 0]
    colours = _colours(len(runs))
    start_num, end_num = _to_num([start, end])
    for ax, item in zip(axes, items, strict=True):
        _draw_item(ax, item, runs, colours, end_num)
    _format_time_axis(axes[-1], start_num, end_num)
    _add_legend(axes[0], runs, colours)
    # A fixed distance from the top, not matplotlib's 2% of the height, which in a tall
    # figure pushes the title down onto the legend (tight_layout assumes a small gap).
    figure.suptitle(title, y=1 - TITLE_TOP_INCHES / height)
    figure.tight_layout()
    try:
        figure.savefig(path, format="png", dpi=DPI)
    except OSError as exc:
        raise SimulatorError(f"cannot write chart {path}: {exc.strerror or exc}") from None
    finally:
        # Break the figure's reference cycles now rather than at the next GC pass.
        figure.clear()
    return path


def _check(
    items: Sequence[ItemSpec], start: datetime, end: datetime, runs: Sequence[PolicyRun]
) -> None:
    if not runs:
        raise SimulatorError("cannot chart: no policy runs given")
    if not items:
        raise SimulatorError("cannot chart: no items given")
    if end <= start:
        raise SimulatorError(f"cannot chart: end {end} is not after start {start}")
    for run in runs:
        missing = [item.id for item in items if not run.levels.get(item.id)]
        if missing:
            raise SimulatorError(
                f"cannot chart: policy {run.policy!r} has no levels for item(s) "
                + ", ".join(repr(item_id) for item_id in missing)
            )


def _colours(count: int) -> list[Colour]:
    """One distinct colour per policy, in run order, so a policy keeps it across panels."""
    palette = colormaps["tab10"]
    return [palette(index % palette.N) for index in range(count)]


def _to_num(instants: Sequence[datetime]) -> Floats:
    """Matplotlib's date numbers (days since its epoch, UTC) for ``instants``."""
    return np.asarray(mdates.date2num(list(instants)), dtype=np.float64)  # type: ignore[no-untyped-call]


def _draw_item(
    ax: Axes,
    item: ItemSpec,
    runs: Sequence[PolicyRun],
    colours: Sequence[Colour],
    end_num: float,
) -> None:
    highest = item.capacity
    for run, colour in zip(runs, colours, strict=True):
        highest = max(highest, _draw_run(ax, run, item.id, colour, end_num))
    ax.axhline(item.capacity, color=CAPACITY_COLOUR, linestyle="--", linewidth=1)
    ax.set_ylim(0, highest * HEADROOM if highest > 0 else 1)
    ax.set_ylabel(f"{item.name} ({item.unit})")
    ax.grid(True, alpha=0.3)


def _draw_run(
    ax: Axes,
    run: PolicyRun,
    item_id: str,
    colour: Colour,
    end_num: float,
) -> float:
    """Draw one policy's stock, orders and deliveries of one item; return its highest level."""
    instants, levels = zip(*run.levels[item_id], strict=True)
    times = _to_num(instants)
    values = np.asarray(levels, dtype=np.float64)
    # The last level holds until the end of the run, so the step line reaches the edge.
    if times[-1] < end_num:
        times = np.append(times, end_num)
        values = np.append(values, values[-1])
    ax.plot(times, values, drawstyle="steps-post", color=colour, linewidth=1.4)
    _mark(ax, times, values, run.orders.get(item_id, ()), "v", colour)
    _mark(ax, times, values, run.deliveries.get(item_id, ()), "o", colour)
    return float(values.max())


def _mark(
    ax: Axes,
    times: Floats,
    values: Floats,
    instants: Sequence[datetime],
    marker: str,
    colour: Colour,
) -> None:
    """Mark ``instants`` on the step line, at the level that held at each of them."""
    if not instants:
        return
    at = _to_num(instants)
    index = np.clip(np.searchsorted(times, at, side="right") - 1, 0, len(values) - 1)
    ax.plot(
        at,
        values[index],
        linestyle="none",
        marker=marker,
        markersize=6,
        color=colour,
        markeredgecolor="white",
        markeredgewidth=0.6,
    )


def _format_time_axis(ax: Axes, start_num: float, end_num: float) -> None:
    # The axis only ever sees date numbers, so it needs telling that they are dates.
    ax.xaxis_date()
    locator = mdates.AutoDateLocator()  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    ax.set_xlim(start_num, end_num)


def _add_legend(ax: Axes, runs: Sequence[PolicyRun], colours: Sequence[Colour]) -> None:
    """One legend, above the first panel: the policies' colours, then what the marks mean."""
    handles = [
        Line2D([], [], color=colour, linewidth=2, label=run.policy)
        for run, colour in zip(runs, colours, strict=True)
    ]
    handles += [
        Line2D([], [], color=CAPACITY_COLOUR, linestyle="--", label="capacity"),
        Line2D([], [], color=CAPACITY_COLOUR, linestyle="none", marker="v", label="order"),
        Line2D([], [], color=CAPACITY_COLOUR, linestyle="none", marker="o", label="delivery"),
    ]
    ax.legend(
        handles=handles,
        loc="lower left",
        bbox_to_anchor=(0.0, 1.0),
        ncols=len(handles),
        frameon=False,
        fontsize="small",
    )
