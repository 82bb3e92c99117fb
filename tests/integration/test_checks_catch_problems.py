"""The blocking exactly-once checks fail when the stores disagree with exactly-once.

A duplicate made behind the pipeline's back (a rogue script, a second tool) is what
they exist for: they ask the store, not only our ledger.
"""

from __future__ import annotations

import time

import pytest

from sync.order_keys import source_key
from tests.fixtures.flows import check_evaluations

pytestmark = pytest.mark.integration

RETAILER = "epic-gardening"
CLEAN = {"unpaid": 0, "cancelled": 0, "hubless_sku": 0, "other_location": 0,
         "no_shipping_address": 0}  # fmt: skip


NO_HOLD = {"orders_flow": {"config": {"hold_window_minutes": 0}}}


def _evaluations(result) -> dict:
    return check_evaluations(result)


def test_rogue_duplicate_hub_order_fails_the_blocking_check(flow):
    flow.sim.run_shopper(domains=[f"{RETAILER}.myshopify.com"], count=2, seed=5, mix=CLEAN)
    time.sleep(0.6)
    hour = flow.windows()[0][0]
    first = flow.run_job("orders_job", RETAILER, hour, ops=NO_HOLD)
    assert first.success
    assert _evaluations(first)["hub_orders_are_unique"].passed

    hub_order = next(o for o in flow.sim.state(flow.registry.hub.shop_domain)["orders"])
    line = hub_order["line_items"][0]
    variant = flow.client("hub").variants_by_sku([line["sku"]])[line["sku"]][0]
    rogue = flow.client("hub").mutate(
        "orders_create_hub",
        {
            "order": {
                "lineItems": [{"variantId": variant["id"], "quantity": 1}],
                "tags": hub_order["tags"],
                "sourceIdentifier": hub_order["source_identifier"],
            }
        },
    )
    assert not rogue.user_errors

    second = flow.run_job("orders_job", RETAILER, hour, ops=NO_HOLD)
    check = _evaluations(second)["hub_orders_are_unique"]
    assert not check.passed
    assert check.metadata["duplicate_hub_orders"].value == 1
    duplicated = {row["source_key"] for row in check.metadata["duplicates"].value}
    assert duplicated == {hub_order["source_identifier"]}
    assert duplicated <= {source_key(RETAILER, o["id"]) for o in
                          flow.sim.state(f"{RETAILER}.myshopify.com")["orders"]}  # fmt: skip
    assert not second.success  # blocking: the run fails, so the failure is alerted


def test_unpushed_hub_shipment_fails_the_blocking_check(flow):
    flow.sim.run_shopper(domains=[f"{RETAILER}.myshopify.com"], count=1, seed=6, mix=CLEAN)
    time.sleep(0.6)
    flow.import_orders(RETAILER)
    time.sleep(0.6)
    assert flow.sim.run_warehouse(seed=1)["orders"] == 1
    # Every fulfillmentCreate at the retailer fails with a 503: the shipment stays claimed.
    flow.sim.set_faults(
        f"{RETAILER}.myshopify.com", http_503=1.0, only_fields=["fulfillmentCreate"]
    )
    result = flow.run_job("fulfillments_job", RETAILER, flow.windows()[0][0])
    check = _evaluations(result)["hub_shipments_are_pushed"]
    assert not check.passed
    assert check.metadata["by_state"].value == {"claimed": 1}
    assert not result.success

    flow.sim.clear_faults()
    healed = flow.run_job("fulfillments_job", RETAILER, flow.windows()[0][0])
    assert healed.success
    assert _evaluations(healed)["hub_shipments_are_pushed"].passed
    assert flow.audit().duplicate_retailer_fulfillments == 0
