"""Demand files: a valid CSV becomes uses, and every mistake names the file and the line."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from simulators.demand import load_demand, parse_demand
from simulators.errors import DemandError, ScenarioError
from simulators.household import Consumption
from simulators.scenario import HouseholdSpec, Scenario
from tests.items import COFFEE, MILK, T0

#: Three days from Monday 2026-01-05 00:00Z, with milk and coffee.
SCENARIO = Scenario(
    household=HouseholdSpec(id="flat-7", start=T0, days=3, seed=1), items=(MILK, COFFEE)
)

HEADER = "timestamp,item,quantity\n"


def write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "demand.csv"
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8", newline="")
    else:
        path.write_bytes(text)
    return path


def error_for(tmp_path: Path, text: str | bytes) -> str:
    """The message of the DemandError that loading ``text`` raises, after the file's path."""
    path = write(tmp_path, text)
    with pytest.raises(DemandError) as caught:
        load_demand(path, SCENARIO)
    message = str(caught.value)
    assert message.startswith(f"{path}:")
    return message.removeprefix(str(path))


def test_valid_file_gives_uses_in_order(tmp_path: Path) -> None:
    """Each row becomes one use at its moment, in the item's unit, in file order."""
    text = (
        HEADER + "2026-01-05T07:12:30Z,milk,250\n"
        "2026-01-05T07:12:30Z,coffee,18.5\n"
        "2026-01-06T19:00:00.25Z,milk,1e2\n"
    )
    assert load_demand(write(tmp_path, text), SCENARIO) == (
        Consumption(datetime(2026, 1, 5, 7, 12, 30, tzinfo=UTC), "milk", 250.0),
        Consumption(datetime(2026, 1, 5, 7, 12, 30, tzinfo=UTC), "coffee", 18.5),
        Consumption(datetime(2026, 1, 6, 19, 0, 0, 250000, tzinfo=UTC), "milk", 100.0),
    )


def test_header_only_means_no_uses(tmp_path: Path) -> None:
    """A file with the header and no rows is valid: the household uses nothing."""
    assert load_demand(write(tmp_path, HEADER), SCENARIO) == ()


def test_crlf_bom_and_trailing_blank_lines_are_tolerated(tmp_path: Path) -> None:
    """Windows line endings, a byte-order mark and blank lines at the end are accepted."""
    text = "\ufefftimestamp,item,quantity\r\n2026-01-05T08:00:00Z,milk,200\r\n\r\n\r\n"
    uses = load_demand(write(tmp_path, text), SCENARIO)
    assert [use.quantity for use in uses] == [200.0]


def test_window_is_inclusive(tmp_path: Path) -> None:
    """Rows exactly at the scenario's start and end are inside it."""
    text = HEADER + "2026-01-05T00:00:00Z,milk,1\n2026-01-08T00:00:00Z,milk,1\n"
    assert len(load_demand(write(tmp_path, text), SCENARIO)) == 2


def test_parse_demand_names_its_source() -> None:
    """Text already in memory is validated the same way, under the name given."""
    with pytest.raises(DemandError, match=r"^inline:2: unknown item"):
        parse_demand(HEADER + "2026-01-05T08:00:00Z,tea,1\n", source="inline", scenario=SCENARIO)


