"""The cost calculator on the REAL 2025-01 schema, with queries shaped like the project's.

Skips when the schema file is absent (see tests/shopify_schema.py).
"""

from __future__ import annotations

import pytest
from graphql import GraphQLSchema, parse

from resources.shopify.operations import load_operation, operation_names
from simulator.cost import MAX_SINGLE_QUERY_COST, calculate_actual_cost, calculate_requested_cost
from tests.shopify_schema import require_real_schema


@pytest.fixture(scope="module")
def real() -> GraphQLSchema:
    return require_real_schema()


def cost(schema: GraphQLSchema, query: str, variables: dict | None = None) -> int:
    return calculate_requested_cost(schema, parse(query), variables)


def test_facts_worked_example(real):
    query = "{ productVariants(first: 250) { nodes { id } pageInfo { hasNextPage endCursor } } }"
    assert cost(real, query) == 252
    data = {"productVariants": {"nodes": [{"id": f"v{i}"} for i in range(10)], "pageInfo": {}}}
    assert calculate_actual_cost(real, parse(query), None, data) == 12


def test_orders_with_line_items_exceed_the_cap(real):
    query = "{ orders(first: 250) { nodes { id lineItems(first: 50) { nodes { id sku } } } } }"
    assert cost(real, query) == 2 + 250 * (1 + 2 + 50)
    assert cost(real, query) > MAX_SINGLE_QUERY_COST


def test_variant_inventory_page_costs_four_per_node(real):
    """variant + inventoryItem + inventoryLevel + quantities (a list of objects, no first)."""
    query = """query($first: Int!, $loc: ID!) { productVariants(first: $first) { nodes { id sku
      inventoryItem { id inventoryLevel(locationId: $loc) {
        quantities(names: ["available"]) { name quantity } } } } } }"""
    assert cost(real, query, {"first": 240, "loc": "gid://shopify/Location/1"}) == 962
    assert cost(real, query, {"first": 250, "loc": "gid://shopify/Location/1"}) == 1002


def test_order_with_fulfillment_orders_and_fulfillments(real):
    query = """query($id: ID!) { order(id: $id) { id name
      fulfillmentOrders(first: 5) { nodes { id status assignedLocation { location { id } }
        lineItems(first: 20) { nodes { id remainingQuantity lineItem { id sku } } } } }
      fulfillments(first: 10) { id trackingInfo(first: 3) { number url company } } } }"""
    fulfillment_orders = 2 + 5 * (1 + 1 + 1 + (2 + 20 * (1 + 1)))
    fulfillments = 10 * (1 + 3)
    expected = 1 + fulfillment_orders + fulfillments
    assert cost(real, query, {"id": "gid://shopify/Order/1"}) == expected


def test_node_interface_costs_the_dearest_fragment(real):
    query = """{ node(id: "gid://shopify/Order/1") { id
      ... on Order { lineItems(first: 10) { nodes { id } } }
      ... on Product { variants(first: 30) { nodes { id } } }
      ... on Location { name } } }"""
    assert cost(real, query) == 1 + 2 + 30


def test_nodes_by_ids(real):
    query = "query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Order { name } } }"
    assert cost(real, query, {"ids": [f"gid://shopify/Order/{i}" for i in range(50)]}) == 50


def test_mutations_cost_ten_plus_payload(real):
    query = """mutation($f: FulfillmentInput!) { fulfillmentCreate(fulfillment: $f) {
      fulfillment { id status trackingInfo(first: 10) { number } }
      userErrors { field message } } }"""
    assert cost(real, query, {"f": {"lineItemsByFulfillmentOrder": []}}) == 10 + (1 + 10) + 1
    data = {"fulfillmentCreate": {"fulfillment": None, "userErrors": []}}
    assert calculate_actual_cost(real, parse(query), None, data) == 10


@pytest.mark.parametrize("name", operation_names())
def test_client_documents_fit_under_the_single_query_cap(real, name: str):
    """Each client document, complete with its shared fragments, at the page size it declares
    (``# shopsync: page_size=N``, fed to ``$first``), must not be refused with
    MAX_COST_EXCEEDED."""
    op = load_operation(name)
    variables = {"first": op.page_size} if op.page_size is not None else {}
    assert cost(real, op.document, variables) <= MAX_SINGLE_QUERY_COST
