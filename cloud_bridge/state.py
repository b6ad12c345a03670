"""The bridge app's typed state: one :class:`aiohttp.web.AppKey` per resource."""

from __future__ import annotations

from typing import Final

import aiohttp
from aiohttp import web

from cloud_bridge.batching import GroupCommit
from cloud_bridge.downlink import Downlink
from cloud_bridge.forwarder import Forwarder
from cloud_bridge.metrics import BridgeMetrics
from cloud_bridge.orders import Orders
from cloud_bridge.settings import BridgeSettings
from cloud_bridge.store import Store
from edge_agent.clock import Clock

SETTINGS: Final = web.AppKey("settings", BridgeSettings)
CLOCK: Final = web.AppKey[Clock]("clock")
SIGNING_CLOCK: Final = web.AppKey[Clock]("signing_clock")
STORE: Final = web.AppKey("store", Store)
DOWNLINK: Final = web.AppKey[Downlink]("downlink")
ORDERS: Final = web.AppKey("orders", Orders)
SHOP_CLIENT: Final = web.AppKey("shop_client", aiohttp.ClientSession)
FORWARDER: Final = web.AppKey("forwarder", Forwarder)
METRICS: Final = web.AppKey("metrics", BridgeMetrics)
INTAKE: Final = web.AppKey[GroupCommit[Orders]]("intake")
