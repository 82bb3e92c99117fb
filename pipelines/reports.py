"""The daily summary and the weekly report wired to their jobs and schedules.

Each schedule materializes the partition whose window just closed (the day to
`daily_summary_hour`, the week to its first day) with `email` on, under a run key of
that partition: a re-evaluated tick never runs it twice, and the outbox's dedupe key
(the partition's) never mails it twice. A run launched by hand, for any partition,
shows the figures in the UI and mails only when asked, under its own key.
"""

from collections.abc import Callable
from datetime import UTC, date, datetime

import dagster as dg

from assets.reports import build_report_assets
from pipelines.parts import DefinitionsPart
from resources.registry import Registry
from sync.reports import closed_summary_key, closed_week_key

#: The weekly report goes out on its weekday at this hour (local): the morning check.
WEEKLY_REPORT_HOUR = 8


DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _report_schedule(
    asset: str,
    job,
    cron: str,
    tz: str,
    description: str,
    closed_key: Callable[[datetime], date],
    first_key: str,
) -> dg.ScheduleDefinition:
    """At each tick, the partition whose window the tick closed, with `email` on (none
    before the first partition: the window began before shopsync ran)."""

    @dg.schedule(
        name=f"{asset}_schedule",
        job=job,
        cron_schedule=cron,
        execution_timezone=tz,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=description,
    )
    def _schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        tick = context.scheduled_execution_time or datetime.now(UTC)
        key = f"{closed_key(tick):%Y-%m-%d}"
        if key < first_key:
            return dg.SkipReason(f"{asset} {key}: before the first partition ({first_key})")
        return dg.RunRequest(
            run_key=f"{asset}:{key}",
            partition_key=key,
            run_config={"ops": {asset: {"config": {"email": True}}}},
        )

    return _schedule


def build_report_definitions(registry: Registry) -> DefinitionsPart:
    daily, weekly = build_report_assets(registry)
    tz = registry.notifications.time_zone
    hour = registry.notifications.daily_summary_hour
    weekday = registry.operations.weekly_report_weekday
    daily_job = dg.define_asset_job(
        "daily_summary_job", selection=[daily],
        description="Build the daily summary of a day (pick its partition); set `email` in "
        "the config to also send a copy (the schedule's own email is never replaced).",
    )  # fmt: skip
    weekly_job = dg.define_asset_job(
        "weekly_report_job", selection=[weekly],
        description="Build the weekly report of a week (pick its partition); set `email` to "
        "also send a copy.",
    )  # fmt: skip

    daily_schedule = _report_schedule(
        "daily_summary", daily_job, f"0 {hour} * * *", tz,
        f"Every day at {hour:02d}:00 ({tz}): build and email the daily summary of the 24 "
        "hours just ended (figures per retailer and flow, status table, chart).",
        lambda tick: closed_summary_key(tick, tz, hour),
        daily.partitions_def.get_first_partition_key(),
    )  # fmt: skip
    # cron counts days from Sunday = 0; the registry from Monday = 0.
    weekly_schedule = _report_schedule(
        "weekly_report", weekly_job, f"0 {WEEKLY_REPORT_HOUR} * * {(weekday + 1) % 7}", tz,
        f"Every {DAY_NAMES[weekday]} at {WEEKLY_REPORT_HOUR:02d}:00 ({tz}): build and email "
        "the weekly report of the week just ended, against the week before.",
        lambda tick: closed_week_key(tick, tz, weekday),
        weekly.partitions_def.get_first_partition_key(),
    )  # fmt: skip
    return DefinitionsPart(
        [daily, weekly], [daily_job, weekly_job], [daily_schedule, weekly_schedule]
    )
