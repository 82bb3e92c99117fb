"""Which partitions a run targets, whichever UI path launched it.

A run over many partitions carries `dagster/asset_partition_range_start/end`. A backfill
launched from a job's page (Backfill on `orders_job`) with a backfill policy also copies
the first partition's per-dimension tags (`dagster/partition/hour`, `.../retailer`) onto
every range run, and Dagster then resolves the run to that one partition: it planned
and would record one hour while the range names 30, and the backfill reported success
(dagster-io/dagster#28861, #30786). The range tags are the run's real target, so the
flow step processes the range, and records the planned materializations Dagster left
out, so a failure still marks each targeted partition failed in the UI.
"""

import dagster as dg
from dagster._core.events import AssetMaterializationPlannedData, DagsterEvent

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"


def targeted_partition_keys(context: dg.AssetExecutionContext) -> list[str]:
    """The run's partition keys: its range when it has one, else what Dagster resolved."""
    resolved = [str(k) for k in context.partition_keys]
    start, end = context.run.tags.get(RANGE_START), context.run.tags.get(RANGE_END)
    if not (start and end):
        return resolved
    pdef = context.assets_def.partitions_def
    ranged = _keys_in_range(context, pdef, start, end)
    missing = sorted(set(ranged) - set(resolved))
    if missing:
        context.log.warning(
            "Dagster resolved this run to %s but its range tags target %d partitions "
            "(%s … %s): a job-page backfill hit by dagster-io/dagster#28861; processing the "
            "whole range",
            resolved, len(ranged), start, end,
        )  # fmt: skip
        _plan(context, pdef, missing)
    return ranged


def _keys_in_range(context, pdef, start: str, end: str) -> list[str]:
    """Keys from `start` to `end` in partition order (a retailer-only flow's partitions
    are dynamic: their order is the order they were added in)."""
    if isinstance(pdef, dg.DynamicPartitionsDefinition):
        keys = list(context.instance.get_dynamic_partitions(pdef.name))
        return keys[keys.index(start) : keys.index(end) + 1]
    return [
        str(k)
        for k in pdef.get_partition_keys_in_range(
            dg.PartitionKeyRange(start, end), dynamic_partitions_store=context.instance
        )
    ]


def _plan(context: dg.AssetExecutionContext, pdef, keys: list[str]) -> None:
    step = context.get_step_execution_context()
    subset = pdef.subset_with_partition_keys(keys)
    for asset_key in sorted(context.selected_asset_keys, key=lambda k: k.to_user_string()):
        event = DagsterEvent.build_asset_materialization_planned_event(
            context.run.job_name,
            step.step.key,
            AssetMaterializationPlannedData(asset_key, partitions_subset=subset),
        )
        context.instance.report_dagster_event(event, run_id=context.run.run_id)
