"""The one `dg.Definitions` of shopsync (loaded by workspace.yaml).

The registry is validated here, at load time: a malformed retailer file stops
the code location from loading with one line per problem, instead of failing
runs at 3 a.m.
"""

from __future__ import annotations

import dagster as dg

from assets import fulfillments, orders
from checks import fulfillments as fulfillment_checks
from checks import orders as order_checks
from pipelines.alerts import (
    daily_summary_job,
    daily_summary_schedule,
    email_outbox_delivery_sensor,
    failed_blocking_check_sensor,
    run_failure_alert_sensor,
)
from pipelines.resources import build_resources
from pipelines.schedules import (
    fulfillments_job,
    fulfillments_schedule,
    orders_job,
    orders_schedule,
)
from pipelines.sensors import retailer_registry_sensor
from resources.registry import load_registry

load_registry()

defs = dg.Definitions(
    assets=dg.load_assets_from_modules([orders, fulfillments]),
    asset_checks=dg.load_asset_checks_from_modules([order_checks, fulfillment_checks]),
    jobs=[orders_job, fulfillments_job, daily_summary_job],
    schedules=[orders_schedule, fulfillments_schedule, daily_summary_schedule],
    sensors=[
        retailer_registry_sensor,
        run_failure_alert_sensor,
        failed_blocking_check_sensor,
        email_outbox_delivery_sensor,
    ],
    resources=build_resources(),
)
