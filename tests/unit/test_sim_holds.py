"""Fulfillment holds in the simulator (FACTS §10.4, FAULTS O12/O13): several holds per FO, one
per handle; releasing only the named holds; ON_HOLD until the last is gone, then back to the
status it had; partial holds split the FO; a held FO never ships (fulfillmentCreate refuses it,
the warehouse actor skips it); faults apply to the hold mutations as to any other."""

from __future__ import annotations

import pytest
from sim_order_fixtures import fast_spec, hub_order, schema_errors, send_losing_the_answer

from tests.fixtures.sim import HUB

HOLD = """mutation($id: ID!, $hold: FulfillmentOrderHoldInput!) {
  fulfillmentOrderHold(id: $id, fulfillmentHold: $hold) {
    fulfillmentHold { id handle reason reasonNotes displayReason heldByRequestingApp }
    fulfillmentOrder { id status fulfillmentHolds { id handle } }
    remainingFulfillmentOrder { id status lineItems(first: 10) { nodes { sku remainingQuantity } } }
    userErrors { code field message } } }"""
RELEASE = """mutation($id: ID!, $holds: [ID!]) {
  fulfillmentOrderReleaseHold(id: $id, holdIds: $holds, externalId: "shopsync-release") {
    fulfillmentOrder { id status fulfillmentHolds { id handle } }
    userErrors { code field message } } }"""
ORDER = """query($id: ID!) { order(id: $id) { updatedAt displayFulfillmentStatus
  fulfillmentOrders(first: 5) { nodes { id status
    fulfillmentHolds { id handle reason reasonNotes heldByRequestingApp }
    lineItems(first: 10) { nodes { id sku totalQuantity remainingQuantity } } } } } }"""
FULFILL = """mutation($f: FulfillmentInput!) { fulfillmentCreate(fulfillment: $f) {
  fulfillment { id } userErrors { field message } } }"""
DOCUMENTS = {"hold": HOLD, "release": RELEASE, "order": ORDER, "fulfill": FULFILL}


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_documents_validate_against_the_real_schema(name):
    assert schema_errors(DOCUMENTS[name]) == []


@pytest.fixture
def sim(sim_factory):
    return sim_factory(fast_spec())


def _hold(call, fo_id, handle="shopsync-cancel", **extra):
    hold = {"reason": "OTHER", "handle": handle, "reasonNotes": "retailer cancelled", **extra}
    return call(HOLD, {"id": fo_id, "hold": hold})["data"]["fulfillmentOrderHold"]


def _release(call, fo_id, hold_ids):
    return call(RELEASE, {"id": fo_id, "holds": hold_ids})["data"]["fulfillmentOrderReleaseHold"]


def _fos(call, order_id):
    return call(ORDER, {"id": order_id})["data"]["order"]["fulfillmentOrders"]["nodes"]


def test_two_holds_then_releasing_one_keeps_the_fo_on_hold(sim, gql):
    call = gql(sim, HUB)
    order = hub_order(sim, call)
    (fo,) = order.fulfillment_orders_list
    first = _hold(call, fo.id, "shopsync-cancel", notifyMerchant=True)
    assert first["userErrors"] == []
    assert first["fulfillmentHold"] == {
        "id": first["fulfillmentHold"]["id"],
        "handle": "shopsync-cancel",
        "reason": "OTHER",
        "reasonNotes": "retailer cancelled",
        "displayReason": "Other",
        "heldByRequestingApp": True,
    }
    second = _hold(call, fo.id, "shopsync-edit", reason="INCORRECT_ADDRESS")
    assert second["fulfillmentOrder"]["status"] == "ON_HOLD"
    assert [h["handle"] for h in second["fulfillmentOrder"]["fulfillmentHolds"]] == [
        "shopsync-cancel",
        "shopsync-edit",
    ]
    body = call(ORDER, {"id": order.id})["data"]["order"]
    assert body["displayFulfillmentStatus"] == "ON_HOLD"
    one = _release(call, fo.id, [first["fulfillmentHold"]["id"]])
    assert one["fulfillmentOrder"]["status"] == "ON_HOLD"
    assert [h["handle"] for h in one["fulfillmentOrder"]["fulfillmentHolds"]] == ["shopsync-edit"]
    last = _release(call, fo.id, [second["fulfillmentHold"]["id"]])
    assert last["fulfillmentOrder"] == {"id": fo.id, "status": "OPEN", "fulfillmentHolds": []}
    assert sim.counters(HUB)["merchant_hold_notifications"] == 1


