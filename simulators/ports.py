"""Loopback ports for servers the simulators and tests start."""

from __future__ import annotations

import random
import socket

#: Where ports are picked: below Linux's default ephemeral range (32768-60999), from
#: which the kernel takes the source port of every outgoing connection. A port picked
#: there can be taken by one between being picked and being bound (a demo run beside
#: the tests lost its bridge's port so).
PORTS = range(20000, 32768)
TRIES = 50


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now, outside the ephemeral range if it
    can find one there (else any the kernel gives)."""
    for port in random.sample(PORTS, TRIES):
        with socket.socket() as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return port
    with socket.socket() as sock:
        sock.bind((host, 0))
        given: int = sock.getsockname()[1]
        return given
