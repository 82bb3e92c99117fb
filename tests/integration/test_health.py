"""Health over real Dagster runs of the flows: the run history splits runs per retailer,
and the `health` asset materializes its figures and alerts from them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import psycopg
import pytest
import yaml

from assets.partitions import partition_key
from assets.run_history import RetailerRun, retailer_runs
from flows.health import HealthInputs, health_markdown, refresh_health
from pipelines.definitions import defs
from pipelines.health import health
from pipelines.resources import build_resources
from resources.email import EmailResource
from resources.postgres import PostgresResource, apply_migrations
from resources.registry import Registry, load_registry, registry_path
from sync.health import Tick
from sync.markdown import md_text
from tests.fixtures.db import create_scratch_database, drop_database
from tests.fixtures.flows import RETAILERS, hour_floor

pytestmark = pytest.mark.integration

REVOKED = "nationwide-plants"
NO_HOLD = {"orders_flow": {"config": {"hold_window_minutes": 0}}}


def test_run_history_splits_a_failed_tick_per_retailer(flow, monkeypatch):
    monkeypatch.setenv("SHOPSYNC_TOKEN_NATIONWIDE_PLANTS", "shpat_revoked_0000")  # 401
    now = datetime.now(UTC)
    with dg.instance_for_test() as instance:
        tick = flow.run_tick("orders_job", now, instance, ops=NO_HOLD)
        single = flow.run_job("inventory_job", "epic-gardening", now, instance=instance)
        runs = retailer_runs(instance, flow.registry, now - timedelta(hours=1), datetime.now(UTC))
    assert not tick.success and single.success
    by_run = {}
    for r in runs:
        by_run.setdefault(r.run_id, {})[r.retailer] = r
    assert set(by_run[tick.run_id]) == set(RETAILERS)
    assert {k: v.retailer_ok for k, v in by_run[tick.run_id].items()} == {
        r: r != REVOKED for r in RETAILERS
    }
    revoked = by_run[tick.run_id][REVOKED]
    assert (revoked.flow, revoked.job, revoked.status) == ("orders", "orders_job", "failure")
    first = hour_floor(now) - timedelta(hours=1)
    assert revoked.partitions.startswith(f"{REVOKED}, hours {first:%Y-%m-%d-%H:%M}")
    assert revoked.duration_seconds is not None and revoked.duration_seconds > 0
    [inventory] = by_run[single.run_id].values()
    assert (inventory.flow, inventory.retailer, inventory.retailer_ok) == (
        "inventory",
        "epic-gardening",
        True,
    )
    assert inventory.scheduled_for is None and inventory.partitions == "epic-gardening"


# -- thresholds over a real warehouse -------------------------------------------------

BAD = "epic-gardening"
CALLS = ("INSERT INTO shopsync.api_calls (called_at, store, operation, duration_ms, http_status,"
         " throttled, run_id, error_code, step, retailer) VALUES (%s, %s, %s, %s, %s, %s, %s, %s,"
         " %s, %s)")  # fmt: skip


@pytest.fixture
def warehouse():
    url, admin = create_scratch_database("shopsync_health")
    with psycopg.connect(url) as conn:
        apply_migrations(conn)
    postgres = PostgresResource(url=url)
    yield url, EmailResource(postgres=postgres, sender="shopsync@example.com", outbox_only=True)
    postgres.close()
    drop_database(admin, url)


def registry(**operations) -> Registry:
    reg = load_registry()
    ops = reg.operations.model_copy(update=operations)
    notes = reg.notifications.model_copy(update={"recipients": ["ops@example.com"]})
    return reg.model_copy(update={"operations": ops, "notifications": notes})


TICK = "orders_schedule"


def history(now: datetime, *, failing: int = 0, missing: int = 0, ticks: int = 20):
    """Orders runs of the last `ticks` quarter hours for every retailer: the last
    `failing` failed for BAD, and BAD missing from the `missing` ticks before those."""
    runs, due = [], []
    for i in range(ticks):
        at = hour_floor(now) - timedelta(minutes=15 * i)
        due.append(Tick(TICK, at))
        for retailer in RETAILERS:
            if retailer == BAD and failing <= i < failing + missing:
                continue
            ok = not (retailer == BAD and i < failing)
            runs.append(RetailerRun(
                flow="orders", retailer=retailer, run_id=f"{at:%H%M}-{retailer}",
                job="orders_job", status="success" if ok else "failure", retailer_ok=ok,
                started_at=at + timedelta(seconds=10), ended_at=at + timedelta(seconds=40),
                scheduled_for=at, partitions=retailer, schedule=TICK,
                created_at=at + timedelta(seconds=5),
            ))  # fmt: skip
    return runs, {"orders": due}


def add_calls(url, runs, now, *, slow_ms=None, errors=0, code="HTTP_503", per_run=2):
    """Calls of the last hour for each run: BAD's are `slow_ms` long and `errors` fail."""
    rows, failed = [], 0
    for run in runs:
        for j in range(per_run):
            bad = run.retailer == BAD
            fail = bad and failed < errors
            failed += fail
            at = now - timedelta(minutes=30, seconds=j)
            ms = slow_ms if bad and slow_ms else 300.0
            status, error = (503, code) if fail else (200, None)
            rows.append((at, run.retailer, "orders_updated", ms, status, False,
                         run.run_id, error, "retailer_orders", run.retailer))  # fmt: skip
    with psycopg.connect(url) as conn:
        conn.execute("DELETE FROM shopsync.api_calls")
        conn.cursor().executemany(CALLS, rows)


