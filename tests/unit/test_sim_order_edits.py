"""Order edits in the simulator (FAULTS O14): begin → set quantity / add variant → commit.
Committing changes quantities (``quantity`` keeps removed units, ``currentQuantity`` does not),
adds lines, moves fulfillment-order quantities and inventory commitment, bumps updatedAt; a
line may not go below what shipped; a calculated order is used up by its commit."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sim_order_fixtures import (
    fast_spec,
    hub_order,
    order_named,
    quantities,
    schema_errors,
    send_losing_the_answer,
)

from tests.fixtures.sim import HUB, RETAILER_A, variant_by_sku

BEGIN = """mutation($id: ID!) { orderEditBegin(id: $id) {
  calculatedOrder { id originalOrder { id } subtotalLineItemsQuantity
    totalPriceSet { shopMoney { amount } }
    lineItems(first: 20) { nodes { id sku title quantity editableQuantity
      editableQuantityBeforeChanges restockable restocking } } }
  userErrors { field message } } }"""
SET_QUANTITY = """mutation($id: ID!, $line: ID!, $quantity: Int!, $restock: Boolean) {
  orderEditSetQuantity(id: $id, lineItemId: $line, quantity: $quantity, restock: $restock) {
    calculatedLineItem { id quantity editableQuantity restocking }
    calculatedOrder { id subtotalLineItemsQuantity }
    userErrors { field message } } }"""
ADD_VARIANT = """mutation($id: ID!, $variant: ID!, $quantity: Int!, $location: ID,
  $dupes: Boolean) {
  orderEditAddVariant(id: $id, variantId: $variant, quantity: $quantity,
                      locationId: $location, allowDuplicates: $dupes) {
    calculatedLineItem { id sku quantity variant { id }
      originalUnitPriceSet { shopMoney { amount } } }
    calculatedOrder { id addedLineItems(first: 10) { nodes { id sku quantity } } }
    userErrors { field message } } }"""
COMMIT = """mutation($id: ID!, $note: String) {
  orderEditCommit(id: $id, notifyCustomer: false, staffNote: $note) {
    order { id edited updatedAt lineItems(first: 20) { nodes { id sku quantity currentQuantity
      unfulfilledQuantity } } }
    userErrors { field message } } }"""
FOS = """query($id: ID!) { order(id: $id) { totalPriceSet { shopMoney { amount } }
  fulfillmentOrders(first: 10) { nodes { id status
    lineItems(first: 20) { nodes { sku totalQuantity remainingQuantity } } } } } }"""
FULFILL = """mutation($f: FulfillmentInput!) { fulfillmentCreate(fulfillment: $f) {
  fulfillment { id } userErrors { field message } } }"""
HOLD = """mutation($id: ID!) { fulfillmentOrderHold(id: $id,
  fulfillmentHold: {reason: OTHER, handle: "shopsync-edit"}) { userErrors { code message } } }"""
DOCUMENTS = {
    "begin": BEGIN,
    "set_quantity": SET_QUANTITY,
    "add_variant": ADD_VARIANT,
    "commit": COMMIT,
    "fos": FOS,
    "fulfill": FULFILL,
    "hold": HOLD,
}


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_documents_validate_against_the_real_schema(name):
    assert schema_errors(DOCUMENTS[name]) == []


@pytest.fixture
def sim(sim_factory):
    return sim_factory(fast_spec())


def _begin(call, order_id):
    body = call(BEGIN, {"id": order_id})["data"]["orderEditBegin"]
    assert body["userErrors"] == [], body
    session = body["calculatedOrder"]
    return session, {n["sku"]: n for n in session["lineItems"]["nodes"]}


def _set(call, session_id, line_id, quantity, restock=True):
    variables = {"id": session_id, "line": line_id, "quantity": quantity, "restock": restock}
    return call(SET_QUANTITY, variables)["data"]["orderEditSetQuantity"]


def _add(call, session_id, variant_id, quantity=1, **extra):
    variables = {"id": session_id, "variant": variant_id, "quantity": quantity, **extra}
    return call(ADD_VARIANT, variables)["data"]["orderEditAddVariant"]


def _commit(call, session_id, note="retailer edit"):
    return call(COMMIT, {"id": session_id, "note": note})["data"]["orderEditCommit"]


def _fo_lines(call, order_id):
    fos = call(FOS, {"id": order_id})["data"]["order"]["fulfillmentOrders"]["nodes"]
    return [
        (
            fo["status"],
            sorted(
                (n["sku"], n["totalQuantity"], n["remainingQuantity"])
                for n in fo["lineItems"]["nodes"]
            ),
        )
        for fo in fos
    ]


def test_quantity_change_removal_and_addition_commit_together(sim, gql):
    call = gql(sim, HUB)
    order = hub_order(sim, call)  # MONS-04 x2, SNAK-04 x1, committed at the hub
    updated_before = order.updated_at
    session, lines = _begin(call, order.id)
    assert session["originalOrder"] == {"id": order.id}
    assert lines["PLT-MONS-04"]["id"].startswith("gid://shopify/CalculatedLineItem/")
    assert (lines["PLT-MONS-04"]["quantity"], lines["PLT-MONS-04"]["editableQuantity"]) == (2, 2)
    more = _set(call, session["id"], lines["PLT-MONS-04"]["id"], 3)
    assert more["calculatedLineItem"]["quantity"] == 3 and more["userErrors"] == []
    gone = _set(call, session["id"], lines["PLT-SNAK-04"]["id"], 0, restock=True)
    assert gone["calculatedLineItem"]["restocking"] is True
    basil = variant_by_sku(sim, HUB, "SEED-BASIL-PK")
    added = _add(call, session["id"], basil.id, 4)
    assert added["calculatedLineItem"]["sku"] == "SEED-BASIL-PK"
    assert added["calculatedLineItem"]["originalUnitPriceSet"]["shopMoney"]["amount"] == "3.95"
    assert order.line_items_list[0].quantity == 2  # nothing changes before the commit
    committed = _commit(call, session["id"])
    assert committed["userErrors"] == []
    result = committed["order"]
    assert result["edited"] is True and result["updatedAt"] >= str(updated_before)
    by_sku = {n["sku"]: n for n in result["lineItems"]["nodes"]}
    assert (by_sku["PLT-MONS-04"]["quantity"], by_sku["PLT-MONS-04"]["currentQuantity"]) == (3, 3)
    snake = by_sku["PLT-SNAK-04"]
    assert (snake["quantity"], snake["currentQuantity"], snake["unfulfilledQuantity"]) == (1, 0, 0)
    assert by_sku["SEED-BASIL-PK"]["currentQuantity"] == 4
    assert _fo_lines(call, order.id) == [("OPEN", [("PLT-MONS-04", 3, 3), ("SEED-BASIL-PK", 4, 4)])]
    assert quantities(sim, "PLT-MONS-04")["committed"] == 3
    assert quantities(sim, "PLT-SNAK-04") == {"available": 25, "committed": 0, "on_hand": 25}
    assert quantities(sim, "SEED-BASIL-PK")["available"] == 296
    total = call(FOS, {"id": order.id})["data"]["order"]["totalPriceSet"]["shopMoney"]["amount"]
    assert Decimal(total) == 3 * Decimal("14.00") + 4 * Decimal("3.95")
    shipped = sim.run_warehouse(partial_rate=0, split_rate=0)["fulfillments"]
    assert sorted((x["sku"], x["quantity"]) for s in shipped for x in s["lines"]) == [
        ("PLT-MONS-04", 3),
        ("SEED-BASIL-PK", 4),
    ]  # the removed line never ships


def test_more_units_of_a_held_line_go_to_a_new_open_fo(sim, gql):
    call = gql(sim, HUB)
    order = hub_order(sim, call)
    (fo,) = order.fulfillment_orders_list
    assert call(HOLD, {"id": fo.id})["data"]["fulfillmentOrderHold"]["userErrors"] == []
    session, lines = _begin(call, order.id)
    _set(call, session["id"], lines["PLT-MONS-04"]["id"], 3)
    assert _commit(call, session["id"])["userErrors"] == []
    assert _fo_lines(call, order.id) == [
        ("ON_HOLD", [("PLT-MONS-04", 2, 2), ("PLT-SNAK-04", 1, 1)]),
        ("OPEN", [("PLT-MONS-04", 1, 1)]),
    ]


def test_fewer_units_come_off_the_unshipped_remainder_and_a_drained_fo_closes(sim, gql):
    call = gql(sim, HUB)
    order = hub_order(sim, call, (("PLT-MONS-04", 3),))
    (fo,) = order.fulfillment_orders_list
    line = fo.line_items_list[0]
    group = {
        "fulfillmentOrderId": fo.id,
        "fulfillmentOrderLineItems": [{"id": line.id, "quantity": 1}],
    }
    call(FULFILL, {"f": {"lineItemsByFulfillmentOrder": [group]}})
    session, lines = _begin(call, order.id)
    assert lines["PLT-MONS-04"]["editableQuantityBeforeChanges"] == 2
    below = _set(call, session["id"], lines["PLT-MONS-04"]["id"], 0)
    assert below["userErrors"][0]["field"] == ["quantity"]
    assert "fulfilled" in below["userErrors"][0]["message"]
    assert (
        _set(call, session["id"], lines["PLT-MONS-04"]["id"], 1, restock=False)["userErrors"] == []
    )
    assert _commit(call, session["id"])["userErrors"] == []
    assert _fo_lines(call, order.id) == [("CLOSED", [("PLT-MONS-04", 1, 0)])]
    assert quantities(sim, "PLT-MONS-04") == {"available": 37, "committed": 1, "on_hand": 38}
    assert order.display_fulfillment_status == "FULFILLED"


def test_commit_checks_again_what_shipped_since_the_edit_began(sim, gql):
    call = gql(sim, HUB)
    order = hub_order(sim, call)
    session, lines = _begin(call, order.id)
    _set(call, session["id"], lines["PLT-SNAK-04"]["id"], 0)
    sim.run_warehouse(partial_rate=0, split_rate=0)  # the warehouse ships everything meanwhile
    refused = _commit(call, session["id"])
    assert refused["order"] is None and "fulfilled" in refused["userErrors"][0]["message"]
    assert order.line_items_list[1].current_quantity == 1


def test_a_calculated_order_is_single_use(sim, gql):
    call = gql(sim, HUB)
    order = hub_order(sim, call)
    session, lines = _begin(call, order.id)
    _set(call, session["id"], lines["PLT-MONS-04"]["id"], 1)
    assert _commit(call, session["id"])["userErrors"] == []
    twice = _commit(call, session["id"])
    assert twice == {
        "order": None,
        "userErrors": [
            {"field": ["id"], "message": "The calculated order has already been committed."}
        ],
    }
    late = _set(call, session["id"], lines["PLT-MONS-04"]["id"], 2)
    assert late["userErrors"][0]["field"] == ["id"]
    assert order.line_items_list[0].current_quantity == 1  # applied once


def test_edit_refusals(sim, gql):
    call = gql(sim, RETAILER_A)
    cancelled = order_named(sim, RETAILER_A, "#1003")
    refused = call(BEGIN, {"id": cancelled.id})["data"]["orderEditBegin"]
    assert refused["calculatedOrder"] is None and "cancelled" in refused["userErrors"][0]["message"]
    missing = call(BEGIN, {"id": "gid://shopify/Order/1"})["data"]["orderEditBegin"]
    assert missing["userErrors"][0]["field"] == ["id"]
    order = order_named(sim, RETAILER_A, "#1001")
    session, lines = _begin(call, order.id)
    line_id = lines["PLT-MONS-04"]["id"]
    assert _set(call, session["id"], line_id, -1)["userErrors"][0]["field"] == ["quantity"]
    unknown = _set(call, session["id"], "gid://shopify/CalculatedLineItem/1", 1)
    assert unknown["userErrors"][0]["field"] == ["lineItemId"]
    monstera = variant_by_sku(sim, RETAILER_A, "PLT-MONS-04")
    assert _add(call, session["id"], monstera.id)["userErrors"][0]["field"] == ["variantId"]
    assert _add(call, session["id"], monstera.id, dupes=True)["userErrors"] == []
    pot = variant_by_sku(sim, RETAILER_A, "RET-POT-01")
    assert _add(call, session["id"], pot.id, 0)["userErrors"][0]["field"] == ["quantity"]
    bad_place = _add(call, session["id"], pot.id, 1, location="gid://shopify/Location/9")
    assert bad_place["userErrors"][0]["field"] == ["locationId"]
    shop = _add(call, session["id"], pot.id, 1, location="gid://shopify/Location/2002")
    assert shop["userErrors"] == []
    assert _commit(call, session["id"])["userErrors"] == []
    at_shop = [fo for fo in order.fulfillment_orders_list if fo.location.id.endswith("/2002")]
    assert [(li.sku, li.remaining_quantity) for li in at_shop[0].line_items_list] == [
        ("RET-POT-01", 1)
    ]


def test_a_lost_commit_answer_then_a_retry_is_refused_not_applied_twice(sim, gql):
    call = gql(sim, HUB)
    order = hub_order(sim, call)
    session, lines = _begin(call, order.id)
    _set(call, session["id"], lines["PLT-MONS-04"]["id"], 5)
    sim.set_faults(HUB, lose_response_after_commit=1.0, only_fields=["orderEditCommit"])
    send_losing_the_answer(call, COMMIT, {"id": session["id"], "note": "x"})
    sim.clear_faults(HUB)
    assert _commit(call, session["id"])["userErrors"][0]["field"] == ["id"]
    assert order.line_items_list[0].quantity == 5  # once
    assert quantities(sim, "PLT-MONS-04")["committed"] == 5