def test_handles_are_unique_per_fo_and_at_most_ten_holds(sim, gql):
    call = gql(sim, HUB)
    (fo,) = hub_order(sim, call).fulfillment_orders_list
    assert _hold(call, fo.id, "")["userErrors"] == []  # the default handle is ""
    again = _hold(call, fo.id, "")
    assert again["userErrors"][0]["code"] == "DUPLICATE_FULFILLMENT_HOLD_HANDLE"
    assert again["fulfillmentHold"] is None
    for n in range(1, 10):
        assert _hold(call, fo.id, f"h{n}")["userErrors"] == []
    over = _hold(call, fo.id, "h10")
    assert over["userErrors"][0]["code"] == "FULFILLMENT_ORDER_HOLD_LIMIT_REACHED"
    assert len(fo.holds) == 10
    assert _hold(call, fo.id, "x" * 65)["userErrors"][0]["field"] == ["fulfillmentHold", "handle"]


def test_a_held_fo_never_ships_until_released(sim, gql):
    call = gql(sim, HUB)
    order = hub_order(sim, call)
    (fo,) = order.fulfillment_orders_list
    hold = _hold(call, fo.id)["fulfillmentHold"]
    group = {"lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": fo.id}]}
    refused = call(FULFILL, {"f": group})["data"]["fulfillmentCreate"]
    assert refused["fulfillment"] is None
    assert "unfulfillable status= on_hold" in refused["userErrors"][0]["message"]
    assert sim.run_warehouse(partial_rate=0, split_rate=0)["fulfillments"] == []
    _release(call, fo.id, [hold["id"]])
    shipped = sim.run_warehouse(partial_rate=0, split_rate=0)["fulfillments"]
    assert [s["order_id"] for s in shipped] == [order.id]


def test_a_started_fo_returns_to_in_progress_when_released(sim, gql):
    call = gql(sim, HUB)
    order = hub_order(sim, call)
    (fo,) = order.fulfillment_orders_list
    first_line = fo.line_items_list[0]
    group = {
        "fulfillmentOrderId": fo.id,
        "fulfillmentOrderLineItems": [{"id": first_line.id, "quantity": 1}],
    }
    assert (
        call(FULFILL, {"f": {"lineItemsByFulfillmentOrder": [group]}})["data"]["fulfillmentCreate"][
            "userErrors"
        ]
        == []
    )
    hold = _hold(call, fo.id)["fulfillmentHold"]
    assert sim.run_warehouse(partial_rate=0, split_rate=0)["fulfillments"] == []
    assert _release(call, fo.id, None)["fulfillmentOrder"]["status"] == "IN_PROGRESS"  # all
    assert fo.holds == [] and fo.held_from is None
    assert hold["id"] in sim.store(HUB).nodes  # released holds stay readable by id


