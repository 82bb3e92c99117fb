"""The daily summary: per retailer × flow what was imported, pushed, synced, what waits
and what failed, the retailer status table, and a chart of the day by hour.

The caller (the `daily_summary` asset) passes what only Dagster knows — the window's
flow runs split per retailer and its failed checks — and whether to email; everything
else is read here from the warehouse. The email's dedupe key is the caller's: the
scheduled run's is the day's, so a manual run never takes its place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import psycopg

from flows.reports import Report, Section, publish
from resources.charts import Panel, chart_png
from resources.email import EmailResource
from resources.ledgers import health as health_ledger
from resources.ledgers import reports as ledger
from resources.ledgers.exceptions import exception_counts
from resources.registry import Registry
from sync import health as h
from sync.reports import FLOWS, FlowStatus, ReportWindow, bucket, by_cell, judge_status

#: What waits on each flow, as the status table's "pending" names it.
PENDING = {
    "orders": ("waiting", "quarantined"),
    "fulfillments": ("pending", "could not be pushed"),
    "inventory": ("SKUs not synced",),
}


@dataclass(frozen=True)
class CheckFailure:
    retailer: str | None
    flow: str | None
    check: str
    partition: str | None


@dataclass(frozen=True)
class SummaryInputs:
    registry: Registry
    window: ReportWindow
    runs: Sequence[h.RunLike]  # the window's flow runs, one per retailer covered
    failed_checks: Sequence[CheckFailure] = ()
    dedupe_key: str | None = None  # None: do not email


@dataclass(frozen=True)
class DailySummary:
    report: Report
    figures: dict[str, float | int]
    statuses: list[FlowStatus]
    hourly: dict[str, list[float]]  # series -> value per hour of the window (the chart's)
    markdown: str
    emailed: bool


def build_daily_summary(
    conn: psycopg.Connection, email: EmailResource, inputs: SummaryInputs
) -> DailySummary:
    """Read, judge, render; queue the email when the caller gave a dedupe key."""
    reg, window = inputs.registry, inputs.window
    zone = ZoneInfo(reg.notifications.time_zone)
    figures = ledger.flow_figures(conn, window.since, window.until)
    run_flows = {r.run_id: r.flow for r in inputs.runs}
    api, _ = health_ledger.api_stats(conn, run_flows, window.since, window.until)
    crossed = health_ledger.crossed_thresholds(conn)
    queue = exception_counts(conn, window.until, [r.key for r in reg.retailers])
    statuses = _statuses(reg, inputs.runs, figures, crossed)
    hourly = _hourly(conn, window)
    report = Report(
        kind="daily_summary",
        title=f"Daily summary {window.end.astimezone(zone):%a %d %b %Y}",
        facts=_facts(reg, window, figures, inputs, api, queue, statuses),
        sections=_sections(reg, figures, inputs, api, queue, statuses),
        chart=_chart(reg, window, hourly),
        chart_name=f"daily-summary-{window.key:%Y-%m-%d}.png",
    )
    markdown, emailed = publish(conn, email, reg, report, inputs.dedupe_key)
    numbers = _numbers(figures, inputs, api, queue, statuses)
    return DailySummary(report, numbers, statuses, hourly, markdown, emailed)


def _total(figures: ledger.Figures, flow: str, name: str) -> int:
    return sum(by_flow.get(flow, {}).get(name, 0) for by_flow in figures.values())


def _of(figures: ledger.Figures, retailer: str, flow: str, prefix: str) -> int:
    """A figure, or the sum of the figures named `prefix: …` (quarantined by reason)."""
    mine = figures.get(retailer, {}).get(flow, {})
    return sum(n for k, n in mine.items() if k == prefix or k.startswith(prefix + ": "))


def _by_reason(figures: ledger.Figures, retailer: str, flow: str, prefix: str) -> str:
    mine = figures.get(retailer, {}).get(flow, {})
    parts = [f"{k.split(': ', 1)[1]} {n}" for k, n in sorted(mine.items())
             if k.startswith(prefix + ": ")]  # fmt: skip
    return ", ".join(parts) or "0"


def _retailers(reg: Registry, figures: ledger.Figures, runs: Sequence[h.RunLike]) -> list[str]:
    known = [r.key for r in reg.retailers]
    return list(dict.fromkeys([*known, *sorted(figures), *sorted({r.retailer for r in runs})]))


def _statuses(reg, runs, figures, crossed) -> list[FlowStatus]:
    statuses, cells = [], by_cell(r for r in runs if r.finished)
    entries = {r.key: r for r in reg.retailers}
    for retailer in _retailers(reg, figures, runs):
        entry = entries.get(retailer)
        for flow in FLOWS:
            mine = cells.get((retailer, flow), [])
            ok = [r for r in mine if r.retailer_ok]
            last = max((r.ended_at for r in ok if r.ended_at), default=None)
            statuses.append(judge_status(
                retailer, flow, enabled=bool(entry and getattr(entry.flows, flow)),
                runs=len(mine), failed=len(mine) - len(ok), last_success=last,
                crossed=crossed.get(f"{retailer}/{flow}", []),
                pending={p: _of(figures, retailer, flow, p) for p in PENDING[flow]},
            ))  # fmt: skip
    return statuses


def _checks(inputs: SummaryInputs, retailer: str | None, flow: str | None) -> int:
    return sum(1 for c in inputs.failed_checks if c.retailer == retailer and c.flow == flow)


def _sections(reg, figures, inputs: SummaryInputs, api, queue, statuses) -> list[Section]:
    retailers = _retailers(reg, figures, inputs.runs)
    tz = reg.notifications.time_zone
    status_rows = [
        (s.retailer, s.flow, "on" if s.enabled else "off",
         "yes" if s.healthy else ("–" if not s.enabled else "no"),
         f"{s.last_success.astimezone(ZoneInfo(tz)):%d %b %H:%M}" if s.last_success else "–",
         s.pending, "; ".join(s.problems) or "–")
        for s in statuses
    ]  # fmt: skip
    orders = [(r, _of(figures, r, "orders", "imported"), _of(figures, r, "orders", "waiting"),
               _by_reason(figures, r, "orders", "quarantined"),
               _of(figures, r, "orders", "refused by Shopify"),
               _by_reason(figures, r, "orders", "changed after import"),
               _of(figures, r, "orders", "refunds at the retailer"),
               _by_reason(figures, r, "orders", "followed at hub"))
              for r in retailers]  # fmt: skip
    shipments = [(r, *(_of(figures, r, "fulfillments", k)
                       for k in ("pushed", "could not be pushed", "pending")))
                 for r in retailers]  # fmt: skip
    inventory = [(r, *(_of(figures, r, "inventory", k)
                       for k in ("SKUs synced", "drift corrected", "SKUs not synced")))
                 for r in retailers if "inventory" in figures.get(r, {})]  # fmt: skip
    runs, cells = [], by_cell(inputs.runs)
    for retailer in [*retailers, "hub"]:
        for flow in FLOWS:
            mine = cells.get((retailer, flow), [])
            failed = [r for r in mine if r.finished and not r.retailer_ok]
            stats = api.get((flow, retailer), h.ApiStats())
            if not (mine or stats.calls or _checks(inputs, retailer, flow)):
                continue
            shown = list(dict.fromkeys(r.partitions for r in failed))
            runs.append((retailer, flow, len([r for r in mine if r.finished]), len(failed),
                         "; ".join(shown[:3]) + (" …" if len(shown) > 3 else "") or "–",
                         stats.calls, stats.errors, f"{stats.cost:.0f}",
                         f"{stats.p95_ms:.0f} ms" if stats.p95_ms is not None else "–",
                         _checks(inputs, retailer, flow)))  # fmt: skip
    exceptions = [(kind, n) for kind, n in queue["by_kind"].items() if n]
    return [
        Section("Retailer status", ["retailer", "flow", "enabled", "healthy", "last success",
                                    "pending", "problems"], status_rows),
        Section("Orders", ["retailer", "imported", "waiting", "quarantined (by reason)",
                           "refused by Shopify", "changed after import", "refunds",
                           "followed at the hub"],
                orders),
        Section("Shipments", ["retailer", "pushed", "could not be pushed", "pending"], shipments),
        Section("Inventory", ["retailer", "SKUs synced", "drift corrected", "SKUs not synced"],
                inventory, "No inventory sync ran in the window."),
        Section("Runs and API", ["retailer", "flow", "runs", "failed runs", "failed partitions",
                                 "API calls", "API errors", "cost (points)", "API p95",
                                 "checks failed"], runs, "No flow ran in the window."),
        Section("Exception queue (open now)", ["kind", "open"], exceptions,
                "Nothing waits for a person."),
    ]  # fmt: skip


def _facts(reg, window: ReportWindow, figures, inputs, api, queue, statuses) -> list[tuple]:
    calls = sum(s.calls for s in api.values())
    return [
        ("window", window.describe(reg.notifications.time_zone)),
        ("orders imported", _total(figures, "orders", "imported")),
        ("shipments pushed", _total(figures, "fulfillments", "pushed")),
        ("failed runs", sum(1 for r in inputs.runs if r.finished and not r.retailer_ok)),
        ("checks failed", len(inputs.failed_checks)),
        ("API calls", calls),
        ("API cost (points)", f"{sum(s.cost for s in api.values()):.0f}"),
        ("open exceptions", queue["total"]),
        ("unhealthy retailer flows", sum(1 for s in statuses if s.enabled and not s.healthy)),
    ]


def _numbers(figures, inputs, api, queue, statuses) -> dict[str, float | int]:
    """What the UI plots over the days (one point per partition)."""
    p95s = [s.p95_ms for s in api.values() if s.p95_ms is not None]
    numbers: dict[str, float | int] = {
        "orders_imported": _total(figures, "orders", "imported"),
        "shipments_pushed": _total(figures, "fulfillments", "pushed"),
        "orders_cancelled_at_hub": _total(figures, "orders", "followed at hub: cancelled"),
        "orders_edited_at_hub": _total(figures, "orders", "followed at hub: edited"),
        "skus_synced": _total(figures, "inventory", "SKUs synced"),
        "drift_corrected": _total(figures, "inventory", "drift corrected"),
        "failed_runs": sum(1 for r in inputs.runs if r.finished and not r.retailer_ok),
        "checks_failed": len(inputs.failed_checks),
        "api_calls": sum(s.calls for s in api.values()),
        "api_cost_points": float(sum(s.cost for s in api.values())),
        "exceptions_open": int(queue["total"]),
        "unhealthy_flows": sum(1 for s in statuses if s.enabled and not s.healthy),
    }
    if p95s:
        numbers["api_p95_ms"] = float(max(p95s))
    return numbers


def _hourly(conn: psycopg.Connection, window: ReportWindow) -> dict[str, list[float]]:
    events = ledger.hourly_events(conn, window.since, window.until)
    names = ("orders imported", "shipments pushed", "stock levels set", "API calls", "API errors")
    return {name: bucket(window.hours, events.get(name, [])) for name in names}


def _chart(reg: Registry, window: ReportWindow, hourly: dict[str, list[float]]) -> bytes:
    zone = ZoneInfo(reg.notifications.time_zone)
    labels = [f"{hour.astimezone(zone):%H}h" for hour in window.hours]
    activity = {k: hourly[k] for k in ("orders imported", "shipments pushed", "stock levels set")}
    return chart_png(
        f"The day by hour ({reg.notifications.time_zone})",
        labels,
        [Panel("records", bars=activity),
         Panel("API calls", bars={"API calls": hourly["API calls"]},
               lines={"API errors": hourly["API errors"]})],
    )  # fmt: skip
