"""The one `dg.Definitions` of shopsync (loaded by workspace.yaml)."""

from __future__ import annotations

import dagster as dg

from pipelines.resources import build_resources
from pipelines.sensors import retailer_registry_sensor

defs = dg.Definitions(
    sensors=[retailer_registry_sensor],
    resources=build_resources(),
)
