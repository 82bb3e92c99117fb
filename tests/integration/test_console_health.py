"""Health thresholds over a real warehouse, at their edges (operator's console).

The figures are computed by the warehouse's own SQL (`percentile_cont`, counts) from
`shopsync.api_calls` rows and from run records shaped as the run history gives them.
A figure *on* the alert line is judged and stays quiet; one step past it mails once.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from assets.run_history import RetailerRun
from flows.health import HealthInputs, refresh_health
from resources.email import EmailResource
from resources.postgres import PostgresResource, apply_migrations
from resources.registry import Registry, load_registry
from sync.health import Tick
from tests.fixtures.db import create_scratch_database, drop_database
from tests.fixtures.flows import RETAILERS

pytestmark = pytest.mark.integration

BAD = "epic-gardening"
NOW = datetime.now(UTC).replace(second=0, microsecond=0)
CALLS = ("INSERT INTO shopsync.api_calls (called_at, store, operation, duration_ms, http_status,"
         " throttled, run_id, error_code, step, retailer) VALUES (%s, %s, 'orders_updated', %s,"
         " %s, false, %s, %s, 'retailer_orders', %s)")  # fmt: skip


@pytest.fixture
def warehouse() -> Iterator[tuple[str, EmailResource]]:
    url, admin = create_scratch_database("shopsync_console_health")
    with psycopg.connect(url) as conn:
        apply_migrations(conn)
    postgres = PostgresResource(url=url)
    yield url, EmailResource(postgres=postgres, sender="shopsync@example.com", outbox_only=True)
    postgres.close()
    drop_database(admin, url)


def registry() -> Registry:
    reg = load_registry()
    notes = reg.notifications.model_copy(update={"recipients": ["ops@example.com"]})
    return reg.model_copy(update={"notifications": notes})


def run(flow: str, retailer: str, at: datetime, ok: bool = True, tick: str | None = None):
    return RetailerRun(
        flow=flow, retailer=retailer, run_id=f"{flow}-{retailer}-{at:%d%H%M}", job=f"{flow}_job",
        status="success" if ok else "failure", retailer_ok=ok, started_at=at,
        ended_at=at + timedelta(seconds=20), scheduled_for=at if tick else None,
        partitions=retailer, schedule=tick, created_at=at,
    )  # fmt: skip


def orders_runs(failed: int, total: int = 20) -> list[RetailerRun]:
    """`total` orders runs per retailer over the last day; BAD's first `failed` failed."""
    runs = []
    for i in range(total):
        at = NOW - timedelta(hours=1, minutes=30 * i)
        runs += [run("orders", r, at, ok=not (r == BAD and i < failed)) for r in RETAILERS]
    return runs


def calls(url: str, runs: list[RetailerRun], *, failed: int = 0, slow_ms: float = 300.0) -> None:
    """100 calls of the last hour for BAD (the first `failed` fail, each takes `slow_ms`),
    20 quick good ones for every other retailer, all in the runs' names."""
    rows = []
    latest = {r.retailer: r.run_id for r in sorted(runs, key=lambda r: r.created_at)}
    for retailer, run_id in latest.items():
        for i in range(100 if retailer == BAD else 20):
            bad = retailer == BAD
            fail = bad and i < failed
            rows.append((NOW - timedelta(minutes=20, seconds=i), retailer,
                         slow_ms if bad else 300.0, 503 if fail else 200, run_id,
                         "HTTP_503" if fail else None, retailer))  # fmt: skip
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DELETE FROM shopsync.api_calls")
        conn.cursor().executemany(CALLS, rows)


def uptime(missing: int) -> tuple[list[RetailerRun], dict[str, list[Tick]]]:
    """280 ticks of the inventory schedule, 5 minutes apart from 20 minutes ago (all in the
    day's window), each run for every retailer but BAD, which misses `missing` of them."""
    schedule = "inventory_schedule"
    ticks = [NOW - timedelta(minutes=20 + 5 * i) for i in range(280)]
    runs = [
        run("inventory", r, at, tick=schedule)
        for i, at in enumerate(ticks)
        for r in RETAILERS
        if not (r == BAD and 1 <= i <= missing)
    ]
    return runs, {"inventory": [Tick(schedule, at) for at in ticks]}


