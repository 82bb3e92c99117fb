"""Calculated query cost (FACTS.md §1.2–1.3), on a small schema shaped like Shopify's."""

from __future__ import annotations

import pytest
from graphql import build_schema, parse

from simulator.cost import MAX_SINGLE_QUERY_COST, calculate_actual_cost, calculate_requested_cost

SDL = """
schema { query: QueryRoot mutation: Mutation }
interface Node { id: ID! }
type PageInfo { hasNextPage: Boolean! endCursor: String }
type Money { amount: String! }
type TrackingInfo { number: String }
type Fulfillment implements Node {
  id: ID!
  trackingInfo(first: Int): [TrackingInfo!]!
}
type LineItem implements Node { id: ID! sku: String price: Money }
type LineItemEdge { cursor: String! node: LineItem! }
type LineItemConnection { edges: [LineItemEdge!]! nodes: [LineItem!]! pageInfo: PageInfo! }
type Order implements Node {
  id: ID!
  name: String!
  total: Money
  tags: [String!]!
  lineItems(first: Int, last: Int, after: String): LineItemConnection!
  fulfillments(first: Int): [Fulfillment!]!
}
type OrderEdge { cursor: String! node: Order! }
type OrderConnection { edges: [OrderEdge!]! nodes: [Order!]! pageInfo: PageInfo! }
type ProductVariant implements Node { id: ID! sku: String }
type ProductVariantConnection { nodes: [ProductVariant!]! pageInfo: PageInfo! }
union Thing = Order | ProductVariant
type Shop { name: String! }
type QueryRoot {
  shop: Shop!
  order(id: ID!): Order
  orders(first: Int, last: Int, after: String, query: String): OrderConnection!
  productVariants(first: Int, query: String): ProductVariantConnection!
  node(id: ID!): Node
  nodes(ids: [ID!]!): [Node]!
  thing(id: ID!): Thing
}
type UserError { field: [String!] message: String! }
type TagsAddPayload { node: Node userErrors: [UserError!]! }
type Mutation { tagsAdd(id: ID!, tags: [String!]!): TagsAddPayload }
"""
SCHEMA = build_schema(SDL)


def requested(query: str, variables: dict | None = None, name: str | None = None) -> int:
    return calculate_requested_cost(SCHEMA, parse(query), variables, name)


def actual(query: str, data: dict | None, variables: dict | None = None) -> int:
    return calculate_actual_cost(SCHEMA, parse(query), variables, data)


VARIANTS = "{ productVariants(first: 250) { nodes { id } pageInfo { hasNextPage endCursor } } }"


def test_connection_worked_example_from_facts():
    """FACTS §1.2: requested 252, actual 12 when 10 rows came back."""
    assert requested(VARIANTS) == 252
    rows = {"productVariants": {"nodes": [{"id": str(i)} for i in range(10)], "pageInfo": {}}}
    assert actual(VARIANTS, rows) == 12


def test_nested_connections_multiply_beyond_the_single_query_cap():
    query = "{ orders(first: 250) { nodes { lineItems(first: 50) { nodes { id } } } } }"
    assert requested(query) == 2 + 250 * (1 + 2 + 50 * 1)
    assert requested(query) > MAX_SINGLE_QUERY_COST


def test_scalars_enums_typename_and_pageinfo_are_free():
    assert requested("{ shop { name __typename } }") == 1
    assert requested("{ orders(first: 3) { pageInfo { hasNextPage } } }") == 2


def test_connection_without_first_or_last_costs_its_base():
    assert requested("{ orders { nodes { id } } }") == 2
    assert requested("{ orders(last: 4) { nodes { id } } }") == 2 + 4


def test_edges_node_costs_like_nodes_and_cursor_is_free():
    query = "{ orders(first: 10) { edges { cursor node { id total { amount } } } } }"
    assert requested(query) == 2 + 10 * (1 + 1)
    data = {"orders": {"edges": [{"cursor": "c", "node": {"id": "1", "total": None}}]}}
    assert actual(query, data) == 2 + 1  # a null object was not returned


def test_nodes_and_edges_together_count_the_objects_once():
    query = "{ orders(first: 5) { nodes { id } edges { node { id total { amount } } } } }"
    assert requested(query) == 2 + 5 * 2


