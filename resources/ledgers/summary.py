"""Read-only totals over the warehouse tables, for the demo's summary."""

from __future__ import annotations

import psycopg


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
