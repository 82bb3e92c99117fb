"""The one `dg.Definitions` of shopsync (loaded by workspace.yaml).

The registry is validated here, at load time: a malformed retailer file stops
the code location from loading with one line per problem, instead of failing
runs at 3 a.m.
"""

from __future__ import annotations

import warnings

import dagster as dg

# backfill_policy and pool are marked beta; we rely on them knowingly (tests cover both).
warnings.filterwarnings("ignore", category=dg.BetaWarning)

from assets import fulfillments, orders  # noqa: E402
from checks import fulfillments as fulfillment_checks  # noqa: E402
from checks import orders as order_checks  # noqa: E402
from pipelines.resources import build_resources  # noqa: E402
from pipelines.schedules import (  # noqa: E402
    fulfillments_job,
    fulfillments_schedule,
    orders_job,
    orders_schedule,
)
from pipelines.sensors import retailer_registry_sensor  # noqa: E402
from resources.registry import load_registry  # noqa: E402

load_registry()

defs = dg.Definitions(
    assets=dg.load_assets_from_modules([orders, fulfillments]),
    asset_checks=dg.load_asset_checks_from_modules([order_checks, fulfillment_checks]),
    jobs=[orders_job, fulfillments_job],
    schedules=[orders_schedule, fulfillments_schedule],
    sensors=[retailer_registry_sensor],
    resources=build_resources(),
)
