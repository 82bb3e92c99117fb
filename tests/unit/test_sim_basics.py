"""Simulator basics over real HTTP: shop, auth, validation errors, headers, orders, orderCreate."""

from __future__ import annotations

import time

import pytest

from tests.fixtures.sim import HUB, RETAILER_A

SHOP = (
    "{ shop { id name myshopifyDomain currencyCode ianaTimezone"
    " plan { displayName partnerDevelopment shopifyPlus } } }"
)


def test_shop_query_has_data_cost_and_headers(simulator, gql):
    response = gql(simulator, HUB).raw(SHOP)
    assert response.status_code == 200
    assert response.headers["X-Shopify-API-Version"] == "2025-01"
    assert response.headers["X-Request-Id"]
    body = response.json()
    assert body["data"]["shop"]["myshopifyDomain"] == HUB
    assert body["data"]["shop"]["plan"]["displayName"] == "Advanced"
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 2 and cost["actualQueryCost"] == 2
    assert cost["throttleStatus"]["maximumAvailable"] == 4000.0
    assert cost["throttleStatus"]["restoreRate"] == 200.0


def test_bad_or_missing_token_is_401_with_shopify_shape(simulator, gql):
    response = gql(simulator, HUB).raw(SHOP, token="wrong")  # noqa: S106
    assert response.status_code == 401
    assert "Invalid API key or access token" in response.json()["errors"]
    assert simulator.counters(HUB)["unauthorized"] == 1


def test_unknown_shop_is_404(simulator, gql):
    caller = gql(simulator, HUB)
    caller.domain = "nope.myshopify.com"
    assert caller.raw(SHOP).status_code == 404


def test_validation_error_uses_shopify_wording(simulator, gql):
    body = gql(simulator, HUB)("{ shop { nope } }")
    assert "data" not in body
    error = body["errors"][0]
    assert error["message"] == "Field 'nope' doesn't exist on type 'Shop'"
    assert error["extensions"]["code"] == "undefinedField"
    assert "cost" in body["extensions"]


def test_connection_without_first_is_an_error(simulator, gql):
    body = gql(simulator, RETAILER_A)("{ orders { nodes { id } } }")
    assert body["errors"][0]["message"] == "you must provide one of first or last"
    assert body["data"] is None


def test_orders_pagination_is_complete_and_disjoint(simulator, gql):
    call = gql(simulator, RETAILER_A)
    seen, after = [], None
    while True:
        page = call(
            "query($a:String){ orders(first: 2, after: $a, sortKey: CREATED_AT) "
            "{ nodes { name } pageInfo { hasNextPage endCursor } } }",
            {"a": after},
        )
        conn = page["data"]["orders"]
        seen += [n["name"] for n in conn["nodes"]]
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    assert seen == ["#1001", "#1002", "#1003", "#1004"]


def test_orders_reverse_and_default_sort(simulator, gql):
    call = gql(simulator, RETAILER_A)
    body = call("{ orders(first: 10, reverse: true) { nodes { name } } }")
    assert [n["name"] for n in body["data"]["orders"]["nodes"]] == [
        "#1004",
        "#1003",
        "#1002",
        "#1001",
    ]


ORDER_CREATE = """
mutation Create($order: OrderCreateOrderInput!, $options: OrderCreateOptionsInput) {
  orderCreate(order: $order, options: $options) {
    order { id name displayFinancialStatus tags sourceIdentifier note
            customAttributes { key value }
            shippingAddress { name city provinceCode countryCodeV2 }
            billingAddress { company }
            lineItems(first: 5) { nodes { sku quantity
              originalUnitPriceSet { shopMoney { amount } } } }
            fulfillmentOrders(first: 5) { nodes { id status } } }
    userErrors { field message code }
  }
}"""


def _hub_variant(sim, sku):
    return next(v for v in sim.store(HUB).variants.values() if v.sku == sku)


def test_order_create_and_fulfillment_orders_appear_later(simulator, gql):
    variant = _hub_variant(simulator, "PLT-MONS-04")
    order = {
        "lineItems": [
            {
                "variantId": variant.id,
                "quantity": 2,
                "priceSet": {"shopMoney": {"amount": "7.50", "currencyCode": "USD"}},
            }
        ],
        "shippingAddress": {
            "firstName": "Ada",
            "lastName": "Moss",
            "address1": "1 Fern St",
            "city": "Denver",
            "provinceCode": "CO",
            "countryCode": "US",
            "zip": "80202",
        },
        "billingAddress": {"company": "Retailer A LLC", "countryCode": "US"},
        "note": "drop-ship",
        "tags": ["shopsync", "src:a:1"],
        "sourceIdentifier": "a-1001",
        "customAttributes": [{"key": "ship_date", "value": "2026-11-30"}],
        "financialStatus": "PAID",
    }
    body = gql(simulator, HUB)(ORDER_CREATE, {"order": order})
    payload = body["data"]["orderCreate"]
    assert payload["userErrors"] == []
    created = payload["order"]
    assert created["name"] == "#1001"
    assert created["tags"] == ["shopsync", "src:a:1"]
    assert created["shippingAddress"]["name"] == "Ada Moss"
    assert created["lineItems"]["nodes"][0]["originalUnitPriceSet"]["shopMoney"]["amount"] == "7.5"
    assert created["fulfillmentOrders"]["nodes"] == []  # routing has not finished yet
    assert body["extensions"]["cost"]["actualQueryCost"] == 10
    deadline = time.time() + 5
    while time.time() < deadline:
        again = gql(simulator, HUB)(
            "query($id: ID!){ order(id: $id) { fulfillmentOrders(first: 5) "
            "{ nodes { status assignedLocation { location { id } } } } } }",
            {"id": created["id"]},
        )
        fos = again["data"]["order"]["fulfillmentOrders"]["nodes"]
        if fos:
            break
        time.sleep(0.05)
    assert fos == [
        {"status": "OPEN", "assignedLocation": {"location": {"id": "gid://shopify/Location/1001"}}}
    ]


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ({"variantId": "gid://shopify/ProductVariant/1", "quantity": 1}, "variantId"),
        ({"title": "custom", "quantity": 0}, "quantity"),
    ],
)
def test_order_create_user_errors(simulator, gql, line, field):
    body = gql(simulator, HUB)(ORDER_CREATE, {"order": {"lineItems": [line]}})
    payload = body["data"]["orderCreate"]
    assert payload["order"] is None
    assert payload["userErrors"][0]["field"] == ["order", "lineItems", "0", field]
    assert payload["userErrors"][0]["code"] == "INVALID"
    assert len(simulator.store(HUB).orders) == 0
