"""Fulfillment push: hub shipments landed, then pushed to the retailer once each, and hub
cancels carried back to the retailer where asked, per retailer × hour, as one step
(`flows/fulfillments.py`, `flows/hub_cancellations.py`)."""

from __future__ import annotations

from datetime import date

import dagster as dg

from assets.flow_asset import FlowAssetStep, build_flow_asset
from assets.partitions import retailer_hourly_partitions
from flows.fulfillment_checks import verify_fulfillments
from flows.fulfillments import land_hub_fulfillments, push_retailer_fulfillments
from flows.hub_cancellations import carry_hub_cancellations

FULFILLMENT_STEPS = (
    FlowAssetStep(
        "hub_fulfillments",
        "Fulfillments of the retailer's hub orders updated in the window (plus lookback): a "
        "shipment days after the order updates its order, so it is still seen.",
        land_hub_fulfillments,
    ),
    FlowAssetStep(
        "retailer_fulfillments",
        "Each hub shipment created once at the retailer, on the fulfillment order at the hub "
        "location, for exactly the lines and quantities shipped, with every tracking number, "
        "through the fulfillment_links ledger. Terminal cases are recorded and alerted once.",
        push_retailer_fulfillments,
        "Shipments that cannot be pushed to the retailer",
    ),
    FlowAssetStep(
        "retailer_order_follow_ups",
        "Hub orders the hub cancelled itself, carried back to the retailer order where the "
        "registry says on_hub_cancel: cancel_at_retailer (else they are reported by "
        "hub_fulfillments): once every shipment of the hub order is pushed, the retailer "
        "order is cancelled (restocked, refunded) when nothing else of it ships, or the "
        "units the hub will not ship are removed by an order edit. Each write through the "
        "order_follow_ups ledger, re-reading the retailer order before it.",
        carry_hub_cancellations,
        "Hub cancels carried to the retailer",
    ),
)


#: Shipments follow hub orders: the fulfillments of a retailer's hour are those of its hub
#: orders updated in that hour (a shipment updates its order), so the lineage maps a
#: partition to the same retailer and hour of `hub_orders`.
HUB_ORDERS_OF_THE_SAME_HOUR = dg.AssetDep(
    "hub_orders",
    partition_mapping=dg.MultiPartitionMapping(
        {
            dim: dg.DimensionPartitionMapping(dim, dg.IdentityPartitionMapping())
            for dim in ("retailer", "hour")
        }
    ),
)


def build_fulfillments_flow(partitions_start: date) -> dg.AssetsDefinition:
    return build_flow_asset(
        "fulfillments",
        FULFILLMENT_STEPS,
        retailer_hourly_partitions("fulfillments", partitions_start),
        verify=verify_fulfillments,
        upstream=[HUB_ORDERS_OF_THE_SAME_HOUR],
    )
