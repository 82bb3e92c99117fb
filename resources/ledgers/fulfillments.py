"""SQL for landed hub fulfillments and the `fulfillment_links` ledger.

`fulfillmentCreate` has no idempotency key either: a hub fulfillment is claimed
before the retailer mutation, and a claimed row found later is reconciled
against the retailer's existing fulfillments before anything is created again.
Terminal outcomes (already fulfilled, closed or moved fulfillment order) are
recorded once with their reason, so they are alerted once and never retried.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from resources.ledgers.states import FulfillmentLinkState as State
from resources.postgres import copy_upsert

HUB_FULFILLMENT_COLUMNS = (
    "hub_fulfillment_gid",
    "hub_order_gid",
    "retailer",
    "retailer_order_gid",
    "status",
    "created_at",
    "updated_at",
    "tracking",
    "lines",
    "raw",
    "last_seen_at",
)


@dataclass(frozen=True)
class LandedFulfillment:
    hub_fulfillment_gid: str
    hub_order_gid: str
    retailer: str
    retailer_order_gid: str
    status: str
    created_at: datetime
    updated_at: datetime
    tracking: list[dict[str, Any]]
    lines: list[dict[str, Any]]
    raw: dict[str, Any]


@dataclass(frozen=True)
class FulfillmentLink:
    hub_fulfillment_gid: str
    retailer: str
    retailer_order_gid: str
    state: State
    retailer_fulfillment_gid: str | None
    tracking: list[dict[str, Any]] | None
    attempts: int


_LINK_COLUMNS = (
    "hub_fulfillment_gid, retailer, retailer_order_gid, state, retailer_fulfillment_gid,"
    " tracking, attempts"
)


def land_fulfillments(conn: psycopg.Connection, rows: Iterable[LandedFulfillment]) -> int:
    rows = list(rows)
    if not rows:
        return 0
    with conn.transaction():
        copy_upsert(
            conn,
            "shopsync.hub_fulfillments",
            HUB_FULFILLMENT_COLUMNS,
            (
                (
                    f.hub_fulfillment_gid,
                    f.hub_order_gid,
                    f.retailer,
                    f.retailer_order_gid,
                    f.status,
                    f.created_at,
                    f.updated_at,
                    Jsonb(f.tracking),
                    Jsonb(f.lines),
                    Jsonb(f.raw),
                    "now",
                )
                for f in rows
            ),
            conflict_columns=("hub_fulfillment_gid",),
            update_columns=HUB_FULFILLMENT_COLUMNS[4:],
        )
    return len(rows)


def fulfillments_to_push(
    conn: psycopg.Connection, retailer: str, since: datetime, until: datetime
) -> list[dict[str, Any]]:
    """Successful hub fulfillments updated in the window that are not pushed or
    terminal yet, plus every one of the retailer left `claimed` by an earlier attempt.
    Pushed ones come too when their tracking changed since (F5)."""
    rows = conn.execute(
        """
        SELECT h.hub_fulfillment_gid, h.retailer_order_gid, h.raw, h.tracking, h.lines,
               l.state, l.tracking
          FROM shopsync.hub_fulfillments h
          LEFT JOIN shopsync.fulfillment_links l USING (hub_fulfillment_gid)
         WHERE h.retailer = %(r)s AND h.status = 'SUCCESS'
           AND ((h.updated_at >= %(s)s AND h.updated_at < %(u)s
                 AND (l.state IS NULL OR l.state = 'claimed'
                      OR (l.state = 'created' AND l.tracking IS DISTINCT FROM h.tracking)))
                OR l.state = 'claimed')
         ORDER BY h.created_at, h.hub_fulfillment_gid
        """,
        {"r": retailer, "s": since, "u": until},
    ).fetchall()
    keys = (
        "hub_fulfillment_gid",
        "retailer_order_gid",
        "raw",
        "tracking",
        "lines",
        "state",
        "pushed_tracking",
    )
    return [dict(zip(keys, row, strict=True)) for row in rows]


def claim(
    conn: psycopg.Connection,
    hub_fulfillment_gid: str,
    retailer: str,
    retailer_order_gid: str,
    run_id: str | None,
) -> FulfillmentLink:
    with conn.transaction():
        conn.execute(
            "INSERT INTO shopsync.fulfillment_links"
            " (hub_fulfillment_gid, retailer, retailer_order_gid, state, claim_run_id)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            (hub_fulfillment_gid, retailer, retailer_order_gid, State.CLAIMED, run_id),
        )
        row = conn.execute(
            f"UPDATE shopsync.fulfillment_links SET attempts = attempts + 1"
            f" WHERE hub_fulfillment_gid = %s RETURNING {_LINK_COLUMNS}",
            (hub_fulfillment_gid,),
        ).fetchone()
    return FulfillmentLink(*row[:3], State(row[3]), *row[4:])


def record_created(
    conn: psycopg.Connection,
    hub_fulfillment_gid: str,
    retailer_fulfillment_gid: str,
    tracking: list[dict[str, Any]],
    lines: list[dict[str, Any]],
) -> None:
    with conn.transaction():
        conn.execute(
            "UPDATE shopsync.fulfillment_links SET state = %s,"
            " retailer_fulfillment_gid = %s, tracking = %s, lines = %s, created_at = now(),"
            " last_error = NULL WHERE hub_fulfillment_gid = %s AND state = %s",
            (
                State.CREATED,
                retailer_fulfillment_gid,
                Jsonb(tracking),
                Jsonb(lines),
                hub_fulfillment_gid,
                State.CLAIMED,
            ),  # fmt: skip
        )


def record_tracking_updated(
    conn: psycopg.Connection, hub_fulfillment_gid: str, tracking: list[dict[str, Any]]
) -> None:
    with conn.transaction():
        conn.execute(
            "UPDATE shopsync.fulfillment_links SET tracking = %s, tracking_updated_at = now()"
            " WHERE hub_fulfillment_gid = %s AND state = %s",
            (Jsonb(tracking), hub_fulfillment_gid, State.CREATED),
        )


def record_terminal(
    conn: psycopg.Connection, hub_fulfillment_gid: str, reason: str, message: str
) -> bool:
    """Mark terminal; True only the first time (so the alert goes out once)."""
    with conn.transaction():
        row = conn.execute(
            "UPDATE shopsync.fulfillment_links SET state = %s, terminal_reason = %s,"
            " message = %s WHERE hub_fulfillment_gid = %s AND state = %s RETURNING 1",
            (State.TERMINAL, reason, message, hub_fulfillment_gid, State.CLAIMED),
        ).fetchone()
    return row is not None


def record_attempt_error(conn: psycopg.Connection, hub_fulfillment_gid: str, error: str) -> None:
    with conn.transaction():
        conn.execute(
            "UPDATE shopsync.fulfillment_links SET last_error = %s WHERE hub_fulfillment_gid = %s",
            (error, hub_fulfillment_gid),
        )


def linked_elsewhere(
    conn: psycopg.Connection, order_gid: str, hub_fulfillment_gid: str
) -> list[str]:
    """Retailer fulfillments already linked to other hub shipments of the same order."""
    rows = conn.execute(
        "SELECT retailer_fulfillment_gid FROM shopsync.fulfillment_links WHERE"
        " retailer_order_gid = %s AND hub_fulfillment_gid <> %s"
        " AND retailer_fulfillment_gid IS NOT NULL",
        (order_gid, hub_fulfillment_gid),
    ).fetchall()
    return [r[0] for r in rows]


def pushed_link(conn: psycopg.Connection, hub_fulfillment_gid: str) -> tuple[str, str]:
    """(retailer fulfillment GID, retailer order GID) of a pushed hub shipment."""
    return conn.execute(
        "SELECT retailer_fulfillment_gid, retailer_order_gid FROM shopsync.fulfillment_links"
        " WHERE hub_fulfillment_gid = %s",
        (hub_fulfillment_gid,),
    ).fetchone()


def shipment_states(
    conn: psycopg.Connection, retailer: str, since: datetime, until: datetime
) -> list[tuple]:
    """(hub shipment, retailer order, link state or 'missing', terminal reason) of every
    successful hub shipment updated in the window."""
    return conn.execute(
        """
        SELECT h.hub_fulfillment_gid, h.retailer_order_gid,
               coalesce(l.state, 'missing') AS state, l.terminal_reason
          FROM shopsync.hub_fulfillments h
          LEFT JOIN shopsync.fulfillment_links l USING (hub_fulfillment_gid)
         WHERE h.retailer = %s AND h.status = 'SUCCESS'
           AND h.updated_at >= %s AND h.updated_at < %s
        """,
        (retailer, since, until),
    ).fetchall()


def pushed_in_window(
    conn: psycopg.Connection, retailer: str, since: datetime, until: datetime
) -> list[tuple]:
    """(hub shipment, retailer order, retailer fulfillment, tracking) pushed, in the window."""
    return conn.execute(
        """
        SELECT l.hub_fulfillment_gid, l.retailer_order_gid, l.retailer_fulfillment_gid,
               h.tracking
          FROM shopsync.fulfillment_links l
          JOIN shopsync.hub_fulfillments h USING (hub_fulfillment_gid)
         WHERE l.retailer = %s AND l.state = 'created'
           AND h.updated_at >= %s AND h.updated_at < %s
        """,
        (retailer, since, until),
    ).fetchall()


def unpushed_shipments(conn: psycopg.Connection, hub_order_gid: str) -> int:
    """Successful shipments of the hub order not yet pushed to the retailer (or settled as
    terminal): until there are none, the retailer order's open units include shipped ones."""
    row = conn.execute(
        """
        SELECT count(*) FROM shopsync.hub_fulfillments h
          LEFT JOIN shopsync.fulfillment_links l USING (hub_fulfillment_gid)
         WHERE h.hub_order_gid = %s AND h.status = 'SUCCESS'
           AND coalesce(l.state, 'missing') NOT IN ('created', 'terminal')
        """,
        (hub_order_gid,),
    ).fetchone()
    return int(row[0])
