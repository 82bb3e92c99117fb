"""Mutations: tagsAdd, fulfillmentCreate (+ user errors, FO transitions, emails), tracking
updates, orderCreate uniqueness/inventory behaviour, orderByIdentifier."""

from __future__ import annotations

import pytest

from tests.fixtures.sim import HUB, RETAILER_A, variant_by_sku

FULFILL = """mutation($f: FulfillmentInput!) { fulfillmentCreate(fulfillment: $f) {
  fulfillment { id name status trackingInfo { company number url }
                fulfillmentLineItems(first: 10) { nodes { quantity lineItem { sku } } }
                fulfillmentOrders(first: 5) { nodes { id status } } }
  userErrors { field message } } }"""
FOS = """query($id: ID!) { order(id: $id) { displayFulfillmentStatus
  fulfillments(first: 5) { id } fulfillmentOrders(first: 5) { nodes { id status
  lineItems(first: 10) { nodes { id sku remainingQuantity } } } } } }"""


def _order(sim, name):
    return next(o for o in sim.store(RETAILER_A).orders.values() if o.name == name)


def _fo(call, order_id, index=0):
    return call(FOS, {"id": order_id})["data"]["order"]["fulfillmentOrders"]["nodes"][index]


def test_tags_add_merges_and_unknown_id_is_a_user_error(simulator, gql):
    call = gql(simulator, RETAILER_A)
    order = _order(simulator, "#1002")
    mutation = (
        "mutation($id: ID!, $t: [String!]!) { tagsAdd(id: $id, tags: $t) {"
        " node { id ... on Order { tags } } userErrors { field message } } }"
    )
    body = call(mutation, {"id": order.id, "t": ["shopsync:imported", "b,c"]})
    assert order.tags == ["shopsync:imported", "b", "c"]
    assert body["data"]["tagsAdd"]["userErrors"] == []
    call(mutation, {"id": order.id, "t": ["b"]})
    assert order.tags == ["shopsync:imported", "b", "c"]
    bad = call(mutation, {"id": "gid://shopify/Order/1", "t": ["x"]})
    assert bad["data"]["tagsAdd"]["userErrors"][0]["field"] == ["id"]


def test_partial_then_full_fulfillment_with_two_shipments(simulator, gql):
    call = gql(simulator, RETAILER_A)
    order = _order(simulator, "#1001")
    fo = _fo(call, order.id)
    monstera, basil = fo["lineItems"]["nodes"]
    first = call(
        FULFILL,
        {
            "f": {
                "lineItemsByFulfillmentOrder": [
                    {
                        "fulfillmentOrderId": fo["id"],
                        "fulfillmentOrderLineItems": [{"id": monstera["id"], "quantity": 2}],
                    }
                ],
                "trackingInfo": {
                    "company": "UPS",
                    "numbers": ["1Z1", "1Z2"],
                    "urls": ["https://u/1", "https://u/2"],
                },
                "notifyCustomer": True,
            }
        },
    )["data"]["fulfillmentCreate"]
    assert first["userErrors"] == []
    assert first["fulfillment"]["name"] == "#1001.1"
    assert [t["number"] for t in first["fulfillment"]["trackingInfo"]] == ["1Z1", "1Z2"]
    assert first["fulfillment"]["fulfillmentOrders"]["nodes"][0]["status"] == "IN_PROGRESS"
    assert (
        call(FOS, {"id": order.id})["data"]["order"]["displayFulfillmentStatus"]
        == "PARTIALLY_FULFILLED"
    )
    second = call(
        FULFILL,
        {
            "f": {
                "lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": fo["id"]}],  # all remaining
                "trackingInfo": {"company": "USPS", "number": "9400", "url": "https://usps/9400"},
                "notifyCustomer": True,
            }
        },
    )["data"]["fulfillmentCreate"]
    lines = second["fulfillment"]["fulfillmentLineItems"]["nodes"]
    assert lines == [{"quantity": 3, "lineItem": {"sku": basil["sku"]}}]
    after = call(FOS, {"id": order.id})["data"]["order"]
    assert after["displayFulfillmentStatus"] == "FULFILLED"
    assert after["fulfillmentOrders"]["nodes"][0]["status"] == "CLOSED"
    assert simulator.state(RETAILER_A)["notifications"] == 2  # one email per shipment


