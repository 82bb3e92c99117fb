"""Checks of the order import: exactly one hub order per eligible retailer order."""

import dagster as dg

from checks.flow_checks import build_flow_checks
from flows.order_checks import verify_orders

ORDER_CHECKS = (
    ("hub_orders_are_unique", "hub_orders", True,
     "No retailer order has two hub orders in the hub store (read index-free)."),
    ("hub_orders_have_a_source", "hub_orders", True,
     "Every hub order tagged for the retailer names a retailer order we landed."),
    ("eligible_orders_have_one_hub_order", "hub_orders", True,
     "Every eligible retailer order in the window has exactly one hub order (lists the IDs)."),
    ("hub_order_quantities_match_hub_location", "hub_orders", False,
     "Hub order lines equal the units that remained at the retailer's hub location."),
    ("retailer_orders_need_no_attention", "retailer_orders", False,
     "Quarantined and changed-after-import orders, by reason (WARN while any need a person)."),
)  # fmt: skip


def build_order_checks(orders_flow: dg.AssetsDefinition) -> dg.AssetChecksDefinition:
    return build_flow_checks("orders", orders_flow, ORDER_CHECKS, verify_orders)
