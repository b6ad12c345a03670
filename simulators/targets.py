"""Issue 6's targets, checked scenario by scenario from an evaluation's scores.

For each scenario (and seed) scored under ``agent``, ``fixed-cycle`` and ``threshold``
(``oracle`` too, for the fill target), the agent must have:

- ``fill_rate`` at least 0.995, or the oracle's figure - 0.005 where that is lower;
- ``waste_fraction`` at most 0.02;
- ``deliveries`` no more than ``fixed-cycle``'s;
- ``run_out_coverage`` between 0.7 and 0.9;
- not been beaten outright: against each of ``fixed-cycle`` and ``threshold``, a fill
  rate at least as high, or both less waste and fewer deliveries.

Figures are compared as measured, unrounded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from simulators.metrics import Metrics, Scores

FILL_RATE = 0.995
#: Where even the oracle can't reach FILL_RATE, the target is the oracle's fill less this.
BELOW_ORACLE = 0.005
WASTE_FRACTION = 0.02
COVERAGE = (0.7, 0.9)
#: The policies the agent must not be beaten by, and the one whose deliveries it must not
#: exceed (the first).
RIVALS = ("fixed-cycle", "threshold")

#: The table's columns: heading, and the row's attribute that says whether it is met.
COLUMNS = (
    ("fill ≥ 0.995", "fill_met"),
    ("waste ≤ 0.02", "waste_met"),
    ("deliveries ≤ fixed-cycle", "deliveries_met"),
    ("coverage 0.7-0.9", "coverage_met"),
    ("not beaten", "not_beaten"),
)


@dataclass(frozen=True, slots=True)
class TargetRow:
    """One scenario's figures against each target."""

    scenario: str
    seed: int
    fill_rate: float
    fill_target: float
    waste_fraction: float
    deliveries: int
    fixed_cycle_deliveries: int
    run_out_coverage: float | None
    beaten_by: tuple[str, ...]  # the rivals that beat the agent outright

    @property
    def fill_met(self) -> bool:
        return self.fill_rate >= self.fill_target

    @property
    def waste_met(self) -> bool:
        return self.waste_fraction <= WASTE_FRACTION

    @property
    def deliveries_met(self) -> bool:
        return self.deliveries <= self.fixed_cycle_deliveries

    @property
    def coverage_met(self) -> bool:
        low, high = COVERAGE
        return self.run_out_coverage is not None and low <= self.run_out_coverage <= high

    @property
    def not_beaten(self) -> bool:
        return not self.beaten_by

    @property
    def met(self) -> int:
        """How many of the five targets hold."""
        return sum(getattr(self, attribute) for _, attribute in COLUMNS)


def check(scenario: str, seed: int, by_policy: Mapping[str, Metrics]) -> TargetRow | None:
    """Check one scenario's agent against its rivals; None if a needed policy is missing."""
    if "agent" not in by_policy or any(rival not in by_policy for rival in RIVALS):
        return None
    agent = by_policy["agent"]
    fill_target = FILL_RATE
    if "oracle" in by_policy:
        fill_target = min(FILL_RATE, by_policy["oracle"].fill_rate - BELOW_ORACLE)
    return TargetRow(
        scenario=scenario,
        seed=seed,
        fill_rate=agent.fill_rate,
        fill_target=fill_target,
        waste_fraction=agent.waste_fraction,
        deliveries=agent.deliveries,
        fixed_cycle_deliveries=by_policy[RIVALS[0]].deliveries,
        run_out_coverage=agent.run_out_coverage,
        beaten_by=tuple(rival for rival in RIVALS if _beats(by_policy[rival], agent)),
    )


def check_targets(scores: Iterable[Scores]) -> list[TargetRow]:
    """A row per scenario and seed that was scored under the agent and both rivals."""
    groups: dict[tuple[str, int], dict[str, Metrics]] = {}
    for scored in scores:
        groups.setdefault((scored.scenario, scored.seed), {})[scored.policy] = scored.metrics
    rows = (check(scenario, seed, group) for (scenario, seed), group in groups.items())
    return [row for row in rows if row is not None]


def targets_table(rows: Sequence[TargetRow]) -> str:
    """Markdown: a row per scenario, a column per target, and how many are met."""
    header = "| scenario | seed | " + " | ".join(title for title, _ in COLUMNS) + " |"
    lines = [header, "|---|---:|" + "---|" * len(COLUMNS)]
    for row in rows:
        coverage = "-" if row.run_out_coverage is None else f"{row.run_out_coverage:.3f}"
        beaten = f"beaten by {', '.join(row.beaten_by)}" if row.beaten_by else ""
        figures = (
            f"{row.fill_rate:.4f}",
            f"{row.waste_fraction:.3f}",
            f"{row.deliveries} / {row.fixed_cycle_deliveries}",
            coverage,
            beaten,
        )
        cells = [
            f"{figure} {_mark(getattr(row, attribute))}".strip()
            for figure, (_, attribute) in zip(figures, COLUMNS, strict=True)
        ]
        lines.append(f"| {row.scenario} | {row.seed} | {' | '.join(cells)} |")
    totals = [f"**{sum(getattr(row, a) for row in rows)} / {len(rows)}**" for _, a in COLUMNS]
    lines.append(f"| **met** | | {' | '.join(totals)} |")
    return "\n".join(lines) + "\n"


def _beats(rival: Metrics, agent: Metrics) -> bool:
    """Whether ``rival`` beats the agent outright: a higher fill rate, and the agent has
    not both less waste and fewer deliveries."""
    return agent.fill_rate < rival.fill_rate and not (
        agent.waste_fraction < rival.waste_fraction and agent.deliveries < rival.deliveries
    )


def _mark(met: bool) -> str:
    return "✓" if met else "✗"
