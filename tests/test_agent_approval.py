"""Orders held by the household's budget: stored, not sent until approved, then sent once."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
import sqlite_utils
from click.testing import CliRunner

from cloud_bridge.store import Store
from edge_agent import protocol
from edge_agent.budget import AWAITING_APPROVAL, DECLINED, BudgetSettings
from edge_agent.cli import cli
from edge_agent.clock import SimulatedClock, SystemClock
from edge_agent.config import load_config
from edge_agent.core import OrderDecision
from edge_agent.errors import ApprovalError, ConfigError
from edge_agent.policy import LinePlan
from edge_agent.service import AgentService
from edge_agent.store import QUEUED, AgentStore
from edge_agent.webhooks import new_secret
from simulators.ports import free_port
from tests.agents import fail_first_call, full_fridge, make_agent, running
from tests.items import T0
from tests.test_agent_config import config_text
from tests.test_agent_outbox import ShopInbox, running_bridge
from tests.test_bridge_support import wait_until

WAIT = 10
COFFEE_TOPIC = protocol.reading_topic("home", "coffee_machine", "coffee")
#: Coffee costs 12.00 a pack: every coffee order is above this limit.
LIMIT = BudgetSettings(approve_above=5)


def empty_coffee(agent: AgentService) -> OrderDecision:
    """Feed a full fridge and an empty coffee reading; return the one order they make."""
    full_fridge(agent)
    reading = protocol.Reading(ts=T0, value=0, unit="g", seq=1)
    agent.handle(COFFEE_TOPIC, protocol.encode(reading))
    (order,) = agent.store.orders()
    return order.decision


def test_held_order_is_stored_awaiting_approval_and_not_queued() -> None:
    """The outbox never sees a held order; its explanation, with the reason, is stored."""
    agent = make_agent(budget=LIMIT)
    decision = empty_coffee(agent)
    (stored,) = agent.store.orders()
    assert stored.status == AWAITING_APPROVAL
    assert stored.decision.awaiting_approval
    assert agent.store.orders(queued_only=True) == []
    assert [o.decision for o in agent.store.orders(awaiting_only=True)] == [decision]
    assert stored.explanation == decision.explanation
    assert "is above the €5.00 approval limit." in stored.explanation


async def test_held_order_is_sent_only_after_approval_and_only_once(tmp_path: Path) -> None:
    """Nothing reaches the bridge while the order waits; once approved it is placed once."""
    db = tmp_path / "bridge.db"
    with Store(db) as bridge_store:
        secret = bridge_store.add_device("home", "agent", now=SystemClock().now())
    port = free_port()
    agent = make_agent(
        AgentStore(tmp_path / "agent.db"), bridge_port=port, secret=secret, budget=LIMIT
    )
    decision = empty_coffee(agent)
    inbox = ShopInbox()
    async with agent.bridge, running_bridge(db, port, inbox):
        async with asyncio.timeout(WAIT):
            assert await agent.send_queued() is False
        assert agent.sync_approvals() == []
        with Store(db) as bridge_store:
            assert list(bridge_store.db.query("select order_id from orders")) == []

        # `restock agent approve` writes to the store; the running agent picks it up.
        AgentStore(tmp_path / "agent.db").approve(decision.request_id, T0)
        assert agent.sync_approvals() == [decision.request_id]
        assert agent.brain.awaiting_approval == []
        async with asyncio.timeout(WAIT):
            assert await agent.send_queued() is False
            await inbox.received.wait()
        async with asyncio.timeout(WAIT):
            assert await agent.send_queued() is False  # nothing left to send
        assert agent.sync_approvals() == []

    (sent,) = agent.store.orders()
    assert sent.confirmed
    assert sent.attempts == 1
    assert inbox.ids == [sent.bridge_order_id]
    with Store(db) as bridge_store:
        rows = list(bridge_store.db.query("select order_id from orders"))
    assert [row["order_id"] for row in rows] == [sent.bridge_order_id]


async def test_an_approval_the_agent_fails_to_read_is_taken_in_at_the_next_look(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The database is locked when the running agent looks for approvals: it logs that,
    goes on, and takes the approval in at its next look."""
    path = tmp_path / "agent.db"
    fast = SimulatedClock(T0, speed=3000.0)  # the 30 s between looks pass in 0.01 s
    agent = make_agent(AgentStore(path), budget=LIMIT, network_clock=fast)
    decision = empty_coffee(agent)
    AgentStore(path).approve(decision.request_id, T0)
    locked = sqlite3.OperationalError("database is locked")
    calls = fail_first_call(monkeypatch, agent.store, "status", locked)
    async with running(agent):
        await wait_until(lambda: not agent.brain.awaiting_approval)
    assert len(calls) >= 2
    assert any(
        r.getMessage() == "could not take in approvals; trying again" for r in caplog.records
    )


