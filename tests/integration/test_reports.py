"""The daily summary and the weekly report over real Dagster runs and a real outbox: the
figures are the ledgers', the chart is a PNG inline in the mail and in the UI markdown,
the scheduled run mails once per day even after manual runs, and what came from a store
is escaped in both."""

from __future__ import annotations

import warnings
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import psycopg
import pytest

from assets.partitions import partition_key, retailer_hourly_partitions, retailers_partitions_name
from assets.reports import failed_checks
from assets.run_history import RetailerRun
from flows.weekly_report import WeekInputs, build_weekly_report
from pipelines.definitions import defs
from pipelines.resources import build_resources
from resources.email import EmailResource
from resources.registry import DEFAULT_PARTITIONS_START, load_registry
from sync.reports import summary_key_at, week_key_at, week_window
from tests.fixtures.flows import demo_scenario, hour_floor

pytestmark = pytest.mark.integration

REVOKED = "nationwide-plants"
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
SCHEDULED = {"dagster/schedule_name": "daily_summary_schedule"}
SCRIPT = "<script>alert(1)</script>"


def _summary(instance, key: str, *, email: bool, tags: dict | None = None):
    config = {**QUIET, "ops": {"daily_summary": {"config": {"email": email}}}}
    result = defs.resolve_job_def("daily_summary_job").execute_in_process(
        instance=instance, partition_key=key, run_config=config, tags=tags or {},
        resources=build_resources(),
    )  # fmt: skip
    assert result.success
    [materialization] = result.asset_materializations_for_node("daily_summary")
    return result, {k: v.value for k, v in materialization.metadata.items()}


def _outbox(conn: psycopg.Connection, kind: str) -> list[tuple]:
    return conn.execute(
        "SELECT o.dedupe_key, o.subject, o.html, o.text, i.content_id, i.filename, i.data"
        " FROM shopsync.email_outbox o LEFT JOIN shopsync.email_outbox_images i"
        " ON i.outbox_id = o.id WHERE o.kind = %s ORDER BY o.id",
        (kind,),
    ).fetchall()


def test_daily_summary_from_real_runs_mails_once_with_its_chart(flow_harness_factory, monkeypatch):
    """A scheduled-style orders tick where one retailer's token is revoked: the summary
    counts the ledgers' imports, the failed run and its partitions, and judges the revoked
    retailer unhealthy; the scheduled run mails once (PNG inline), a manual copy mails
    under its own key, a manual run without `email` mails nothing."""
    flow = flow_harness_factory(demo_scenario(with_orders=True))
    monkeypatch.setenv("SHOPSYNC_TOKEN_NATIONWIDE_PLANTS", "shpat_revoked_0000")  # 401
    now = datetime.now(UTC)
    notifications = flow.registry.notifications
    key = f"{summary_key_at(now, notifications.time_zone, notifications.daily_summary_hour)}"
    conn = flow.connect()
    with dg.instance_for_test() as instance:
        no_hold = {"orders_flow": {"config": {"hold_window_minutes": 0}}}
        tick = flow.run_tick("orders_job", now, instance, ops=no_hold)
        assert not tick.success
        _, manual = _summary(instance, key, email=False)
        _, scheduled = _summary(instance, key, email=True, tags=SCHEDULED)
        _summary(instance, key, email=True, tags=SCHEDULED)  # a re-run: no second email
        copy, _ = _summary(instance, key, email=True)
    imported = conn.execute(
        "SELECT count(*) FROM shopsync.order_links WHERE state IN ('created', 'confirmed')"
    ).fetchone()[0]
    assert imported > 0 and scheduled["orders_imported"] == imported
    assert manual["emailed"] is False and scheduled["emailed"] is True
    assert scheduled["failed_runs"] == 1  # the revoked retailer's share of the tick
    assert scheduled["api_calls"] > 0 and scheduled["unhealthy_flows"] >= 1
    report = scheduled["report"]
    assert "data:image/png;base64,iVBOR" in report
    revoked_row = next(
        line for line in report.splitlines() if line.startswith(f"| {REVOKED} | orders |")
    )
    assert "| no |" in revoked_row and "1 failed run, none succeeded" in revoked_row
    assert f"{REVOKED}, hours" in report  # its failed partitions, named

    rows = _outbox(conn, "daily_summary")
    assert [r[0] for r in rows] == [
        f"daily_summary:{key}",
        f"daily_summary:{key}:run:{copy.run_id}",
    ]
    dedupe, subject, html, text, content_id, filename, png = rows[0]
    assert subject.startswith("[shopsync] Daily summary ")
    assert f'src="cid:{content_id}"' in html and filename == f"daily-summary-{key}.png"
    assert bytes(png).startswith(b"\x89PNG")
    assert "Retailer status" in text and f"orders imported: {imported}" in text
    assert f"{REVOKED} | orders | on | no |" in text


