"""A piece of the one `dg.Definitions` that a module builds from the registry (the reports'
partitions and schedules, the backups' hour), merged by `pipelines/definitions.py`."""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg


@dataclass(frozen=True)
class DefinitionsPart:
    assets: list[dg.AssetsDefinition]
    jobs: list  # asset jobs, resolved by the Definitions
    schedules: list[dg.ScheduleDefinition]
