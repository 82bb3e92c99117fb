"""Read surface of the simulator: catalogue, inventory, orders filters, node lookups."""

from __future__ import annotations

from tests.fixtures.sim import HUB, RETAILER_A, variant_by_sku


def _nodes(body, field):
    return body["data"][field]["nodes"]


def test_locations_and_primary_location(simulator, gql):
    call = gql(simulator, RETAILER_A)
    body = call("{ locations(first: 10) { nodes { id name isActive } } location { id } }")
    assert [n["id"] for n in _nodes(body, "locations")] == [
        "gid://shopify/Location/2001",
        "gid://shopify/Location/2002",
    ]
    assert body["data"]["location"]["id"] == "gid://shopify/Location/2001"


def test_product_variants_sku_or_filter_and_retailer_cost(simulator, gql):
    body = gql(simulator, HUB)(
        '{ productVariants(first: 10, query: "sku:PLT-MONS-04 OR sku:PLT-SNAK-06") { nodes {'
        " sku price displayName product { title } inventoryItem { id }"
        ' metafield(namespace: "custom", key: "retailer_cost") { namespace key type value } } } }'
    )
    rows = {n["sku"]: n for n in _nodes(body, "productVariants")}
    assert set(rows) == {"PLT-MONS-04", "PLT-SNAK-06"}
    assert rows["PLT-MONS-04"]["metafield"]["value"] == "7.50"
    assert rows["PLT-SNAK-06"]["metafield"] is None  # no retailer_cost on this one
    assert rows["PLT-MONS-04"]["displayName"] == 'Monstera Deliciosa - 4" pot'


def test_duplicate_sku_at_retailer_returns_both(simulator, gql):
    body = gql(simulator, RETAILER_A)(
        '{ productVariants(first: 5, query: "sku:SEED-BASIL-PK") { nodes { id } } }'
    )
    assert len(_nodes(body, "productVariants")) == 2


def test_inventory_item_level_quantities_and_level_gid_shape(simulator, gql):
    item = variant_by_sku(simulator, HUB, "PLT-MONS-04").inventory_item
    body = gql(simulator, HUB)(
        'query($i: ID!) { inventoryItem(id: $i) { sku inventoryLevel(locationId: "gid://shopify/Location/1001")'
        ' { id quantities(names: ["available", "on_hand"]) { name quantity } } } }',
        {"i": item.id},
    )
    level = body["data"]["inventoryItem"]["inventoryLevel"]
    assert level["id"].endswith(f"?inventory_item_id={item.legacy_resource_id}")
    assert level["quantities"] == [
        {"name": "available", "quantity": 40},
        {"name": "on_hand", "quantity": 40},
    ]
    missing = gql(simulator, HUB)(
        "query($i: ID!) { inventoryItem(id: $i) {"
        ' inventoryLevel(locationId: "gid://shopify/Location/9") { id } } }',
        {"i": item.id},
    )
    assert missing["data"]["inventoryItem"]["inventoryLevel"] is None


def test_inventory_items_query_by_sku(simulator, gql):
    body = gql(simulator, HUB)(
        '{ inventoryItems(first: 5, query: "sku:SEED-TOMSG-PK") { nodes { sku } } }'
    )
    assert _nodes(body, "inventoryItems") == [{"sku": "SEED-TOMSG-PK"}]


def _names(call, query):
    body = call(
        "query($q: String) { orders(first: 50, query: $q) { nodes { name } } }", {"q": query}
    )
    return sorted(n["name"] for n in _nodes(body, "orders"))


def test_order_filters(simulator, gql):
    call = gql(simulator, RETAILER_A)
    assert _names(call, "financial_status:paid") == ["#1001", "#1003", "#1004"]
    assert _names(call, "status:cancelled") == ["#1003"]
    assert _names(call, "status:open") == ["#1001", "#1002", "#1004"]
    assert _names(call, "tag:vip") == ["#1001"]
    assert _names(call, "-tag:vip") == ["#1002", "#1003", "#1004"]
    assert _names(call, "tag_not:vip") == ["#1002", "#1003", "#1004"]
    assert _names(call, "name:1002") == ["#1002"]
    assert _names(
        call, "fulfillment_status:unfulfilled financial_status:paid -status:cancelled"
    ) == ["#1001", "#1004"]
    assert _names(call, "created_at:>'2000-01-01T00:00:00Z'") == [
        "#1001",
        "#1002",
        "#1003",
        "#1004",
    ]
    assert _names(call, "created_at:<'2000-01-01T00:00:00Z'") == []


def test_unknown_search_field_is_dropped_with_a_warning(simulator, gql):
    body = gql(simulator, RETAILER_A)(
        '{ orders(first: 10, query: "colour:red") { nodes { name } } }'
    )
    assert len(_nodes(body, "orders")) == 4  # unfiltered, as Shopify does
    warning = body["extensions"]["search"][0]
    assert warning["path"] == ["orders"]
    assert warning["warnings"][0]["code"] == "invalid_field"


def test_order_fields_fulfillment_orders_and_node_lookups(simulator, gql):
    call = gql(simulator, RETAILER_A)
    body = call(
        '{ orders(first: 1, query: "name:1004") { nodes { id legacyResourceId name closed '
        "fulfillmentOrders(first: 5) { nodes { id orderId assignedLocation { location { id } } "
        "lineItems(first: 5) { nodes { id sku totalQuantity remainingQuantity"
        " lineItem { id sku } } } } } } } }"
    )
    order = _nodes(body, "orders")[0]
    assert order["legacyResourceId"] == order["id"].rsplit("/", 1)[1]  # UnsignedInt64 is a string
    fos = order["fulfillmentOrders"]["nodes"]
    assert sorted(f["assignedLocation"]["location"]["id"] for f in fos) == [
        "gid://shopify/Location/2001",
        "gid://shopify/Location/2002",
    ]
    fo_id = fos[0]["id"]
    again = call(
        "query($id: ID!, $ids: [ID!]!) { fulfillmentOrder(id: $id) { id orderId } "
        "node(id: $id) { __typename id } nodes(ids: $ids) { id } }",
        {"id": fo_id, "ids": [order["id"], "gid://shopify/Order/1"]},
    )
    assert again["data"]["fulfillmentOrder"]["orderId"] == order["id"]
    assert again["data"]["node"]["__typename"] == "FulfillmentOrder"
    assert again["data"]["nodes"] == [{"id": order["id"]}, None]


def test_current_app_installation_scopes(simulator, gql):
    body = gql(simulator, HUB)("{ currentAppInstallation { accessScopes { handle } } }")
    handles = {s["handle"] for s in body["data"]["currentAppInstallation"]["accessScopes"]}
    assert {
        "read_orders",
        "write_inventory",
        "write_merchant_managed_fulfillment_orders",
    } <= handles


def test_page_size_above_250_is_refused(simulator, gql):
    body = gql(simulator, HUB)("{ productVariants(first: 251) { nodes { id } } }")
    assert "250" in body["errors"][0]["message"]
