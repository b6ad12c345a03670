"""The demo's HTML report: one chart per item of its level, orders and deliveries.

Self-contained HTML with inline SVG, so it opens anywhere and needs no plotting library.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from edge_agent.catalog import ItemSpec
from simulators.stock import LevelChange

WIDTH, HEIGHT, PAD_LEFT, PAD_RIGHT, PAD_Y = 900, 190, 60, 15, 18


@dataclass(frozen=True, slots=True)
class ItemTimeline:
    """What happened to one item over the run."""

    item: ItemSpec
    levels: tuple[LevelChange, ...]  # the true stock, after each change
    orders: tuple[tuple[datetime, str], ...]  # when an order line was placed, and why
    deliveries: tuple[datetime, ...]


@dataclass(frozen=True, slots=True)
class SummaryRow:
    item: str
    orders: int
    deliveries: int
    stockout_hours: float
    lowest: float
    unit: str

    @property
    def lowest_text(self) -> str:
        return f"{round(self.lowest, 1):g} {self.unit}"


def _chart(timeline: ItemTimeline, start: datetime, end: datetime) -> str:
    span = max((end - start).total_seconds(), 1.0)
    top = timeline.item.capacity * 1.1

    def x(ts: datetime) -> float:
        share = min(max((ts - start).total_seconds() / span, 0.0), 1.0)
        return PAD_LEFT + share * (WIDTH - PAD_LEFT - PAD_RIGHT)

    def y(level: float) -> float:
        return HEIGHT - PAD_Y - min(level, top) / top * (HEIGHT - 2 * PAD_Y)

    points: list[str] = []
    previous: float | None = None
    for change in timeline.levels:
        if previous is not None:
            points.append(f"{x(change.ts):.1f},{y(previous):.1f}")
        points.append(f"{x(change.ts):.1f},{y(change.level):.1f}")
        previous = change.level
    if previous is not None:
        points.append(f"{x(end):.1f},{y(previous):.1f}")
    parts = [
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}"'
        ' xmlns="http://www.w3.org/2000/svg" role="img">',
        f'<line x1="{PAD_LEFT}" x2="{WIDTH - PAD_RIGHT}" y1="{y(timeline.item.capacity):.1f}"'
        f' y2="{y(timeline.item.capacity):.1f}" class="capacity"/>',
        f'<line x1="{PAD_LEFT}" x2="{WIDTH - PAD_RIGHT}" y1="{y(0):.1f}" y2="{y(0):.1f}"'
        ' class="axis"/>',
        f'<text x="{PAD_LEFT - 6}" y="{y(timeline.item.capacity) + 4:.1f}" class="tick">'
        f"{timeline.item.capacity:g}</text>",
        f'<text x="{PAD_LEFT - 6}" y="{y(0) + 4:.1f}" class="tick">0</text>',
    ]
    for ts, why in timeline.orders:
        parts.append(
            f'<line x1="{x(ts):.1f}" x2="{x(ts):.1f}" y1="{PAD_Y}" y2="{y(0):.1f}"'
            f' class="order"><title>order {ts:%d %b %H:%M}: {html.escape(why)}</title></line>'
        )
    for ts in timeline.deliveries:
        parts.append(
            f'<line x1="{x(ts):.1f}" x2="{x(ts):.1f}" y1="{PAD_Y}" y2="{y(0):.1f}"'
            f' class="delivery"><title>delivery {ts:%d %b %H:%M}</title></line>'
        )
    parts.append(f'<polyline points="{" ".join(points)}" class="level"/>')
    day = 0
    while True:
        tick = start.timestamp() + day * 86400
        if tick > end.timestamp():
            break
        tick_x = PAD_LEFT + (tick - start.timestamp()) / span * (WIDTH - PAD_LEFT - PAD_RIGHT)
        parts.append(f'<text x="{tick_x:.1f}" y="{HEIGHT - 2}" class="day">d{day}</text>')
        day += 7
    parts.append("</svg>")
    return "\n".join(parts)


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin-bottom: 2em; }
td, th { padding: 4px 12px; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.level { fill: none; stroke: #1f77b4; stroke-width: 1.5; }
.capacity { stroke: #999; stroke-dasharray: 4 3; }
.axis { stroke: #444; }
.order { stroke: #ff7f0e; stroke-width: 1.5; stroke-dasharray: 3 2; }
.delivery { stroke: #2ca02c; stroke-width: 1.5; }
.tick { font-size: 10px; text-anchor: end; fill: #555; }
.day { font-size: 10px; text-anchor: middle; fill: #555; }
.legend span { margin-right: 1.5em; }
"""


def render_report(
    *,
    title: str,
    start: datetime,
    end: datetime,
    summary: Sequence[SummaryRow],
    timelines: Sequence[ItemTimeline],
) -> str:
    """The whole report as one HTML document."""
    rows = "\n".join(
        f"<tr><td>{html.escape(r.item)}</td><td>{r.orders}</td><td>{r.deliveries}</td>"
        f"<td>{r.stockout_hours:.1f}</td><td>{html.escape(r.lowest_text)}</td></tr>"
        for r in summary
    )
    charts = "\n".join(
        f"<h3>{html.escape(t.item.name)} <small>({html.escape(t.item.id)},"
        f" {html.escape(t.item.unit)})</small></h3>\n{_chart(t, start, end)}"
        for t in timelines
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{STYLE}</style></head><body>
<h1>{html.escape(title)}</h1>
<p>{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC, simulated.</p>
<table><tr><th>item</th><th>orders</th><th>deliveries</th><th>stock-out hours</th>
<th>lowest level</th></tr>
{rows}
</table>
<p class="legend"><span style="color:#1f77b4">&#9472; stock level</span>
<span style="color:#ff7f0e">&#9475; order placed (hover for why)</span>
<span style="color:#2ca02c">&#9475; delivery</span>
<span style="color:#999">- - capacity</span></p>
{charts}
</body></html>
"""
