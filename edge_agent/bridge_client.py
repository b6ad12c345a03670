"""HTTP out to the cloud bridge: signed order placement."""

from __future__ import annotations

import json
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import aiohttp

from cloud_bridge.payloads import MAX_EXPLANATION
from edge_agent.clock import Clock, SystemClock
from edge_agent.core import OrderDecision
from edge_agent.errors import BridgeError
from edge_agent.webhooks import DEVICE_HEADER, HOUSEHOLD_HEADER, sign


@dataclass(frozen=True, slots=True)
class PlacedOrder:
    """The bridge's answer to an order: its id there, and its status."""

    order_id: str
    status: str


class BridgeClient:
    """A session with the bridge, as one device of one household.

    ``signing_clock`` stamps signatures. It is real time even in a simulation, since the
    bridge's five-minute replay window is about the network, not the household.
    """

    def __init__(
        self,
        base_url: str,
        *,
        household: str,
        device: str,
        secret: str,
        signing_clock: Clock | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.household = household
        self.device = device
        self._secret = secret
        self._signing_clock = signing_clock or SystemClock()
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        if self._session is not None:
            raise RuntimeError("BridgeClient is already open")
        self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def place_order(self, decision: OrderDecision) -> PlacedOrder:
        """Send an order; the same ``request_id`` always yields the same bridge order.

        Raises :class:`BridgeError` with the HTTP status (``None`` if unreachable).
        """
        if self._session is None:
            raise RuntimeError("BridgeClient is not open: use 'async with'")
        body = json.dumps(
            {
                "lines": [{"item": line.item, "packs": line.packs} for line in decision.lines],
                "explanation": _clip(decision.explanation, MAX_EXPLANATION),
            }
        ).encode()
        headers = sign(self._secret, decision.request_id, self._signing_clock.now(), body)
        headers |= {
            HOUSEHOLD_HEADER: self.household,
            DEVICE_HEADER: self.device,
            "content-type": "application/json",
        }
        try:
            async with self._session.post(
                f"{self.base_url}/v1/orders", data=body, headers=headers
            ) as response:
                text = await response.text()
                if response.status not in (200, 201):
                    raise BridgeError(
                        f"bridge refused order {decision.request_id}:"
                        f" HTTP {response.status} {text[:200]}",
                        status=response.status,
                    )
                data = json.loads(text)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise BridgeError(f"bridge unreachable: {exc!r}") from None
        except json.JSONDecodeError:
            raise BridgeError("bridge answered with invalid JSON") from None
        try:
            return PlacedOrder(order_id=str(data["order_id"]), status=str(data["status"]))
        except (KeyError, TypeError):
            raise BridgeError("bridge answer lacks order_id or status") from None


def _clip(text: str, limit: int) -> str:
    # The bridge's limit; the agent keeps the full text in its own store.
    return text if len(text) <= limit else text[: limit - 1] + "…"
