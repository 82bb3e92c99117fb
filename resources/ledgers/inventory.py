"""SQL of the inventory flow: landed levels, read watermarks, pending demand, the
`inventory_pushes` ledger, mismatches and drift.

Levels are landed by COPY with the value they replace kept in `known_available`, so a
full reconciliation can say what shopsync believed before it looked (the drift report).
A full read stamps every row it saw with its `read_at` and deletes the rest of that
store's rows in the same transaction: an item gone from Shopify is gone here too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pandas as pd
import psycopg

from resources.ledgers.states import InventoryPushState as State
from resources.postgres import copy_upsert

HUB_COLUMNS = ("item_id", "sku", "available", "updated_at", "read_at")
RETAILER_COLUMNS = (
    "retailer", "item_id", "location_id", "sku", "stocked", "active", "available",
    "updated_at", "read_at",
)  # fmt: skip
_REMEMBER = {"known_available": "available"}


@dataclass(frozen=True)
class Level:
    """One level as read: an item at a location (or, `stocked=False`, an item of the
    store's catalogue that has no level there)."""

    item_id: str
    sku: str | None
    available: int | None
    updated_at: datetime | None = None
    active: bool = True
    stocked: bool = True


@dataclass(frozen=True)
class ReadState:
    """When a store's levels at one location were last read."""

    delta_from: datetime | None = None
    last_read_at: datetime | None = None
    last_full_at: datetime | None = None
    updated_at_moves: bool | None = None

    def full_due(self, now: datetime, every: timedelta) -> bool:
        """A full read is due: never done, older than `every`, or deltas are blind."""
        return (
            self.last_full_at is None
            or now - self.last_full_at >= every
            or self.updated_at_moves is False
        )


def read_state(conn: psycopg.Connection, store: str, location_id: str) -> ReadState:
    row = conn.execute(
        "SELECT delta_from, last_read_at, last_full_at, updated_at_moves"
        " FROM shopsync.inventory_reads WHERE store = %s AND location_id = %s",
        (store, location_id),
    ).fetchone()
    return ReadState(*row) if row else ReadState()


def record_read(
    conn: psycopg.Connection, store: str, location_id: str, started_at: datetime, *, full: bool
) -> None:
    """A read that started at `started_at` completed: the next delta starts there."""
    conn.execute(
        """INSERT INTO shopsync.inventory_reads
               (store, location_id, delta_from, last_read_at, last_full_at)
           VALUES (%(s)s, %(l)s, %(t)s, %(t)s, CASE WHEN %(f)s THEN %(t)s::timestamptz END)
           ON CONFLICT (store, location_id) DO UPDATE SET
               delta_from = EXCLUDED.delta_from, last_read_at = EXCLUDED.last_read_at,
               last_full_at = coalesce(EXCLUDED.last_full_at, inventory_reads.last_full_at)""",
        {"s": store, "l": location_id, "t": started_at, "f": full},
    )


def record_updated_at_moves(
    conn: psycopg.Connection, store: str, location_id: str, moves: bool
) -> None:
    conn.execute(
        "UPDATE shopsync.inventory_reads SET updated_at_moves = %s"
        " WHERE store = %s AND location_id = %s",
        (moves, store, location_id),
    )


def land_hub_levels(
    conn: psycopg.Connection, levels: Iterable[Level], read_at: datetime, *, full: bool
) -> int:
    """Upsert the hub's levels at its warehouse; a full read also drops every level it
    did not see."""
    rows = [(lv.item_id, lv.sku, lv.available or 0, lv.updated_at, read_at) for lv in levels]
    with conn.transaction():
        landed = _upsert(conn, "shopsync.hub_inventory", HUB_COLUMNS, rows, ("item_id",))
        if full:
            conn.execute("DELETE FROM shopsync.hub_inventory WHERE read_at < %s", (read_at,))
    return landed


def land_retailer_levels(
    conn: psycopg.Connection,
    retailer: str,
    location_id: str,
    levels: Iterable[Level],
    read_at: datetime,
    *,
    full: bool,
) -> int:
    """Upsert a retailer's items at its hub location; a full read also drops the rest."""
    rows = [
        (retailer, lv.item_id, location_id, lv.sku, lv.stocked, lv.active, lv.available,
         lv.updated_at, read_at)
        for lv in levels
    ]  # fmt: skip
    with conn.transaction():
        landed = _upsert(
            conn, "shopsync.retailer_inventory", RETAILER_COLUMNS, rows, ("retailer", "item_id")
        )
        if full:
            conn.execute(
                "DELETE FROM shopsync.retailer_inventory WHERE retailer = %s AND read_at < %s",
                (retailer, read_at),
            )
    return landed


def _upsert(conn, table: str, columns: Sequence[str], rows: list, keys: Sequence[str]) -> int:
    updated = [c for c in columns if c not in keys]
    return copy_upsert(conn, table, columns, rows, keys, updated, keep_previous=_REMEMBER)


def set_retailer_available(
    conn: psycopg.Connection, retailer: str, written: Iterable[tuple[str, int]]
) -> None:
    """What our applied writes left at the retailer (so the next diff starts from it)."""
    written = list(written)
    if written:
        conn.execute(
            "UPDATE shopsync.retailer_inventory r SET available = w.qty"
            " FROM unnest(%s::text[], %s::int[]) AS w(item_id, qty)"
            " WHERE r.retailer = %s AND r.item_id = w.item_id",
            ([i for i, _ in written], [q for _, q in written], retailer),
        )


def landed_count(conn: psycopg.Connection, retailer: str | None) -> int:
    """Rows landed for a retailer (None: the hub): decides whether a full read is bulk."""
    if retailer is None:
        return conn.execute("SELECT count(*) FROM shopsync.hub_inventory").fetchone()[0]
    return conn.execute(
        "SELECT count(*) FROM shopsync.retailer_inventory WHERE retailer = %s", (retailer,)
    ).fetchone()[0]


def mark_not_stocked(conn: psycopg.Connection, retailer: str, item_ids: Iterable[str]) -> None:
    """Shopify said these items are not stocked at the hub location: not paired again
    until a full read finds them stocked (never a write loop, FAULTS I4)."""
    conn.execute(
        "UPDATE shopsync.retailer_inventory SET stocked = false, available = NULL"
        " WHERE retailer = %s AND item_id = ANY(%s)",
        (retailer, list(item_ids)),
    )


def hub_levels(conn: psycopg.Connection) -> pd.DataFrame:
    """The hub snapshot: item_id, sku, available, known_available."""
    return _frame(
        conn,
        "SELECT item_id, sku, available, known_available FROM shopsync.hub_inventory",
        (),
        ["item_id", "sku", "available", "known_available"],
    )


def retailer_levels(conn: psycopg.Connection, retailer: str, location_id: str) -> pd.DataFrame:
    """A retailer's items at `location_id` (rows landed for another location, before the
    registry's hub location changed, are not there)."""
    return _frame(
        conn,
        "SELECT item_id, sku, available, known_available, active, stocked"
        " FROM shopsync.retailer_inventory WHERE retailer = %s AND location_id = %s",
        (retailer, location_id),
        ["item_id", "sku", "available", "known_available", "active", "stocked"],
    )


def _frame(conn, query: str, params: tuple, columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(conn.execute(query, params).fetchall(), columns=columns)


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: Reasons a landed retailer order will not ship from the hub: not pending demand.
NOT_DEMAND = ("cancelled", "payment_void", "not_for_hub", "nothing_to_ship")


#: Shopify stamps `updatedAt` in whole seconds and we stamp a hub order's creation
#: after its response: a level this close before the creation already carries it.
CLOCK_TOLERANCE = timedelta(seconds=5)


def pending_units(
    conn: psycopg.Connection, *, include_unpaid: bool, hub_as_of: datetime | None
) -> dict[str, int]:
    """Units per SKU, across every retailer, of orders at their hub location that the hub
    may still have to ship and that the hub snapshot does not carry yet: waiting,
    quarantined, claimed-not-created, refused by the hub, (by default) unpaid, and hub
    orders created after the snapshot's level of that SKU last moved. A hub order the
    snapshot carries (its level moved at or after the creation, or the read started
    `hub_as_of` after it) is in the hub's own `available` and is not subtracted again
    (FAULTS I8, I10)."""
    rows = conn.execute(
        """
        WITH hub AS (
            SELECT sku, max(updated_at) AS moved FROM shopsync.hub_inventory GROUP BY sku
        )
        SELECT l.sku, sum(l.hub_quantity)::int
          FROM shopsync.retailer_orders o
          JOIN shopsync.retailer_order_lines l
            ON l.retailer = o.retailer AND l.order_gid = o.order_gid
          LEFT JOIN shopsync.order_links k
            ON k.retailer = o.retailer AND k.retailer_order_gid = o.order_gid
          LEFT JOIN hub h ON h.sku = l.sku
         WHERE o.cancelled_at IS NULL
           AND o.status IN ('eligible', 'waiting', 'quarantined')
           AND coalesce(o.reason, '') <> ALL(%(not_demand)s)
           AND (%(unpaid)s OR coalesce(o.reason, '') <> 'unpaid')
           AND (k.state IS NULL OR k.state IN ('claimed', 'failed') OR k.created_at IS NULL
                OR (k.created_at >= %(as_of)s
                    AND (h.moved IS NULL OR h.moved < k.created_at - %(tolerance)s)))
           AND l.hub_quantity > 0 AND l.sku IS NOT NULL
         GROUP BY l.sku
        """,
        {
            "not_demand": list(NOT_DEMAND),
            "unpaid": include_unpaid,
            "as_of": hub_as_of or EPOCH,
            "tolerance": CLOCK_TOLERANCE,
        },
    ).fetchall()
    return dict(rows)


@dataclass(frozen=True)
class PushEntry:
    """One entry of one inventorySetQuantities call, as claimed in the ledger."""

    entry_key: str
    batch_key: str
    retailer: str
    item_id: str
    location_id: str
    sku: str | None
    from_qty: int | None
    to_qty: int


def claim(conn: psycopg.Connection, entries: Sequence[PushEntry], run_id: str | None) -> None:
    """Commit the entries as `claimed` before the call (a retry of the same write finds
    its row, counts an attempt and is open again until settled)."""
    with conn.transaction():
        conn.cursor().executemany(
            """INSERT INTO shopsync.inventory_pushes
                   (entry_key, batch_key, retailer, item_id, location_id, sku, from_qty,
                    to_qty, run_id, state, attempts)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, 'claimed', 1)
               ON CONFLICT (entry_key) DO UPDATE SET attempts = inventory_pushes.attempts + 1,
                   batch_key = EXCLUDED.batch_key, state = 'claimed', reason = NULL,
                   settled_at = NULL""",
            [
                (e.entry_key, e.batch_key, e.retailer, e.item_id, e.location_id, e.sku,
                 e.from_qty, e.to_qty, run_id)
                for e in entries
            ],
        )  # fmt: skip


def settle(
    conn: psycopg.Connection, entry_keys: Iterable[str], state: State, reason: str | None = None
) -> None:
    keys = list(entry_keys)
    if keys:
        conn.execute(
            "UPDATE shopsync.inventory_pushes SET state = %s, reason = %s, settled_at = now()"
            " WHERE entry_key = ANY(%s)",
            (state.value, reason, keys),
        )


def open_claims(conn: psycopg.Connection, retailer: str) -> list[tuple[str, str, int]]:
    """(entry_key, item_id, to_qty) of writes claimed by an earlier attempt and never settled."""
    return conn.execute(
        "SELECT entry_key, item_id, to_qty FROM shopsync.inventory_pushes"
        " WHERE retailer = %s AND state = 'claimed' ORDER BY claimed_at",
        (retailer,),
    ).fetchall()


def applied_items_between(
    conn: psycopg.Connection, retailer: str, since: datetime, until: datetime
) -> set[str]:
    """Items whose write to the retailer was applied in [since, until): a delta read
    from `since` must return them if the store's `updatedAt` moves on quantity changes."""
    rows = conn.execute(
        "SELECT DISTINCT item_id FROM shopsync.inventory_pushes WHERE retailer = %s"
        " AND state = 'applied' AND settled_at >= %s AND settled_at < %s",
        (retailer, since, until),
    ).fetchall()
    return {r[0] for r in rows}


def pushes_of_run(conn: psycopg.Connection, run_id: str, retailer: str) -> pd.DataFrame:
    """The run's writes for a retailer: sku, item_id, from_qty, to_qty, state, reason."""
    return _frame(
        conn,
        "SELECT sku, item_id, from_qty, to_qty, state, reason FROM shopsync.inventory_pushes"
        " WHERE run_id = %s AND retailer = %s ORDER BY claimed_at, entry_key",
        (run_id, retailer),
        ["sku", "item_id", "from_qty", "to_qty", "state", "reason"],
    )


def replace_mismatches(conn: psycopg.Connection, retailer: str, mismatches: pd.DataFrame) -> None:
    """The retailer's current mismatches (first_seen kept for those still there)."""
    rows = [(retailer, r.sku, r.kind, r.detail or "") for r in mismatches.itertuples()]
    with conn.transaction():
        conn.execute(
            "DELETE FROM shopsync.inventory_mismatches WHERE retailer = %s"
            " AND (sku, kind) NOT IN (SELECT * FROM unnest(%s::text[], %s::text[]))",
            (retailer, [r[1] for r in rows], [r[2] for r in rows]),
        )
        conn.cursor().executemany(
            "INSERT INTO shopsync.inventory_mismatches (retailer, sku, kind, detail)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT (retailer, sku, kind)"
            " DO UPDATE SET last_seen = now(), detail = EXCLUDED.detail",
            rows,
        )


def record_drift(
    conn: psycopg.Connection, retailer: str, run_id: str | None, drift: pd.DataFrame
) -> None:
    conn.cursor().executemany(
        "INSERT INTO shopsync.inventory_drift"
        " (retailer, run_id, sku, item_id, known, found, target, cause)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        [
            (retailer, run_id, r.sku, r.item_id, None if pd.isna(r.known) else int(r.known),
             int(r.found), int(r.target), r.cause)
            for r in drift.itertuples()
        ],
    )  # fmt: skip
