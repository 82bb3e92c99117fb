"""The daily summary and the weekly report as assets: one partition per day (per week),
whose metadata shows the report in the UI — figures the UI plots across partitions, and
the whole report as markdown with its chart — and whose scheduled run emails it.

Dagster is read here and only here: the window's flow runs (split per retailer by
`assets.run_history`) and the asset checks that failed in it. The partition's time
window is the report's window, so the key the UI shows is the span the figures cover.
Only a run launched by the report's schedule mails under the day's (week's) key: a
manual run with `email` set sends an extra copy under its own key, so it never stands
in for the scheduled one.
"""

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

import dagster as dg
import psycopg

from assets.partitions import retailer_of
from assets.run_history import ASSET_FLOWS, SCHEDULE_TAG, retailer_runs
from flows.daily_summary import CheckFailure, SummaryInputs, build_daily_summary
from flows.weekly_report import WeekInputs, build_weekly_report
from resources.email import EmailResource
from resources.postgres import PostgresResource
from resources.registry import Registry, RegistryResource
from sync.reports import ReportWindow


class ReportConfig(dg.Config):
    #: Queue the email (the schedule sets it; a manual run's copy has its own key).
    email: bool = False
    #: ISO time to cut an open window at (unset: now); for re-running a past moment.
    until: str | None = None


def report_window(context: dg.AssetExecutionContext, config: ReportConfig) -> ReportWindow:
    """The partition's time window, cut at `until` (or now) while it is still open."""
    span = context.partition_time_window
    now = datetime.fromisoformat(config.until) if config.until else datetime.now(UTC)
    since, end = span.start.astimezone(UTC), span.end.astimezone(UTC)
    return ReportWindow(date.fromisoformat(context.partition_key), since, end, min(end, now))


def dedupe_key(context: dg.AssetExecutionContext, config: ReportConfig, kind: str) -> str | None:
    if not config.email:
        return None
    key = f"{kind}:{context.partition_key}"
    return key if SCHEDULE_TAG in context.run.tags else f"{key}:run:{context.run.run_id}"


def failed_checks(instance: dg.DagsterInstance, since: datetime, until: datetime):
    """Every failed asset-check evaluation recorded in [since, until)."""
    records = instance.get_event_records(
        dg.EventRecordsFilter(
            dg.DagsterEventType.ASSET_CHECK_EVALUATION,
            after_timestamp=since.timestamp(),
            before_timestamp=until.timestamp(),
        )
    )
    found = []
    for record in records:
        evaluation = record.event_log_entry.dagster_event.event_specific_data
        if evaluation.passed:
            continue
        asset = evaluation.asset_key.to_user_string()
        partition = str(evaluation.partition) if evaluation.partition else None
        found.append(CheckFailure(
            retailer_of(partition) if partition else None, ASSET_FLOWS.get(asset),
            f"{asset}.{evaluation.check_name}", partition,
        ))  # fmt: skip
    return found


def _metadata(numbers: dict, markdown: str, window: ReportWindow, emailed: bool) -> dict:
    metadata: dict[str, object] = {
        name: dg.MetadataValue.float(v) if isinstance(v, float) else dg.MetadataValue.int(v)
        for name, v in numbers.items()
    }
    metadata.update({
        "window_start": dg.MetadataValue.timestamp(window.since),
        "window_end": dg.MetadataValue.timestamp(window.until),
        "complete": dg.MetadataValue.bool(window.complete),
        "emailed": dg.MetadataValue.bool(emailed),
        "report": dg.MetadataValue.md(markdown),
    })  # fmt: skip
    return metadata


class _Published(Protocol):
    figures: dict[str, float | int]
    markdown: str
    emailed: bool


#: (context, registry, window, dedupe key or None, connection, email) -> the report.
Build = Callable[
    [dg.AssetExecutionContext, Registry, ReportWindow, str | None, psycopg.Connection,
     EmailResource],
    _Published,
]  # fmt: skip


def _report_asset(
    name: str, partitions_def: dg.PartitionsDefinition, description: str, build: Build
) -> dg.AssetsDefinition:
    @dg.asset(
        name=name,
        group_name="operations",
        partitions_def=partitions_def,
        kinds={"postgres", "email"},
        # What it reads besides the ledgers: the health alert state and the open queue.
        deps=["health", "exception_queue"],
        description=description,
    )
    def _report(
        context: dg.AssetExecutionContext,
        config: ReportConfig,
        registry: RegistryResource,
        postgres: PostgresResource,
        email: EmailResource,
    ) -> dg.MaterializeResult:
        reg = registry.get()
        window = report_window(context, config)
        with postgres.get_connection() as conn:
            report = build(context, reg, window, dedupe_key(context, config, name), conn, email)
        context.log.info("%s %s: %s", name, context.partition_key,
                         "emailed" if report.emailed else "not emailed")  # fmt: skip
        return dg.MaterializeResult(
            metadata=_metadata(report.figures, report.markdown, window, report.emailed)
        )

    return _report


def _daily(context, reg, window, key, conn, email) -> _Published:
    runs = retailer_runs(context.instance, reg, window.since, window.until)
    checks = failed_checks(context.instance, window.since, window.until)
    return build_daily_summary(conn, email, SummaryInputs(reg, window, runs, checks, key))


def _weekly(context, reg, window, key, conn, email) -> _Published:
    def runs_between(since: datetime, until: datetime) -> list:
        return retailer_runs(context.instance, reg, since, until)

    return build_weekly_report(conn, email, WeekInputs.of(reg, window, runs_between, key))


def build_report_assets(registry: Registry) -> list[dg.AssetsDefinition]:
    """Both assets, partitioned in the registry's time zone at its summary hour. The first
    partitions hold `partitions_start` (the day before it, the week it falls in), so the
    first tick after it has a partition to report."""
    notifications, ops = registry.notifications, registry.operations
    first = registry.partitions_start
    days = dg.DailyPartitionsDefinition(
        start_date=f"{first - timedelta(days=1):%Y-%m-%d}",
        hour_offset=notifications.daily_summary_hour, timezone=notifications.time_zone,
        end_offset=1,
    )  # fmt: skip
    monday = first - timedelta(days=(first.weekday() - ops.weekly_report_weekday) % 7)
    weeks = dg.WeeklyPartitionsDefinition(
        start_date=f"{monday:%Y-%m-%d}", day_offset=(ops.weekly_report_weekday + 1) % 7,
        timezone=notifications.time_zone, end_offset=1,
    )  # fmt: skip
    daily = _report_asset(
        "daily_summary", days,
        "The day's summary (the 24 hours to the registry's daily_summary_hour): per retailer "
        "and flow the orders imported, waiting and quarantined, changes after import, "
        "shipments pushed, stock synced and drift corrected, failed runs and partitions, API "
        "calls, cost and response time, failed checks; the retailer status table; a chart of "
        "the day by hour. The scheduled run emails it.",
        _daily,
    )  # fmt: skip
    weekly = _report_asset(
        "weekly_report", weeks,
        "The weekly performance analysis: per retailer the run success rate, the API "
        "response time and error rate over the week against the week before, the recurring "
        "errors, and a chart of both weeks day by day. The scheduled run emails it.",
        _weekly,
    )  # fmt: skip
    return [daily, weekly]
