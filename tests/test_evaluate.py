"""``restock evaluate``: metrics pinned on hand-worked households, the real agent, the CLI.

The tiny households use a demand CSV, fixed 24-hour lead times and the fixed-cycle
policy, so every figure below can be worked out on paper (the working is in comments).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from edge_agent.cli import cli
from edge_agent.core import DECIDE_EVERY
from edge_agent.service import AgentService
from edge_agent.store import AgentStore
from simulators.comparison import Job, compare, scenario_files
from simulators.demand import parse_demand
from simulators.evaluate import Run, evaluate
from simulators.home import SimulatedHome
from simulators.metrics import DemandTrace, Scores, forecast_scores, score
from simulators.policies import POLICIES, AgentPolicy, Prediction
from simulators.scenario import SCENARIOS_DIR, load_scenario, parse_scenario
from simulators.simulate import with_days
from simulators.stock import LevelChange
from tests.agents import make_agent

T0 = datetime(2026, 3, 2, tzinfo=UTC)
H = timedelta(hours=1)
D = timedelta(days=1)

TINY = """
[household]
id = "tiny"
start = 2026-03-02T00:00:00Z
days = 3
seed = 1

[[items]]
id = "tea"
name = "Tea bags"
device = "fridge"
sensor = "count"
unit = "bag"
pack_size = 10
capacity = 20
initial = 5
lead_time_hours = { min = 24, max = 24 }
price = 2.0
cycle_days = 2

[[items]]
id = "milk"
name = "Milk"
device = "fridge"
sensor = "weight"
unit = "g"
pack_size = 1000
capacity = 1500
initial = 1000
lead_time_hours = { min = 24, max = 24 }
price = 1.0
shelf_life_days = 1
cycle_days = 1

[sensors]
noise = false
"""

DEMAND = """timestamp,item,quantity
2026-03-02T06:00:00Z,tea,3
2026-03-02T12:00:00Z,milk,800
2026-03-03T06:00:00Z,tea,5
2026-03-03T12:00:00Z,milk,800
2026-03-04T06:00:00Z,tea,5
2026-03-04T12:00:00Z,milk,1200
"""


def tiny_run(policy: str, scenario: str = TINY, demand: str = DEMAND) -> Run:
    """A tiny household's days under ``policy``, with ``demand`` (CSV) as its uses."""
    parsed = parse_scenario(scenario, source="tiny.toml")
    uses = parse_demand(demand, source="demand.csv", scenario=parsed)
    return evaluate(parsed, policy, demand=uses)


def tiny_scores() -> Scores:
    return score(tiny_run("fixed-cycle"))


def test_item_metrics_worked_on_paper() -> None:
    scores = tiny_scores()
    # Orders: tea every 2 days, milk every day, from the start: t0 {tea, milk},
    # d1 {milk}, d2 {tea, milk}. Each arrives 24 h later; d3 is the end, so the last
    # order never arrives.
    tea, milk = scores.items["tea"], scores.items["milk"]
    # Tea: 5, -3 at 06:00 -> 2, +10 at d1 -> 12, -5 -> 7, -5 at d2 06:00 -> 2.
    assert tea.fill_rate == 1.0
    assert tea.stockout_hours == 0.0
    assert (tea.deliveries, tea.order_lines) == (1, 2)
    assert tea.waste_fraction == 0.0
    # Average stock (5*6 + 2*18 + 12*6 + 7*24 + 2*18) / 72 h = 4.75; demand 13/3 a day.
    assert tea.avg_days_of_cover == pytest.approx(4.75 / (13 / 3))
    # Milk: 1000 (expires d1), -800 -> 200; at d1 the 200 expires as 1000 arrive
    # (expires d2); -800 -> 200; at d2 it expires as 1000 arrive; the 1200 wanted at
    # d2 12:00 finds 1000: 200 unmet, and empty for the last 12 h.
    assert milk.fill_rate == pytest.approx(2600 / 2800)
    assert milk.stockout_hours == pytest.approx(12.0)
    assert (milk.deliveries, milk.order_lines) == (2, 3)
    # Thrown away: 200 + 200, of 1000 at the start and 2000 delivered.
    assert milk.waste_fraction == pytest.approx(400 / 3000)
    # Average stock (1000*12 + 200*12) * 2 + 1000*12 = 40800 / 72 h; demand 2800/3 a day.
    assert milk.avg_days_of_cover == pytest.approx((40800 / 72) / (2800 / 3))


