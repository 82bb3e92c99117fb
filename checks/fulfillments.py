"""Checks of the fulfillment push: every hub shipment pushed, none pushed twice."""

import dagster as dg

from checks.flow_checks import build_flow_checks
from flows.fulfillment_checks import verify_fulfillments

FULFILLMENT_CHECKS = (
    ("hub_shipments_are_pushed", "retailer_fulfillments", True,
     "Every successful hub shipment in the window is pushed or recorded terminal with a reason."),
    ("retailer_fulfillments_are_unique", "retailer_fulfillments", True,
     "Each pushed hub shipment appears once at the retailer (counted in the retailer store)."),
)  # fmt: skip


def build_fulfillment_checks(flow: dg.AssetsDefinition) -> dg.AssetChecksDefinition:
    return build_flow_checks("fulfillments", flow, FULFILLMENT_CHECKS, verify_fulfillments)