def refresh(url: str, email: EmailResource, runs, ticks=None, minutes: int = 0):
    with psycopg.connect(url, autocommit=True) as conn:
        inputs = HealthInputs(registry(), runs, ticks or {}, NOW + timedelta(minutes=minutes))
        return refresh_health(conn, email, inputs)


def health_mail(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        found = conn.execute(
            "SELECT subject FROM shopsync.email_outbox WHERE kind = 'health_alert' ORDER BY id"
        )
        return [subject for (subject,) in found]


def on_the_line_then_past(url: str, threshold: str):
    """Runs, ticks and calls with BAD's figure on the alert line, then one step past it."""
    if threshold == "success_rate":  # 18 of 20 runs: 90 %, then 17 of 20: 85 %
        yield orders_runs(failed=2), None
        yield orders_runs(failed=3), None
    elif threshold == "uptime":  # 278 of 280 ticks: 99.3 %; 277: 98.9 %
        yield uptime(missing=2)
        yield uptime(missing=3)
    elif threshold == "error_rate":  # 5 of 100 calls: 5 %, then 6 %
        runs = orders_runs(failed=0)
        calls(url, runs, failed=5)
        yield runs, None
        calls(url, runs, failed=6)
        yield runs, None
    else:  # every call 10 s: p95 10 s, then 10.001 s
        runs = orders_runs(failed=0)
        calls(url, runs, slow_ms=10_000.0)
        yield runs, None
        calls(url, runs, slow_ms=10_001.0)
        yield runs, None


#: BAD's figure in the first step: the alert line itself (uptime: the nearest tick count).
ON_THE_LINE = {"success_rate": 0.90, "uptime": 278 / 280, "error_rate": 0.05,
               "api_response_seconds": 10.0}  # fmt: skip


@pytest.mark.parametrize("threshold", ["success_rate", "uptime", "error_rate",
                                       "api_response_seconds"])  # fmt: skip
def test_on_the_line_is_judged_and_quiet_one_step_past_mails_once(warehouse, threshold):
    url, email = warehouse
    steps = on_the_line_then_past(url, threshold)
    runs, ticks = next(steps)
    quiet = refresh(url, email, runs, ticks)
    [v] = [v for v in quiet.verdicts if v.key == (threshold, f"{BAD}/{v.flow}") and v.judged]
    assert v.value == pytest.approx(ON_THE_LINE[threshold]) and not v.breaches
    assert quiet.crossed == set() and quiet.alerts == []
    assert health_mail(url) == []
    runs, ticks = next(steps)
    reports = [refresh(url, email, runs, ticks, minutes=m) for m in (1, 2)]
    assert reports[0].crossed == {(threshold, f"{BAD}/{v.flow}")}
    assert [len(r.alerts) for r in reports] == [1, 0]
    [subject] = health_mail(url)
    assert f"{BAD}/{v.flow}" in subject


def test_a_crossing_after_an_emailed_recovery_is_mailed_again(warehouse):
    """Crossed (mailed), back to normal (mailed), crossed again ten minutes later: the
    operator's last email must say it is crossed. Each transition is its own email; the
    hysteresis already keeps a figure hovering at the line from mailing."""
    url, email = warehouse
    bad, good = orders_runs(failed=5), orders_runs(failed=0)
    kinds = []
    for step, runs in enumerate([bad, good, bad]):
        report = refresh(url, email, runs, minutes=10 * step)
        kinds.append(len(report.alerts))
        with psycopg.connect(url, autocommit=True) as conn:  # delivered, as the sensor does
            conn.execute("UPDATE shopsync.email_outbox SET status = 'sent', sent_at = now()")
    assert kinds == [1, 1, 1]
    subjects = health_mail(url)
    assert len(subjects) == 3
    assert "back to normal" in subjects[1] and "below 90.00 %" in subjects[2]