def test_held_order_still_waits_after_a_restart(tmp_path: Path) -> None:
    """A restart keeps a held order held: not queued, and its items not ordered again."""
    path = tmp_path / "agent.db"
    decision = empty_coffee(make_agent(AgentStore(path), budget=LIMIT))

    restarted = make_agent(AgentStore(path), budget=LIMIT)
    assert restarted.brain.awaiting_approval == [decision]
    assert restarted.decide(restarted.clock.now()) == []
    assert restarted.store.orders(queued_only=True) == []
    assert restarted.store.status(decision.request_id) == AWAITING_APPROVAL


def test_order_approved_while_the_agent_was_down_is_sent_after_restart(tmp_path: Path) -> None:
    """An approval made while the agent was stopped queues the order for the restart."""
    path = tmp_path / "agent.db"
    decision = empty_coffee(make_agent(AgentStore(path), budget=LIMIT))
    AgentStore(path).approve(decision.request_id, T0)

    restarted = make_agent(AgentStore(path), budget=LIMIT)
    assert restarted.brain.awaiting_approval == []
    assert [d.request_id for d in restarted.brain.open_orders] == [decision.request_id]
    (queued,) = restarted.store.orders(queued_only=True)
    assert queued.decision.request_id == decision.request_id
    assert queued.approved_at == T0
    assert restarted.brain.spending.spent_cents(T0) > 0


def test_declined_order_is_never_sent_and_its_items_wait(tmp_path: Path) -> None:
    """A decline reaches the brain; the order is closed, even across a restart."""
    path = tmp_path / "agent.db"
    agent = make_agent(AgentStore(path), budget=LIMIT)
    decision = empty_coffee(agent)
    AgentStore(path).decline(decision.request_id, agent.clock.now())
    assert agent.sync_approvals() == []
    assert agent.brain.open_orders == []
    assert agent.decide(agent.clock.now()) == []
    assert agent.store.status(decision.request_id) == DECLINED
    assert agent.store.orders(queued_only=True) == []

    restarted = make_agent(AgentStore(path), budget=LIMIT)
    assert restarted.brain.open_orders == []
    assert restarted.decide(restarted.clock.now()) == []  # still waiting after the decline


@pytest.mark.parametrize("action", ["approve", "decline"])
def test_store_refuses_to_approve_or_decline_an_order_not_awaiting(action: str) -> None:
    """Only a held order can be approved or declined, and only once; errors name it."""
    agent = make_agent(budget=LIMIT)
    decision = empty_coffee(agent)
    getattr(agent.store, action)(decision.request_id, T0)
    with pytest.raises(ApprovalError, match=r"is (queued|declined), not awaiting approval"):
        getattr(agent.store, action)(decision.request_id, T0)
    with pytest.raises(ApprovalError, match="no order 'nope'"):
        getattr(agent.store, action)("nope", T0)


def test_store_from_before_the_budget_opens_and_keeps_its_orders(tmp_path: Path) -> None:
    """A database written before `note` and `approved_at` existed gains the columns."""
    path = tmp_path / "agent.db"
    store = AgentStore(path)
    store.save_order(
        OrderDecision(
            request_id="old",
            created_at=T0,
            lines=(LinePlan(item="milk", packs=1, explanation="milk is low"),),
        ),
        T0,
    )
    store.close()
    old = sqlite_utils.Database(path)
    old.table("orders").transform(drop={"note", "approved_at"})
    old.close()

    (order,) = AgentStore(path).orders()
    assert order.status == QUEUED
    assert order.decision.explanation == "Ordering because milk is low."


# --- configuration and CLI -------------------------------------------------------------


def write_config(tmp_path: Path, extra: str = "") -> Path:
    text = config_text(new_secret()).replace(
        'database = "/var/lib/restock/agent.db"', f'database = "{tmp_path / "agent.db"}"'
    )
    path = tmp_path / "agent.toml"
    path.write_text(text.replace("[agent]\n", f"[agent]\n{extra}", 1))
    return path


