"""Planning a follow-up from the retailer order and the hub order as they are now
(FAULTS O12–O14): each case, and a retried step planning nothing it already did."""

from __future__ import annotations

from flow_fixtures import (
    HUB_LOCATION,
    NOW,
    fo_line,
    fulfillment_order,
    gid,
    line_item,
    retailer_order,
)

from sync.follow_up_plan import (
    HOLD_HANDLE,
    Action,
    HubOrder,
    change_key,
    matches_target,
    plan_cancel,
    plan_edit,
)
from sync.models import RetailerOrder


def hub_order(shipped: dict[str, int] | None = None, *, cancelled: bool = False,
              held: bool = False, lines: dict[str, int] | None = None) -> HubOrder:  # fmt: skip
    """A hub order of FERN-1 ×2 and MOSS-2 ×1 (or `lines`), `shipped` units per SKU gone
    from its one fulfillment order."""
    lines = lines or {"FERN-1": 2, "MOSS-2": 1}
    shipped = shipped or {}
    items = [{"id": gid("LineItem", 500 + i), "sku": sku, "currentQuantity": qty,
              "variant": {"id": gid("ProductVariant", 700 + i)}}
             for i, (sku, qty) in enumerate(lines.items())]  # fmt: skip
    fo_lines = [{"id": gid("FulfillmentOrderLineItem", 600 + i),
                 "remainingQuantity": item["currentQuantity"] - shipped.get(item["sku"], 0),
                 "lineItem": {"id": item["id"], "sku": item["sku"]}}
                for i, item in enumerate(items)]  # fmt: skip
    status = "ON_HOLD" if held else ("IN_PROGRESS" if shipped else "OPEN")
    holds = [{"id": gid("FulfillmentHold", 1), "handle": HOLD_HANDLE}] if held else []
    node = {
        "id": gid("Order", 9001), "name": "#H9001",
        "cancelledAt": "2025-01-15T12:00:00Z" if cancelled else None,
        "lineItems": {"nodes": items},
        "fulfillmentOrders": {"nodes": [{"id": gid("FulfillmentOrder", 8001), "status": status,
                                         "fulfillmentHolds": holds,
                                         "lineItems": {"nodes": fo_lines}}]},
    }  # fmt: skip
    return HubOrder.from_graphql(node)


def cancelled_order() -> RetailerOrder:
    return RetailerOrder.from_graphql(retailer_order(cancelled=NOW))


def test_o12_cancel_before_shipping_holds_then_cancels():
    plan = plan_cancel(cancelled_order(), hub_order())
    assert (plan.action, plan.key, plan.done) == (Action.CANCEL, "cancel", False)
    assert plan.hold == (gid("FulfillmentOrder", 8001),)


def test_o12_a_retry_after_the_hold_only_cancels_and_after_the_cancel_does_nothing():
    assert plan_cancel(cancelled_order(), hub_order(held=True)).hold == ()
    done = plan_cancel(cancelled_order(), hub_order(cancelled=True))
    assert done.done and done.action is Action.CANCEL


def test_o13_cancel_after_part_shipped_holds_the_remainder_and_cancels_nothing():
    plan = plan_cancel(cancelled_order(), hub_order({"FERN-1": 1}))
    assert plan.action is Action.HOLD_FOR_REVIEW and not plan.done
    assert plan.hold == (gid("FulfillmentOrder", 8001),)
    assert ("FERN-1", 1, 1) in plan.lines and ("MOSS-2", 0, 1) in plan.lines
    assert "refund or return the shipped lines" in plan.reason


def edited(*lines: dict) -> RetailerOrder:
    return RetailerOrder.from_graphql(retailer_order(lines=list(lines)))


def test_o14_quantity_change_and_removed_line_are_set_on_the_hub_order():
    order = edited(line_item(1, "FERN-1", 2, current=1), line_item(2, "MOSS-2", 1, current=0))
    plan = plan_edit(order, hub_order(), HUB_LOCATION, {})
    assert plan.action is Action.EDIT and plan.hold == ()
    assert {(e.sku, e.quantity, e.line_id is not None) for e in plan.edits} == {
        ("FERN-1", 1, True), ("MOSS-2", 0, True)}  # fmt: skip
    assert plan.extra["target"] == {"FERN-1": 1}
    assert plan.key == change_key(order, HUB_LOCATION) and plan.key.startswith("edit:")