def test_a_hold_on_some_units_splits_the_fo(sim, gql):
    call = gql(sim, HUB)
    order = hub_order(sim, call)
    (fo,) = order.fulfillment_orders_list
    monstera = next(li for li in fo.line_items_list if li.sku == "PLT-MONS-04")
    lines = [{"id": monstera.id, "quantity": 1}]
    held = _hold(call, fo.id, fulfillmentOrderLineItems=lines)
    assert held["userErrors"] == [] and held["fulfillmentOrder"]["status"] == "ON_HOLD"
    rest = held["remainingFulfillmentOrder"]
    assert rest["status"] == "OPEN"
    assert sorted((n["sku"], n["remainingQuantity"]) for n in rest["lineItems"]["nodes"]) == [
        ("PLT-MONS-04", 1),
        ("PLT-SNAK-04", 1),
    ]
    statuses = {f["id"]: f for f in _fos(call, order.id)}
    held_lines = statuses[fo.id]["lineItems"]["nodes"]
    assert [(n["sku"], n["remainingQuantity"]) for n in held_lines] == [("PLT-MONS-04", 1)]
    shipped = sim.run_warehouse(partial_rate=0, split_rate=0)["fulfillments"]
    assert sorted((x["sku"], x["quantity"]) for s in shipped for x in s["lines"]) == [
        ("PLT-MONS-04", 1),
        ("PLT-SNAK-04", 1),
    ]
    again = _hold(call, fo.id, "second", fulfillmentOrderLineItems=lines)
    assert again["userErrors"][0]["code"] == "FULFILLMENT_ORDER_NOT_SPLITTABLE"


@pytest.mark.parametrize(
    ("quantity", "code"), [(0, "GREATER_THAN_ZERO"), (3, "INVALID_LINE_ITEM_QUANTITY")]
)
def test_partial_hold_quantities_are_checked(sim, gql, quantity, code):
    call = gql(sim, HUB)
    (fo,) = hub_order(sim, call).fulfillment_orders_list
    lines = [{"id": fo.line_items_list[0].id, "quantity": quantity}]
    refused = _hold(call, fo.id, fulfillmentOrderLineItems=lines)
    assert refused["userErrors"][0]["code"] == code and fo.status == "OPEN"


def test_hold_and_release_refusals(sim, gql):
    call = gql(sim, HUB)
    missing = _hold(call, "gid://shopify/FulfillmentOrder/1")
    assert missing["userErrors"][0]["code"] == "FULFILLMENT_ORDER_NOT_FOUND"
    gone = _release(call, "gid://shopify/FulfillmentOrder/1", None)
    assert gone["userErrors"][0]["code"] == "FULFILLMENT_ORDER_NOT_FOUND"
    (fo,) = hub_order(sim, call).fulfillment_orders_list
    assert _release(call, fo.id, None)["userErrors"][0]["message"] == (
        "The fulfillment order is not on hold."
    )
    (other,) = hub_order(sim, call).fulfillment_orders_list
    foreign = _hold(call, other.id)["fulfillmentHold"]["id"]
    _hold(call, fo.id)
    kept = _release(call, fo.id, [foreign])  # another FO's hold: ignored
    assert kept["fulfillmentOrder"]["status"] == "ON_HOLD" and other.status == "ON_HOLD"
    closed = hub_order(sim, call, (("SEED-TOMSG-PK", 1),)).fulfillment_orders_list[0]
    sim.run_warehouse(partial_rate=0, split_rate=0)
    assert closed.status == "CLOSED"
    assert _hold(call, closed.id)["userErrors"][0]["field"] == ["id"]


def test_holds_take_part_in_fault_injection(sim, gql):
    call = gql(sim, HUB)
    (fo,) = hub_order(sim, call).fulfillment_orders_list
    sim.set_faults(HUB, http_503=1.0, only_fields=["fulfillmentOrderHold"])
    hold = {"reason": "OTHER", "handle": "shopsync-cancel"}
    assert call.raw(HOLD, {"id": fo.id, "hold": hold}).status_code == 503
    assert fo.holds == []
    sim.set_faults(HUB, http_503=0.0, lose_response_after_commit=1.0)
    send_losing_the_answer(call, HOLD, {"id": fo.id, "hold": hold})
    assert [h.handle for h in fo.holds] == ["shopsync-cancel"]  # committed, answer lost
    sim.clear_faults(HUB)
    retry = _hold(call, fo.id)  # the handle makes the retry safe: refused, not doubled
    assert retry["userErrors"][0]["code"] == "DUPLICATE_FULFILLMENT_HOLD_HANDLE"
    assert sim.counters(HUB)["faults"] == {"http_503": 1, "lose_response_after_commit": 1}
