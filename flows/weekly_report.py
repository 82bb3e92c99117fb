"""The weekly report (the operations guide's weekly performance analysis): per retailer
and flow the run success rate, the API's error rate and p95 response time this week
against the week before, the recurring errors of both, and a chart day by day.

A week still open is compared with the same span of the week before (Monday to
Wednesday against Monday to Wednesday), so a mid-week look is not a false alarm.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg

from flows.reports import Report, Section, publish
from resources.charts import Panel, chart_png
from resources.email import EmailResource
from resources.ledgers import health as health_ledger
from resources.ledgers import reports as ledger
from resources.registry import Registry
from sync import health as h
from sync.reports import FLOWS, ReportWindow, Trend, by_cell, change_text, previous_week

#: Retailers drawn in the chart (the worst by p95 first); every one is in the tables.
CHART_RETAILERS = 6


@dataclass(frozen=True)
class WeekInputs:
    registry: Registry
    window: ReportWindow
    last: ReportWindow  # the same span of the week before
    runs: Sequence[h.RunLike]  # flow runs of both weeks, one per retailer covered
    dedupe_key: str | None = None  # None: do not email

    @classmethod
    def of(cls, reg: Registry, window: ReportWindow,
           runs_between: Callable[[datetime, datetime], Sequence[h.RunLike]],
           dedupe_key: str | None) -> WeekInputs:  # fmt: skip
        last = previous_week(window, reg.notifications.time_zone)
        return cls(reg, window, last, runs_between(last.since, window.until), dedupe_key)


@dataclass(frozen=True)
class WeeklyReport:
    report: Report
    figures: dict[str, float | int]
    markdown: str
    emailed: bool


def _in(runs: Sequence[h.RunLike], window: ReportWindow) -> list[h.RunLike]:
    return [r for r in runs if r.created_at and window.since <= r.created_at < window.until]


def build_weekly_report(
    conn: psycopg.Connection, email: EmailResource, inputs: WeekInputs
) -> WeeklyReport:
    reg, this, last = inputs.registry, inputs.window, inputs.last
    tz = reg.notifications.time_zone
    runs = {"this": _in(inputs.runs, this), "last": _in(inputs.runs, last)}
    api, errors = {}, {}
    for name, window in (("this", this), ("last", last)):
        run_flows = {r.run_id: r.flow for r in runs[name]}
        api[name], groups = health_ledger.api_stats(conn, run_flows, window.since, window.until)
        errors[name] = h.rank_errors(groups, limit=50)
    cells = sorted({(r.retailer, r.flow) for rs in runs.values() for r in rs}
                   | {(retailer, flow) for a in api.values() for flow, retailer in a})  # fmt: skip
    grouped = {name: by_cell(rs) for name, rs in runs.items()}
    success = {name: {c: h.run_stats(grouped[name].get(c, [])) for c in cells}
               for name in runs}  # fmt: skip
    totals = {name: h.run_stats(rs) for name, rs in runs.items()}
    report = Report(
        kind="weekly_report",
        title=f"Weekly report: week of {this.since.astimezone(ZoneInfo(tz)):%a %d %b %Y}",
        facts=[
            ("week", this.describe(tz)),
            ("compared with", last.describe(tz)),
            ("run success rate", _rate_change(totals["this"], totals["last"])),
            ("runs (failed)", f"{totals['this'].runs} ({totals['this'].runs - totals['this'].ok})"),
            ("API calls", sum(s.calls for s in api["this"].values())),
            ("API errors", sum(s.errors for s in api["this"].values())),
        ],
        sections=[
            Section(
                "Run success rate per retailer and flow",
                ["retailer", "flow", "runs", "success (vs last week)"],
                _success_rows(cells, success),
                "No flow ran this week.",
            ),
            Section(
                "API response time and errors per retailer and flow",
                ["retailer", "flow", "calls", "error rate (vs last week)", "p95 (vs last week)"],
                _api_rows(cells, api),
                "No API call this week.",
            ),
            Section(
                "Recurring errors",
                ["category", "error", "calls this week", "calls last week", "retailer/flow"],
                _error_rows(errors),
                "No failed API call this week.",
            ),
        ],
        chart=_chart(conn, reg, this, last),
        chart_name=f"weekly-report-{this.key:%Y-%m-%d}.png",
    )
    markdown, emailed = publish(conn, email, reg, report, inputs.dedupe_key)
    return WeeklyReport(report, _numbers(totals, api["this"], success["this"]), markdown, emailed)


def _rate_change(this: h.RunStats, last: h.RunStats) -> str:
    return change_text(Trend(this.success_rate, last.success_rate), percent=True)


def _success_rows(cells, success) -> list[tuple]:
    return [(r, f, success["this"][(r, f)].runs,
             _rate_change(success["this"][(r, f)], success["last"][(r, f)]))
            for r, f in cells if r != "hub"]  # fmt: skip


def _seconds(ms: float | None) -> float | None:
    return None if ms is None else ms / 1000


def _api_rows(cells, api) -> list[tuple]:
    rows = []
    for retailer, flow in cells:
        this = api["this"].get((flow, retailer), h.ApiStats())
        last = api["last"].get((flow, retailer), h.ApiStats())
        if this.calls or last.calls:
            rows.append((retailer, flow, this.calls,
                         change_text(Trend(this.error_rate, last.error_rate), percent=True),
                         change_text(Trend(_seconds(this.p95_ms), _seconds(last.p95_ms)),
                                     unit=" s")))  # fmt: skip
    return rows


def _error_rows(errors) -> list[tuple]:
    before = {(e.category, e.code): e.count for e in errors["last"]}
    return [(e.category, e.code, e.count, before.get((e.category, e.code), 0), ", ".join(e.scopes))
            for e in errors["this"][:10]]  # fmt: skip


def _numbers(totals, api, success) -> dict[str, float | int]:
    numbers: dict[str, float | int] = {
        "runs": totals["this"].runs,
        "failed_runs": totals["this"].runs - totals["this"].ok,
        "api_calls": sum(s.calls for s in api.values()),
        "api_errors": sum(s.errors for s in api.values()),
    }
    if totals["this"].success_rate is not None:
        numbers["success_rate"] = float(totals["this"].success_rate)
    if p95s := [s.p95_ms for s in api.values() if s.p95_ms is not None]:
        numbers["api_p95_ms"] = float(max(p95s))
    for flow in FLOWS:
        mine = [s for (_, f), s in success.items() if f == flow and s.runs]
        if mine:
            numbers[f"success_rate.{flow}"] = sum(s.ok for s in mine) / sum(s.runs for s in mine)
    return numbers


def _chart(conn, reg: Registry, this: ReportWindow, last: ReportWindow) -> bytes:
    """p95 response time and error rate per day: the worst retailers this week, and all
    retailers this week and last (dashed)."""
    tz = reg.notifications.time_zone
    days = [(this.since.astimezone(ZoneInfo(tz)) + timedelta(days=i)).date() for i in range(7)]
    offset = {d: i for i, d in enumerate(days)}
    p95: dict[str, list[float | None]] = {}
    errors: dict[str, list[float | None]] = {}
    for name, window in (("this week", this), ("last week", last)):
        for who, day, calls, failed, ms in ledger.daily_api(conn, window.since, window.until, tz):
            index = offset.get(day if name == "this week" else day + timedelta(days=7))
            if index is None or (who is not None and name == "last week"):
                continue
            label = f"all, {name}" if who is None else who
            p95.setdefault(label, [None] * 7)[index] = ms
            errors.setdefault(label, [None] * 7)[index] = 100 * failed / calls if calls else None
    worst = sorted((k for k in p95 if not k.startswith("all, ")),
                   key=lambda k: -max(v or 0 for v in p95[k]))[:CHART_RETAILERS]  # fmt: skip
    shown = [*worst, "all, this week", "all, last week"]
    return chart_png(
        "The week day by day (dashed: the week before)",
        [f"{d:%a %d}" for d in days],
        [Panel("API p95 (ms)", lines={k: p95[k] for k in shown if k in p95},
               dashed=frozenset({"all, last week"})),
         Panel("API error rate (%)", lines={k: errors[k] for k in shown if k in errors},
               dashed=frozenset({"all, last week"}))],
    )  # fmt: skip
