"""Statements behind the daily summary and the weekly report: what each retailer's flows
did in a window, what waits on them now, and the same by hour for the charts.

Counts in a window are of ledger events (an order imported, a shipment pushed, a stock
level applied), so a re-run that changed nothing adds nothing. "Now" figures (waiting,
quarantined, pending) are the ledgers' current state, which is what an operator acts on.
"""

from __future__ import annotations

from datetime import date, datetime

import psycopg

_FIGURES_SQL = """
SELECT retailer, 'orders' AS flow, 'imported' AS figure, count(*) AS n FROM shopsync.order_links
 WHERE state IN ('created', 'confirmed') AND created_at >= %(since)s AND created_at < %(until)s
 GROUP BY retailer
UNION ALL SELECT retailer, 'orders', 'refused by Shopify', count(*) FROM shopsync.order_links
 WHERE state = 'failed' AND claimed_at >= %(since)s AND claimed_at < %(until)s GROUP BY retailer
UNION ALL SELECT retailer, 'orders', 'waiting', count(*) FROM shopsync.retailer_orders
 WHERE status = 'waiting' GROUP BY retailer
UNION ALL SELECT retailer, 'orders', 'quarantined: ' || coalesce(reason, 'unknown'), count(*)
 FROM shopsync.retailer_orders WHERE status = 'quarantined' GROUP BY retailer, reason
UNION ALL SELECT retailer, 'orders', 'changed after import: ' || kind, count(*)
 FROM shopsync.order_flags WHERE flagged_at >= %(since)s AND flagged_at < %(until)s
 GROUP BY retailer, kind
UNION ALL SELECT retailer, 'orders', 'followed at hub: ' || replace(state, '_', ' '), count(*)
 FROM shopsync.order_follow_ups WHERE done_at >= %(since)s AND done_at < %(until)s
   AND action <> 'hub_cancel'
 GROUP BY retailer, state
UNION ALL SELECT retailer, 'fulfillments', 'hub cancels ' || replace(state, '_', ' '), count(*)
 FROM shopsync.order_follow_ups WHERE done_at >= %(since)s AND done_at < %(until)s
   AND action = 'hub_cancel'
 GROUP BY retailer, state
UNION ALL SELECT o.retailer, 'orders', 'refunds at the retailer', count(*)
 FROM shopsync.retailer_orders o
 CROSS JOIN LATERAL jsonb_array_elements(coalesce(o.raw -> 'refunds', '[]'::jsonb)) r
 WHERE jsonb_array_length(coalesce(o.raw -> 'refunds', '[]'::jsonb)) > 0
   AND (r ->> 'createdAt')::timestamptz >= %(since)s
   AND (r ->> 'createdAt')::timestamptz < %(until)s
 GROUP BY o.retailer
UNION ALL SELECT retailer, 'fulfillments', 'pushed', count(*) FROM shopsync.fulfillment_links
 WHERE state = 'created' AND created_at >= %(since)s AND created_at < %(until)s GROUP BY retailer
UNION ALL SELECT retailer, 'fulfillments', 'could not be pushed', count(*)
 FROM shopsync.fulfillment_links
 WHERE state = 'terminal' AND claimed_at >= %(since)s AND claimed_at < %(until)s GROUP BY retailer
UNION ALL SELECT retailer, 'fulfillments', 'pending', count(*) FROM shopsync.fulfillment_links
 WHERE state = 'claimed' GROUP BY retailer
UNION ALL SELECT retailer, 'inventory', 'SKUs synced', count(DISTINCT sku)
 FROM shopsync.inventory_pushes
 WHERE state = 'applied' AND settled_at >= %(since)s AND settled_at < %(until)s GROUP BY retailer
UNION ALL SELECT retailer, 'inventory', 'drift corrected', count(*) FROM shopsync.inventory_drift
 WHERE found_at >= %(since)s AND found_at < %(until)s GROUP BY retailer
UNION ALL SELECT retailer, 'inventory', 'SKUs not synced', count(DISTINCT sku)
 FROM shopsync.inventory_mismatches GROUP BY retailer
"""

#: Per hour: what the flows did (the chart of the day) and the API's load and errors.
_HOURLY_SQL = """
SELECT 'orders imported' AS series, date_trunc('hour', created_at) AS hour, count(*)
 FROM shopsync.order_links WHERE state IN ('created', 'confirmed')
 AND created_at >= %(since)s AND created_at < %(until)s GROUP BY 2
UNION ALL SELECT 'shipments pushed', date_trunc('hour', created_at), count(*)
 FROM shopsync.fulfillment_links WHERE state = 'created'
 AND created_at >= %(since)s AND created_at < %(until)s GROUP BY 2
UNION ALL SELECT 'stock levels set', date_trunc('hour', settled_at), count(*)
 FROM shopsync.inventory_pushes WHERE state = 'applied'
 AND settled_at >= %(since)s AND settled_at < %(until)s GROUP BY 2
UNION ALL SELECT 'API calls', date_trunc('hour', called_at), count(*) FROM shopsync.api_calls
 WHERE called_at >= %(since)s AND called_at < %(until)s GROUP BY 2
UNION ALL SELECT 'API errors', date_trunc('hour', called_at), count(*) FROM shopsync.api_calls
 WHERE called_at >= %(since)s AND called_at < %(until)s
 AND (error_code IS NOT NULL OR http_status IS NULL OR http_status >= 400) GROUP BY 2
"""

#: Per local day and retailer, and per day for all of them (retailer NULL): the API's
#: calls, errors and p95 response time (the weekly trend).
_DAILY_API_SQL = """
SELECT who, day, count(*),
       count(*) FILTER (WHERE failed), percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms)
FROM (SELECT coalesce(retailer, store) AS who, duration_ms,
             (date_trunc('day', called_at AT TIME ZONE %(tz)s))::date AS day,
             (error_code IS NOT NULL OR http_status IS NULL OR http_status >= 400) AS failed
      FROM shopsync.api_calls WHERE called_at >= %(since)s AND called_at < %(until)s) calls
GROUP BY GROUPING SETS ((who, day), (day)) ORDER BY day
"""

Figures = dict[str, dict[str, dict[str, int]]]  # retailer -> flow -> figure -> n


def flow_figures(conn: psycopg.Connection, since: datetime, until: datetime) -> Figures:
    """retailer -> flow -> figure -> count: events in [since, until), state now."""
    found: Figures = {}
    rows = conn.execute(_FIGURES_SQL, {"since": since, "until": until}).fetchall()
    for retailer, flow, figure, n in rows:
        found.setdefault(retailer, {}).setdefault(flow, {})[figure] = n
    return found


def hourly_events(
    conn: psycopg.Connection, since: datetime, until: datetime
) -> dict[str, list[tuple[datetime, int]]]:
    """series -> (hour, count) for the hours of [since, until) that had any."""
    found: dict[str, list[tuple[datetime, int]]] = {}
    rows = conn.execute(_HOURLY_SQL, {"since": since, "until": until}).fetchall()
    for series, hour, n in rows:
        found.setdefault(series, []).append((hour, n))
    return found


def daily_api(
    conn: psycopg.Connection, since: datetime, until: datetime, tz: str
) -> list[tuple[str | None, date, int, int, float]]:
    """(retailer or None for all, local day, calls, errors, p95 ms) per day of [since, until)."""
    params = {"since": since, "until": until, "tz": tz}
    return [tuple(row) for row in conn.execute(_DAILY_API_SQL, params).fetchall()]
