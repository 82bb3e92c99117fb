"""Health refresh: figures per retailer × flow, judged against the registry's thresholds,
alerting once per crossing and once per recovery.

The caller (the `health` asset) passes the day's flow runs, already split per retailer,
and the schedule ticks that were due; everything else is read here from the warehouse.
The alert state lives in `shopsync.health_alert_state`: it is read under a lock, changed
and the alerts queued in one transaction, so repeated or concurrent refreshes never mail
the same crossing twice.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

import psycopg

from resources.email import (
    EmailResource,
    OutboxMessage,
    known_secret_values,
    recipients_for,
    redact,
)
from resources.ledgers import health as ledger
from resources.mail import render_mail
from resources.registry import Flows, Registry
from sync import health as h
from sync.markdown import md_table, md_text

log = logging.getLogger(__name__)

FLOWS = tuple(Flows.model_fields)


@dataclass(frozen=True)
class HealthInputs:
    registry: Registry
    runs: Sequence[h.RunLike]  # the last day's flow runs, one per retailer covered
    ticks: Mapping[str, Sequence[h.Tick]]  # flow -> schedule ticks due over the last day
    now: datetime


@dataclass(frozen=True)
class HealthReport:
    now: datetime
    cells: list[h.CellFigures]
    verdicts: list[h.Verdict]
    recurring: list[h.RecurringError]
    database: ledger.DatabaseFigures
    crossed: set[tuple[str, str]]  # (threshold, scope) crossed after this refresh
    failures: Mapping[str, h.RunLike] = field(default_factory=dict)  # scope -> latest failed run
    alerts: list[str] = field(default_factory=list)  # dedupe keys queued by this refresh


def refresh_health(
    conn: psycopg.Connection, email: EmailResource, inputs: HealthInputs
) -> HealthReport:
    """Compute, judge, update the alert state and queue the alerts it calls for."""
    reg, now = inputs.registry, inputs.now
    run_flows = {r.run_id: r.flow for r in inputs.runs}
    cells, recurring = [], []
    for window in h.WINDOWS:
        since = h.window_start(now, window)
        api, groups = ledger.api_stats(conn, run_flows, since, now)
        if window == "day":
            recurring = h.rank_errors(groups)
        cells += _cells(reg, window, since, now, h.in_window(inputs.runs, since), inputs.ticks, api)
    ops = reg.operations
    thresholds = {rule.key: getattr(ops.thresholds, rule.key) for rule in h.RULES}
    verdicts = h.judge(cells, thresholds, ops.min_samples)
    database = ledger.database_figures(conn)
    with conn.transaction():
        before = ledger.lock_alert_states(conn)
        was = {key: state.crossed for key, state in before.items()}
        changes = h.changes(verdicts, was)
        after = {v.key: h.crossed_after(v, was.get(v.key, False)) for v in verdicts if v.judged}
        ledger.save_alert_states(conn, [
            ledger.AlertState(*v.key, after[v.key], now, v.value, v.samples)
            for v in verdicts if v.judged
        ])  # fmt: skip
        crossed = {key for key, state in {**was, **after}.items() if state}
        report = HealthReport(now, cells, verdicts, recurring, database, crossed,
                              h.last_failures(inputs.runs))  # fmt: skip
        for rule in h.RULES:
            for kind in ("crossed", "recovered"):
                mine = [c.verdict for c in changes if c.verdict.rule is rule and c.kind == kind]
                if mine and (key := _alert(conn, email, reg, report, rule, kind, mine)):
                    report.alerts.append(key)
    return report


def _cells(reg, window, since, until, runs, ticks, api) -> list[h.CellFigures]:
    cells = []
    for flow in FLOWS:
        mine = [r for r in runs if r.flow == flow]
        enabled = [r.key for r in reg.enabled_retailers(flow)]
        seen = sorted({r.retailer for r in mine} | {k[1] for k in api if k[0] == flow})
        due = [t for t in ticks.get(flow, ()) if since <= t.at <= until]
        for retailer in dict.fromkeys([*enabled, *seen]):
            theirs = [r for r in mine if r.retailer == retailer]
            cells.append(h.CellFigures(
                retailer, flow, window, h.run_stats(theirs),
                api.get((flow, retailer), h.ApiStats()),
                # Uptime is the enabled retailers' alone: a disabled flow has no ticks due.
                h.uptime(due, theirs, until) if retailer in enabled else h.Uptime(),
            ))  # fmt: skip
    return cells


def _alert(conn, email, reg: Registry, report: HealthReport, rule: h.Rule, kind: str,
           changed: list[h.Verdict]) -> str | None:  # fmt: skip
    """One message for all the cells of `rule` that changed `kind` in this refresh."""
    recipients = recipients_for(reg)
    if not recipients:
        log.warning("health %s %s not emailed: set notifications.recipients", rule.key, kind)
        return None
    now_crossed = [v for v in report.verdicts
                   if v.rule is rule and (rule.key, v.scope) in report.crossed]  # fmt: skip
    names = {v.scope for v in changed}
    sample = changed[0]
    scopes = sorted(names)
    if kind == "crossed":
        subject = (f"Health: {rule.label} {'below' if rule.higher_is_better else 'above'} "
                   f"{rule.show(sample.alert)} for {', '.join(scopes)}")  # fmt: skip
    else:
        subject = f"Health back to normal: {rule.label} for {', '.join(scopes)}"
    errors = [e for e in report.recurring if names.intersection(e.scopes)]
    body = render_mail(
        "health_alert", subject, kind=kind, rule=rule, window=rule.window,
        alert_line=rule.show(sample.alert), target=rule.show(sample.target),
        direction="below" if rule.higher_is_better else "above",
        changed=_rows(reg, report, h.worst_first(changed)),
        still=_rows(reg, report, [v for v in h.worst_first(now_crossed) if v.scope not in names]),
        errors=[(e.category, e.code, e.count, ", ".join(e.scopes)) for e in errors[:5]]
        if rule.key == "error_rate" else [],
        health_url=f"{reg.notifications.ui_url}/assets/health",
    )  # fmt: skip
    secrets = known_secret_values(reg, [email.sendgrid_api_key_env])
    body = replace(body, html=redact(body.html, secrets), text=redact(body.text, secrets))
    digest = hashlib.sha256("\n".join(scopes).encode()).hexdigest()[:12]
    key = f"health:{rule.key}:{kind}:{report.now:%Y%m%dT%H%M%S}:{digest}"
    # The alert key is this transition alone, as for an escalation batch: the state
    # machine already mails once per crossing and once per recovery (with hysteresis), and
    # transitions of the same cells alternate, so grouping a crossing into the previous
    # crossing's email would hide that it crossed again after a "back to normal".
    trouble = key
    message = OutboxMessage.of("health_alert", key, recipients, body,
                               alert_key=trouble, critical=False)  # fmt: skip
    return key if email.enqueue(message, conn=conn) else None


def _rows(reg: Registry, report: HealthReport, verdicts: list[h.Verdict]) -> list[tuple]:
    """retailer, flow, figure, samples, and the latest run that failed for it (its UI
    link and the partitions it covered), so the reader can open it."""
    rows = []
    for v in verdicts:
        run = report.failures.get(v.scope)
        link = f"{reg.notifications.ui_url.rstrip('/')}/runs/{run.run_id}" if run else ""
        failed = f"{link} ({run.partitions})" if run else "–"
        rows.append((v.retailer, v.flow, v.rule.show(v.value), v.samples, failed))
    return rows


def health_figures(report: HealthReport) -> dict[str, float | int]:
    """Numbers the UI plots over time: per figure and per flow its worst value (any
    sample count), API totals, errors per category, the database, the alert state."""
    figures: dict[str, float | int] = {}
    names = {"success_rate": "success_rate", "api_response_seconds": "api_p95_seconds",
             "error_rate": "error_rate", "uptime": "uptime"}  # fmt: skip
    for rule in h.RULES:
        mine = [v for v in report.verdicts if v.rule is rule]
        for flow, value in h.worst_by(mine, lambda v: v.flow).items():
            figures[f"{names[rule.key]}.{flow}"] = value
        if worst := h.worst_by(mine, lambda v: "all"):
            figures[names[rule.key]] = worst["all"]
    hour = [c for c in report.cells if c.window == "hour"]
    day = [c for c in report.cells if c.window == "day"]
    p95s = [c.api.p95_ms for c in hour if c.api.p95_ms is not None]
    if p95s:
        figures["api_p95_ms"] = max(p95s)
    shares = [s for c in hour if (s := c.api.throttled_share) is not None]
    if shares:
        figures["throttled_share"] = max(shares)
    for flow in FLOWS:
        runs = [p for c in day if c.flow == flow and (p := c.runs.p95_seconds) is not None]
        if runs:
            figures[f"run_p95_seconds.{flow}"] = max(runs)
    figures["api_calls_hour"] = sum(c.api.calls for c in hour)
    figures["api_errors_hour"] = sum(c.api.errors for c in hour)
    for category in h.CATEGORIES:
        figures[f"errors_day.{category}"] = sum(c.api.by_category.get(category, 0) for c in day)
    db = report.database
    figures.update({
        "db_size_mb": round(db.size_bytes / 2**20, 2), "db_connections_used": db.used_connections,
        "db_max_connections": db.max_connections, "db_connection_headroom": db.headroom,
        "thresholds_crossed": len(report.crossed), "alerts_queued": len(report.alerts),
    })  # fmt: skip
    return figures


def health_markdown(report: HealthReport) -> str:
    """Thresholds, the retailer × flow table, recurring errors and the database, every
    cell escaped (error codes come from Shopify responses)."""
    thresholds = []
    for rule in h.RULES:
        mine = [v for v in report.verdicts if v.rule is rule]
        worst = h.worst_first(mine)
        crossed = sorted(v.scope for v in mine if (rule.key, v.scope) in report.crossed)
        thresholds.append((
            rule.label, f"last {rule.window}", rule.show(mine[0].alert) if mine else "–",
            rule.show(mine[0].target) if mine else "–",
            f"{rule.show(worst[0].value)} ({worst[0].scope})" if worst else "–",
            sum(v.judged for v in mine), ", ".join(crossed) or "none",
        ))  # fmt: skip
    cells = [
        (c.retailer, c.flow, f"last {c.window}", c.runs.runs, _pct(c.runs.success_rate),
         _num(c.runs.p50_seconds, " s"), _num(c.runs.p95_seconds, " s"), _pct(c.uptime.rate),
         f"{c.uptime.up}/{c.uptime.due}", c.api.calls, _pct(c.api.error_rate),
         _num(c.api.p50_ms, " ms", 0), _num(c.api.p95_ms, " ms", 0), _pct(c.api.throttled_share),
         *(c.api.by_category.get(k, 0) for k in h.CATEGORIES))
        for c in sorted(report.cells, key=lambda c: (c.retailer, c.flow, c.window != "hour"))
        if not c.idle
    ]  # fmt: skip
    idle = sorted({c.scope for c in report.cells if c.window == "day" and c.idle})
    errors = [(i, e.category, e.code, e.count, ", ".join(e.operations), ", ".join(e.scopes))
              for i, e in enumerate(report.recurring, 1)]  # fmt: skip
    db = report.database
    return "\n\n".join([
        f"**Health at {report.now:%Y-%m-%d %H:%M} UTC**",
        "### Thresholds",
        md_table(["figure", "window", "alert line", "target", "worst", "judged",
                  "crossed (retailer/flow)"], thresholds),
        "### Retailer × flow",
        md_table(["retailer", "flow", "window", "runs", "success", "run p50", "run p95",
                  "uptime", "ticks ok/due", "API calls", "error rate", "API p50", "API p95",
                  "throttled", *h.CATEGORIES], cells),
        f"No run and no API call in the last day: {md_text(', '.join(idle))}." if idle else "",
        "### Recurring API errors (last day)",
        md_table(["#", "category", "error", "calls", "operations", "retailer/flow"], errors)
        if errors else "No failed API calls in the last day.",
        "### Warehouse database",
        md_table(["size", "connections used", "max connections", "headroom"],
                 [(f"{db.size_bytes / 2**20:.1f} MB", db.used_connections, db.max_connections,
                   db.headroom)]),
    ])  # fmt: skip


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f} %"


def _num(value: float | None, unit: str, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}{unit}"
