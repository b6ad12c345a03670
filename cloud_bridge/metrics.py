"""Prometheus metrics for ``GET /metrics``: orders by state, webhook attempts, request latency.

Each app has its own registry, so several bridges (tests, benchmarks) can share a
process. Order counts are read from the database at scrape time, so they are right
after a restart and include changes made by other processes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final, get_args

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from cloud_bridge.forwarder import Outcome
from cloud_bridge.store import Store
from edge_agent.protocol import OrderStatus

#: Content type of the Prometheus text exposition format.
CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
#: Latency buckets in seconds: an order takes about a millisecond, a slow one 50.
_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class _OrdersCollector(Collector):
    def __init__(self, store: Store) -> None:
        self._store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        counts = self._store.count_by_status()
        orders = GaugeMetricFamily(
            "restock_bridge_orders", "Orders in the bridge database, by state.", labels=["state"]
        )
        for state in get_args(OrderStatus):
            orders.add_metric([state], counts.get(state, 0))
        yield orders
        yield GaugeMetricFamily(
            "restock_bridge_dead_letters",
            "Orders whose webhook ran out of retries and waits for redelivery.",
            value=self._store.dead_letter_count(),
        )


class BridgeMetrics:
    """The bridge's metrics; also the forwarder's :class:`AttemptObserver`."""

    def __init__(self, store: Store) -> None:
        self.registry = CollectorRegistry()
        self._attempts = Counter(
            "restock_bridge_webhook_attempts",
            "Order webhooks sent to the shop, by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        self._failures = Counter(
            "restock_bridge_webhook_failures",
            "Order webhook attempts the shop did not accept.",
            registry=self.registry,
        )
        self._latency = Histogram(
            "restock_bridge_request_duration_seconds",
            "Time to answer an HTTP request, by method, route and status.",
            ["method", "route", "status"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self._latency_children: dict[tuple[str, str, int], Any] = {}
        for outcome in get_args(Outcome):
            self._attempts.labels(outcome)
        self.registry.register(_OrdersCollector(store))

    def attempt(self, outcome: Outcome) -> None:
        self._attempts.labels(outcome).inc()
        if outcome != "accepted":
            self._failures.inc()

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        child = self._latency_children.get(key)
        if child is None:  # labels() is slow next to a dict; every request comes here
            child = self._latency_children[key] = self._latency.labels(method, route, str(status))
        child.observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
