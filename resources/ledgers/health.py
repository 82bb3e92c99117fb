"""Statements behind health: API call figures per retailer × flow, the warehouse
database's size and connection headroom, and the alert state of each threshold.

A call belongs to a flow through its run (a run's flow is known from Dagster's run
records, passed in as run id -> flow): the `step` column alone is ambiguous (every flow
has a `checks` step). Percentiles are computed here with `percentile_cont`, so a day of
calls is never shipped to Python.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

import psycopg

from sync.health import ApiStats, ErrorGroup, by_category

_RUNS = "unnest(%(run_ids)s::text[], %(flows)s::text[]) AS r(run_id, flow)"
_FAILED = "(c.error_code IS NOT NULL OR c.http_status IS NULL OR c.http_status >= 400)"
_TOTALS = f"""
SELECT r.flow, coalesce(c.retailer, c.store) AS retailer, count(*) AS calls,
       count(*) FILTER (WHERE {_FAILED}) AS errors,
       count(*) FILTER (WHERE c.throttled) AS throttled,
       coalesce(sum(c.actual_cost), 0) AS cost,
       percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY c.duration_ms) AS pct
FROM shopsync.api_calls c JOIN {_RUNS} USING (run_id)
WHERE c.called_at >= %(since)s AND c.called_at < %(until)s
GROUP BY 1, 2
"""
_ERRORS = f"""
SELECT r.flow, coalesce(c.retailer, c.store), c.operation, c.error_code, c.http_status, count(*)
FROM shopsync.api_calls c JOIN {_RUNS} USING (run_id)
WHERE c.called_at >= %(since)s AND c.called_at < %(until)s AND {_FAILED}
GROUP BY 1, 2, 3, 4, 5
"""


def _params(run_flows: Mapping[str, str], since: datetime, until: datetime) -> dict:
    return {"run_ids": list(run_flows), "flows": list(run_flows.values()),
            "since": since, "until": until}  # fmt: skip


def error_groups(
    conn: psycopg.Connection, run_flows: Mapping[str, str], since: datetime, until: datetime
) -> list[ErrorGroup]:
    """Failed calls of the given runs in [since, until), grouped by retailer × flow,
    operation, final error code and HTTP status."""
    rows = conn.execute(_ERRORS, _params(run_flows, since, until)).fetchall()
    return [ErrorGroup(*row) for row in rows]


def api_stats(
    conn: psycopg.Connection, run_flows: Mapping[str, str], since: datetime, until: datetime
) -> tuple[dict[tuple[str, str], ApiStats], list[ErrorGroup]]:
    """(flow, retailer) -> the calls of the given runs in [since, until); and the error
    groups behind them. Hub calls made for a retailer count for that retailer; calls
    made for no retailer (the hub snapshot) under the store's key, `hub`."""
    groups = error_groups(conn, run_flows, since, until)
    per_cell: dict[tuple[str, str], list[ErrorGroup]] = {}
    for group in groups:
        per_cell.setdefault((group.flow, group.retailer), []).append(group)
    stats = {}
    for flow, retailer, calls, errors, throttled, cost, pct in conn.execute(
        _TOTALS, _params(run_flows, since, until)
    ).fetchall():
        stats[(flow, retailer)] = ApiStats(
            calls, errors, throttled, pct[0], pct[1],
            by_category(per_cell.get((flow, retailer), [])), float(cost),
        )  # fmt: skip
    return stats, groups


@dataclass(frozen=True)
class DatabaseFigures:
    size_bytes: int
    max_connections: int
    reserved_connections: int  # kept for superusers (and replication)
    used_connections: int  # every backend on the server: the limit is server-wide

    @property
    def headroom(self) -> int:
        """Connections an ordinary role can still open."""
        return self.max_connections - self.reserved_connections - self.used_connections


def database_figures(conn: psycopg.Connection) -> DatabaseFigures:
    size, max_conn, reserved, used = conn.execute(
        "SELECT pg_database_size(current_database()),"
        " current_setting('max_connections')::int,"
        " current_setting('superuser_reserved_connections')::int"
        " + coalesce(nullif(current_setting('reserved_connections', true), '')::int, 0),"
        " (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')"
    ).fetchone()
    return DatabaseFigures(size, max_conn, reserved, used)


@dataclass(frozen=True)
class AlertState:
    threshold: str
    scope: str
    crossed: bool
    since: datetime
    last_value: float | None
    samples: int


def lock_alert_states(conn: psycopg.Connection) -> dict[tuple[str, str], AlertState]:
    """Every threshold's state, with the refresh lock held to the end of the caller's
    transaction: two refreshes at once cannot both see "not crossed" and both alert."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtext('shopsync-health-alerts'))")
    rows = conn.execute(
        "SELECT threshold, scope, crossed, since, last_value, samples"
        " FROM shopsync.health_alert_state"
    ).fetchall()
    return {(r[0], r[1]): AlertState(*r) for r in rows}


def save_alert_states(conn: psycopg.Connection, states: Iterable[AlertState]) -> None:
    """Upsert states; `since` moves only when `crossed` changes."""
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO shopsync.health_alert_state"
            " (threshold, scope, crossed, since, last_value, samples, updated_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, now())"
            " ON CONFLICT (threshold, scope) DO UPDATE SET"
            " since = CASE WHEN health_alert_state.crossed = EXCLUDED.crossed"
            "   THEN health_alert_state.since ELSE EXCLUDED.since END,"
            " crossed = EXCLUDED.crossed, last_value = EXCLUDED.last_value,"
            " samples = EXCLUDED.samples, updated_at = now()",
            [(s.threshold, s.scope, s.crossed, s.since, s.last_value, s.samples) for s in states],
        )


def crossed_thresholds(conn: psycopg.Connection) -> dict[str, list[str]]:
    """scope (`retailer/flow`) -> the thresholds crossed there as of the last refresh."""
    found: dict[str, list[str]] = {}
    for threshold, scope in conn.execute(
        "SELECT threshold, scope FROM shopsync.health_alert_state WHERE crossed ORDER BY 1"
    ).fetchall():
        found.setdefault(scope, []).append(threshold)
    return found
