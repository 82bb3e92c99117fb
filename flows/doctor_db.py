"""The doctor's database checks, and the warehouse look-ups the other procedures use.

The doctor connects with a plain psycopg connection, never through `PostgresResource`,
whose first connection applies migrations: a doctor must report missing migrations,
not quietly apply them. Messages name host, port and database, never the password.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg

from resources.ledgers.health import database_figures
from resources.postgres import DATABASE_URL_ENV, migration_files
from sync.doctor import CheckResult, Verdict, connection_verdict, migration_gaps

CONNECT_TIMEOUT_SECONDS = 5


def where(url: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(url)
    return f"{info.get('host', 'localhost')}:{info.get('port', 5432)}/{info.get('dbname', '')}"


def connect(url: str) -> psycopg.Connection:
    """An autocommit connection that gives up quickly (the caller closes it)."""
    return psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS)


def _db(check: str, verdict: Verdict, detail: str, fix: str | None = None) -> CheckResult:
    return CheckResult(procedure="database", check=check, verdict=verdict, detail=detail, fix=fix)


def database_checks(url: str) -> tuple[list[CheckResult], bool]:
    """(results, reachable): connectivity, migrations, a round trip and connection headroom."""
    try:
        conn = connect(url)
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        return [
            _db(
                "connectivity",
                Verdict.FAIL,
                f"cannot connect to {where(url)}: {reason}",
                f"start Postgres at {where(url)} or fix {DATABASE_URL_ENV}",
            )
        ], False
    with conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
        results = [_db("connectivity", Verdict.PASS, f"connected to {where(url)} (v{version})")]
        return [*results, _migrations(conn), _round_trip(conn), _headroom(conn)], True


def _migrations(conn: psycopg.Connection) -> CheckResult:
    files = [(v, name) for v, name, _ in migration_files()]
    try:
        with conn.transaction():
            applied = [
                r[0] for r in conn.execute("SELECT version FROM shopsync_meta.schema_migrations")
            ]
    except psycopg.errors.UndefinedTable:
        applied = []
    pending, unknown = migration_gaps(files, applied)
    if pending:
        return _db(
            "migrations applied",
            Verdict.FAIL,
            f"{len(pending)} not applied: {', '.join(pending)}",
            "run `shopsync migrate` against this database",
        )
    if unknown:
        return _db(
            "migrations applied",
            Verdict.WARN,
            f"applied versions with no file here: {unknown} (database newer than code)",
            "deploy the shopsync version that made this database",
        )
    return _db("migrations applied", Verdict.PASS, f"all {len(files)} applied")


def _round_trip(conn: psycopg.Connection) -> CheckResult:
    probe = f"doctor-{datetime.now().timestamp()}"
    try:
        with conn.transaction():
            conn.execute("CREATE TEMP TABLE doctor_probe (v text) ON COMMIT DROP")
            conn.execute("INSERT INTO doctor_probe VALUES (%s)", (probe,))
            back = conn.execute("SELECT v FROM doctor_probe").fetchone()[0]
    except psycopg.Error as exc:
        return _db(
            "write/read round trip",
            Verdict.FAIL,
            f"temp table write failed: {exc}",
            "grant the database user TEMP on the database and check disk space",
        )
    if back != probe:
        return _db(
            "write/read round trip",
            Verdict.FAIL,
            "read back a different value",
            "check for a proxy or replica answering instead of the primary",
        )
    return _db("write/read round trip", Verdict.PASS, "wrote and read back a temp row")


def _headroom(conn: psycopg.Connection) -> CheckResult:
    figures = database_figures(conn)  # the same figures health watches
    used, limit = figures.used_connections, figures.max_connections
    usable = max(limit - figures.reserved_connections, 1)
    verdict = connection_verdict(used, usable)
    detail = f"{used} of {usable} connections in use (max_connections {limit})"
    fix = (
        None
        if verdict is Verdict.PASS
        else (
            "raise max_connections or lower pool_max_size / run concurrency; look for idle clients"
        )
    )
    return _db("connection headroom", verdict, detail, fix)


def recent_api_errors(
    conn: psycopg.Connection, retailer: str, like: str, now: datetime
) -> dict[str, int]:
    """API errors (by code) of a retailer's calls in steps matching `like`, last 24 h."""
    rows = conn.execute(
        "SELECT coalesce(error_code, 'HTTP ' || http_status), count(*) FROM shopsync.api_calls"
        " WHERE retailer = %s AND step LIKE %s AND called_at >= %s"
        " AND (error_code IS NOT NULL OR http_status >= 400) GROUP BY 1 ORDER BY 2 DESC",
        (retailer, like, now - timedelta(hours=24)),
    ).fetchall()
    return {code: n for code, n in rows}


def fulfillment_backlog(conn: psycopg.Connection, retailer: str, now: datetime) -> dict[str, int]:
    """Hub shipments not pushed: claimed over an hour ago, given up on today, never claimed."""
    row = conn.execute(
        """
        SELECT
          (SELECT count(*) FROM shopsync.fulfillment_links
            WHERE retailer = %(r)s AND state = 'claimed' AND claimed_at < %(hour)s),
          (SELECT count(*) FROM shopsync.fulfillment_links
            WHERE retailer = %(r)s AND state = 'terminal' AND claimed_at >= %(day)s),
          (SELECT count(*) FROM shopsync.hub_fulfillments h
            WHERE h.retailer = %(r)s AND h.last_seen_at < %(hour)s AND NOT EXISTS (
              SELECT 1 FROM shopsync.fulfillment_links l
              WHERE l.hub_fulfillment_gid = h.hub_fulfillment_gid))
        """,
        {"r": retailer, "hour": now - timedelta(hours=1), "day": now - timedelta(hours=24)},
    ).fetchone()
    return {"stuck": row[0], "given_up": row[1], "unclaimed": row[2]}
