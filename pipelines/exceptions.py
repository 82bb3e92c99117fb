"""Jobs and schedule of the exception queue (`assets/exceptions.py`).

`exception_queue_job` only reads the warehouse (and escalates); the schedule runs it
every 15 minutes, after the flows' ticks have landed what they found.
`retry_exceptions_job` is the one-click fix-and-retry: after an operator fixed the
cause (a SKU added to the hub, a hold released, a refused order corrected), one launch
re-runs every retryable exception's partition, including refused hub orders and
terminal shipments that a plain re-run does not retry, and shows the queue again.
"""

import dagster as dg

from assets.exceptions import exception_queue

exception_queue_job = dg.define_asset_job(
    "exception_queue_job",
    selection=dg.AssetSelection.assets(exception_queue),
    description="Refresh the exception queue: every order that needs a person, with the fix "
    "and how long it has waited; exceptions waiting too long are emailed once.",
)

retry_exceptions_job = dg.define_asset_job(
    "retry_exceptions_job",
    selection=dg.AssetSelection.assets(exception_queue),
    description="After fixing the cause, launch this: it retries every open exception a "
    "re-run can fix (quarantined and held orders, hub orders Shopify refused, shipments that "
    "could not be pushed) and shows what is left. To close exceptions handled by hand, put "
    "their keys (the queue's Key column) in `resolve` before launching.",
    config={"ops": {"exception_queue": {"config": {"retry": True, "resolve": [], "note": ""}}}},
)

exception_queue_schedule = dg.ScheduleDefinition(
    name="exception_queue_schedule",
    job=exception_queue_job,
    cron_schedule="*/15 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every 15 minutes: refresh the list of orders that need a person, and email "
    "the operators once about each one waiting longer than the registry's "
    "exception_escalate_hours.",
)

EXCEPTION_ASSETS = [exception_queue]
EXCEPTION_JOBS = [exception_queue_job, retry_exceptions_job]
EXCEPTION_SCHEDULES = [exception_queue_schedule]