def test_overall_metrics_worked_on_paper() -> None:
    scores = tiny_scores()
    overall = scores.metrics
    assert overall.fill_rate == pytest.approx((1.0 + 2600 / 2800) / 2)
    assert overall.min_item_fill_rate == pytest.approx(2600 / 2800)
    assert overall.stockout_hours == pytest.approx(12.0)
    # Distinct deliveries: {tea, milk} at d1 counts once, {milk} at d2.
    assert overall.deliveries == 2
    assert overall.order_lines == 5
    assert overall.waste_fraction == pytest.approx(400 / (5 + 10 + 1000 + 2000))
    tea_cover = 4.75 / (13 / 3)
    milk_cover = (40800 / 72) / (2800 / 3)
    assert overall.avg_days_of_cover == pytest.approx((tea_cover + milk_cover) / 2)
    assert overall.run_out_mae_hours is None  # only the agent forecasts


def test_forecast_metrics_worked_on_paper() -> None:
    history = [LevelChange(T0, 100.0), LevelChange(T0 + 30 * H, 75.0)]
    uses = parse_demand(
        "timestamp,item,quantity\n"
        "2026-03-03T06:00:00Z,tea,25\n"  # +30 h
        "2026-03-03T16:00:00Z,tea,25\n"  # +40 h
        "2026-03-04T02:00:00Z,tea,50\n"  # +50 h: 100 used, the actual run-out
        "2026-03-04T12:00:00Z,tea,10\n",
        source="d.csv",
        scenario=with_days(parse_scenario(TINY, source="tiny.toml"), 5),
    )
    predictions = [
        # Made at t0: 50 h ahead; P50 10 h early; P10-P90 holds it.
        Prediction(T0, "tea", T0 + 30 * H, T0 + 40 * H, T0 + 55 * H),
        # Made at +10 h: 40 h ahead; P50 2 h late; P10-P90 misses it.
        Prediction(T0 + 10 * H, "tea", T0 + 45 * H, T0 + 52 * H, T0 + 48 * H),
        # Made at +30 h (75 left): 20 h ahead, under 24 h, so not scored.
        Prediction(T0 + 30 * H, "tea", T0, T0, T0),
    ]
    assert DemandTrace(uses).actual_run_out(T0, history) == T0 + 50 * H
    mae, coverage = forecast_scores(predictions, history, uses)
    assert mae == pytest.approx((10 + 2) / 2)
    assert coverage == pytest.approx(0.5)


