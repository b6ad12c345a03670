from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.brokers import BrokerAddress, in_ci, mosquitto_binary, run_amqtt, run_mosquitto


@pytest.fixture(params=["mosquitto", "amqtt"])
async def broker(request: pytest.FixtureRequest) -> AsyncIterator[BrokerAddress]:
    """A real, private MQTT broker: Mosquitto 2 and the embedded amqtt broker in turn.

    Mosquitto tests skip on a developer machine without it, but fail in CI, which
    installs it: they must run there.
    """
    if request.param == "mosquitto":
        if mosquitto_binary() is None and not in_ci():
            pytest.skip("mosquitto is not installed; CI installs it")
        async with run_mosquitto() as address:
            yield address
    else:
        async with run_amqtt() as address:
            yield address
