"""``restock bridge``: a thin CLI whose failures are clear messages, not tracebacks."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import click
from click.testing import CliRunner

from cloud_bridge.cli import bridge
from cloud_bridge.intake import Household, Subscription
from cloud_bridge.orders import Orders
from cloud_bridge.payloads import OrderRequest
from cloud_bridge.store import Store
from edge_agent.clock import SystemClock
from edge_agent.protocol import OrderLine
from edge_agent.webhooks import new_secret, secret_key


def _add_device(db: Path, device: str = "fridge") -> click.testing.Result:
    args = ["add-device", "--db", str(db), "--household", "home1", "--device", device]
    return CliRunner().invoke(bridge, args)


def test_add_device_prints_json_with_a_secret(tmp_path: Path) -> None:
    """add-device prints the device and a fresh whsec_ secret as JSON."""
    result = _add_device(tmp_path / "bridge.db")
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert (printed["household"], printed["device"]) == ("home1", "fridge")
    assert len(secret_key(printed["secret"])) == 32


def test_add_device_refuses_a_duplicate(tmp_path: Path) -> None:
    """Registering the same device twice fails with a message, not a traceback."""
    _add_device(tmp_path / "bridge.db")
    result = _add_device(tmp_path / "bridge.db")
    assert result.exit_code == 1
    assert "device home1/fridge is already registered" in result.output


def test_add_device_refuses_a_bad_name(tmp_path: Path) -> None:
    """A device name that cannot be a topic level is refused with the rule."""
    result = _add_device(tmp_path / "bridge.db", device="Fridge/1")
    assert result.exit_code == 1
    assert "must be 1-64 characters" in result.output


def test_serve_refuses_a_bad_shop_secret(tmp_path: Path) -> None:
    """serve with a shop secret that is not whsec_ base64 exits non-zero, saying so."""
    args = ["serve", "--db", str(tmp_path / "b.db"), "--shop-url", "http://127.0.0.1:9/"]
    result = CliRunner().invoke(bridge, [*args, "--shop-secret", "hunter2"])
    assert result.exit_code == 1
    assert "shop secret is invalid" in result.output
    assert "whsec_" in result.output


def test_serve_refuses_a_bad_shop_url(tmp_path: Path) -> None:
    """serve with a shop URL that is not http(s) exits non-zero, saying so."""
    args = ["serve", "--db", str(tmp_path / "b.db"), "--shop-secret", new_secret()]
    result = CliRunner().invoke(bridge, [*args, "--shop-url", "ftp://shop"])
    assert result.exit_code == 1
    assert "shop_url must be an absolute http(s) URL" in result.output


def test_every_command_and_option_has_help() -> None:
    """Each command and each of its options documents itself."""
    for name, command in bridge.commands.items():
        assert command.help, name
        for param in command.params:
            # Arguments (ORDER_ID) are described in their command's help.
            if isinstance(param, click.Option):
                assert param.help, f"{name} {param.name}"
            else:
                assert str(param.name).upper() in str(command.help), f"{name} {param.name}"


# --- operating on orders --------------------------------------------------------------


def _run(*args: str) -> click.testing.Result:
    return CliRunner().invoke(bridge, list(args))


def _db_with_orders(tmp_path: Path, *, auto_approve: int | None = None) -> tuple[Path, list[str]]:
    """A database with home1 subscribed to milk at 2.50 and two milk orders from its agent."""
    db = tmp_path / "bridge.db"
    now = SystemClock().now()
    with Store(db) as store:
        store.add_device("home1", "agent", now=now)
        store.accounts.put_household(Household("home1", auto_approve_cents=auto_approve), now=now)
        store.accounts.put_subscription(
            Subscription("home1", "milk", sku="MILK-1L", pack="1 L", price_cents=250), now=now
        )
        orders = Orders(store, clock=SystemClock(), cancel_window=3600)
        request = OrderRequest(lines=(OrderLine("milk", 1),))
        ids = [orders.place("home1", "agent", f"m{n}", request)[0].order_id for n in range(2)]
    return db, ids


def test_orders_lists_and_filters(tmp_path: Path) -> None:
    """orders prints a table, newest first; --status and --json filter and format."""
    db, ids = _db_with_orders(tmp_path)
    table = _run("orders", "--db", str(db))
    as_json = _run("orders", "--db", str(db), "--json", "--status", "placed")
    none = _run("orders", "--db", str(db), "--status", "delivered", "--json")
    assert table.exit_code == 0, table.output
    assert all(order_id in table.output for order_id in ids)
    assert "2.50" in table.output
    listed = [json.loads(line) for line in as_json.output.splitlines()]
    assert sorted(o["order_id"] for o in listed) == sorted(ids)
    assert listed[0]["delivery"]["attempts"] == 0
    assert none.output == ""


def test_cancel_and_approve_follow_the_state_machine(tmp_path: Path) -> None:
    """cancel ends a placed order; approving it after that fails with a message."""
    db, ids = _db_with_orders(tmp_path)
    cancelled = _run("cancel", "--db", str(db), ids[0], "--reason", "changed my mind")
    approve = _run("approve", "--db", str(db), ids[0])
    assert cancelled.exit_code == 0, cancelled.output
    assert json.loads(cancelled.output)["status"] == "cancelled"
    assert approve.exit_code == 1
    assert "cannot be approved" in approve.output
    with Store(db) as store:
        assert store.events(ids[0])[-1].cause == (
            "cancelled by the operator (CLI): changed my mind"
        )


def test_approve_places_a_pending_order(tmp_path: Path) -> None:
    """approve moves an order waiting for approval to placed."""
    db, ids = _db_with_orders(tmp_path, auto_approve=100)
    result = _run("approve", "--db", str(db), ids[1])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["status"] == "placed"


def test_redeliver_refuses_an_unsent_order(tmp_path: Path) -> None:
    """redeliver of an order still in its cancel window fails with a message."""
    db, ids = _db_with_orders(tmp_path)
    result = _run("redeliver", "--db", str(db), ids[0])
    assert result.exit_code == 1
    assert "has not been sent yet" in result.output


def test_redeliver_requeues_a_dead_letter(tmp_path: Path) -> None:
    """redeliver takes an order off the dead-letter list and makes it due now."""
    db, ids = _db_with_orders(tmp_path)
    later = SystemClock().now() + timedelta(hours=2)
    with Store(db) as store:
        assert store.claim_attempt(ids[0], now=later, lease_until=later)
        store.dead_letter(ids[0], at=later, error="HTTP 500")
    listed = _run("orders", "--db", str(db), "--dead-letter", "--json")
    result = _run("redeliver", "--db", str(db), ids[0])
    assert [json.loads(line)["order_id"] for line in listed.output.splitlines()] == [ids[0]]
    assert result.exit_code == 0, result.output
    delivery = json.loads(result.output)["delivery"]
    assert (delivery["dead_lettered_at"], delivery["attempts"]) == (None, 0)


def test_rotate_secret_prints_a_new_secret(tmp_path: Path) -> None:
    """rotate-secret replaces the device's secret; an unknown device is an error."""
    db = tmp_path / "bridge.db"
    old = json.loads(_add_device(db).output)["secret"]
    rotated = _run("rotate-secret", "--db", str(db), "--household", "home1", "--device", "fridge")
    unknown = _run("rotate-secret", "--db", str(db), "--household", "home1", "--device", "oven")
    new = json.loads(rotated.output)["secret"]
    assert new != old
    with Store(db) as store:
        assert store.device_secret("home1", "fridge") == new
    assert unknown.exit_code == 1
    assert "device home1/oven is not registered" in unknown.output


