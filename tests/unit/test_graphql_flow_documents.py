"""The order-import and fulfillment-push documents against the real 2025-01 Admin schema.

Each document must validate, be named after its file, request well under the 1,000-point cap
(FACTS §1.3) at the page size the client sends (`# shopsync: page_size`), and say its cost
truthfully in its header. The payloads `sync/` builds must coerce to the documents' variable
types: a wrong input field would otherwise only show up against a live store. Cost is
computed with `simulator.cost.calculate_requested_cost`, the same arithmetic the simulator
charges.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flow_fixtures import HUB_LOCATION, NOW, fulfillment, hub_variant, retailer_order
from graphql import FieldNode, OperationDefinitionNode, build_schema, parse, validate
from graphql.execution.values import get_variable_values

from resources.shopify.operations import document_text, parse_operation
from simulator.cost import calculate_requested_cost
from sync import follow_ups
from sync.fulfillments import plan_retailer_fulfillments, tracking_update_variables
from sync.models import HubFulfillment, RetailerOrder
from sync.order_payload import build_hub_order_input, order_create_variables
from sync.orders import classify_order
from sync.windows import window_query
from tests.shopify_schema import require_real_schema

FLOW_DOCUMENTS = [
    "orders_updated_in_window",
    "order_line_items_page",
    "order_fulfillment_orders",
    "order_fulfillment_order_line_items_page",
    "orders_create_hub",
    "orders_tags_add",
    "orders_recent_hub",
    "orders_by_ids",
    "fulfillments_updated_hub_orders",
    "fulfillments_order_fulfillments",
    "fulfillments_fulfillment_line_items_page",
    "fulfillments_retailer_order_fulfillment_orders",
    "fulfillments_create_retailer",
    "fulfillments_tracking_update",
]
SIM_SDL = Path(__file__).resolve().parents[2] / "simulator" / "schema" / "admin_2025-01.graphql"


def text(name: str) -> str:
    """The complete document as sent: the file plus the shared fragments it spreads."""
    return document_text(name)


def operation_of(name: str) -> OperationDefinitionNode:
    (operation,) = [
        d for d in parse(text(name)).definitions if isinstance(d, OperationDefinitionNode)
    ]
    return operation


def sample_variables(name: str) -> dict:
    """Variables as the flows send them (page size filled in as the client does)."""
    op = parse_operation(name, text(name))
    values = {"query": "updated_at:>='2025-01-01T00:00:00Z'", "id": "gid://shopify/Order/1"}
    chosen = {k: v for k, v in values.items() if k in op.variables}
    if op.page_size is not None:
        chosen["first"] = op.page_size
    if op.max_ids is not None:  # `# shopsync: max_ids=`: the most ids one call may pass
        chosen["ids"] = [f"gid://shopify/Order/{i}" for i in range(op.max_ids)]
    return chosen


def camel(stem: str) -> str:
    return "".join(part.capitalize() for part in stem.split("_"))


@pytest.mark.parametrize("name", FLOW_DOCUMENTS)
def test_document_is_valid_named_after_its_file_and_cheap(name):
    schema = require_real_schema()
    document = parse(text(name))
    assert [e.message for e in validate(schema, document)] == []
    operation = operation_of(name)
    assert operation.name.value == camel(name)
    cost = calculate_requested_cost(schema, document, sample_variables(name))
    assert cost < 800, f"{name} requests {cost} points"
    stated = re.search(r"[Rr]equested cost[^:]*: (\d+)", text(name))
    if operation.operation.value == "query":
        assert stated, f"{name}: state the requested cost in the header comment"
        assert int(stated.group(1)) == cost, f"{name}: header says {stated.group(1)}, is {cost}"


@pytest.mark.parametrize("name", FLOW_DOCUMENTS)
def test_document_is_served_by_the_simulator_sdl(name):
    if not SIM_SDL.is_file():
        pytest.skip(f"simulator SDL {SIM_SDL} not there yet")
    errors = validate(build_schema(SIM_SDL.read_text(encoding="utf-8")), parse(text(name)))
    assert [e.message for e in errors] == []


def test_mutations_that_must_never_be_resent_blindly_are_not_marked_idempotent():
    assert not parse_operation("orders_create_hub", text("orders_create_hub")).idempotent
    assert not parse_operation(
        "fulfillments_create_retailer", text("fulfillments_create_retailer")
    ).idempotent
    assert parse_operation("orders_tags_add", text("orders_tags_add")).idempotent


def _literal_first(name: str, field: str) -> int:
    def walk(selection_set):
        for node in selection_set.selections if selection_set else ():
            if isinstance(node, FieldNode):
                if node.name.value == field:
                    for arg in node.arguments:
                        if arg.name.value == "first":
                            return int(arg.value.value)
                found = walk(node.selection_set)
                if found is not None:
                    return found
        return None

    return walk(operation_of(name).selection_set)


def test_follow_up_thresholds_match_the_documents():
    """complete_order re-reads `Order.fulfillments` when the list came back full: it must
    know the page size each document really asked for."""
    assert (
        _literal_first("fulfillments_updated_hub_orders", "fulfillments")
        == follow_ups.HUB_ORDER_FULFILLMENTS_FIRST
    )
    assert (
        _literal_first("fulfillments_retailer_order_fulfillment_orders", "fulfillments")
        == follow_ups.RETAILER_ORDER_FULFILLMENTS_FIRST
    )
    assert (
        _literal_first("fulfillments_order_fulfillments", "fulfillments")
        == follow_ups.ORDER_FULFILLMENTS_MAX
    )


def _coerce(name: str, variables: dict) -> list[str]:
    schema = require_real_schema()
    operation = operation_of(name)
    result = get_variable_values(schema, operation.variable_definitions, variables)
    return [e.message for e in result] if isinstance(result, list) else []


def test_built_payloads_match_the_real_input_types():
    order = RetailerOrder.from_graphql(retailer_order())
    variants = {"FERN-1": [hub_variant(1, "FERN-1")], "MOSS-2": [hub_variant(2, "MOSS-2")]}
    result = classify_order(
        order, hub_location_id=HUB_LOCATION, hub_variants_by_sku=variants, now=NOW
    )
    order_input = build_hub_order_input(
        order, result, retailer_key="epic-gardening", retailer_name="Epic Gardening",
        billing_address={"company": "Epic", "address1": "1 Way", "city": "San Diego",
                         "countryCode": "US", "zip": "92101", "provinceCode": "CA"},
    )  # fmt: skip
    assert _coerce("orders_create_hub", order_create_variables(order_input)) == []

    track = [("UPS", "1Z1", "https://ups.example/1Z1"), ("UPS", "1Z2", "https://ups.example/1Z2")]
    hub_ff = HubFulfillment.from_graphql(fulfillment(5, [("FERN-1", 1)], tracking=track))
    plan = plan_retailer_fulfillments(hub_ff, order, hub_location_id=HUB_LOCATION)
    assert _coerce("fulfillments_create_retailer", plan.variables()) == []
    update = tracking_update_variables("gid://shopify/Fulfillment/9", plan.tracking_input)
    assert _coerce("fulfillments_tracking_update", update) == []
    window = {"query": window_query(NOW, NOW.replace(hour=13))}
    assert _coerce("orders_updated_in_window", window) == []
