"""Recorded device messages: the JSON Lines file ``restock simulate --out`` writes.

One line per MQTT message, in publish order::

    {"at":"2026-01-05T07:12:30Z","topic":"restock/v1/demo/fridge/milk/reading","payload":{...},"retain":false}

``at`` is when the device published it, ``payload`` is the reading object of
docs/protocol.md, or the string ``"online"``/``"offline"`` for availability. The encoding
is deterministic, so the same scenario and seed give the same bytes.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

import msgspec

from edge_agent.clock import isoformat_z
from simulators.errors import SimulatorError
from simulators.firmware import Message


class _Record(msgspec.Struct, frozen=True):
    at: str
    topic: str
    payload: msgspec.Raw
    retain: bool


class _ReadRecord(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    at: datetime
    topic: str
    payload: msgspec.Raw
    retain: bool = False


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(_ReadRecord)


def encode_message(message: Message) -> bytes:
    """One message as one JSON line, newline included."""
    payload = message.payload
    if not payload.startswith(b"{"):
        # Availability is a bare word on the wire; a JSON string in the file.
        payload = _ENCODER.encode(payload.decode())
    record = _Record(isoformat_z(message.at), message.topic, msgspec.Raw(payload), message.retain)
    return _ENCODER.encode(record) + b"\n"


def write_messages(messages: Iterable[Message], out: BinaryIO) -> int:
    """Write ``messages`` to ``out`` as JSON Lines; return how many were written."""
    count = 0
    for message in messages:
        out.write(encode_message(message))
        count += 1
    return count


def read_messages(path: str | os.PathLike[str]) -> Iterator[Message]:
    """The messages recorded at ``path``, in order, as published."""
    source = os.fspath(path)
    with Path(source).open("rb") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = _DECODER.decode(line)
                payload = bytes(record.payload)
                if payload.startswith(b'"'):
                    payload = msgspec.json.decode(payload, type=str).encode()
            except msgspec.DecodeError as exc:
                raise SimulatorError(f"{source}:{number}: not a recorded message: {exc}") from None
            yield Message(at=record.at, topic=record.topic, payload=payload, retain=record.retain)