def test_variables_and_their_defaults_size_the_connection():
    query = "query Q($n: Int = 7) { orders(first: $n) { nodes { id } } }"
    assert requested(query) == 9
    assert requested(query, {"n": 100}) == 102


def test_fragments_named_and_inline_are_resolved():
    query = """
    query { orders(first: 2) { nodes { ...O ... on Order { total { amount } } } } }
    fragment O on Order { id lineItems(first: 3) { nodes { id } } }
    """
    assert requested(query) == 2 + 2 * (1 + 1 + (2 + 3))


def test_skip_and_include_are_honoured():
    query = """query($big: Boolean!) {
      shop { name }
      orders(first: 100) @include(if: $big) { nodes { id } }
      order(id: "1") @skip(if: $big) { id }
    }"""
    assert requested(query, {"big": True}) == 1 + 102
    assert requested(query, {"big": False}) == 1 + 1


def test_plain_object_lists_count_first_or_one():
    query = '{ order(id: "1") { fulfillments(first: 5) { trackingInfo(first: 3) { number } } } }'
    assert requested(query) == 1 + 5 * (1 + 3 * 1)
    assert requested('{ order(id: "1") { fulfillments { id } } }') == 1 + 1


def test_nodes_by_ids_counts_each_id():
    assert requested('{ nodes(ids: ["a", "b", "c"]) { id } }') == 3
    data = {"nodes": [{"id": "a"}, None, {"id": "c"}]}
    assert actual('{ nodes(ids: ["a", "b", "c"]) { id } }', data) == 2


def test_interface_and_union_cost_the_dearest_possible_selection():
    query = """{ node(id: "x") { id
      ... on Order { lineItems(first: 10) { nodes { id } } }
      ... on ProductVariant { sku } } }"""
    assert requested(query) == 1 + (2 + 10)
    union = '{ thing(id: "x") { ... on Order { total { amount } } ... on ProductVariant { id } } }'
    assert requested(union) == 1 + 1


def test_actual_cost_of_an_abstract_field_follows_the_returned_type():
    query = """{ node(id: "x") { __typename
      ... on Order { lineItems(first: 10) { nodes { id } } } } }"""
    assert actual(query, {"node": {"__typename": "ProductVariant"}}) == 1
    data = {"node": {"__typename": "Order", "lineItems": {"nodes": [{"id": "1"}]}}}
    assert actual(query, data) == 1 + 2 + 1


def test_actual_cost_sums_nested_rows():
    query = "{ orders(first: 250) { nodes { id lineItems(first: 50) { nodes { id } } } } }"
    data = {
        "orders": {
            "nodes": [
                {"id": "1", "lineItems": {"nodes": [{"id": "a"}, {"id": "b"}]}},
                {"id": "2", "lineItems": {"nodes": []}},
            ]
        }
    }
    assert actual(query, data) == 2 + (1 + 2 + 2) + (1 + 2)
    assert actual(query, {"orders": {"nodes": []}}) == 2
    assert actual(query, None) == 0


def test_mutation_costs_ten_plus_payload_when_requested_and_ten_actually():
    query = 'mutation { tagsAdd(id: "1", tags: ["x"]) { node { id } userErrors { message } } }'
    assert requested(query) == 10 + 1 + 1
    data = {"tagsAdd": {"node": {"id": "1"}, "userErrors": []}}
    assert actual(query, data) == 10


def test_operation_is_chosen_by_name():
    document = "query A { shop { name } } query B { orders(first: 5) { nodes { id } } }"
    assert requested(document, name="A") == 1
    assert requested(document, name="B") == 7
    assert requested(document) == 0  # ambiguous: execution reports it, not the cost


@pytest.mark.parametrize("first", [1, 50, 250])
def test_a_full_page_actually_costs_what_was_requested(first: int):
    query = f"{{ orders(first: {first}) {{ nodes {{ id total {{ amount }} }} }} }}"
    data = {"orders": {"nodes": [{"id": str(i), "total": {"amount": "1"}} for i in range(first)]}}
    assert actual(query, data) == requested(query)
