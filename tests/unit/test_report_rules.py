"""The report windows agree with the partitions Dagster shows, DST included; the status
table's judgement; week-over-week wording; hourly buckets; and the charts are PNGs."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import dagster as dg
import pytest

from resources.charts import Panel, chart_png, data_uri
from sync.reports import (
    ReportWindow,
    Trend,
    bucket,
    change_text,
    closed_summary_key,
    closed_week_key,
    judge_status,
    previous_week,
    summary_key_at,
    summary_window,
    week_key_at,
    week_window,
)

TZ = "America/Denver"


@pytest.mark.parametrize("key", [date(2026, 11, 30), date(2026, 10, 31), date(2026, 3, 7)])
def test_summary_window_is_the_dagster_partition_window(key):
    """Same hour offset and zone as the asset's partitions: 2026-10-31 → 11-01 is 25 h
    (DST ends), 2026-03-07 → 03-08 is 23 h."""
    days = dg.DailyPartitionsDefinition(start_date="2026-01-01", hour_offset=18, timezone=TZ)
    span = days.time_window_for_partition_key(f"{key:%Y-%m-%d}")
    window = summary_window(key, TZ, 18)
    assert (window.since, window.end) == (span.start, span.end)
    hours = {date(2026, 10, 31): 25, date(2026, 3, 7): 23}.get(key, 24)
    assert len(window.hours) == hours


def test_week_window_is_the_dagster_weekly_partition():
    weeks = dg.WeeklyPartitionsDefinition(start_date="2026-01-05", day_offset=1, timezone=TZ)
    span = weeks.time_window_for_partition_key("2026-11-30")
    window = week_window(date(2026, 11, 30), TZ)
    assert (window.since, window.end) == (span.start, span.end)


def test_summary_keys_for_a_moment_and_for_the_schedule_tick():
    # 2026-12-03 17:59 in Denver is still in the window that opened on 12-02 at 18:00.
    assert summary_key_at(datetime(2026, 12, 4, 0, 59, tzinfo=UTC), TZ, 18) == date(2026, 12, 2)
    assert summary_key_at(datetime(2026, 12, 4, 1, 0, tzinfo=UTC), TZ, 18) == date(2026, 12, 3)
    # The 18:00 tick of 12-03 closes the window keyed 12-02.
    tick = datetime(2026, 12, 4, 1, 0, tzinfo=UTC)
    assert closed_summary_key(tick, TZ, 18) == date(2026, 12, 2)


def test_week_keys():
    monday_8am = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)  # 08:00 in Denver
    assert week_key_at(monday_8am, TZ, 0) == date(2026, 11, 30)
    assert closed_week_key(monday_8am, TZ, 0) == date(2026, 11, 23)
    assert week_key_at(datetime(2026, 12, 3, tzinfo=UTC), TZ, 2) == date(2026, 12, 2)


def test_an_open_window_is_cut_at_now_and_compared_with_the_same_span():
    now = datetime(2026, 12, 2, 19, 0, tzinfo=UTC)  # Wednesday noon in Denver
    this = week_window(date(2026, 11, 30), TZ, now)
    assert not this.complete and this.until == now
    last = previous_week(this, TZ)
    assert last.key == date(2026, 11, 23)
    assert last.until - last.since == this.until - this.since
    assert "so far" in this.describe(TZ) and "so far" not in week_window(this.key, TZ).describe(TZ)


def test_status_is_healthy_only_when_enabled_without_problems():
    ok = judge_status("a", "orders", enabled=True, runs=4, failed=0, last_success=datetime.now(UTC),
                      crossed=[], pending={"waiting": 2, "quarantined": 0})  # fmt: skip
    assert ok.healthy and ok.pending == "2 waiting" and ok.problems == ()
    failing = judge_status("a", "orders", enabled=True, runs=3, failed=3, last_success=None,
                           crossed=["success_rate"], pending={})  # fmt: skip
    assert not failing.healthy and failing.pending == "nothing"
    assert failing.problems == (
        "success_rate below/above its alert line",
        "3 failed runs, none succeeded",
    )
    idle = judge_status("a", "inventory", enabled=True, runs=0, failed=0, last_success=None,
                        crossed=[], pending={})  # fmt: skip
    assert not idle.healthy and idle.problems == ("no run in the window",)
    off = judge_status("a", "inventory", enabled=False, runs=0, failed=0, last_success=None,
                       crossed=[], pending={})  # fmt: skip
    assert not off.healthy and off.problems == ()


def test_change_text_says_the_change_against_last_week():
    assert change_text(Trend(0.97, 0.95), percent=True) == "97.0 % (+2.0 pts)"
    assert change_text(Trend(1.2, 1.5), unit=" s") == "1.20 s (−0.30 s)"
    assert change_text(Trend(0.5, None), percent=True) == "50.0 % (no figure the week before)"
    assert change_text(Trend(None, 0.5)) == "–"


def test_bucket_sums_rows_into_their_hours_and_drops_the_rest():
    window = ReportWindow(date(2026, 12, 1), datetime(2026, 12, 1, 10, tzinfo=UTC),
                          datetime(2026, 12, 1, 13, tzinfo=UTC),
                          datetime(2026, 12, 1, 13, tzinfo=UTC))  # fmt: skip
    rows = [
        (datetime(2026, 12, 1, 10, tzinfo=UTC), 2),
        (datetime(2026, 12, 1, 12, 59, tzinfo=UTC), 1),
        (datetime(2026, 12, 1, 12, tzinfo=UTC), 4),
        (datetime(2026, 12, 1, 9, tzinfo=UTC), 100),  # before the window
        (datetime(2026, 12, 1, 13, tzinfo=UTC) + timedelta(minutes=1), 100),  # after it
    ]
    assert bucket(window.hours, rows) == [2.0, 0.0, 5.0]


def test_chart_is_a_png_and_a_dollar_sign_is_drawn_not_parsed():
    png = chart_png("orders $5 $", ["10h", "11h"],
                    [Panel("records $", bars={"imported $x$": [1, 2]}, lines={"e": [None, 1]},
                           dashed=frozenset({"e"}))])  # fmt: skip
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000
    assert data_uri(png).startswith("data:image/png;base64,iVBOR")


@pytest.mark.parametrize(
    ("schedule", "tick", "key"),
    [
        ("daily_summary_schedule", datetime(2026, 12, 4, 1, 0, tzinfo=UTC), "2026-12-02"),
        ("weekly_report_schedule", datetime(2026, 11, 30, 15, 0, tzinfo=UTC), "2026-11-23"),
    ],
)
def test_schedules_mail_the_partition_their_tick_closed(schedule, tick, key):
    """18:00 Denver on 12-03 closes the day keyed 12-02; Monday 08:00 the week before."""
    from pipelines.definitions import defs

    definition = defs.get_schedule_def(schedule)
    context = dg.build_schedule_context(
        scheduled_execution_time=tick, repository_def=defs.get_repository_def()
    )
    [request] = definition.evaluate_tick(context).run_requests
    asset = schedule.removesuffix("_schedule")
    assert (request.partition_key, request.run_key) == (key, f"{asset}:{key}")
    assert request.run_config == {"ops": {asset: {"config": {"email": True}}}}


def test_a_tick_before_the_first_partition_is_skipped_with_the_reason():
    from pipelines.definitions import defs

    definition = defs.get_schedule_def("weekly_report_schedule")
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2026, 11, 16, 15, 0, tzinfo=UTC),
        repository_def=defs.get_repository_def(),
    )
    [reason] = [definition.evaluate_tick(context).skip_message]
    assert reason == "weekly_report 2026-11-09: before the first partition (2026-11-23)"


def test_by_cell_groups_runs_per_retailer_and_flow_keeping_their_order():
    from types import SimpleNamespace as Run

    from sync.reports import by_cell

    cells_of = [("a", "orders"), ("b", "orders"), ("a", "orders"), ("a", "inventory")]
    runs = [Run(retailer=r, flow=f, n=n) for n, (r, f) in enumerate(cells_of, 1)]
    cells = by_cell(runs)
    assert {k: [r.n for r in v] for k, v in cells.items()} == {
        ("a", "orders"): [1, 3], ("b", "orders"): [2], ("a", "inventory"): [4]}  # fmt: skip
