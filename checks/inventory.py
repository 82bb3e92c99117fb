"""Checks of the inventory sync: pushed stock holds, nothing negative, no oversell."""

import dagster as dg

from checks.flow_checks import build_flow_checks
from flows.inventory_checks import verify_inventory

INVENTORY_CHECKS = (
    ("pushed_stock_matches_target", "inventory_pushes", False,
     "Every SKU written this run shows the written value in the retailer store (re-read); "
     "lower only when a shopper bought since."),
    ("inventory_quantities_not_negative", "inventory_pushes", False,
     "No target and no written quantity below zero: an oversold hub shows 0."),
    ("oversell_exposure_is_zero", "inventory_pushes", True,
     "No retailer shows more units than the hub can ship after every retailer's pending "
     "orders."),
    ("sku_mismatches_within_threshold", "inventory_pushes", False,
     "SKUs that need a person (only at the retailer, duplicated, not stocked or inactive at "
     "the hub location) stay within the registry's warning threshold."),
)  # fmt: skip


def build_inventory_checks(flow: dg.AssetsDefinition) -> dg.AssetChecksDefinition:
    return build_flow_checks("inventory", flow, INVENTORY_CHECKS, verify_inventory)
