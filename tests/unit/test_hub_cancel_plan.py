"""The carry-back of a hub cancel to the retailer order (FAULTS O15), as a pure plan over
the retailer order as read: cancel when nothing else of it ships, else remove exactly the
units waiting at the hub location, nothing once none wait."""

from sync.hub_cancel_plan import OrderState, RetailerAction, plan_retailer_cancel, waiting_at

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
