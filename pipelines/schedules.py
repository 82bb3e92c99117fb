"""Jobs and schedules of the order, fulfillment and inventory flows.

Every 15 minutes one run per flow covers every retailer with the flow enabled, over
the previous and the current hour (a rectangle of partitions: all of the flow's
retailers × two hours). The open hour picks up new orders, the previous one catches
late index updates and records that changed at the boundary (FAULTS O5). Inside the
run, retailers fan out in a bounded pool, each isolated (`flows.runner`). Re-running
a partition is always safe, so overlapping ticks cost API points, never duplicates;
the `shopsync/flow` tag limit keeps two ticks of one flow from running at once.

Inventory runs every 5 minutes over every enabled retailer (partitions are retailers:
stock has no window), with the hub read once for all of them; at minute 2 of each hour
the same job reads both sides in full (the reconciliation, FAULTS I7).
"""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg

from assets.partitions import HOURLY_FLOWS, retailers_partitions_name, tick_range
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


inventory_job = dg.define_asset_job(
    "inventory_job",
    selection=dg.AssetSelection.groups("inventory").without_checks(),
    description="Make every retailer's hub-location stock follow the hub: one run reads the "
    "hub once, then per retailer reads what changed and writes only the differences.",
    tags={FLOW_TAG: "inventory"},
)

#: Run config of the hourly reconciliation: both assets read in full.
FULL_RECONCILIATION = {
    "ops": {
        "hub_inventory": {"config": {"full_reconciliation": True}},
        "inventory_flow": {"config": {"full_reconciliation": True}},
    }
}


def tick_request(
    context: dg.ScheduleEvaluationContext,
    registry: RegistryResource,
    flow: str,
    *,
    run_config: dict | None = None,
    kind: str = "tick",
) -> dg.RunRequest | dg.SkipReason:
    """One run request covering every retailer of the flow (previous and current hour
    for the hourly flows)."""
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
    key_range = tick_range(
        retailers, now, registry.get().partitions_start, hourly=flow in HOURLY_FLOWS
    )
    return dg.RunRequest(
        run_key=f"{flow}:{kind}:{now:%Y%m%dT%H%M}",
        run_config=run_config or {},
        tags={
            FLOW_TAG: flow,
            TICK_TAG: f"{now:%Y-%m-%dT%H:%M}",
            "dagster/asset_partition_range_start": key_range.start,
            "dagster/asset_partition_range_end": key_range.end,
        },
    )


def flow_schedule(
    name: str,
    job,
    cron: str,
    flow: str,
    description: str,
    *,
    run_config: dict | None = None,
    kind: str = "tick",
) -> dg.ScheduleDefinition:
    """A schedule whose every tick is one run over all the flow's enabled retailers."""

    @dg.schedule(name=name, job=job, cron_schedule=cron, execution_timezone="UTC",
                 description=description)  # fmt: skip
    def _schedule(context: dg.ScheduleEvaluationContext, registry: RegistryResource):
        return tick_request(context, registry, flow, run_config=run_config, kind=kind)

    return _schedule


orders_schedule = flow_schedule(
    "orders_schedule", orders_job, "*/15 * * * *", "orders",
    "Every 15 minutes: one run imports the orders of every enabled retailer for the previous "
    "and current hour.",
)  # fmt: skip
fulfillments_schedule = flow_schedule(
    "fulfillments_schedule", fulfillments_job, "*/15 * * * *", "fulfillments",
    "Every 15 minutes: one run pushes the shipments of every enabled retailer's hub orders "
    "updated in the previous and current hour.",
)  # fmt: skip
inventory_schedule = flow_schedule(
    "inventory_schedule", inventory_job, "*/5 * * * *", "inventory",
    "Every 5 minutes: one run reads the hub's changed stock once and brings every enabled "
    "retailer's hub location to its target (only the differences are written).",
)  # fmt: skip
inventory_reconciliation_schedule = flow_schedule(
    "inventory_reconciliation_schedule", inventory_job, "2 * * * *", "inventory",
    "Hourly: the inventory reconciliation reads every level of the hub and of each retailer's "
    "hub location in full, corrects any drift and records it (drift report).",
    run_config=FULL_RECONCILIATION, kind="reconcile",
)  # fmt: skip
