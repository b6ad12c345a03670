"""Demand files: a recorded or hand-written list of uses that replaces the consumption model.

The format is fixed by an outside spec. A demand file is CSV with the header line
``timestamp,item,quantity`` and then one row per use::

    timestamp,item,quantity
    2026-01-05T07:12:30Z,milk,250
    2026-01-05T07:15:00.5Z,coffee,18

``timestamp`` is ISO-8601 in UTC ending in ``Z`` (fractional seconds allowed), rows are in
time order (equal times are fine), ``item`` is the id of one of the scenario's items and
``quantity`` a number greater than 0 in that item's unit, used at that moment. Every row
lies within the scenario, from its start to its end inclusive.

A file is validated whole before any of it is used; the first mistake is refused with a
:class:`~simulators.errors.DemandError` naming the file, the line and what is wrong.
Blank lines at the end, CRLF line endings and a UTF-8 byte-order mark are tolerated.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime

from simulators.errors import DemandError
from simulators.household import Consumption
from simulators.scenario import Scenario, read_source

#: The header line the spec requires, column by column.
HEADER = ("timestamp", "item", "quantity")
_HEADER_LINE = ",".join(HEADER)

_TIMESTAMP = re.compile(
    r"(?P<local>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?)"
    r"(?P<zone>Z|[+-]\d{2}:?\d{2})?"
)
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


class _RowError(Exception):
    """What is wrong with one row; :func:`parse_demand` adds the file and the line."""


def load_demand(path: str | os.PathLike[str], scenario: Scenario) -> tuple[Consumption, ...]:
    """Read and validate the demand CSV at ``path`` against ``scenario``'s items and window."""
    source, text = read_source(path, what="demand file", error=DemandError)
    return parse_demand(text, source=source, scenario=scenario)


def parse_demand(text: str, *, source: str, scenario: Scenario) -> tuple[Consumption, ...]:
    """Validate demand CSV ``text``; ``source`` names it in error messages."""
    items = {item.id for item in scenario.items}
    uses: list[Consumption] = []
    previous_line = 0
    for line, row in _data_rows(text.removeprefix("\ufeff"), source):
        try:
            use = _parse_row(row, items)
            if not scenario.start <= use.ts <= scenario.end:
                raise _RowError(
                    f"timestamp {row[0]} is outside the scenario, which runs from"
                    f" {_iso(scenario.start)} to {_iso(scenario.end)}"
                )
            if uses and use.ts < uses[-1].ts:
                raise _RowError(
                    f"timestamp {row[0]} is before {_iso(uses[-1].ts)} on line {previous_line};"
                    " rows must be in time order"
                )
        except _RowError as exc:
            raise DemandError(f"{source}:{line}: {exc}") from None
        uses.append(use)
        previous_line = line
    return tuple(uses)


def _data_rows(text: str, source: str) -> Iterator[tuple[int, list[str]]]:
    """Each row after the header with the line it starts on; blank lines only at the end."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    blank_line = None
    try:
        header = next(reader, None)
        if header is None:
            raise DemandError(
                f"{source}:1: the file is empty; it needs the header {_HEADER_LINE!r}"
            )
        if tuple(header) != HEADER:
            raise DemandError(
                f"{source}:1: the header must be {_HEADER_LINE!r}, got {','.join(header)!r}"
            )
        next_line = reader.line_num + 1
        for row in reader:
            # A quoted field may span lines: report a row by the line it starts on.
            line, next_line = next_line, reader.line_num + 1
            if len(row) <= 1 and not "".join(row).strip():
                if blank_line is None:
                    blank_line = line
                continue
            if blank_line is not None:
                raise DemandError(f"{source}:{blank_line}: blank line before the last row")
            if len(row) != len(HEADER):
                raise DemandError(
                    f"{source}:{line}: expected {len(HEADER)} columns"
                    f" ({_HEADER_LINE}), got {len(row)}"
                )
            yield line, row
    except csv.Error as exc:
        raise DemandError(f"{source}:{reader.line_num}: malformed CSV: {exc}") from None


def _parse_row(row: list[str], items: set[str]) -> Consumption:
    stamp, item, quantity = row
    ts = _parse_timestamp(stamp)
    if item not in items:
        raise _RowError(f"unknown item {item!r} (the scenario has: {', '.join(sorted(items))})")
    return Consumption(ts=ts, item=item, quantity=_parse_quantity(quantity))


def _parse_timestamp(text: str) -> datetime:
    """``2026-01-05T07:12:30Z`` as an aware UTC datetime; other zones are refused, not converted."""
    match = _TIMESTAMP.fullmatch(text)
    try:
        stamp = datetime.fromisoformat(text) if match else None
    except ValueError:  # the right shape, but no such date or time: 2026-13-01, 24:00:00
        stamp = None
    if match is None or stamp is None:
        raise _RowError(f"timestamp {text!r} is not ISO-8601 UTC ending in Z")
    zone = match["zone"]
    if zone is None:
        raise _RowError(
            f"timestamp {text!r} has no time zone; write it in UTC ending in Z,"
            f" e.g. {match['local']}Z if it is UTC"
        )
    if zone != "Z":
        raise _RowError(
            f"timestamp {text!r} has offset {zone}; write it in UTC ending in Z,"
            f" e.g. {_iso(stamp.astimezone(UTC))}"
        )
    return stamp


def _parse_quantity(text: str) -> float:
    # float() would also take "nan", "inf", "1_000" and padding, none of which are numbers here.
    number = _NUMBER.fullmatch(text) is not None
    quantity = float(text) if number else math.nan
    if not (math.isfinite(quantity) and quantity > 0):
        shown = text if number else repr(text)
        raise _RowError(f"quantity must be a number greater than 0, got {shown}")
    return quantity


def _iso(ts: datetime) -> str:
    """``ts`` as the spec writes it: UTC ending in Z."""
    return ts.isoformat().replace("+00:00", "Z")