def test_o14_an_added_line_is_added_with_the_hub_variant_of_its_sku():
    fern, moss, fig = (line_item(1, "FERN-1", 2), line_item(2, "MOSS-2", 1),
                       line_item(3, "FIG-3", 4))  # fmt: skip
    node = retailer_order(lines=[fern, moss, fig], fulfillment_orders=[fulfillment_order(
        10, [fo_line(11, fern, 2), fo_line(12, moss, 1), fo_line(13, fig, 4)])])  # fmt: skip
    plan = plan_edit(RetailerOrder.from_graphql(node), hub_order(), HUB_LOCATION,
                     {"FIG-3": [gid("ProductVariant", 42)]})  # fmt: skip
    [add] = plan.edits
    assert (add.sku, add.quantity, add.variant_id) == ("FIG-3", 4, gid("ProductVariant", 42))


def test_o14_an_edit_already_on_the_hub_plans_nothing_and_matches():
    order = edited(line_item(1, "FERN-1", 2, current=1), line_item(2, "MOSS-2", 1))
    hub = hub_order(lines={"FERN-1": 1, "MOSS-2": 1})
    assert plan_edit(order, hub, HUB_LOCATION, {}) is None
    assert matches_target(hub, {"FERN-1": 1, "MOSS-2": 1})
    assert not matches_target(hub_order(), {"FERN-1": 1, "MOSS-2": 1})


def test_o14_edit_after_shipping_started_or_of_an_unknown_sku_is_held_for_a_person():
    order = edited(line_item(1, "FERN-1", 2, current=1), line_item(2, "MOSS-2", 1))
    started = plan_edit(order, hub_order({"MOSS-2": 1}), HUB_LOCATION, {})
    assert started.action is Action.HOLD_FOR_REVIEW and "started shipping" in started.reason
    fern, fig = line_item(1, "FERN-1", 2), line_item(3, "FIG-3", 1)
    node = retailer_order(lines=[fern, fig], fulfillment_orders=[fulfillment_order(
        10, [fo_line(11, fern, 2), fo_line(13, fig, 1)])])  # fmt: skip
    unknown = plan_edit(RetailerOrder.from_graphql(node), hub_order(), HUB_LOCATION, {})
    assert unknown.action is Action.HOLD_FOR_REVIEW and "'FIG-3' is not sold" in unknown.reason
    assert unknown.hold == (gid("FulfillmentOrder", 8001),)


def test_a_second_edit_is_a_new_follow_up_and_the_same_edit_the_same():
    once = edited(line_item(1, "FERN-1", 2, current=1), line_item(2, "MOSS-2", 1))
    again = edited(line_item(1, "FERN-1", 2, current=1), line_item(2, "MOSS-2", 1))
    twice = edited(line_item(1, "FERN-1", 2, current=0), line_item(2, "MOSS-2", 1))
    assert change_key(once, HUB_LOCATION) == change_key(again, HUB_LOCATION)
    assert change_key(once, HUB_LOCATION) != change_key(twice, HUB_LOCATION)
    assert change_key(cancelled_order(), HUB_LOCATION) == "cancel"


def test_o11_an_order_imported_through_a_normalised_sku_is_not_taken_for_an_edit():
    """The retailer sells 'FERN-1 ' (imported as the hub's 'FERN-1' under trim_whitespace):
    no edit while the quantities agree; a real quantity change is planned on 'FERN-1'."""
    from sync.sku_matching import SkuMatching

    trim = SkuMatching(trim_whitespace=True)
    same = edited(line_item(1, "FERN-1 ", 2), line_item(2, "MOSS-2", 1))
    assert plan_edit(same, hub_order(), HUB_LOCATION, {}, trim) is None
    changed = edited(line_item(1, "FERN-1 ", 2, current=1), line_item(2, "MOSS-2", 1))
    plan = plan_edit(changed, hub_order(), HUB_LOCATION, {}, trim)
    assert [(e.sku, e.quantity) for e in plan.edits] == [("FERN-1", 1)]
    assert plan.extra["target"] == {"FERN-1": 1, "MOSS-2": 1}
