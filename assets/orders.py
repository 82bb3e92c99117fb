"""Order import: retailer orders landed and classified, hub orders created, and changes
at the retailer after import carried to the hub, per retailer × hour, as one step
(`flows/orders.py`, `flows/order_creation.py`, `flows/follow_ups.py`)."""

from __future__ import annotations

from datetime import date

import dagster as dg

from assets.flow_asset import FlowAssetStep, build_flow_asset
from assets.partitions import retailer_hourly_partitions
from flows.follow_ups import follow_up_orders
from flows.order_checks import verify_orders
from flows.order_creation import create_hub_orders
from flows.orders import land_retailer_orders

ORDER_STEPS = (
    FlowAssetStep(
        "retailer_orders",
        "Retailer orders updated in the window (plus lookback), every page and line, landed "
        "in shopsync.retailer_orders with raw JSON and classified eligible, waiting or "
        "quarantined (with a reason that names the fix). Imported orders cancelled or edited "
        "since are flagged in shopsync.order_flags for the follow-ups.",
        land_retailer_orders,
        "Retailer orders that need attention",
    ),
    FlowAssetStep(
        "hub_orders",
        "One hub order per eligible retailer order, exactly once, through the order_links "
        "ledger (claimed before orderCreate, reconciled index-free after a crash or a lost "
        "response); the retailer order is then tagged as imported.",
        create_hub_orders,
        "Hub orders Shopify refused",
    ),
    FlowAssetStep(
        "hub_order_follow_ups",
        "Imported orders changed at the retailer, carried to the hub before it ships: a "
        "cancelled order's hub fulfillment orders held and the hub order cancelled "
        "(restocked, no customer email); an edited order's hub order edited to match; "
        "where the hub has started shipping or the edit cannot be mirrored, the hub order "
        "held and listed in the exception queue. Each step through the order_follow_ups "
        "ledger, re-reading the hub order before every write.",
        follow_up_orders,
        "Imported orders changed at the retailer",
    ),
)


def build_orders_flow(partitions_start: date) -> dg.AssetsDefinition:
    return build_flow_asset(
        "orders",
        ORDER_STEPS,
        retailer_hourly_partitions("orders", partitions_start),
        verify=verify_orders,
    )
