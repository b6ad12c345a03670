"""The agent's SQLite state, through sqlite-utils: raw readings, the order outbox, and
each item's latest outlook.

Raw readings stay on the device. An order is written here before it is ever sent, and
stays ``queued`` until the bridge confirms it, so a power cut can neither lose it nor,
since it keeps its ``request_id``, make the bridge place it twice. An order the
household's budget holds is ``awaiting_approval``, and never sent, until it is approved
(then ``queued``) or ``declined``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlite_utils

from edge_agent.budget import AWAITING_APPROVAL, DECLINED
from edge_agent.clock import isoformat_z
from edge_agent.core import OrderDecision
from edge_agent.errors import ApprovalError, ProtocolError
from edge_agent.policy import LinePlan
from edge_agent.protocol import FINAL_STATUSES, ItemOutlook, Reading, decode_item_outlook, encode

#: Local status of an order the bridge has not confirmed yet.
QUEUED = "queued"
#: Statuses of orders that will never arrive, or already have.
CLOSED: frozenset[str] = FINAL_STATUSES | {DECLINED}


@dataclass(frozen=True, slots=True)
class StoredOrder:
    """An order as the outbox holds it."""

    decision: OrderDecision
    status: str
    bridge_order_id: str | None
    attempts: int
    last_error: str | None
    #: The explanation as stored when the order was decided.
    explanation: str = ""
    updated_at: datetime | None = None
    #: When the household approved it, if the budget held it.
    approved_at: datetime | None = None

    @property
    def confirmed(self) -> bool:
        """Whether the bridge has it: neither still to send, held, nor declined."""
        return self.status not in (QUEUED, AWAITING_APPROVAL, DECLINED)


class AgentStore:
    """Readings and orders of one household's agent.

    ``AgentStore("agent.db")`` opens a file (in WAL mode); ``AgentStore(memory=True)``
    an in-memory database for tests.
    """

    def __init__(self, path: str | Path | None = None, *, memory: bool = False) -> None:
        if (path is None) == (not memory):
            raise ValueError("give AgentStore a path or memory=True, not both")
        self.db = sqlite_utils.Database(memory=True) if memory else sqlite_utils.Database(path)
        if not memory:
            self.db.enable_wal()
        self._create()

    def close(self) -> None:
        self.db.close()

    def _create(self) -> None:
        readings = self.db.table("readings")
        if not readings.exists():
            readings.create(
                {
                    "id": int,
                    "ts": str,
                    "device": str,
                    "item": str,
                    "value": float,
                    "unit": str,
                    "seq": int,
                },
                pk="id",
            )
            readings.create_index(["item", "ts"])
        orders = self.db.table("orders")
        if not orders.exists():
            orders.create(
                {
                    "request_id": str,
                    "created_at": str,
                    "lines": str,
                    "explanation": str,
                    "status": str,
                    "bridge_order_id": str,
                    "attempts": int,
                    "last_error": str,
                    "updated_at": str,
                    "note": str,
                    "approved_at": str,
                },
                pk="request_id",
                not_null={"created_at", "lines", "status"},
            )
            orders.create_index(["status"])
        for column in ("note", "approved_at"):  # added after the first release
            if column not in orders.columns_dict:
                orders.add_column(column, str)
        outlooks = self.db.table("outlooks")
        if not outlooks.exists():
            outlooks.create({"item": str, "ts": str, "outlook": str}, pk="item")

    # --- readings -----------------------------------------------------------------

    def add_reading(self, device: str, item: str, reading: Reading) -> None:
        self.db.table("readings").insert(
            {
                "ts": isoformat_z(reading.ts),
                "device": device,
                "item": item,
                "value": reading.value,
                "unit": reading.unit,
                "seq": reading.seq,
            }
        )

    def count_readings(self) -> int:
        return self.db.table("readings").count

    def readings_since(self, since: datetime) -> Iterator[tuple[str, Reading]]:
        """Stored readings at or after ``since``, oldest first, as (item, reading)."""
        rows = self.db.query(
            "select item, ts, value, unit, seq from readings where ts >= ? order by ts, id",
            [isoformat_z(since)],
        )
        for row in rows:
            reading = Reading(
                ts=datetime.fromisoformat(row["ts"]),
                value=row["value"],
                unit=row["unit"],
                seq=row["seq"],
            )
            yield row["item"], reading

    # --- orders -------------------------------------------------------------------

    def save_order(self, decision: OrderDecision, now: datetime) -> None:
        """Write a new order to the outbox. Saving the same ``request_id`` twice is an error.

        An order the budget holds is saved ``awaiting_approval``: the outbox skips it.
        """
        lines = [
            {"item": x.item, "packs": x.packs, "explanation": x.explanation} for x in decision.lines
        ]
        self.db.table("orders").insert(
            {
                "request_id": decision.request_id,
                "created_at": isoformat_z(decision.created_at),
                "lines": json.dumps(lines),
                "explanation": decision.explanation,
                "status": AWAITING_APPROVAL if decision.awaiting_approval else QUEUED,
                "bridge_order_id": None,
                "attempts": 0,
                "last_error": None,
                "updated_at": isoformat_z(now),
                "note": decision.note,
                "approved_at": None,
            }
        )

    def approve(self, request_id: str, now: datetime) -> None:
        """Queue an order that awaits approval; the agent sends it with its own id."""
        self._decide_held(request_id, QUEUED, now, approved=True)

    def decline(self, request_id: str, now: datetime) -> None:
        """Decline an order that awaits approval; it is never sent."""
        self._decide_held(request_id, DECLINED, now, approved=False)

    def _decide_held(self, request_id: str, status: str, now: datetime, *, approved: bool) -> None:
        stamp = isoformat_z(now)
        cursor = self.db.execute(
            "update orders set status = ?, updated_at = ?, approved_at = ?"
            " where request_id = ? and status = ?",
            [status, stamp, stamp if approved else None, request_id, AWAITING_APPROVAL],
        )
        if cursor.rowcount == 1:
            return
        current = self.status(request_id)
        if current is None:
            raise ApprovalError(f"no order {request_id!r} in this agent's database")
        raise ApprovalError(f"order {request_id!r} is {current}, not awaiting approval")

    def status(self, request_id: str) -> str | None:
        """The local status of an order; ``None`` for an unknown one."""
        rows = list(self.db.query("select status from orders where request_id = ?", [request_id]))
        return str(rows[0]["status"]) if rows else None

    def record_attempt(self, request_id: str, error: str, now: datetime) -> None:
        """Count a failed send; the order stays queued and will be sent again."""
        self.db.execute(
            "update orders set attempts = attempts + 1, last_error = ?, updated_at = ?"
            " where request_id = ?",
            [error, isoformat_z(now), request_id],
        )

    def confirm(self, request_id: str, bridge_order_id: str, status: str, now: datetime) -> None:
        """The bridge has the order: it will not be sent again.

        A status that a downlink update already moved past ``queued`` is kept.
        """
        self.db.execute(
            "update orders set status = case when status = 'queued' then ? else status end,"
            " bridge_order_id = ?, attempts = attempts + 1,"
            " last_error = null, updated_at = ? where request_id = ?",
            [status, bridge_order_id, isoformat_z(now), request_id],
        )

    def set_status(self, request_id: str, status: str, now: datetime) -> None:
        self.db.execute(
            "update orders set status = ?, updated_at = ? where request_id = ?",
            [status, isoformat_z(now), request_id],
        )

    def request_id_for(self, bridge_order_id: str) -> str | None:
        rows = list(
            self.db.query(
                "select request_id from orders where bridge_order_id = ?", [bridge_order_id]
            )
        )
        return rows[0]["request_id"] if rows else None

    def orders(
        self, *, queued_only: bool = False, open_only: bool = False, awaiting_only: bool = False
    ) -> list[StoredOrder]:
        """Orders oldest first; ``queued_only`` for the outbox, ``open_only`` for unfinished,
        ``awaiting_only`` for those held until the household approves them.

        The filter runs in SQL: the outbox asks on every pass, and the table keeps every
        order the household ever placed.
        """
        where, params = "", []
        if queued_only:
            where, params = "where status = ?", [QUEUED]
        elif awaiting_only:
            where, params = "where status = ?", [AWAITING_APPROVAL]
        elif open_only:
            params = sorted(CLOSED)
            where = f"where status not in ({', '.join('?' * len(params))})"
        sql = f"select * from orders {where} order by created_at, request_id"
        return [_order_from_row(row) for row in self.db.query(sql, params)]

    # --- outlooks -----------------------------------------------------------------

    def save_outlook(self, outlook: ItemOutlook) -> None:
        """Keep ``outlook`` as its item's latest, as published (``docs/protocol.md``)."""
        self.db.table("outlooks").upsert(
            {
                "item": outlook.item,
                "ts": isoformat_z(outlook.ts),
                "outlook": encode(outlook).decode(),
            },
            pk="item",
        )

    def outlooks(self) -> list[ItemOutlook]:
        """Each item's latest outlook, by item id; one that no longer reads is skipped."""
        found = []
        for row in self.db.query("select outlook from outlooks order by item"):
            try:
                found.append(decode_item_outlook(str(row["outlook"]).encode()))
            except ProtocolError:
                continue  # written by another version; the running agent replaces it
        return found

    def outlook_items(self) -> list[str]:
        """The items an outlook is kept for, read or not."""
        return [str(row["item"]) for row in self.db.query("select item from outlooks")]

    def forget_outlook(self, item: str) -> None:
        """Drop ``item``'s kept outlook (the item left the catalog)."""
        self.db.execute("delete from outlooks where item = ?", [item])

    def orders_for_restart(self, since: datetime) -> list[StoredOrder]:
        """What a restart rebuilds the brain from: unfinished orders, and every order
        created or changed at or after ``since`` (this month's spending, recent refusals).
        """
        closed = sorted(CLOSED)
        stamp = isoformat_z(since)
        sql = (
            f"select * from orders where status not in ({', '.join('?' * len(closed))})"
            " or created_at >= ? or updated_at >= ? order by created_at, request_id"
        )
        return [_order_from_row(row) for row in self.db.query(sql, [*closed, stamp, stamp])]


def _order_from_row(row: dict[str, object]) -> StoredOrder:
    lines = tuple(
        LinePlan(item=line["item"], packs=line["packs"], explanation=line["explanation"])
        for line in json.loads(str(row["lines"]))
    )
    status = str(row["status"])
    decision = OrderDecision(
        request_id=str(row["request_id"]),
        created_at=datetime.fromisoformat(str(row["created_at"])),
        lines=lines,
        awaiting_approval=status == AWAITING_APPROVAL,
        note=str(row["note"] or ""),
    )
    bridge_id = row["bridge_order_id"]
    error = row["last_error"]
    return StoredOrder(
        decision=decision,
        status=status,
        bridge_order_id=None if bridge_id is None else str(bridge_id),
        attempts=int(str(row["attempts"] or 0)),
        last_error=None if error is None else str(error),
        explanation=str(row["explanation"] or decision.explanation),
        updated_at=_instant(row["updated_at"]),
        approved_at=_instant(row["approved_at"]),
    )


def _instant(value: object) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))
