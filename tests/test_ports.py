"""Ports picked for loopback servers."""

from __future__ import annotations

import socket

import pytest

from simulators import ports
from simulators.ports import PORTS, free_port


def test_a_port_is_picked_outside_the_range_outgoing_connections_take() -> None:
    port = free_port()
    assert port in PORTS
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_with_no_port_free_there_the_kernel_gives_one(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        busy = taken.getsockname()[1]
        monkeypatch.setattr(ports, "PORTS", range(busy, busy + 1))
        monkeypatch.setattr(ports, "TRIES", 1)
        port = ports.free_port()
    assert port != busy
    assert port > 0
