"""Read-only figures over the warehouse tables: the daily summary and the demo's totals."""

from __future__ import annotations

from datetime import datetime

import psycopg
from psycopg.rows import dict_row

_API_SQL = """
SELECT store, count(*) AS calls,
       count(*) FILTER (WHERE http_status IS NULL OR http_status >= 400
                        OR error_code IS NOT NULL) AS errors,
       count(*) FILTER (WHERE throttled) AS throttled,
       coalesce(sum(actual_cost), 0) AS cost
FROM shopsync.api_calls WHERE called_at >= %(since)s AND called_at < %(until)s GROUP BY store
"""
_ORDERS_SQL = """
SELECT retailer, 'seen' AS col, count(*) AS n FROM shopsync.retailer_orders
 WHERE first_seen_at >= %(since)s AND first_seen_at < %(until)s GROUP BY retailer
UNION ALL SELECT retailer, 'quarantined', count(*) FROM shopsync.retailer_orders
 WHERE status = 'quarantined' GROUP BY retailer
UNION ALL SELECT retailer, 'imported', count(*) FROM shopsync.order_links
 WHERE state IN ('created', 'confirmed') AND created_at >= %(since)s AND created_at < %(until)s
 GROUP BY retailer
UNION ALL SELECT retailer, 'failed', count(*) FROM shopsync.order_links
 WHERE state = 'failed' AND claimed_at >= %(since)s AND claimed_at < %(until)s GROUP BY retailer
"""
_FULFILLMENTS_SQL = """
SELECT retailer, 'pushed' AS col, count(*) AS n FROM shopsync.fulfillment_links
 WHERE state = 'created' AND created_at >= %(since)s AND created_at < %(until)s GROUP BY retailer
UNION ALL SELECT retailer, 'terminal', count(*) FROM shopsync.fulfillment_links
 WHERE state = 'terminal' AND claimed_at >= %(since)s AND claimed_at < %(until)s GROUP BY retailer
UNION ALL SELECT retailer, 'pending', count(*) FROM shopsync.fulfillment_links
 WHERE state = 'claimed' GROUP BY retailer
"""


def _tables_exist(conn: psycopg.Connection, *tables: str) -> bool:
    return all(conn.execute("SELECT to_regclass(%s)", (t,)).fetchone()[0] for t in tables)


def _pivot(conn: psycopg.Connection, query: str, window: dict) -> list[dict[str, object]]:
    """(retailer, column, n) rows into one dict per retailer."""
    rows: dict[str, dict[str, object]] = {}
    for retailer, column, n in conn.execute(query, window).fetchall():
        rows.setdefault(retailer, {"retailer": retailer})[column] = n
    return list(rows.values())


def day_figures(
    conn: psycopg.Connection, since: datetime, until: datetime
) -> tuple[list[dict], list[dict] | None, list[dict] | None]:
    """API calls per store, orders and fulfillments per retailer in [since, until); a
    section whose tables do not exist yet is None."""
    window = {"since": since, "until": until}
    api = conn.cursor(row_factory=dict_row).execute(_API_SQL, window).fetchall()
    orders = fulfillments = None
    if _tables_exist(conn, "shopsync.retailer_orders", "shopsync.order_links"):
        orders = _pivot(conn, _ORDERS_SQL, window)
    if _tables_exist(conn, "shopsync.fulfillment_links"):
        fulfillments = _pivot(conn, _FULFILLMENTS_SQL, window)
    return api, orders, fulfillments


def warehouse_totals(conn: psycopg.Connection) -> dict:
    """Orders by retailer and status, hub orders made, shipments pushed, API calls and cost."""
    by_retailer: dict[str, dict[str, int]] = {}
    for retailer, status, n in conn.execute(
        "SELECT retailer, status, count(*) FROM shopsync.retailer_orders GROUP BY 1, 2"
    ):
        by_retailer.setdefault(retailer, {})[status] = n
    created = conn.execute(
        "SELECT count(*) FROM shopsync.order_links WHERE hub_order_gid IS NOT NULL"
    ).fetchone()[0]
    pushed = conn.execute(
        "SELECT count(*) FROM shopsync.fulfillment_links WHERE state = 'created'"
    ).fetchone()[0]
    calls, cost = conn.execute(
        "SELECT count(*), coalesce(sum(actual_cost), 0) FROM shopsync.api_calls"
    ).fetchone()
    return {
        "by_retailer": by_retailer,
        "hub_orders_created": created,
        "fulfillments_pushed": pushed,
        "api_calls": calls,
        "api_cost_points": int(cost),
    }
