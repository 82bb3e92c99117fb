"""The `health` asset: the operations guide's figures per retailer × flow, refreshed
every 15 minutes, so the UI plots each figure over time from its metadata and alerts
go out when a threshold is crossed (`flows.health`).

Dagster is read here and only here: the day's flow runs (split per retailer by
`assets.run_history`) and the ticks each flow's schedules were due to run. A schedule
is due from its first run on, so a deployment that never turned a schedule on (the
demo, a test) is not reported down for ticks nobody asked for.
"""

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import dagster as dg
from dagster._utils.schedules import schedule_execution_time_iterator

from assets.run_history import SCHEDULE_TAG, retailer_runs, tick_time
from flows.health import HealthInputs, health_figures, health_markdown, refresh_health
from resources.email import EmailResource, known_secret_values, redact
from resources.postgres import PostgresResource
from resources.registry import RegistryResource
from sync.health import WINDOWS, Tick

LOOKBACK = WINDOWS["day"]


class HealthConfig(dg.Config):
    #: ISO time the windows end (unset: now); the schedule sets its tick time.
    until: str | None = None


def first_tick(instance: dg.DagsterInstance, schedule: str) -> datetime | None:
    """The tick of the schedule's first run (None: it never ran, so no tick was ever
    due); a run without a tick tag counts from its creation."""
    records = instance.get_run_records(
        dg.RunsFilter(tags={SCHEDULE_TAG: schedule}), limit=1, ascending=True
    )
    if not records:
        return None
    return tick_time(records[0].dagster_run.tags) or records[0].create_timestamp


def due_ticks(
    instance: dg.DagsterInstance,
    schedules: Sequence[dg.ScheduleDefinition],
    since: datetime,
    until: datetime,
) -> list[Tick]:
    """Every tick of `schedules` in [since, until] from each one's first run on, as the
    daemon computes them from the cron (same iterator, same time zone)."""
    ticks = []
    for schedule in schedules:
        first = first_tick(instance, schedule.name)
        if first is None or first > until:
            continue
        start = max(since, first)
        for at in schedule_execution_time_iterator(
            start.timestamp(), schedule.cron_schedule, schedule.execution_timezone or "UTC"
        ):
            if at > until:
                break
            ticks.append(Tick(schedule.name, at.astimezone(UTC)))
    return ticks


def _metadata_value(value: float | int) -> dg.MetadataValue:
    return (
        dg.MetadataValue.float(value) if isinstance(value, float) else dg.MetadataValue.int(value)
    )


def build_health_asset(
    flow_schedules: Mapping[str, Sequence[dg.ScheduleDefinition]],
) -> dg.AssetsDefinition:
    """The asset, given each flow's schedules (uptime counts their ticks)."""

    @dg.asset(
        name="health",
        group_name="operations",
        kinds={"dagster", "postgres"},
        description="Health per retailer and flow over the last hour and the last day: run "
        "success rate and duration, uptime (scheduled runs that succeeded out of those due), "
        "API error rate by category with the recurring errors, API response time, throttled "
        "share, and the warehouse database's size and free connections; judged against the "
        "operations guide's thresholds (the registry's operations.thresholds). A crossing "
        "emails once, and so does the return to normal.",
    )
    def health(
        context: dg.AssetExecutionContext,
        config: HealthConfig,
        registry: RegistryResource,
        postgres: PostgresResource,
        email: EmailResource,
    ) -> dg.MaterializeResult:
        reg = registry.get()
        now = datetime.fromisoformat(config.until) if config.until else datetime.now(UTC)
        since = now - LOOKBACK
        runs = retailer_runs(context.instance, reg, since, now)
        ticks = {
            flow: due_ticks(context.instance, schedules, since, now)
            for flow, schedules in flow_schedules.items()
        }
        with postgres.get_connection() as conn:
            report = refresh_health(conn, email, HealthInputs(reg, runs, ticks, now))
        for key in report.alerts:
            context.log.warning("health alert queued: %s", key)
        metadata = {k: _metadata_value(v) for k, v in health_figures(report).items()}
        secrets = known_secret_values(reg, [email.sendgrid_api_key_env])
        metadata["report"] = dg.MetadataValue.md(redact(health_markdown(report), secrets))
        return dg.MaterializeResult(metadata=metadata)

    return health
