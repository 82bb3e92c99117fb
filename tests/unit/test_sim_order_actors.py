"""The actors that change orders after import (FAULTS O12–O15): the shopper's cancel, edit
and refund at a retailer, the warehouse's cancel at the hub; from Python and over the /_sim
admin API; and the changed orders found by ``updated_at`` search once the index catches up."""

from __future__ import annotations

import httpx
import pytest
from sim_order_fixtures import fast_spec, hub_order, order_named, quantities, schema_errors

from simulator.store import utcnow
from tests.fixtures.sim import HUB, RETAILER_A, RETAILER_B, wait_for

UPDATED_SINCE = """query($q: String!) { orders(first: 50, query: $q) { nodes { id } } }"""
ORDER = """query($id: ID!) { order(id: $id) { cancelledAt displayFinancialStatus edited
  refunds(first: 5) { totalRefundedSet { shopMoney { amount } } }
  lineItems(first: 10) { nodes { sku quantity currentQuantity } } } }"""


@pytest.mark.parametrize("document", [UPDATED_SINCE, ORDER])
def test_documents_validate_against_the_real_schema(document):
    assert schema_errors(document) == []


@pytest.fixture
def sim(sim_factory):
    return sim_factory(fast_spec())


def test_shopper_cancels_a_chosen_order_at_once(sim, gql):
    order = order_named(sim, RETAILER_A, "#1001")
    done = sim.shopper_cancel(domain=RETAILER_A, order_id=order.id)
    assert (done["order_id"], done["financial_status"]) == (order.id, "REFUNDED")
    body = gql(sim, RETAILER_A)(ORDER, {"id": order.id})["data"]["order"]
    assert body["cancelledAt"] is not None
    assert body["refunds"][0]["totalRefundedSet"]["shopMoney"]["amount"] == "58.0"
    assert {fo.status for fo in order.fulfillment_orders_list} == {"CLOSED"}
    assert sim.state(RETAILER_A)["orders"][0]["notifications"] == 1
    with pytest.raises(ValueError, match="already been cancelled"):
        sim.shopper_cancel(domain=RETAILER_A, order_id=order.id)


def test_shopper_cancel_random_is_seeded_and_releases_committed_units(sim_factory):
    picks, released = [], []
    for _ in range(2):
        sim = sim_factory(fast_spec())
        sim.run_shopper(domains=[RETAILER_B], count=3, seed=4, mix={"cancelled": 0})
        store = sim.store(RETAILER_B)
        committed = {
            i.sku: sum(lv.quantities_map["committed"] for lv in i.levels.values())
            for i in store.inventory_items.values()
        }
        done = sim.shopper_cancel(domain=RETAILER_B, seed=7)
        order = store.nodes[done["order_id"]]
        after = {
            i.sku: sum(lv.quantities_map["committed"] for lv in i.levels.values())
            for i in store.inventory_items.values()
        }
        units = {li.sku: li.quantity for li in order.line_items_list}
        released.append({sku: committed[sku] - after[sku] for sku in units} == units)
        picks.append(order.name)
    assert picks[0] == picks[1] and released == [True, True]


def test_shopper_cancel_respects_the_refusals(sim):
    order = order_named(sim, RETAILER_A, "#1004")
    sim.set_order(RETAILER_A, order.id, pending_authorization=True)
    with pytest.raises(ValueError, match="pending payment authorization"):
        sim.shopper_cancel(domain=RETAILER_A, order_id=order.id)
    with pytest.raises(ValueError, match="unknown order fields"):
        sim.set_order(RETAILER_A, order.id, colour="red")


@pytest.mark.parametrize(
    ("action", "sku", "quantity", "expected"),
    [
        ("quantity", "PLT-MONS-04", 4, {"PLT-MONS-04": (4, 4)}),
        ("remove", "PLT-MONS-04", None, {"PLT-MONS-04": (2, 0)}),
        ("add", "RET-POT-01", 2, {"RET-POT-01": (2, 2)}),
    ],
)
def test_shopper_edits(sim, gql, action, sku, quantity, expected):
    order = order_named(sim, RETAILER_A, "#1001")
    done = sim.shopper_edit(
        domain=RETAILER_A, order_id=order.id, action=action, sku=sku, quantity=quantity
    )
    assert done["action"] == action
    body = gql(sim, RETAILER_A)(ORDER, {"id": order.id})["data"]["order"]
    assert body["edited"] is True
    lines = {n["sku"]: (n["quantity"], n["currentQuantity"]) for n in body["lineItems"]["nodes"]}
    assert {k: lines[k] for k in expected} == expected
    assert sim.state(RETAILER_A)["orders"][0]["edits"][0]["staff_note"] == f"shopper edit: {action}"


def test_shopper_edit_random_and_its_limits(sim):
    done = sim.shopper_edit(domain=RETAILER_A, seed=3)
    assert done["action"] in ("quantity", "remove", "add")
    with pytest.raises(ValueError, match="unknown edit action"):
        sim.shopper_edit(domain=RETAILER_A, action="swap")
    cancelled = order_named(sim, RETAILER_A, "#1003")
    with pytest.raises(ValueError, match="cancelled"):
        sim.shopper_edit(domain=RETAILER_A, order_id=cancelled.id, action="remove")


