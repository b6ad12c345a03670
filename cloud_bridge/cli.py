"""``restock bridge``: a thin command line over the bridge library.

Each command opens what it needs, calls the library once, and turns
:class:`CloudBridgeError` into a :class:`click.ClickException`.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import get_args

import click
from aiohttp import web

from cloud_bridge.app import create_app
from cloud_bridge.errors import CloudBridgeError
from cloud_bridge.intake import Household, Subscription
from cloud_bridge.openapi import spec_bytes
from cloud_bridge.orders import Orders
from cloud_bridge.payloads import admin_order_body, encode
from cloud_bridge.settings import SERVE_CANCEL_WINDOW, BridgeSettings
from cloud_bridge.store import Order, OrderFilter, Store
from edge_agent.clock import SystemClock
from edge_agent.protocol import OrderStatus

#: How the CLI names itself in the audit trail.
OPERATOR = "the operator (CLI)"

_db_option = click.option(
    "--db",
    "db_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The bridge's SQLite database file; created if missing.",
)


@click.group("bridge")
def bridge() -> None:
    """The cloud bridge: takes signed orders from edge agents and forwards them to a shop."""


@bridge.command()
@_db_option
@click.option(
    "--shop-url",
    required=True,
    help="Where new orders are sent as signed order.created webhooks.",
)
@click.option(
    "--shop-secret",
    required=True,
    envvar="RESTOCK_SHOP_SECRET",
    help="The whsec_ secret shared with the shop (or set RESTOCK_SHOP_SECRET).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option(
    "--port",
    default=8080,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="The TCP port to listen on.",
)
@click.option(
    "--mqtt",
    "mqtt_url",
    default=None,
    help="Publish order updates to this broker, e.g. mqtt://127.0.0.1:1883; off if omitted.",
)
@click.option(
    "--cancel-window",
    default=SERVE_CANCEL_WINDOW,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Seconds an order waits, cancellable, before it goes to the shop; 0 sends at once.",
)
@click.option(
    "--admin-token",
    envvar="RESTOCK_ADMIN_TOKEN",
    default=None,
    help="Bearer token for the admin routes and /metrics (or set RESTOCK_ADMIN_TOKEN);"
    " admin routes are off without one.",
)
@click.option(
    "--open-catalog",
    is_flag=True,
    help="Order items a household has no subscription for, unpriced, instead of rejecting.",
)
def serve(
    db_path: Path,
    shop_url: str,
    shop_secret: str,
    host: str,
    port: int,
    mqtt_url: str | None,
    cancel_window: float,
    admin_token: str | None,
    open_catalog: bool,
) -> None:
    """Run the bridge's HTTP service until interrupted."""
    try:
        settings = BridgeSettings(
            db_path=db_path,
            shop_url=shop_url,
            shop_secret=shop_secret,
            host=host,
            port=port,
            mqtt_url=mqtt_url,
            cancel_window=cancel_window,
            admin_token=admin_token,
            require_subscription=not open_catalog,
        )
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        web.run_app(
            create_app(settings, clock=SystemClock()),
            host=settings.host,
            port=settings.port,
            print=click.echo,
        )
    except CloudBridgeError as exc:
        raise click.ClickException(str(exc)) from None


@bridge.command("add-device")
@_db_option
@click.option("--household", required=True, help="The household the device belongs to.")
@click.option("--device", required=True, help="The device's name within the household.")
def add_device(db_path: Path, household: str, device: str) -> None:
    """Register a device and print its signing secret as JSON."""
    try:
        with Store(db_path) as store:
            secret = store.add_device(household, device, now=SystemClock().now())
    except CloudBridgeError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps({"household": household, "device": device, "secret": secret}))


@contextmanager
def _library_errors() -> Iterator[None]:
    """Turn the bridge's errors into clean CLI failures."""
    try:
        yield
    except CloudBridgeError as exc:
        raise click.ClickException(str(exc)) from None
    except sqlite3.Error as exc:
        raise click.ClickException(f"bridge database: {exc}") from None


def _orders(store: Store) -> Orders:
    return Orders(store, clock=SystemClock())


def _echo_order(order: Order) -> None:
    click.echo(encode(admin_order_body(order)).decode())


@bridge.command("rotate-secret")
@_db_option
@click.option("--household", required=True, help="The household the device belongs to.")
@click.option("--device", required=True, help="The device whose secret is replaced.")
def rotate_secret(db_path: Path, household: str, device: str) -> None:
    """Give a device a new signing secret and print it as JSON; the old one stops working."""
    with _library_errors(), Store(db_path) as store:
        secret = store.rotate_secret(household, device)
    click.echo(json.dumps({"household": household, "device": device, "secret": secret}))


@bridge.command("orders")
@_db_option
@click.option("--household", default=None, help="Only this household's orders.")
@click.option(
    "--status",
    type=click.Choice(get_args(OrderStatus)),
    default=None,
    help="Only orders in this status.",
)
@click.option(
    "--dead-letter",
    is_flag=True,
    help="Only orders whose webhook ran out of retries (the dead-letter list).",
)
@click.option(
    "--limit",
    default=50,
    show_default=True,
    type=click.IntRange(1, 10_000),
    help="At most this many orders, newest first.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per order.")
