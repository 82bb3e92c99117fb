"""The `health` asset wired to the flows' schedules, its job and its 15-minute schedule.

Uptime is counted against the very schedule definitions the daemon runs (their crons
and time zones), so a changed cron changes what health expects with no second copy.
The refresh runs at minutes 4, 19, 34 and 49: after the quarter-hour flow ticks have
had time to finish, so their runs are judged rather than skipped as still running.
"""

from datetime import UTC, datetime

import dagster as dg

from assets.health import build_health_asset
from pipelines.schedules import (
    fulfillments_schedule,
    inventory_reconciliation_schedule,
    inventory_schedule,
    orders_schedule,
)

health = build_health_asset(
    {
        "orders": [orders_schedule],
        "fulfillments": [fulfillments_schedule],
        "inventory": [inventory_schedule, inventory_reconciliation_schedule],
    }
)

health_job = dg.define_asset_job(
    "health_job",
    selection=dg.AssetSelection.assets(health),
    description="Refresh the health figures per retailer and flow and email any threshold "
    "crossed or back to normal.",
)


@dg.schedule(
    name="health_schedule",
    job=health_job,
    cron_schedule="4,19,34,49 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every 15 minutes: refresh health (success rate, uptime, API errors and "
    "response times per retailer and flow, database size and connections) and email a "
    "threshold crossed or back to normal, once each.",
)
def health_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    until = context.scheduled_execution_time or datetime.now(UTC)
    return dg.RunRequest(
        run_key=f"health:{until:%Y%m%dT%H%M}",
        run_config={"ops": {"health": {"config": {"until": until.isoformat()}}}},
    )