def test_shopper_refund_partial_then_the_rest(sim):
    order = order_named(sim, RETAILER_A, "#1001")
    part = sim.shopper_refund(domain=RETAILER_A, order_id=order.id, amount="8.00")
    assert (part["financial_status"], part["amount"]) == ("PARTIALLY_REFUNDED", "8.00")
    rest = sim.shopper_refund(domain=RETAILER_A, order_id=order.id)
    assert (rest["financial_status"], rest["amount"]) == ("REFUNDED", "50.00")
    with pytest.raises(ValueError, match="cannot refund"):
        sim.shopper_refund(domain=RETAILER_A, order_id=order.id, amount="1")
    unpaid = order_named(sim, RETAILER_A, "#1002")
    with pytest.raises(ValueError, match="cannot refund"):
        sim.shopper_refund(domain=RETAILER_A, order_id=unpaid.id)


def test_warehouse_cancels_a_hub_order_without_shipping_it(sim, gql):
    call = gql(sim, HUB)
    order = hub_order(sim, call)
    done = sim.warehouse_cancel(seed=1)
    assert done["order_id"] == order.id and done["store"] == HUB
    assert order.cancel_reason == "INVENTORY" and order.fulfillments_list == []
    assert quantities(sim, "PLT-MONS-04")["available"] == 40  # restocked
    assert sim.run_warehouse()["fulfillments"] == []
    with pytest.raises(ValueError, match="no order this actor can change"):
        sim.warehouse_cancel()


def test_warehouse_closes_what_is_left_incomplete_and_the_order_stays_open(sim, gql):
    call = gql(sim, HUB)
    order = hub_order(sim, call)
    before = quantities(sim, "PLT-MONS-04")
    done = sim.warehouse_close_incomplete(seed=1)
    assert (done["order_id"], done["units_not_shipped"]) == (order.id, 3)
    assert order.cancelled_at is None and order.fulfillments_list == []
    fos = order.fulfillment_orders_list
    assert {fo.status for fo in fos} == {"INCOMPLETE"} and sum(fo.remaining for fo in fos) == 3
    after = quantities(sim, "PLT-MONS-04")
    assert after["available"] - before["available"] == 2 and after["committed"] == 0
    body = call(
        "query($id: ID!) { order(id: $id) { cancelledAt displayFulfillmentStatus"
        " fulfillmentOrders(first: 5) { nodes { status } } } }",
        {"id": order.id},
    )["data"]["order"]
    assert body["cancelledAt"] is None and body["fulfillmentOrders"]["nodes"][0]["status"] == (
        "INCOMPLETE"
    )
    assert sim.run_warehouse()["fulfillments"] == []  # an INCOMPLETE FO never ships
    with pytest.raises(ValueError, match="nothing left to ship"):
        sim.warehouse_close_incomplete(order_id=order.id)


def test_the_admin_api_drives_the_new_actors(sim, gql):
    base = sim.base_url
    order = order_named(sim, RETAILER_A, "#1001")
    post = httpx.post
    edit = post(
        f"{base}/_sim/actors/shopper/edit",
        json={
            "domain": RETAILER_A,
            "order_id": order.id,
            "action": "remove",
            "sku": "SEED-BASIL-PK",
        },
    )
    assert edit.status_code == 200 and edit.json()["action"] == "remove"
    refund = post(
        f"{base}/_sim/actors/shopper/refund",
        json={"domain": RETAILER_A, "order_id": order.id, "amount": "5"},
    )
    assert refund.json()["financial_status"] == "PARTIALLY_REFUNDED"
    held = post(
        f"{base}/_sim/stores/{RETAILER_A}/order",
        json={"id": order.id, "return_status": "IN_PROGRESS"},
    )
    assert held.json()["return_status"] == "IN_PROGRESS"
    refused = post(
        f"{base}/_sim/actors/shopper/cancel", json={"domain": RETAILER_A, "order_id": order.id}
    )
    assert refused.status_code == 400 and "active return" in refused.json()["errors"]
    post(
        f"{base}/_sim/stores/{RETAILER_A}/order", json={"id": order.id, "return_status": "RETURNED"}
    )
    cancel = post(
        f"{base}/_sim/actors/shopper/cancel", json={"domain": RETAILER_A, "order_id": order.id}
    )
    assert cancel.status_code == 200
    hub = hub_order(sim, gql(sim, HUB))
    assert post(f"{base}/_sim/actors/warehouse/cancel", json={}).json()["order_id"] == hub.id
    state = httpx.get(f"{base}/_sim/stores/{RETAILER_A}/state").json()
    view = next(o for o in state["orders"] if o["id"] == order.id)
    assert view["cancelled_at"] and view["edited"] and len(view["refunds"]) == 2
    assert post(f"{base}/_sim/stores/{RETAILER_A}/order", json={}).status_code == 400


def test_changed_orders_show_in_updated_at_search_once_the_index_catches_up(sim_factory, gql):
    sim = sim_factory(fast_spec(), search_lag_seconds=0.4)
    call = gql(sim, RETAILER_A)
    since = utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
    changed = {
        sim.shopper_edit(
            domain=RETAILER_A,
            order_id=order_named(sim, RETAILER_A, "#1001").id,
            action="quantity",
            sku="PLT-MONS-04",
            quantity=1,
        )["order_id"],
        sim.shopper_refund(
            domain=RETAILER_A, order_id=order_named(sim, RETAILER_A, "#1004").id, amount="1"
        )["order_id"],
        sim.shopper_cancel(domain=RETAILER_A, order_id=order_named(sim, RETAILER_A, "#1002").id)[
            "order_id"
        ],
    }

    def found():
        body = call(UPDATED_SINCE, {"q": f"updated_at:>='{since}'"})
        return {n["id"] for n in body["data"]["orders"]["nodes"]}

    assert found() == set()  # the index still holds the old updatedAt values
    assert wait_for(lambda: found() == changed, timeout=3)