@pytest.mark.parametrize("case", ["over", "unknown_fo", "unknown_line", "closed", "tracking_mix"])
def test_fulfillment_create_user_errors_change_nothing(simulator, gql, case):
    call = gql(simulator, RETAILER_A)
    order = _order(simulator, "#1003" if case == "closed" else "#1001")
    fo = _fo(call, order.id)
    line = fo["lineItems"]["nodes"][0]
    group = {
        "fulfillmentOrderId": fo["id"],
        "fulfillmentOrderLineItems": [{"id": line["id"], "quantity": 1}],
    }
    tracking = None
    if case == "over":
        group["fulfillmentOrderLineItems"][0]["quantity"] = 99
    elif case == "unknown_fo":
        group["fulfillmentOrderId"] = "gid://shopify/FulfillmentOrder/1"
    elif case == "unknown_line":
        group["fulfillmentOrderLineItems"][0]["id"] = "gid://shopify/FulfillmentOrderLineItem/1"
    elif case == "tracking_mix":
        tracking = {"number": "1", "numbers": ["2"]}
    body = call(FULFILL, {"f": {"lineItemsByFulfillmentOrder": [group], "trackingInfo": tracking}})
    payload = body["data"]["fulfillmentCreate"]
    assert payload["fulfillment"] is None and payload["userErrors"]
    assert order.fulfillments_list == []
    if case == "over":
        assert (
            payload["userErrors"][0]["message"]
            == "Invalid fulfillment order line item quantity requested."
        )


def test_tracking_info_update_replaces_tracking_and_counts_email(simulator, gql):
    call = gql(simulator, RETAILER_A)
    order = _order(simulator, "#1004")
    fo = _fo(call, order.id)
    made = call(
        FULFILL,
        {
            "f": {
                "lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": fo["id"]}],
                "trackingInfo": {"number": "OLD"},
            }
        },
    )["data"]["fulfillmentCreate"]
    update = """mutation($id: ID!, $t: FulfillmentTrackingInput!) { fulfillmentTrackingInfoUpdate(
      fulfillmentId: $id, trackingInfoInput: $t, notifyCustomer: true) {
      fulfillment { trackingInfo { company number url } } userErrors { field message } } }"""
    body = call(
        update,
        {
            "id": made["fulfillment"]["id"],
            "t": {"company": "FedEx", "number": "NEW", "url": "https://f/NEW"},
        },
    )
    assert body["data"]["fulfillmentTrackingInfoUpdate"]["fulfillment"]["trackingInfo"] == [
        {"company": "FedEx", "number": "NEW", "url": "https://f/NEW"}
    ]
    assert simulator.state(RETAILER_A)["fulfillments"][0]["notifications"] == 1
    missing = call(update, {"id": "gid://shopify/Fulfillment/1", "t": {"number": "x"}})
    assert missing["data"]["fulfillmentTrackingInfoUpdate"]["userErrors"][0]["field"] == [
        "fulfillmentId"
    ]


CREATE = """mutation($o: OrderCreateOrderInput!, $opt: OrderCreateOptionsInput) {
  orderCreate(order: $o, options: $opt) { order { id } userErrors { field message code } } }"""
BY_ID = """query($v: String!) { orderByIdentifier(identifier: {customId: {namespace: "shopsync",
  key: "source", value: $v}}) { id } }"""


def test_id_metafield_is_unique_and_order_by_identifier_finds_it(simulator, gql):
    variant = variant_by_sku(simulator, HUB, "PLT-SNAK-04")
    order = {
        "lineItems": [{"variantId": variant.id, "quantity": 1}],
        "metafields": [{"namespace": "shopsync", "key": "source", "type": "id", "value": "a:1001"}],
    }
    new = gql(simulator, HUB, "2026-07")
    created = new(CREATE, {"o": order})["data"]["orderCreate"]["order"]
    assert new(BY_ID, {"v": "a:1001"})["data"]["orderByIdentifier"] == created
    assert new(BY_ID, {"v": "nope"})["data"]["orderByIdentifier"] is None
    again = new(CREATE, {"o": order})["data"]["orderCreate"]
    assert again["order"] is None and again["userErrors"][0]["field"][:2] == ["order", "metafields"]
    old = gql(simulator, HUB, "2025-01")(BY_ID, {"v": "a:1001"})
    assert "orderByIdentifier" in old["errors"][0]["message"]  # not in the 2025-01 schema


def test_order_create_inventory_behaviour(simulator, gql):
    variant = variant_by_sku(simulator, HUB, "PLT-MONS-06")  # 10 available at the hub
    call = gql(simulator, HUB)
    level = variant.inventory_item.levels["gid://shopify/Location/1001"]
    ok = call(
        CREATE,
        {
            "o": {"lineItems": [{"variantId": variant.id, "quantity": 4}]},
            "opt": {"inventoryBehaviour": "DECREMENT_OBEYING_POLICY"},
        },
    )
    assert ok["data"]["orderCreate"]["userErrors"] == []
    assert level.quantities_map["available"] == 6
    refused = call(
        CREATE,
        {
            "o": {"lineItems": [{"variantId": variant.id, "quantity": 7}]},
            "opt": {"inventoryBehaviour": "DECREMENT_OBEYING_POLICY"},
        },
    )
    assert refused["data"]["orderCreate"]["userErrors"][0]["code"] == "INVENTORY_CLAIM_FAILED"
    assert len(simulator.store(HUB).orders) == 1
    call(CREATE, {"o": {"lineItems": [{"variantId": variant.id, "quantity": 1}]}})  # BYPASS default
    assert level.quantities_map["available"] == 6