def alerts(url) -> list[tuple[str, str, str]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT subject, text, html FROM shopsync.email_outbox WHERE kind = 'health_alert'"
            " ORDER BY id"
        ).fetchall()


def refresh(url, email, reg, runs, ticks, now):
    with psycopg.connect(url, autocommit=True) as conn:
        return refresh_health(conn, email, HealthInputs(reg, runs, ticks, now))


SCENARIOS = {
    # threshold: (bad history + calls, healthy again), the figure's words in the subject
    "success_rate": ({"failing": 5}, "Run success rate below 90.00 %"),
    "uptime": ({"missing": 3, "ticks_on": True}, "Uptime (scheduled ticks that succeeded) below"),
    "api_response_seconds": ({"slow_ms": 14_000.0}, "API response time (p95) above 10.00 s"),
    "error_rate": ({"errors": 6}, "API error rate above 5.00 %"),
}


@pytest.mark.parametrize("threshold", list(SCENARIOS))
def test_a_crossing_alerts_once_and_its_recovery_once(warehouse, threshold):
    url, email = warehouse
    bad, words = SCENARIOS[threshold]
    reg, now = registry(), datetime.now(UTC).replace(second=0, microsecond=0)
    healthy, ticks = history(now)
    ticks = ticks if bad.get("ticks_on") else {}
    runs, _ = history(now, failing=bad.get("failing", 0), missing=bad.get("missing", 0))
    add_calls(url, runs, now, slow_ms=bad.get("slow_ms"), errors=bad.get("errors", 0))
    reports = [refresh(url, email, reg, runs, ticks, now + timedelta(minutes=i)) for i in range(3)]
    [(subject, text, html)] = alerts(url)  # one alert across three refreshes
    assert words in subject and BAD in subject
    assert "alert line" in text and f"{BAD} | orders" in text
    assert reports[0].alerts and not reports[1].alerts and not reports[2].alerts
    assert reports[-1].crossed == {(threshold, f"{BAD}/orders")}  # only this threshold crossed
    # The figure is back at target: one "back to normal", and no more after.
    add_calls(url, healthy, now)
    later = [
        refresh(url, email, reg, healthy, ticks, now + timedelta(minutes=5 + i)) for i in range(2)
    ]
    assert [len(r.alerts) for r in later] == [1, 0]
    assert later[-1].crossed == set()
    subjects = [s for s, _, _ in alerts(url)]
    assert len(subjects) == 2 and subjects[1].startswith("[shopsync] Health back to normal")


def test_too_few_samples_never_alert(warehouse):
    url, email = warehouse
    now = datetime.now(UTC)
    runs, _ = history(now, failing=4, ticks=4)  # BAD failed all 4 runs: 0 %, but 4 < 5 samples
    report = refresh(url, email, registry(), runs, {}, now)
    [verdict] = [v for v in report.verdicts if v.key == ("success_rate", f"{BAD}/orders")]
    assert verdict.value == 0 and not verdict.judged
    assert alerts(url) == []
    report = refresh(url, email, registry(min_samples=4), runs, {}, now + timedelta(minutes=1))
    assert report.crossed == {("success_rate", f"{BAD}/orders")} and len(alerts(url)) == 1


