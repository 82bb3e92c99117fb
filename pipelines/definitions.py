"""The one `dg.Definitions` of shopsync (loaded by workspace.yaml).

The registry ($SHOPSYNC_REGISTRY, set by `shopsync --registry X`) is validated here,
at load time: a malformed retailer file stops the code location from loading with
one line per problem, instead of failing runs at 3 a.m. It also gives the first day
of the hourly partitions. Every run executes in process: a flow is one step, and a
step process per asset would cost seconds of CPU for a few API calls.
"""

from __future__ import annotations

import dagster as dg

from assets.fulfillments import build_fulfillments_flow
from assets.inventory import build_inventory_flow, hub_inventory
from assets.orders import build_orders_flow
from checks.fulfillments import build_fulfillment_checks
from checks.inventory import build_inventory_checks
from checks.orders import build_order_checks
from pipelines.alerts import (
    email_outbox_delivery_sensor,
    failed_blocking_check_sensor,
    run_failure_alert_sensor,
)
from pipelines.backups import backup_definitions
from pipelines.doctor import doctor_job
from pipelines.exceptions import EXCEPTION_ASSETS, EXCEPTION_JOBS, EXCEPTION_SCHEDULES
from pipelines.health import health, health_job, health_schedule
from pipelines.reports import build_report_definitions
from pipelines.resources import build_resources
from pipelines.schedules import (
    fulfillments_job,
    fulfillments_schedule,
    inventory_job,
    inventory_reconciliation_schedule,
    inventory_schedule,
    orders_job,
    orders_schedule,
)
from pipelines.sensors import retailer_registry_sensor
from resources.registry import load_registry, registry_path


def build_definitions() -> dg.Definitions:
    registry = load_registry()
    orders_flow = build_orders_flow(registry.partitions_start)
    fulfillments_flow = build_fulfillments_flow(registry.partitions_start)
    inventory_flow = build_inventory_flow()
    reports = build_report_definitions(registry)
    backups = backup_definitions(registry)
    return dg.Definitions(
        assets=[
            orders_flow,
            fulfillments_flow,
            hub_inventory,
            inventory_flow,
            *EXCEPTION_ASSETS,
            health,
            *reports.assets,
            *backups.assets,
        ],
        asset_checks=[
            build_order_checks(orders_flow),
            build_fulfillment_checks(fulfillments_flow),
            build_inventory_checks(inventory_flow),
        ],
        jobs=[
            orders_job,
            fulfillments_job,
            inventory_job,
            *EXCEPTION_JOBS,
            health_job,
            doctor_job,
            *reports.jobs,
            *backups.jobs,
        ],
        schedules=[
            orders_schedule,
            fulfillments_schedule,
            inventory_schedule,
            inventory_reconciliation_schedule,
            *EXCEPTION_SCHEDULES,
            health_schedule,
            *reports.schedules,
            *backups.schedules,
        ],
        sensors=[
            retailer_registry_sensor,
            run_failure_alert_sensor,
            failed_blocking_check_sensor,
            email_outbox_delivery_sensor,
        ],
        resources=build_resources(str(registry_path())),
        executor=dg.in_process_executor,
    )


defs = build_definitions()