def orders(
    db_path: Path,
    household: str | None,
    status: str | None,
    dead_letter: bool,
    limit: int,
    as_json: bool,
) -> None:
    """List orders, newest first, with their webhook delivery state."""
    which = OrderFilter(
        household=household,
        status=status,  # type: ignore[arg-type]  # click.Choice checked it
        dead_letter=True if dead_letter else None,
        limit=limit,
    )
    with _library_errors(), Store(db_path) as store:
        found = store.list_orders(which)
    if as_json:
        for order in found:
            _echo_order(order)
        return
    click.echo(f"{'order':<28} {'household':<16} {'status':<20} {'total':>9} {'tries':>5}  created")
    for order in found:
        dead = "  dead-lettered" if order.dead_lettered_at is not None else ""
        click.echo(
            f"{order.order_id:<28} {order.household:<16} {order.status:<20}"
            f" {order.total_cents / 100:>9.2f} {order.forward_attempts:>5}"
            f"  {order.created_at:%Y-%m-%d %H:%M}{dead}"
        )


def _act(db_path: Path, action: Callable[[Orders], Order]) -> None:
    with _library_errors(), Store(db_path) as store:
        order = action(_orders(store))
    _echo_order(order)


@bridge.command("approve")
@_db_option
@click.argument("order_id")
def approve(db_path: Path, order_id: str) -> None:
    """Approve ORDER_ID, which waits for approval; print the order as JSON."""
    _act(db_path, lambda orders: orders.approve(order_id, household=None, by=OPERATOR))


@bridge.command("cancel")
@_db_option
@click.argument("order_id")
@click.option("--reason", default=None, help="Why; kept in the order's audit trail.")
def cancel(db_path: Path, order_id: str, reason: str | None) -> None:
    """Cancel ORDER_ID before it goes to the shop; print the order as JSON."""
    _act(
        db_path,
        lambda orders: orders.cancel(order_id, household=None, by=OPERATOR, reason=reason),
    )


@bridge.command("redeliver")
@_db_option
@click.argument("order_id")
def redeliver(db_path: Path, order_id: str) -> None:
    """Send ORDER_ID's webhook to the shop again, same webhook-id, with fresh retries."""
    _act(db_path, lambda orders: orders.redeliver(order_id))


@bridge.command("set-household")
@_db_option
@click.option("--household", required=True, help="The household to create or change.")
@click.option(
    "--monthly-cap",
    type=click.IntRange(min=0),
    default=None,
    help="Most the household may spend in a calendar month, in cents; no cap if omitted.",
)
@click.option(
    "--auto-approve",
    type=click.IntRange(min=0),
    default=None,
    help="Orders costing more than this many cents wait for approval; none do if omitted.",
)
def set_household(
    db_path: Path, household: str, monthly_cap: int | None, auto_approve: int | None
) -> None:
    """Create a household, or set its monthly spending cap and auto-approve limit."""
    limits = Household(household, monthly_cap_cents=monthly_cap, auto_approve_cents=auto_approve)
    with _library_errors(), Store(db_path) as store:
        store.accounts.put_household(limits, now=SystemClock().now())
    click.echo(
        json.dumps(
            {
                "household": household,
                "monthly_cap_cents": monthly_cap,
                "auto_approve_cents": auto_approve,
            }
        )
    )


@bridge.command("subscribe")
@_db_option
@click.option("--household", required=True, help="The subscribing household.")
@click.option("--item", required=True, help="The item id, as the agent's catalog names it.")
@click.option("--sku", required=True, help="The shop's SKU for the item.")
@click.option("--pack", required=True, help="The pack the shop sells, e.g. '1 L carton'.")
@click.option(
    "--price", required=True, type=click.IntRange(min=0), help="Price per pack, in cents."
)
@click.option(
    "--cadence-days",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Expected days between orders: a prior for the agent's forecast.",
)
@click.option("--paused", is_flag=True, help="Create the subscription paused.")
@click.option("--skip-next", is_flag=True, help="Skip the item's next order.")
def subscribe(
    db_path: Path,
    household: str,
    item: str,
    sku: str,
    pack: str,
    price: int,
    cadence_days: float | None,
    paused: bool,
    skip_next: bool,
) -> None:
    """Create or replace a household's subscription to an item."""
    subscription = Subscription(
        household=household,
        item=item,
        sku=sku,
        pack=pack,
        price_cents=price,
        cadence_days=cadence_days,
        enabled=not paused,
        skip_next=skip_next,
    )
    with _library_errors(), Store(db_path) as store:
        store.accounts.put_subscription(subscription, now=SystemClock().now())
    click.echo(json.dumps({"household": household, "item": item, "enabled": not paused}))


@bridge.command("enable-endpoint")
@_db_option
@click.option("--shop-url", required=True, help="The shop endpoint to forward to again.")
def enable_endpoint(db_path: Path, shop_url: str) -> None:
    """Forward to a shop endpoint again after a 410 Gone disabled it."""
    with _library_errors(), Store(db_path) as store:
        was_disabled = store.enable_endpoint(shop_url)
    click.echo(json.dumps({"url": shop_url, "was_disabled": was_disabled}))


@bridge.command("openapi")
def openapi() -> None:
    """Print the bridge's OpenAPI 3 description (docs/openapi.json is a copy)."""
    sys.stdout.buffer.write(spec_bytes())
