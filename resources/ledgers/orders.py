"""SQL for landed retailer orders and the `order_links` ledger.

The ledger is what makes hub order creation exactly-once: Shopify's
`orderCreate` has no idempotency key, so a row is *claimed* (and committed)
before the mutation, and a claimed row found later means "a previous attempt
may have created the hub order: look before creating again".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from resources.ledgers.states import OrderLinkState as State
from resources.postgres import copy_upsert

ORDER_COLUMNS = (
    "retailer",
    "order_gid",
    "name",
    "created_at",
    "updated_at",
    "cancelled_at",
    "financial_status",
    "status",
    "reason",
    "message",
    "raw",
    "last_seen_at",
    "last_run_id",
)
LINE_COLUMNS = ("retailer", "order_gid", "line_gid", "sku", "quantity", "hub_quantity", "raw")


@dataclass(frozen=True)
class LandedOrder:
    """One retailer order row ready to land (classification included)."""

    retailer: str
    order_gid: str
    name: str
    created_at: datetime
    updated_at: datetime
    cancelled_at: datetime | None
    financial_status: str | None
    status: str
    reason: str | None
    message: str | None
    raw: dict[str, Any]
    lines: list[tuple[str, str | None, int, int, dict[str, Any]]]  # gid, sku, qty, hub qty, raw


@dataclass(frozen=True)
class OrderLink:
    retailer: str
    retailer_order_gid: str
    source_key: str
    state: State
    hub_order_gid: str | None
    claimed_at: datetime
    attempts: int

    @classmethod
    def of(cls, row: tuple) -> OrderLink:
        return cls(*row[:3], State(row[3]), *row[4:])


_LINK = "retailer, retailer_order_gid, source_key, state, hub_order_gid, claimed_at, attempts"


def land_orders(conn: psycopg.Connection, orders: Iterable[LandedOrder], run_id: str | None) -> int:
    """Upsert orders and replace their lines, in one transaction, by COPY."""
    orders = list(orders)
    if not orders:
        return 0
    with conn.transaction():
        copy_upsert(
            conn,
            "shopsync.retailer_orders",
            ORDER_COLUMNS,
            (
                (
                    o.retailer,
                    o.order_gid,
                    o.name,
                    o.created_at,
                    o.updated_at,
                    o.cancelled_at,
                    o.financial_status,
                    o.status,
                    o.reason,
                    o.message,
                    Jsonb(o.raw),
                    "now",
                    run_id,
                )
                for o in orders
            ),
            conflict_columns=("retailer", "order_gid"),
            update_columns=ORDER_COLUMNS[2:],
        )
        conn.execute(
            "DELETE FROM shopsync.retailer_order_lines WHERE (retailer, order_gid) IN "
            "(SELECT * FROM unnest(%s::text[], %s::text[]))",
            ([o.retailer for o in orders], [o.order_gid for o in orders]),
        )
        copy_upsert(
            conn,
            "shopsync.retailer_order_lines",
            LINE_COLUMNS,
            (
                (o.retailer, o.order_gid, gid, sku, qty, hub_qty, Jsonb(raw))
                for o in orders
                for gid, sku, qty, hub_qty, raw in o.lines
            ),
        )
    return len(orders)


def orders_to_import(
    conn: psycopg.Connection, retailer: str, since: datetime, until: datetime
) -> list[dict[str, Any]]:
    """Eligible orders updated in the window whose hub order is not yet made,
    plus every order of the retailer left `claimed` by an earlier attempt."""
    rows = conn.execute(
        """
        SELECT o.order_gid, o.raw, l.state
          FROM shopsync.retailer_orders o
          LEFT JOIN shopsync.order_links l
            ON l.retailer = o.retailer AND l.retailer_order_gid = o.order_gid
         WHERE o.retailer = %(r)s
           AND ((o.status = 'eligible' AND o.updated_at >= %(s)s AND o.updated_at < %(u)s
                 AND (l.state IS NULL OR l.state IN ('claimed', 'created')))
                OR l.state IN ('claimed', 'created'))
         ORDER BY o.created_at, o.order_gid
        """,
        {"r": retailer, "s": since, "u": until},
    ).fetchall()
    return [{"order_gid": gid, "raw": raw, "state": state} for gid, raw, state in rows]


def claim(
    conn: psycopg.Connection,
    retailer: str,
    order_gid: str,
    source_key: str,
    run_id: str | None,
    snapshot: dict[str, Any],
) -> OrderLink:
    """Claim the order for import (committed at once); return the link as it now stands."""
    with conn.transaction():
        conn.execute(
            """
            INSERT INTO shopsync.order_links
                   (retailer, retailer_order_gid, source_key, state, claim_run_id,
                    source_snapshot)
            VALUES (%s, %s, %s, %s, %s, %s)
            ON CONFLICT (retailer, retailer_order_gid) DO NOTHING
            """,
            (retailer, order_gid, source_key, State.CLAIMED, run_id, Jsonb(snapshot)),
        )
        row = conn.execute(
            "UPDATE shopsync.order_links SET attempts = attempts + 1,"
            " last_run_id = coalesce(%s, last_run_id)"
            f" WHERE retailer = %s AND retailer_order_gid = %s RETURNING {_LINK}",
            (run_id, retailer, order_gid),
        ).fetchone()
    return OrderLink.of(row)


def record_created(
    conn: psycopg.Connection,
    link: OrderLink,
    hub_order_gid: str,
    hub_name: str | None,
    hub_lines: list[dict[str, Any]] | None,
) -> OrderLink:
    """Record the hub order; returns the link as it now stands (created, or whatever a
    concurrent writer left if it moved on)."""
    with conn.transaction():
        row = conn.execute(
            f"""
            UPDATE shopsync.order_links
               SET state = %s, hub_order_gid = %s, hub_order_name = %s,
                   hub_lines = COALESCE(%s, hub_lines), created_at = now(), last_error = NULL
             WHERE retailer = %s AND retailer_order_gid = %s AND state IN (%s, %s)
            RETURNING {_LINK}
            """,
            (
                State.CREATED,
                hub_order_gid,
                hub_name,
                Jsonb(hub_lines) if hub_lines is not None else None,
                link.retailer,
                link.retailer_order_gid,
                State.CLAIMED,
                State.CREATED,
            ),
        ).fetchone()
    return OrderLink.of(row) if row else get_link(conn, link.retailer, link.retailer_order_gid)


def record_confirmed(conn: psycopg.Connection, link: OrderLink) -> None:
    with conn.transaction():
        conn.execute(
            "UPDATE shopsync.order_links SET state = %s, confirmed_at = now()"
            " WHERE retailer = %s AND retailer_order_gid = %s AND state = %s",
            (State.CONFIRMED, link.retailer, link.retailer_order_gid, State.CREATED),
        )


def record_failed(conn: psycopg.Connection, link: OrderLink, error: str) -> None:
    """Shopify refused the order (a user error): stop, keep the reason for the alert."""
    with conn.transaction():
        conn.execute(
            "UPDATE shopsync.order_links SET state = %s, last_error = %s"
            " WHERE retailer = %s AND retailer_order_gid = %s AND state = %s",
            (State.FAILED, error, link.retailer, link.retailer_order_gid, State.CLAIMED),
        )


def record_attempt_error(conn: psycopg.Connection, link: OrderLink, error: str) -> None:
    """A transient failure: the row stays claimed so the next run reconciles it."""
    with conn.transaction():
        conn.execute(
            "UPDATE shopsync.order_links SET last_error = %s"
            " WHERE retailer = %s AND retailer_order_gid = %s",
            (error, link.retailer, link.retailer_order_gid),
        )


def flag_order(
    conn: psycopg.Connection, retailer: str, order_gid: str, kind: str, detail: str
) -> bool:
    """Flag a post-import change once; True when the flag is new (alert then)."""
    with conn.transaction():
        row = conn.execute(
            "INSERT INTO shopsync.order_flags (retailer, retailer_order_gid, kind, detail)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING 1",
            (retailer, order_gid, kind, detail),
        ).fetchone()
    return row is not None


def linked_orders(
    conn: psycopg.Connection, retailer: str, hub_order_gids: list[str]
) -> dict[str, dict[str, Any]]:
    """Hub order GID -> link facts for the given hub orders (the fulfillment flow)."""
    rows = conn.execute(
        "SELECT hub_order_gid, retailer_order_gid, hub_lines, source_snapshot ->> 'name'"
        " FROM shopsync.order_links WHERE retailer = %s AND hub_order_gid = ANY(%s)",
        (retailer, hub_order_gids),
    ).fetchall()
    return {
        hub: {"retailer_order_gid": src, "hub_lines": lines, "retailer_order_name": name or src}
        for hub, src, lines, name in rows
    }


def import_snapshots(
    conn: psycopg.Connection, retailer: str, order_gids: list[str]
) -> dict[str, dict[str, Any]]:
    """The retailer orders as they were when imported, for orders that have a hub order."""
    rows = conn.execute(
        "SELECT retailer_order_gid, source_snapshot FROM shopsync.order_links"
        " WHERE retailer = %s AND retailer_order_gid = ANY(%s)"
        " AND state IN ('created', 'confirmed') AND source_snapshot IS NOT NULL",
        (retailer, order_gids),
    ).fetchall()
    return dict(rows)


def get_link(conn: psycopg.Connection, retailer: str, order_gid: str) -> OrderLink | None:
    row = conn.execute(
        f"SELECT {_LINK} FROM shopsync.order_links WHERE retailer = %s AND retailer_order_gid = %s",
        (retailer, order_gid),
    ).fetchone()
    return OrderLink.of(row) if row else None


def oldest_claim(
    conn: psycopg.Connection, retailer: str, run_id: str | None, since: datetime, until: datetime
) -> datetime | None:
    """The oldest claim of an order updated in the window or touched by the run."""
    return conn.execute(
        """
        SELECT min(l.claimed_at) FROM shopsync.order_links l
          JOIN shopsync.retailer_orders o
            ON o.retailer = l.retailer AND o.order_gid = l.retailer_order_gid
         WHERE l.retailer = %s
           AND (l.last_run_id = %s OR (o.updated_at >= %s AND o.updated_at < %s))
        """,
        (retailer, run_id, since, until),
    ).fetchone()[0]


def landed_order_gids(conn: psycopg.Connection, retailer: str, order_gids: list[str]) -> list[str]:
    """Which of `order_gids` are landed retailer orders of `retailer`."""
    rows = conn.execute(
        "SELECT order_gid FROM shopsync.retailer_orders WHERE retailer = %s"
        " AND order_gid = ANY(%s)",
        (retailer, order_gids),
    ).fetchall()
    return [r[0] for r in rows]


def eligible_links(
    conn: psycopg.Connection, retailer: str, since: datetime, until: datetime
) -> list[tuple]:
    """(order, name, link state, hub order) of every order eligible in the window."""
    return conn.execute(
        """
        SELECT o.order_gid, o.name, l.state, l.hub_order_gid
          FROM shopsync.retailer_orders o
          LEFT JOIN shopsync.order_links l
            ON l.retailer = o.retailer AND l.retailer_order_gid = o.order_gid
         WHERE o.retailer = %s AND o.status = 'eligible'
           AND o.updated_at >= %s AND o.updated_at < %s
        """,
        (retailer, since, until),
    ).fetchall()


def created_hub_lines(
    conn: psycopg.Connection, retailer: str, since: datetime, until: datetime
) -> list[tuple]:
    """(order, snapshot at import, hub lines made) of orders updated in the window."""
    return conn.execute(
        """
        SELECT l.retailer_order_gid, l.source_snapshot, l.hub_lines
          FROM shopsync.order_links l
          JOIN shopsync.retailer_orders o
            ON o.retailer = l.retailer AND o.order_gid = l.retailer_order_gid
         WHERE l.retailer = %s AND l.hub_lines IS NOT NULL AND l.source_snapshot IS NOT NULL
           AND o.updated_at >= %s AND o.updated_at < %s
        """,
        (retailer, since, until),
    ).fetchall()


def status_counts(
    conn: psycopg.Connection, retailer: str, since: datetime, until: datetime
) -> dict[str, int]:
    """'status:reason' -> orders updated in the window."""
    rows = conn.execute(
        "SELECT status, reason, count(*) FROM shopsync.retailer_orders WHERE retailer = %s"
        " AND updated_at >= %s AND updated_at < %s GROUP BY 1, 2",
        (retailer, since, until),
    ).fetchall()
    return {f"{status}:{reason}": n for status, reason, n in rows}


def open_flags(conn: psycopg.Connection, retailer: str) -> list[str]:
    """Details of imported orders changed since, not yet resolved."""
    rows = conn.execute(
        "SELECT detail FROM shopsync.order_flags WHERE retailer = %s"
        " AND resolved_at IS NULL ORDER BY flagged_at",
        (retailer,),
    ).fetchall()
    return [r[0] for r in rows]
