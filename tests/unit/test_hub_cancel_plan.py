"""The carry-back of a hub cancel to the retailer order (FAULTS O15), as a pure plan over
the retailer order as read: cancel when nothing else of it ships, else remove exactly the
units waiting at the hub location, nothing once none wait. And a hub that gave up without
cancelling: none of its fulfillment orders can ship, not all shipped; what never ships."""

import pytest

from sync.hub_cancel_plan import (
    OrderState,
    RetailerAction,
    hub_gave_up,
    never_shipping,
    plan_retailer_cancel,
    waiting_at,
)

HUB, OTHER = "gid://shopify/Location/1", "gid://shopify/Location/2"


def _order(lines, fos, cancelled=False):
    """lines: (id, sku, current); fos: (status, location, {line id: remaining})."""
    return OrderState.from_graphql({
        "id": "gid://shopify/Order/9", "name": "#9",
        "cancelledAt": "2026-12-01T10:00:00Z" if cancelled else None,
        "lineItems": {"nodes": [{"id": i, "sku": s, "currentQuantity": q} for i, s, q in lines]},
        "fulfillmentOrders": {"nodes": [
            {"id": f"fo{n}", "status": status, "assignedLocation": {"location": {"id": loc}},
             "lineItems": {"nodes": [{"id": f"x{n}{i}", "remainingQuantity": r,
                                      "lineItem": {"id": i}} for i, r in left.items()]}}
            for n, (status, loc, left) in enumerate(fos)
        ]},
    })  # fmt: skip


def test_nothing_shipped_all_at_the_hub_cancels_the_order():
    order = _order([("L1", "A", 2), ("L2", "B", 1)], [("OPEN", HUB, {"L1": 2, "L2": 1})])
    plan = plan_retailer_cancel(order, HUB)
    assert plan.action is RetailerAction.CANCEL
    assert plan.describe_lines() == "A x2, B x1"


def test_part_shipped_removes_only_the_unshipped_units():
    order = _order([("L1", "A", 2), ("L2", "B", 1)],
                   [("OPEN", HUB, {"L1": 1, "L2": 1}), ("CLOSED", HUB, {"L1": 0})])  # fmt: skip
    plan = plan_retailer_cancel(order, HUB)
    assert plan.action is RetailerAction.EDIT and "shipped" in plan.reason
    assert [(x.line_id, x.quantity, x.removed) for x in plan.lines] == [("L1", 1, 1), ("L2", 0, 1)]


def test_lines_at_another_location_stand():
    order = _order([("L1", "A", 2), ("L2", "C", 1)],
                   [("OPEN", HUB, {"L1": 2}), ("OPEN", OTHER, {"L2": 1})])  # fmt: skip
    plan = plan_retailer_cancel(order, HUB)
    assert plan.action is RetailerAction.EDIT and "elsewhere" in plan.reason
    assert [(x.line_id, x.quantity) for x in plan.lines] == [("L1", 0)]


def test_a_held_hub_fulfillment_order_still_waits_and_a_closed_one_does_not():
    held = _order([("L1", "A", 1)], [("ON_HOLD", HUB, {"L1": 1})])
    assert waiting_at(held, HUB) == {"L1": 1}
    closed = _order([("L1", "A", 0)], [("CLOSED", HUB, {"L1": 0})])
    assert plan_retailer_cancel(closed, HUB).action is RetailerAction.NONE


def test_a_cancelled_or_already_edited_order_plans_nothing():
    """A retry after a lost response sees its own write landed and plans nothing more."""
    cancelled = _order([("L1", "A", 2)], [("CLOSED", HUB, {"L1": 0})], cancelled=True)
    assert plan_retailer_cancel(cancelled, HUB).action is RetailerAction.NONE
    edited = _order([("L1", "A", 0), ("L2", "C", 1)], [("OPEN", OTHER, {"L2": 1})])
    assert plan_retailer_cancel(edited, HUB).action is RetailerAction.NONE


def _page_node(statuses, display, cancelled=False):
    """A hub order as the fulfillments page reads it: FO statuses and the display status."""
    return {"id": "gid://shopify/Order/9", "displayFulfillmentStatus": display,
            "cancelledAt": "2026-12-01T10:00:00Z" if cancelled else None,
            "fulfillmentOrders": {"nodes": [{"status": s} for s in statuses]}}  # fmt: skip


@pytest.mark.parametrize(
    ("statuses", "display", "cancelled", "gave_up"),
    [(["INCOMPLETE"], "UNFULFILLED", False, True),
     (["CLOSED", "INCOMPLETE"], "PARTIALLY_FULFILLED", False, True),
     (["CLOSED"], "FULFILLED", False, False),  # all shipped
     (["INCOMPLETE", "OPEN"], "PARTIALLY_FULFILLED", False, False),  # the rest may ship
     (["ON_HOLD"], "ON_HOLD", False, False),  # held (by us or a person), not given up
     (["CLOSED"], "UNFULFILLED", True, False),  # cancelled: the cancel path tells of it
     ([], "UNFULFILLED", False, False)],  # no fulfillment orders yet (routing)
)  # fmt: skip
def test_a_hub_gave_up_only_when_nothing_can_ship_and_not_all_shipped(
    statuses, display, cancelled, gave_up
):
    assert hub_gave_up(_page_node(statuses, display, cancelled)) is gave_up


def test_never_shipping_is_what_is_left_on_fulfillment_orders_that_cannot_ship():
    fos = [("CLOSED", HUB, {"L1": 0}), ("INCOMPLETE", HUB, {"L1": 1, "L2": 1})]
    closed = _order([("L1", "A", 2), ("L2", "B", 1)], fos)
    assert never_shipping(closed) == {"A": 1, "B": 1}
    may_ship = _order(
        [("L1", "A", 2)], [("INCOMPLETE", HUB, {"L1": 1}), ("OPEN", OTHER, {"L1": 1})]
    )
    assert never_shipping(may_ship) == {}
    cancelled = _order([("L1", "A", 1)], [("INCOMPLETE", HUB, {"L1": 1})], cancelled=True)
    assert never_shipping(cancelled) == {}