def test_set_household_and_subscribe(tmp_path: Path) -> None:
    """set-household and subscribe store limits and a subscription."""
    db = tmp_path / "bridge.db"
    limits = _run("set-household", "--db", str(db), "--household", "home1", "--monthly-cap", "9000")
    sub = _run(
        "subscribe", "--db", str(db), "--household", "home1", "--item", "coffee",
        "--sku", "BEANS", "--pack", "1 kg", "--price", "1899", "--cadence-days", "21", "--paused",
    )  # fmt: skip
    assert (limits.exit_code, sub.exit_code) == (0, 0), limits.output + sub.output
    with Store(db) as store:
        assert store.accounts.household("home1").monthly_cap_cents == 9000
        coffee = store.accounts.subscription("home1", "coffee")
    assert (coffee.price_cents, coffee.cadence_days, coffee.enabled) == (1899, 21.0, False)


def test_enable_endpoint_reports_whether_it_was_disabled(tmp_path: Path) -> None:
    """enable-endpoint clears a 410's disablement."""
    db = tmp_path / "bridge.db"
    url = "http://shop.example/webhooks"
    with Store(db) as store:
        store.disable_endpoint(url, at=SystemClock().now(), reason="HTTP 410")
    first = _run("enable-endpoint", "--db", str(db), "--shop-url", url)
    again = _run("enable-endpoint", "--db", str(db), "--shop-url", url)
    assert json.loads(first.output)["was_disabled"] is True
    assert json.loads(again.output)["was_disabled"] is False


def test_openapi_prints_the_spec(tmp_path: Path) -> None:
    """openapi prints the document docs/openapi.json keeps."""
    result = _run("openapi")
    assert json.loads(result.output)["openapi"].startswith("3.")


def test_serve_defaults_to_a_two_hour_cancel_window() -> None:
    """The command line's default window is two hours (the library's is 0)."""
    option = next(p for p in bridge.commands["serve"].params if p.name == "cancel_window")
    assert option.default == 7200
