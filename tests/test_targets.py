"""Issue 6's targets, checked from scores: each rule on figures worked by hand, and the
table ``restock evaluate`` prints when the agent and both rivals ran."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from click.testing import CliRunner

from edge_agent.cli import cli
from simulators.metrics import Metrics
from simulators.targets import TargetRow, check, targets_table
from tests.test_evaluate import write_tiny

GOOD = Metrics(
    fill_rate=0.998,
    min_item_fill_rate=0.99,
    stockout_hours=2.0,
    deliveries=20,
    order_lines=30,
    waste_fraction=0.01,
    avg_days_of_cover=4.0,
    run_out_mae_hours=12.0,
    run_out_coverage=0.8,
)
FIXED = replace(GOOD, fill_rate=0.99, deliveries=25, waste_fraction=0.03, run_out_coverage=None)
THRESHOLD = replace(FIXED, deliveries=40)
ORACLE = replace(FIXED, fill_rate=1.0, deliveries=15)


def policies(agent: Metrics, **others: Metrics) -> dict[str, Metrics]:
    by_policy = {"agent": agent, "fixed-cycle": FIXED, "threshold": THRESHOLD, "oracle": ORACLE}
    by_policy.update({name.replace("_", "-"): metrics for name, metrics in others.items()})
    return by_policy


def checked(agent: Metrics, **others: Metrics) -> TargetRow:
    row = check("home", 7, policies(agent, **others))
    assert row is not None
    return row


def test_an_agent_that_meets_every_target() -> None:
    row = checked(GOOD)
    assert (row.fill_met, row.waste_met, row.deliveries_met) == (True, True, True)
    assert (row.coverage_met, row.not_beaten, row.met) == (True, True, 5)
    assert row.fill_target == 0.995


def test_each_target_missed_on_its_own() -> None:
    low_fill = checked(replace(GOOD, fill_rate=0.9949))
    wasteful = checked(replace(GOOD, waste_fraction=0.0201))
    busy = checked(replace(GOOD, deliveries=26))
    too_sure = checked(replace(GOOD, run_out_coverage=0.69))
    too_vague = checked(replace(GOOD, run_out_coverage=0.91))
    assert (low_fill.fill_met, low_fill.met) == (False, 4)
    assert (wasteful.waste_met, wasteful.met) == (False, 4)
    # 26 deliveries against fixed-cycle's 25; the same number would do.
    assert (busy.deliveries_met, busy.met) == (False, 4)
    for row in (too_sure, too_vague):
        assert (row.coverage_met, row.met) == (False, 4)


def test_the_bounds_themselves_are_met() -> None:
    edges = replace(GOOD, waste_fraction=0.02, deliveries=25, run_out_coverage=0.7)
    row = checked(edges)
    assert row.met == 5
    row = checked(replace(GOOD, run_out_coverage=0.9))
    assert row.coverage_met


def test_no_forecast_scored_misses_coverage() -> None:
    row = checked(replace(GOOD, run_out_coverage=None))
    assert not row.coverage_met


def test_the_fill_target_follows_an_oracle_that_cannot_reach_it() -> None:
    # The oracle fills 0.98 (use past its shelf life, say): the target is 0.975.
    agent = replace(GOOD, fill_rate=0.976)
    row = checked(agent, oracle=replace(ORACLE, fill_rate=0.98))
    assert abs(row.fill_target - 0.975) < 1e-12
    assert row.fill_met
    # Without the oracle's figure, 0.995 stands.
    no_oracle = policies(agent)
    del no_oracle["oracle"]
    bare = check("home", 7, no_oracle)
    assert bare is not None
    assert bare.fill_target == 0.995
    assert not bare.fill_met


def test_a_rival_beats_the_agent_only_with_more_fill_and_not_more_of_both() -> None:
    agent = replace(GOOD, fill_rate=0.995, waste_fraction=0.01, deliveries=20)
    fuller = replace(THRESHOLD, fill_rate=0.999)
    # More fill, and the agent has both less waste (0.01 < 0.03) and fewer deliveries.
    row = checked(agent, threshold=fuller)
    assert row.not_beaten
    # More fill, and the agent's deliveries are no fewer: beaten.
    row = checked(agent, threshold=replace(fuller, deliveries=20))
    assert row.beaten_by == ("threshold",)
    # More fill, and its waste is no more than the agent's: beaten, by both.
    cleaner = replace(fuller, waste_fraction=0.01)
    row = checked(agent, threshold=cleaner, fixed_cycle=cleaner)
    assert row.beaten_by == ("fixed-cycle", "threshold")
    # The same fill: not beaten, whatever else.
    row = checked(agent, threshold=replace(cleaner, fill_rate=0.995))
    assert row.not_beaten


def test_no_row_without_the_agent_and_both_rivals() -> None:
    by_policy = policies(GOOD)
    del by_policy["threshold"]
    assert check("home", 7, by_policy) is None
    assert check("home", 7, {"fixed-cycle": FIXED, "threshold": THRESHOLD}) is None


def test_table_counts_what_is_met() -> None:
    rows = [
        replace(checked(GOOD), scenario="one", seed=1),
        replace(checked(replace(GOOD, waste_fraction=0.05, run_out_coverage=None)), seed=2),
    ]
    table = targets_table(rows)
    lines = table.splitlines()
    assert lines[2] == "| one | 1 | 0.9980 ✓ | 0.010 ✓ | 20 / 25 ✓ | 0.800 ✓ | ✓ |"
    assert lines[3] == "| home | 2 | 0.9980 ✓ | 0.050 ✗ | 20 / 25 ✓ | - ✗ | ✓ |"
    assert lines[4] == "| **met** | | **2 / 2** | **1 / 2** | **2 / 2** | **1 / 2** | **2 / 2** |"


def test_cli_prints_the_targets_when_the_agent_and_both_rivals_ran(tmp_path: Path) -> None:
    scenario = write_tiny(tmp_path)
    table = tmp_path / "table.md"
    policies = ["--policy", "agent", "--policy", "fixed-cycle", "--policy", "threshold"]
    args = ["--scenario", str(scenario), *policies, "--markdown", str(table), "--no-charts"]
    result = CliRunner().invoke(cli, ["evaluate", *args, "--jobs", "1"])
    assert result.exit_code == 0, result.output
    written = table.read_text()
    assert "Issue 6's targets" in result.output
    (row,) = [line for line in written.splitlines() if line.startswith("| tiny | 1 |")]
    assert row in result.output
    assert row.count("✓") + row.count("✗") == 5


def test_cli_prints_no_targets_without_the_agent(tmp_path: Path) -> None:
    scenario = write_tiny(tmp_path)
    policies = ["--policy", "fixed-cycle", "--policy", "threshold"]
    args = ["--scenario", str(scenario), *policies, "--no-charts", "--jobs", "1"]
    result = CliRunner().invoke(cli, ["evaluate", *args])
    assert result.exit_code == 0, result.output
    assert "| tiny | threshold |" in result.output
    assert "Issue 6's targets" not in result.output