def test_demand_error_is_a_scenario_error() -> None:
    """Callers that handle bad scenarios handle bad demand files too."""
    assert issubclass(DemandError, ScenarioError)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ":1: the file is empty; it needs the header 'timestamp,item,quantity'"),
        (
            "time,item,qty\n",
            ":1: the header must be 'timestamp,item,quantity', got 'time,item,qty'",
        ),
        (
            "2026-01-05T08:00:00Z,milk,1\n",
            ":1: the header must be 'timestamp,item,quantity', got '2026-01-05T08:00:00Z,milk,1'",
        ),
        ("timestamp,item,quantity,note\n", ":1: the header must be"),
    ],
)
def test_missing_or_wrong_header_names_line_1(tmp_path: Path, text: str, expected: str) -> None:
    """The first line must be exactly the header the spec fixes."""
    assert error_for(tmp_path, text).startswith(expected)


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("2026-01-05T08:00:00Z,milk", "expected 3 columns (timestamp,item,quantity), got 2"),
        (
            "2026-01-05T08:00:00Z,milk,1,extra",
            "expected 3 columns (timestamp,item,quantity), got 4",
        ),
        (
            "2026-13-01T00:00:00Z,milk,1",
            "timestamp '2026-13-01T00:00:00Z' is not ISO-8601 UTC ending in Z",
        ),
        ("yesterday,milk,1", "timestamp 'yesterday' is not ISO-8601 UTC ending in Z"),
        ("2026-01-05,milk,1", "timestamp '2026-01-05' is not ISO-8601 UTC ending in Z"),
        ("2026-01-05 08:00:00Z,milk,1", "is not ISO-8601 UTC ending in Z"),
        ("2026-01-05T08:00:00z,milk,1", "is not ISO-8601 UTC ending in Z"),
        (
            "2026-01-05T08:00:00,milk,1",
            "timestamp '2026-01-05T08:00:00' has no time zone; write it in UTC ending in Z",
        ),
        (
            "2026-01-05T08:00:00+01:00,milk,1",
            "timestamp '2026-01-05T08:00:00+01:00' has offset +01:00; write it in UTC ending"
            " in Z, e.g. 2026-01-05T07:00:00Z",
        ),
        ("2026-01-05T08:00:00+00:00,milk,1", "has offset +00:00"),
        ("2026-01-05T08:00:00Z,mlik,1", "unknown item 'mlik' (the scenario has: coffee, milk)"),
        ("2026-01-05T08:00:00Z,milk,-2", "quantity must be a number greater than 0, got -2"),
        ("2026-01-05T08:00:00Z,milk,0", "quantity must be a number greater than 0, got 0"),
        ("2026-01-05T08:00:00Z,milk,lots", "greater than 0, got 'lots'"),
        ("2026-01-05T08:00:00Z,milk,", "greater than 0, got ''"),
        ("2026-01-05T08:00:00Z,milk,NaN", "greater than 0, got 'NaN'"),
        ("2026-01-05T08:00:00Z,milk,inf", "greater than 0, got 'inf'"),
        ("2026-01-05T08:00:00Z,milk,1e400", "greater than 0, got 1e400"),
        ("2026-01-05T08:00:00Z,milk,1_000", "greater than 0, got '1_000'"),
        (
            "2026-01-04T23:59:59Z,milk,1",
            "timestamp 2026-01-04T23:59:59Z is outside the scenario, which runs from"
            " 2026-01-05T00:00:00Z to 2026-01-08T00:00:00Z",
        ),
        ("2026-01-08T00:00:01Z,milk,1", "is outside the scenario"),
    ],
)
def test_bad_row_names_line_and_reason(tmp_path: Path, row: str, expected: str) -> None:
    """A bad row is refused with its line number and what is wrong with it."""
    text = HEADER + "2026-01-05T07:00:00Z,milk,1\n" + row + "\n"
    message = error_for(tmp_path, text)
    assert message.startswith(":3: ")
    assert expected in message


def test_out_of_order_row_names_the_previous_line(tmp_path: Path) -> None:
    """A row earlier than the one before it names both lines."""
    text = (
        HEADER + "2026-01-05T07:00:00Z,milk,1\n"
        "2026-01-05T09:00:00Z,milk,1\n"
        "2026-01-05T08:00:00Z,coffee,1\n"
    )
    assert error_for(tmp_path, text) == (
        ":4: timestamp 2026-01-05T08:00:00Z is before 2026-01-05T09:00:00Z on line 3;"
        " rows must be in time order"
    )


def test_a_late_error_refuses_the_whole_file(tmp_path: Path) -> None:
    """Nothing is returned for a file whose last row is bad: it is validated whole."""
    rows = "".join(f"2026-01-05T{hour:02}:00:00Z,milk,1\n" for hour in range(20))
    assert error_for(tmp_path, HEADER + rows + "2026-01-05T21:00:00Z,milk,0\n").startswith(
        ":22: quantity"
    )


def test_blank_line_inside_the_data_is_refused(tmp_path: Path) -> None:
    """Only trailing blank lines are ignored; a gap between rows names the blank line."""
    text = HEADER + "2026-01-05T07:00:00Z,milk,1\n\n2026-01-05T08:00:00Z,milk,1\n"
    assert error_for(tmp_path, text) == ":3: blank line before the last row"


def test_malformed_quoting_names_the_line(tmp_path: Path) -> None:
    """Broken CSV quoting is reported as such, with its line."""
    text = HEADER + '2026-01-05T07:00:00Z,"milk"x,1\n'
    assert error_for(tmp_path, text).startswith(":2: malformed CSV: ")


def test_non_utf8_file_names_the_line(tmp_path: Path) -> None:
    """Bytes that are not UTF-8 are refused with the line they are on."""
    data = HEADER.encode() + b"2026-01-05T07:00:00Z,milk,1\n2026-01-05T08:00:00Z,caf\xe9,1\n"
    assert error_for(tmp_path, data).startswith(":3: demand file is not UTF-8 text")


def test_unreadable_file_is_a_demand_error(tmp_path: Path) -> None:
    """A file that cannot be read is reported with its path and the reason."""
    with pytest.raises(DemandError, match=r"nope\.csv: cannot read demand file: "):
        load_demand(tmp_path / "nope.csv", SCENARIO)


def test_row_spanning_lines_is_named_by_its_first_line(tmp_path: Path) -> None:
    """A quoted field with a line break in it: the row's first line is the one named."""
    text = HEADER + '2026-01-05T07:00:00Z,"mi\nlk",1\n'
    assert error_for(tmp_path, text).startswith(":2: unknown item 'mi\\nlk'")
