"""``restock bridge``: a thin command line over the bridge library.

Each command opens what it needs, calls the library once, and turns
:class:`CloudBridgeError` into a :class:`click.ClickException`.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click
from aiohttp import web

from cloud_bridge.app import create_app
from cloud_bridge.errors import CloudBridgeError
from cloud_bridge.settings import BridgeSettings
from cloud_bridge.store import Store
from edge_agent.clock import SystemClock

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
def serve(
    db_path: Path, shop_url: str, shop_secret: str, host: str, port: int, mqtt_url: str | None
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