class ManualClock:
    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current

    async def sleep(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


def test_agent_policy_and_mqtt_service_decide_alike(tmp_path: Path) -> None:
    """The same readings and ticks through the MQTT service's entry and through
    ``restock evaluate``'s agent policy give the same orders."""
    scenario = with_days(load_scenario(SCENARIOS_DIR / "faulty_sensors.toml"), 12)
    messages = list(SimulatedHome(scenario).run())
    household = scenario.household.id
    clock = ManualClock(scenario.start)
    unused = make_agent()  # for a bridge client and a broker address it never uses
    service = AgentService(
        household=household,
        device="agent",
        items=scenario.items,
        broker=unused.broker,
        bridge=unused.bridge,
        store=AgentStore(tmp_path / "agent.db"),
        clock=clock,
    )
    policy = AgentPolicy(household, scenario.items, start=scenario.start)
    from_policy = []
    tick = scenario.start + DECIDE_EVERY
    pending = iter(messages)
    message = next(pending, None)
    while tick < scenario.end:
        while message is not None and message.at <= tick:
            clock.current = message.at
            service.handle(message.topic, message.payload)
            policy.observe(message)
            message = next(pending, None)
        clock.current = tick
        service.decide(tick)
        from_policy += policy.decide(tick)
        tick += DECIDE_EVERY
    from_service = [
        (order.decision.request_id, tuple((line.item, line.packs) for line in order.decision.lines))
        for order in service.store.orders()
    ]
    assert from_service  # twelve days with no deliveries: it must have ordered
    assert from_service == [(order.request_id, order.lines) for order in from_policy]


def test_oracle_fills_at_least_as_well_as_every_policy() -> None:
    for name in ("perishables", "faulty_sensors"):
        scenario = with_days(load_scenario(SCENARIOS_DIR / f"{name}.toml"), 20)
        fill = {policy: score(evaluate(scenario, policy)).metrics for policy in POLICIES}
        for policy in POLICIES:
            assert fill["oracle"].fill_rate >= fill[policy].fill_rate, (name, policy)
            assert fill["oracle"].min_item_fill_rate >= fill[policy].min_item_fill_rate


PAST_HELPING = (
    TINY.replace("initial = 5", "initial = 1")
    .replace("{ min = 24, max = 24 }", "{ min = 48, max = 48 }", 1)  # the tea's
    .replace("shelf_life_days = 1\n", "")
)

# Tea: 1 bag at the start, and no order can come before +48 h, so 3 bags at +6 h find
# 1 whatever the oracle does; 5 at +54 h can be had. Milk: the store holds 1,500 g, so of
# 2,000 g at +36 h no store serves more than 1,500.
PAST_HELPING_DEMAND = """timestamp,item,quantity
2026-03-02T06:00:00Z,tea,3
2026-03-03T12:00:00Z,milk,2000
2026-03-04T06:00:00Z,tea,5
"""


def test_oracle_does_not_order_for_uses_past_helping() -> None:
    # Ordered for, each of those uses would come short after every order, and the oracle
    # would order again at the same instant without end.
    run = tiny_run("oracle", PAST_HELPING, PAST_HELPING_DEMAND)
    placed = [(order.placed_at - T0, order.order.lines) for order in run.orders]
    assert placed == [
        # The tea for +54 h, to land a minute before it (48 h on): the empty store holds
        # two packs of ten.
        (54 * H - timedelta(minutes=1) - 48 * H, (("tea", 2),)),
        # The milk: 500 g of room beside the 1,000 g there, so one pack, to land a
        # minute before the 2,000 g.
        (36 * H - timedelta(minutes=1) - 24 * H, (("milk", 1),)),
    ]
    scores = score(run)
    assert scores.items["tea"].fill_rate == pytest.approx(6 / 8)  # 1 of 3, then 5 of 5
    assert scores.items["milk"].fill_rate == pytest.approx(1500 / 2000)


@pytest.mark.slow
def test_oracle_is_the_limit_on_every_shipped_scenario() -> None:
    # Every scenario under every policy, a worker process per core, as `restock evaluate`
    # runs them: the agent's 15 runs are nearly all of this test's time.
    jobs = [Job(path, policy) for path in scenario_files(SCENARIOS_DIR) for policy in POLICIES]
    fill = {
        (result.job.scenario.stem, result.job.policy): result.scores.metrics.fill_rate
        for result in compare(jobs)
    }
    assert len(fill) == len(jobs) >= 4 * 15
    for (scenario, policy), rate in fill.items():
        assert fill[scenario, "oracle"] >= rate, (scenario, policy)


def test_same_seed_same_scores() -> None:
    scenario = with_days(load_scenario(SCENARIOS_DIR / "demo.toml"), 10)
    assert score(evaluate(scenario, "agent")) == score(evaluate(scenario, "agent"))


METRICS = {
    "fill_rate",
    "min_item_fill_rate",
    "stockout_hours",
    "deliveries",
    "order_lines",
    "waste_fraction",
    "avg_days_of_cover",
    "run_out_mae_hours",
    "run_out_coverage",
}


def write_tiny(folder: Path, name: str = "tiny") -> Path:
    path = folder / f"{name}.toml"
    path.write_text(TINY.replace('id = "tiny"', f'id = "{name}"'), encoding="utf-8")
    return path


def test_cli_writes_every_metric(tmp_path: Path) -> None:
    scenario = write_tiny(tmp_path)
    out = tmp_path / "scores.json"
    demand = tmp_path / "demand.csv"
    demand.write_text(DEMAND, encoding="utf-8")
    charts = tmp_path / "charts"
    args = ["--scenario", str(scenario), "--demand", str(demand), "--policy", "fixed-cycle"]
    result = CliRunner().invoke(
        cli, ["evaluate", *args, "--json", str(out), "--charts", str(charts)]
    )
    assert result.exit_code == 0, result.output
    (document,) = json.loads(out.read_text())
    assert document["policy"] == "fixed-cycle"
    assert set(document["metrics"]) == METRICS
    assert set(document["items"]) == {"tea", "milk"}
    assert set(document["items"]["milk"]) == METRICS - {"min_item_fill_rate"}
    # The demand file's uses, not the consumption model's: the figure worked out above.
    assert document["items"]["milk"]["fill_rate"] == pytest.approx(2600 / 2800)
    assert document["metrics"]["run_out_coverage"] is None
    assert "| tiny | fixed-cycle |" in result.output
    assert (tmp_path / "charts" / "tiny.png").read_bytes().startswith(b"\x89PNG")


def test_cli_compares_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "suite"
    folder.mkdir()
    for name in ("one", "two"):
        write_tiny(folder, name)
    table = tmp_path / "table.md"
    policies = ["--policy", "oracle", "--policy", "threshold"]
    args = ["--scenario", str(folder), *policies, "--markdown", str(table), "--no-charts"]
    result = CliRunner().invoke(cli, ["evaluate", *args, "--jobs", "1"])
    assert result.exit_code == 0, result.output
    rows = [line for line in table.read_text().splitlines() if line.startswith("| one")]
    assert [row.split("|")[2].strip() for row in rows] == ["oracle", "threshold"]
    assert "| two | threshold |" in result.output


def test_cli_refuses_a_bad_scenario_before_running(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(TINY.replace("capacity = 20", "capacity = -1"), encoding="utf-8")
    result = CliRunner().invoke(cli, ["evaluate", "--scenario", str(bad), "--no-charts"])
    assert result.exit_code == 1
    assert "bad.toml" in result.output
    assert "capacity" in result.output