def test_hostile_error_text_is_escaped_in_markdown_and_mail(warehouse):
    url, email = warehouse
    now = datetime.now(UTC)
    runs, _ = history(now)
    hostile = "<script>alert(1)</script>|[x](javascript:alert(1))"
    add_calls(url, runs, now, errors=10, code=hostile)
    report = refresh(url, email, registry(), runs, {}, now)
    markdown = health_markdown(report)
    assert "<script>" not in markdown and "&lt;script&gt;" in markdown
    assert "](javascript" not in markdown and "\\|" in markdown
    [(subject, text, html)] = alerts(url)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert hostile in text  # the text part is plain text: shown as it is, inert


# -- the asset over real runs ---------------------------------------------------------


def row(*cells) -> str:
    """The start of a markdown table row, each cell escaped as md_table escapes it."""
    return "| " + " | ".join(md_text(c) for c in cells) + " |"


def test_health_asset_materializes_its_figures_from_real_runs(flow, monkeypatch, tmp_path):
    """A scheduled orders tick in which one retailer's token is revoked, an inventory run
    from the asset page: the asset shows per-flow figures, the markdown table, uptime
    from the schedule's tick, and alerts once (min_samples 1 here) naming the retailer."""
    raw = yaml.safe_load(registry_path().read_text())
    raw.setdefault("operations", {})["min_samples"] = 1
    (tmp_path / "registry.yaml").write_text(yaml.safe_dump(raw))
    monkeypatch.setenv("SHOPSYNC_REGISTRY", str(tmp_path / "registry.yaml"))
    monkeypatch.setenv("SHOPSYNC_TOKEN_NATIONWIDE_PLANTS", "shpat_revoked_0000")  # 401
    now = datetime.now(UTC)
    tick = now.replace(minute=now.minute // 15 * 15, second=0, microsecond=0)
    with dg.instance_for_test() as instance:
        flow.run_job("inventory_job", "epic-gardening", now, instance=instance)
        tags = {
            "dagster/schedule_name": "orders_schedule",
            "shopsync/tick": f"{tick:%Y-%m-%dT%H:%M}",  # as pipelines.schedules tags a tick
            "dagster/asset_partition_range_start": str(
                partition_key(RETAILERS[0], hour_floor(now))
            ),
            "dagster/asset_partition_range_end": str(partition_key(RETAILERS[-1], hour_floor(now))),
        }
        scheduled = defs.resolve_job_def("orders_job").execute_in_process(
            instance=instance, raise_on_error=False, tags=tags,
            run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}, "ops": NO_HOLD},
        )  # fmt: skip
        assert not scheduled.success
        run_config = {"ops": {"health": {"config": {"until": datetime.now(UTC).isoformat()}}}}
        results = [
            dg.materialize([health], instance=instance, resources=build_resources(),
                           run_config=run_config)
            for _ in range(2)
        ]  # fmt: skip
        assert all(r.success for r in results)
        first, second = (
            {k: v.value for k, v in r.asset_materializations_for_node("health")[0].metadata.items()}
            for r in results
        )
    meta = first
    assert meta["success_rate.orders"] == 0.0  # the revoked retailer: 0 of 1
    assert meta["success_rate.inventory"] == 1.0
    assert meta["uptime.orders"] == 0.0 and meta["uptime"] == 0.0
    assert meta["api_calls_hour"] > 0 and meta["errors_day.auth"] >= 1
    assert meta["db_size_mb"] > 0 and meta["db_connection_headroom"] > 0
    assert meta["thresholds_crossed"] >= 2 and meta["alerts_queued"] >= 2
    table = meta["report"]
    assert row("nationwide-plants", "orders", "last day", 1, "0.0 %") in table
    assert row("epic-gardening", "inventory", "last day", 1, "100.0 %") in table
    assert md_text("HTTP_401") in table and md_text("auth") in table
    with psycopg.connect(flow.db_url) as conn:
        subjects = [s for (s,) in conn.execute(
            "SELECT subject FROM shopsync.email_outbox WHERE kind = 'health_alert'")]  # fmt: skip
    # One alert per threshold crossed, across both refreshes; each names the retailer.
    assert len(subjects) == meta["alerts_queued"] == len(set(subjects))
    assert (
        second["alerts_queued"] == 0 and second["thresholds_crossed"] == meta["thresholds_crossed"]
    )
    assert all("nationwide-plants/orders" in s for s in subjects)
    assert any("Run success rate" in s for s in subjects) and any("Uptime" in s for s in subjects)
