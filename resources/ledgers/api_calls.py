"""Reads of `shopsync.api_calls` for run metadata: what each step cost, per retailer."""

from __future__ import annotations

import psycopg


def step_costs(conn: psycopg.Connection, run_id: str) -> dict[tuple[str, str], dict[str, int]]:
    """(step, retailer) -> calls, cost points and throttled responses of the run."""
    rows = conn.execute(
        "SELECT step, retailer, count(*), coalesce(sum(actual_cost), 0),"
        " count(*) FILTER (WHERE throttled) FROM shopsync.api_calls"
        " WHERE run_id = %s AND step IS NOT NULL GROUP BY 1, 2",
        (run_id,),
    ).fetchall()
    return {
        (step, retailer): {"api_calls": calls, "api_cost_points": int(cost), "api_throttled": thr}
        for step, retailer, calls, cost, thr in rows
    }