def test_config_reads_the_cap_and_the_approval_limit(tmp_path: Path) -> None:
    """`monthly_cap` and `approve_above` become the agent's budget; both are optional."""
    config = load_config(write_config(tmp_path, "monthly_cap = 120\napprove_above = 20.5\n"))
    assert config.agent.budget == BudgetSettings(monthly_cap=120, approve_above=20.5)
    assert load_config(write_config(tmp_path)).agent.budget is None


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("monthly_cap = 0\n", "agent.monthly_cap must be a number greater than 0, got 0.0"),
        ("approve_above = -5\n", "agent.approve_above must be a number greater than 0"),
        ("approve_above = nan\n", "agent.approve_above must be a number greater than 0"),
        ('monthly_cap = "lots"\n', r"\$\.agent\.monthly_cap"),
    ],
)
def test_config_refuses_a_bad_cap_or_limit(tmp_path: Path, line: str, message: str) -> None:
    """A cap or limit that is not a positive number is refused, naming the field."""
    with pytest.raises(ConfigError, match=message):
        load_config(write_config(tmp_path, line))


def held_in_database(tmp_path: Path) -> tuple[Path, OrderDecision]:
    """A config whose database holds one order awaiting approval: 2 packs of milk."""
    config = write_config(tmp_path, "approve_above = 2\n")
    decision = OrderDecision(
        request_id="home-20260105T000000",
        created_at=T0,
        lines=(LinePlan(item="milk", packs=2, explanation="milk is low"),),
        awaiting_approval=True,
        note="held for approval as €2.38 is above the €2.00 approval limit",
    )
    store = AgentStore(tmp_path / "agent.db")
    store.save_order(decision, T0)
    store.close()
    return config, decision


def test_cli_lists_orders_with_status_cost_and_explanation(tmp_path: Path) -> None:
    """`restock agent orders` shows each order's id, status, cost, lines and explanation."""
    config, decision = held_in_database(tmp_path)
    result = CliRunner().invoke(cli, ["agent", "orders", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert result.output == (
        "home-20260105T000000  awaiting_approval  2026-01-05T00:00:00Z  €2.38  2 x milk\n"
        f"  {decision.explanation}\n"
    )


def test_cli_approve_queues_the_order_for_the_agent(tmp_path: Path) -> None:
    """`restock agent approve` queues a held order; `--awaiting` then lists nothing."""
    config, decision = held_in_database(tmp_path)
    runner = CliRunner()
    result = runner.invoke(cli, ["agent", "approve", "--config", str(config), decision.request_id])
    assert result.exit_code == 0, result.output
    assert f"approved {decision.request_id}" in result.output
    assert AgentStore(tmp_path / "agent.db").status(decision.request_id) == QUEUED
    listed = runner.invoke(cli, ["agent", "orders", "--config", str(config), "--awaiting"])
    assert listed.exit_code == 0, listed.output
    assert listed.output == ""
    again = runner.invoke(cli, ["agent", "approve", "--config", str(config), decision.request_id])
    assert again.exit_code == 1
    assert again.output == (
        f"Error: order {decision.request_id!r} is queued, not awaiting approval\n"
    )


def test_cli_decline_closes_the_order(tmp_path: Path) -> None:
    """`restock agent decline` marks a held order declined; an unknown id is an error."""
    config, decision = held_in_database(tmp_path)
    runner = CliRunner()
    result = runner.invoke(cli, ["agent", "decline", "--config", str(config), decision.request_id])
    assert result.exit_code == 0, result.output
    assert AgentStore(tmp_path / "agent.db").status(decision.request_id) == DECLINED
    unknown = runner.invoke(cli, ["agent", "decline", "--config", str(config), "nope"])
    assert unknown.exit_code == 1
    assert "no order 'nope'" in unknown.output


def test_cli_without_a_database_says_so(tmp_path: Path) -> None:
    """Listing orders before the agent ever ran is an error, and creates no database."""
    config = write_config(tmp_path)
    result = CliRunner().invoke(cli, ["agent", "orders", "--config", str(config)])
    assert result.exit_code == 1
    assert "no agent database" in result.output
    assert not (tmp_path / "agent.db").exists()
