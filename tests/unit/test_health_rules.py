"""Health rules: categories, percentiles, uptime, and threshold judgement with state."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from assets.run_history import RetailerRun
from pipelines.health import health_schedule
from resources.registry import Thresholds
from sync import health as h

NOW = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)
THRESHOLDS = {k: getattr(Thresholds(), k) for k in h.RULES_BY_KEY}


_IDS = itertools.count()


def run(ok=True, status=None, tick=None, seconds=30.0, retailer="epic", flow="orders"):
    status = status or ("success" if ok else "failure")
    start = (tick or NOW - timedelta(minutes=30)) + timedelta(seconds=5)
    return RetailerRun(
        flow=flow, retailer=retailer, run_id=f"run-{next(_IDS)}", job=f"{flow}_job",
        status=status, retailer_ok=ok, started_at=start,
        ended_at=start + timedelta(seconds=seconds) if status != "started" else None,
        scheduled_for=tick, partitions=retailer, schedule="orders_schedule" if tick else None,
        created_at=start,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("code", "status", "category"),
    [
        ("HTTP_401", 401, "auth"),
        ("TOKEN_MISSING", None, "auth"),
        ("ACCESS_DENIED", 200, "auth"),
        ("HTTP_429", 429, "throttling"),
        ("THROTTLED", 200, "throttling"),
        ("HTTP_503", 503, "transient"),
        ("timeout", None, "transient"),
        ("INTERNAL_SERVER_ERROR", 200, "transient"),
        ("SEARCH_WARNING", 200, "data_quality"),
        ("GRAPHQL_ERROR", 200, "validation"),
        ("HTTP_400", 400, "validation"),
        (None, 404, "validation"),
        (None, None, "transient"),
    ],
)
def test_errors_fall_in_the_guides_categories(code, status, category):
    assert h.categorise(code, status) == category


def test_percentiles_interpolate_like_postgres_percentile_cont():
    values = list(range(1, 11))
    assert h.percentile(values, 0.5) == pytest.approx(5.5)
    assert h.percentile(values, 0.95) == pytest.approx(9.55)
    assert h.percentile([7.0], 0.95) == 7.0
    assert h.percentile([], 0.5) is None


def test_run_stats_count_the_retailers_outcome_and_skip_unfinished_runs():
    stats = h.run_stats([run(), run(seconds=90), run(ok=False, seconds=60), run(status="started")])
    assert (stats.runs, stats.ok) == (3, 2)
    assert stats.success_rate == pytest.approx(2 / 3)
    assert stats.p50_seconds == pytest.approx(60)
    assert stats.p95_seconds == pytest.approx(87)


def test_uptime_counts_ticks_that_succeeded_out_of_those_due():
    ticks = [h.Tick("orders_schedule", NOW - timedelta(minutes=15 * i)) for i in range(6)]
    runs = [
        run(tick=ticks[5].at),  # succeeded
        run(ok=False, tick=ticks[4].at),  # failed for this retailer
        run(ok=False, tick=ticks[3].at),  # failed, then its retry succeeded
        run(tick=ticks[3].at),
        # ticks[2]: no run at all, long ago: missed
        run(status="started", tick=ticks[1].at),  # still running: not judged
        # ticks[0]: due just now, no run yet: not judged
    ]
    result = h.uptime(ticks, runs, NOW)
    assert (result.up, result.due) == (2, 4)
    other = h.Tick("other_schedule", ticks[5].at)  # a run of another schedule does not count
    assert h.uptime([other], runs, NOW).up == 0


def test_recurring_errors_rank_by_count_across_retailers():
    groups = [
        h.ErrorGroup("orders", "epic", "orders_updated", "HTTP_503", 503, 3),
        h.ErrorGroup("orders", "botanical", "orders_updated", "HTTP_503", 503, 2),
        h.ErrorGroup("inventory", "epic", "inventory_set", "HTTP_401", 401, 4),
    ]
    first, second = h.rank_errors(groups)
    assert (first.category, first.code, first.count) == ("transient", "HTTP_503", 5)
    assert first.scopes == ("botanical/orders", "epic/orders")
    assert (second.category, second.count) == ("auth", 4)
    assert h.by_category(groups)["transient"] == 5


def cell(window="day", retailer="epic", flow="orders", **figures):
    return h.CellFigures(retailer, flow, window, **figures)


def refreshes(cells_per_refresh, min_samples=5):
    """Judge each refresh against the state the previous ones left; the changes of each."""
    state: dict[tuple[str, str], bool] = {}
    seen = []
    for cells in cells_per_refresh:
        verdicts = h.judge(cells, THRESHOLDS, min_samples)
        found = h.changes(verdicts, state)
        for v in verdicts:
            if v.judged:
                state[v.key] = h.crossed_after(v, state.get(v.key, False))
        seen.append([(c.verdict.rule.key, c.verdict.scope, c.kind) for c in found])
    return seen


def runs_cell(ok, total):
    return cell("day", runs=h.RunStats(total, ok))


def api_cell(calls=100, errors=0, p95_ms=500.0):
    return cell("hour", api=h.ApiStats(calls, errors, 0, p95_ms / 2, p95_ms))


def uptime_cell(up, due):
    return cell("day", uptime=h.Uptime(due, up))


CASES = {
    "success_rate": (runs_cell(85, 100), runs_cell(92, 100), runs_cell(96, 100)),
    "api_response_seconds": (
        api_cell(p95_ms=12_000), api_cell(p95_ms=7_000), api_cell(p95_ms=4_000)
    ),
    "error_rate": (api_cell(errors=8), api_cell(errors=3), api_cell(errors=1)),
    "uptime": (uptime_cell(980, 1000), uptime_cell(995, 1000), uptime_cell(1000, 1000)),
}  # fmt: skip


@pytest.mark.parametrize("rule", list(CASES))
def test_each_threshold_alerts_once_on_crossing_and_once_on_recovery(rule):
    bad, between, good = CASES[rule]
    seen = refreshes([[good], [bad], [bad], [between], [bad], [good], [good]])
    assert seen == [
        [],  # healthy: nothing
        [(rule, "epic/orders", "crossed")],  # crossed: one alert
        [],  # still crossed: no second alert
        [],  # better but not at target yet: still crossed, no recovery, no alert
        [],
        [(rule, "epic/orders", "recovered")],  # back at target: one notice
        [],
    ]


@pytest.mark.parametrize("rule", list(CASES))
def test_a_figure_between_target_and_alert_line_does_not_alert(rule):
    _, between, _ = CASES[rule]
    assert refreshes([[between], [between]]) == [[], []]


def test_too_few_samples_are_shown_but_not_judged():
    few = cell("day", runs=h.RunStats(4, 0))  # 0 % of 4 runs
    [verdict] = [v for v in h.judge([few], THRESHOLDS, 5) if v.rule.key == "success_rate"]
    assert verdict.value == 0 and not verdict.judged and not verdict.breaches
    assert refreshes([[few]]) == [[]]
    assert refreshes([[few]], min_samples=4) == [[("success_rate", "epic/orders", "crossed")]]
    # An unjudged refresh leaves a crossing as it was: no recovery notice from no data.
    assert refreshes([[runs_cell(0, 10)], [few], [runs_cell(10, 10)]]) == [
        [("success_rate", "epic/orders", "crossed")], [],
        [("success_rate", "epic/orders", "recovered")],
    ]  # fmt: skip


def test_worst_offenders_come_first_whichever_way_the_figure_points():
    figures = (("a", 9, 11_000.0), ("b", 20, 30_000.0), ("c", 6, 1_000.0))
    cells = [cell("hour", retailer=r, api=h.ApiStats(100, e, 0, 1.0, ms)) for r, e, ms in figures]
    verdicts = h.judge(cells, THRESHOLDS, 5)
    latency = [
        v.retailer
        for v in h.worst_first(v for v in verdicts if v.rule.key == "api_response_seconds")
    ]
    assert latency == ["b", "a", "c"]
    rates = [runs_cell(90, 100), cell("day", retailer="z", runs=h.RunStats(10, 5))]
    success = [v for v in h.judge(rates, THRESHOLDS, 5) if v.rule.key == "success_rate"]
    assert [v.retailer for v in h.worst_first(success)] == ["z", "epic"]


def test_the_health_schedule_judges_the_window_ending_at_its_tick():
    tick = datetime(2026, 12, 3, 12, 4, tzinfo=UTC)
    context = dg.build_schedule_context(scheduled_execution_time=tick)
    [request] = health_schedule.evaluate_tick(context).run_requests
    assert request.run_key == "health:20261203T1204"
    assert request.run_config["ops"]["health"]["config"]["until"] == tick.isoformat()
    assert health_schedule.description and health_schedule.cron_schedule == "4,19,34,49 * * * *"
