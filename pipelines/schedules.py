"""Jobs and schedules of the order and fulfillment flows.

Every 15 minutes one run per flow covers every retailer with the flow enabled, over
the previous and the current hour (a rectangle of partitions: all of the flow's
retailers × two hours). The open hour picks up new orders, the previous one catches
late index updates and records that changed at the boundary (FAULTS O5). Inside the
run, retailers fan out in a bounded pool, each isolated (`flows.runner`). Re-running
a partition is always safe, so overlapping ticks cost API points, never duplicates;
the `shopsync/flow` tag limit keeps two ticks of one flow from running at once.
"""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg

from assets.partitions import retailers_partitions_name, tick_range
from resources.registry import RegistryResource

FLOW_TAG = "shopsync/flow"
TICK_TAG = "shopsync/tick"

orders_job = dg.define_asset_job(
    "orders_job",
    selection=dg.AssetSelection.groups("orders").without_checks(),
    description="Import retailer orders into the hub: one run covers the retailers × hours "
    "it targets (a tick: every enabled retailer, previous and current hour).",
    tags={FLOW_TAG: "orders"},
)

fulfillments_job = dg.define_asset_job(
    "fulfillments_job",
    selection=dg.AssetSelection.groups("fulfillments").without_checks(),
    description="Push hub shipments back to the retailers: one run covers the retailers × "
    "hours it targets (a tick: every enabled retailer, previous and current hour).",
    tags={FLOW_TAG: "fulfillments"},
)


def tick_request(
    context: dg.ScheduleEvaluationContext, registry: RegistryResource, flow: str
) -> dg.RunRequest | dg.SkipReason:
    """One run request covering every retailer of the flow, previous and current hour."""
    enabled = {r.key for r in registry.get().enabled_retailers(flow)}
    # Partition order (insertion order) decides the rectangle's first and last retailer.
    known = list(context.instance.get_dynamic_partitions(retailers_partitions_name(flow)))
    retailers = [k for k in known if k in enabled]
    if not retailers:
        return dg.SkipReason(
            f"no retailer has the {flow} flow enabled and registered as a partition yet "
            "(the retailer registry sensor adds them)"
        )
    if retailers != known:
        context.log.warning(
            "partitions of retailers not in the registry fail until the registry sensor "
            "removes them: %s",
            sorted(set(known) - enabled),
        )
    now = context.scheduled_execution_time or datetime.now(UTC)
    # The rectangle's corners are registry retailers: a hand-added partition the registry
    # sensor deletes while this run queues must not make the range unresolvable.
    key_range = tick_range(retailers, now, registry.get().partitions_start)
    return dg.RunRequest(
        run_key=f"{flow}:{now:%Y%m%dT%H%M}",
        tags={
            FLOW_TAG: flow,
            TICK_TAG: f"{now:%Y-%m-%dT%H:%M}",
            "dagster/asset_partition_range_start": key_range.start,
            "dagster/asset_partition_range_end": key_range.end,
        },
    )


@dg.schedule(
    job=orders_job,
    cron_schedule="*/15 * * * *",
    execution_timezone="UTC",
    description="Every 15 minutes: one run imports the orders of every enabled retailer "
    "for the previous and current hour.",
)
def orders_schedule(context: dg.ScheduleEvaluationContext, registry: RegistryResource):
    return tick_request(context, registry, "orders")


@dg.schedule(
    job=fulfillments_job,
    cron_schedule="*/15 * * * *",
    execution_timezone="UTC",
    description="Every 15 minutes: one run pushes the shipments of every enabled retailer's "
    "hub orders updated in the previous and current hour.",
)
def fulfillments_schedule(context: dg.ScheduleEvaluationContext, registry: RegistryResource):
    return tick_request(context, registry, "fulfillments")
