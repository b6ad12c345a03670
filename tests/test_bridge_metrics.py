"""GET /metrics: Prometheus text with orders by state, webhook attempts and latency."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from cloud_bridge.app import STORE
from tests.test_bridge_support import (
    ADMIN,
    add_device,
    bridge_settings,
    fake_shop,
    place,
    running_bridge,
    wait_until,
)


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_metrics_count_orders_attempts_and_requests(tmp_path: Path) -> None:
    """After one order is sent, the scrape shows it by state, one accepted attempt, and the
    intake request in the latency histogram under its route pattern."""
    async with (
        fake_shop(failures=1) as (shop, url),
        running_bridge(bridge_settings(tmp_path, url)) as client,
    ):
        order_id = (await place(client, add_device(client, "home1", "fridge"), ("milk", 1)))[
            "order_id"
        ]
        await shop.wait_for(lambda: len(shop.accepted) == 1)
        await wait_until(lambda: client.app[STORE].get_order(order_id).status == "sent")
        await client.get(f"/v1/orders/{order_id}", headers=ADMIN)
        response = await client.get("/metrics", headers=ADMIN)
        samples = _samples(await response.text())
    assert response.headers["Content-Type"].startswith("text/plain")
    assert samples[("restock_bridge_orders", (("state", "sent"),))] == 1
    assert samples[("restock_bridge_orders", (("state", "placed"),))] == 0
    assert samples[("restock_bridge_webhook_attempts_total", (("outcome", "accepted"),))] == 1
    assert samples[("restock_bridge_webhook_attempts_total", (("outcome", "failed"),))] == 1
    assert samples[("restock_bridge_webhook_failures_total", ())] == 1
    assert samples[("restock_bridge_dead_letters", ())] == 0
    count = (
        "restock_bridge_request_duration_seconds_count",
        (("method", "POST"), ("route", "/v1/orders"), ("status", "201")),
    )
    assert samples[count] == 1
    by_id = (
        "restock_bridge_request_duration_seconds_count",
        (("method", "GET"), ("route", "/v1/orders/{order_id}"), ("status", "200")),
    )
    assert samples[by_id] == 1