def test_weekly_report_asset_mails_the_week_from_its_schedule(flow, db_url):
    now = datetime.now(UTC)
    tz = flow.registry.notifications.time_zone
    week = f"{week_key_at(now, tz, flow.registry.operations.weekly_report_weekday)}"
    with dg.instance_for_test() as instance:
        flow.run_job("inventory_job", "epic-gardening", now, instance=instance)
        result = defs.resolve_job_def("weekly_report_job").execute_in_process(
            instance=instance, partition_key=week, resources=build_resources(),
            run_config={**QUIET, "ops": {"weekly_report": {"config": {"email": True}}}},
            tags={"dagster/schedule_name": "weekly_report_schedule"},
        )  # fmt: skip
    assert result.success
    [m] = result.asset_materializations_for_node("weekly_report")
    meta = {k: v.value for k, v in m.metadata.items()}
    assert meta["runs"] == 1 and meta["success_rate.inventory"] == 1.0
    assert "epic-gardening | inventory | 1 | 100.0 %" in meta["report"]
    [(dedupe, *_rest, png)] = _outbox(flow.connect(), "weekly_report")
    assert dedupe == f"weekly_report:{week}" and bytes(png).startswith(b"\x89PNG")


def _run(run_id: str, at: datetime, ok: bool, flow: str = "orders") -> RetailerRun:
    return RetailerRun(flow, "epic-gardening", run_id, f"{flow}_job",
                       "success" if ok else "failure", ok, at, at + timedelta(seconds=30), None,
                       "epic-gardening, hours …", created_at=at)  # fmt: skip


def test_weekly_report_compares_with_the_week_before_and_escapes_shopify_errors(db, postgres):
    """Success 1 of 2 this week against 2 of 2 before, the p95 response time up, and a
    recurring error whose code (from a Shopify response) is a script tag: escaped in
    the UI markdown and in the HTML mail."""
    reg = load_registry()
    tz = reg.notifications.time_zone
    this = week_window(date(2026, 11, 23), tz)
    at, before = this.since + timedelta(days=1), this.since - timedelta(days=6)
    runs = [_run("w-this-1", at, True), _run("w-this-2", at, False),
            _run("w-last-1", before, True), _run("w-last-2", before, True)]  # fmt: skip
    calls = [("w-this-1", at, 900.0, None), ("w-this-2", at, 1500.0, SCRIPT),
             ("w-this-2", at, 1400.0, SCRIPT),
             ("w-last-1", before, 300.0, None), ("w-last-2", before, 320.0, SCRIPT)]  # fmt: skip
    db.execute("DELETE FROM shopsync.email_outbox")
    with db.cursor() as cur:
        cur.executemany(
            "INSERT INTO shopsync.api_calls (called_at, store, retailer, operation, duration_ms,"
            " http_status, error_code, run_id, actual_cost)"
            " VALUES (%s, 'epic-gardening', 'epic-gardening', 'orders', %s, 200, %s, %s, 10)",
            [(t, ms, code, run) for run, t, ms, code in calls],
        )
    email = EmailResource(postgres=postgres, outbox_only=True)
    inputs = WeekInputs.of(reg, this, lambda since, until: runs, "weekly_report:test")
    report = build_weekly_report(db, email, inputs)
    assert report.figures["success_rate"] == 0.5 and report.figures["runs"] == 2
    assert "epic-gardening | orders | 2 | 50.0 % \\(−50.0 pts\\)" in report.markdown
    assert "&lt;script&gt;alert\\(1\\)&lt;/script&gt;" in report.markdown
    assert "<script>" not in report.markdown
    row = next(line for line in report.markdown.splitlines() if "script" in line)
    assert "| 2 | 1 |" in row  # this week 2 calls with it, last week 1
    [(_, subject, html, text, _, _, png)] = _outbox(db, "weekly_report")
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "50.0 % (−50.0 pts)" in text and bytes(png).startswith(b"\x89PNG")


PARTITIONS = retailer_hourly_partitions("orders", DEFAULT_PARTITIONS_START)


@dg.asset(name="hub_orders", partitions_def=PARTITIONS)
def hub_orders_stand_in() -> None:
    pass


with warnings.catch_warnings():  # partitioned checks are a Dagster preview, as in checks/
    warnings.simplefilter("ignore")

    @dg.asset_check(asset=hub_orders_stand_in, blocking=False, partitions_def=PARTITIONS)
    def hub_orders_are_unique() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=False)


def test_failed_checks_of_the_window_name_their_retailer_and_flow():
    key = partition_key("epic-gardening", hour_floor(datetime.now(UTC)))
    since = datetime.now(UTC) - timedelta(seconds=1)
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(retailers_partitions_name("orders"), ["epic-gardening"])
        dg.materialize([hub_orders_stand_in, hub_orders_are_unique], instance=instance,
                       partition_key=str(key), raise_on_error=False)  # fmt: skip
        found = failed_checks(instance, since, datetime.now(UTC) + timedelta(seconds=1))
        earlier = failed_checks(instance, since - timedelta(hours=1), since)
    assert [(f.retailer, f.flow, f.check, f.partition) for f in found] == [
        ("epic-gardening", "orders", "hub_orders.hub_orders_are_unique", str(key))
    ]
    assert earlier == []
