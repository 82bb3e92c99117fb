"""Shared GraphQL fragments: each selection written once, every document sent complete.

Documents spread fragments from `graphql/fragments/` without defining them; the loader must
append exactly the ones spread (transitively), since GraphQL rejects unused fragments and a
missing one only shows up against the server.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import build_schema, parse, validate

from resources.shopify.operations import (
    FRAGMENTS_DIR,
    GRAPHQL_DIR,
    document_text,
    fragment_definitions,
    load_operation,
    operation_names,
    parse_operation,
    with_fragments,
)

SCHEMA = build_schema("""
type Query { shop: Shop }
type Shop { id: ID! name: String plan: Plan }
type Plan { displayName: String partnerDevelopment: Boolean }
""")
LIBRARY = {
    "ShopFields": "fragment ShopFields on Shop { id plan { ...PlanFields } }",
    "PlanFields": "fragment PlanFields on Plan { displayName }",
    "Unused": "fragment Unused on Shop { name }",
}


def test_spread_fragments_are_appended_transitively_and_unused_ones_left_out() -> None:
    text = with_fragments("doc", "query Q { shop { ...ShopFields } }", LIBRARY)
    assert "fragment ShopFields" in text and "fragment PlanFields" in text
    assert "Unused" not in text
    assert validate(SCHEMA, parse(text)) == []  # complete, and no unused fragment


def test_a_fragment_the_document_defines_itself_is_not_appended() -> None:
    own = (
        "query Q { shop { ...PlanHolder } }\nfragment PlanHolder on Shop { plan { ...PlanFields } }"
    )
    text = with_fragments("doc", own, LIBRARY)
    assert text.count("fragment PlanHolder") == 1 and text.count("fragment PlanFields") == 1
    assert validate(SCHEMA, parse(text)) == []


def test_a_document_without_spreads_is_unchanged() -> None:
    own = "# shopsync: idempotent\nquery Q { shop { id ... on Shop { name } } }\n"
    assert with_fragments("doc", own, LIBRARY) == own


def test_an_unknown_fragment_names_the_document_and_the_fragment() -> None:
    with pytest.raises(ValueError, match=r"orders_x spreads fragment NoSuchFields"):
        with_fragments("orders_x", "query Q { shop { ...ShopFields ...NoSuchFields } }", LIBRARY)


def fragments_folder(root: Path, **files: str) -> Path:
    root.mkdir()
    for stem, text in files.items():
        (root / f"{stem}.graphql").write_text(text)
    return root


def test_fragment_files_hold_only_unique_fragment_definitions(tmp_path: Path) -> None:
    ok = fragments_folder(tmp_path / "ok", a="# comment\nfragment A on Shop {\n  id\n}\n")
    assert fragment_definitions(ok) == {"A": "fragment A on Shop {\n  id\n}"}
    twice = fragments_folder(tmp_path / "twice", a="fragment A on Shop { id }", b=LIBRARY["Unused"])
    (twice / "c.graphql").write_text("fragment A on Shop { name }")
    with pytest.raises(ValueError, match="defined twice"):
        fragment_definitions(twice)
    query = fragments_folder(tmp_path / "query", b="query B { shop { id } }")
    with pytest.raises(ValueError, match="only fragment definitions"):
        fragment_definitions(query)


def test_operation_names_leave_the_fragments_folder_out(tmp_path: Path) -> None:
    (tmp_path / "shop_info.graphql").write_text("query ShopInfo { shop { ...ShopFields } }")
    fragments_folder(tmp_path / "fragments", shop=LIBRARY["ShopFields"])
    assert operation_names(tmp_path) == ["shop_info"]
    assert FRAGMENTS_DIR.parent == GRAPHQL_DIR and any(FRAGMENTS_DIR.glob("*.graphql"))
    assert "fragments" not in operation_names()


def test_every_shared_fragment_serves_at_least_two_documents() -> None:
    """A fragment used once is indirection without sharing: inline it back."""
    complete = [document_text(name) for name in operation_names()]
    for fragment in fragment_definitions():
        users = sum(f"fragment {fragment} on" in text for text in complete)
        assert users >= 2, f"{fragment} is used by {users} document(s)"


def test_loaded_documents_are_complete_and_keep_their_own_pragmas() -> None:
    op = load_operation("fulfillments_updated_hub_orders")
    assert op.document == document_text("fulfillments_updated_hub_orders")
    assert "fragment FulfillmentFields on Fulfillment" in op.document
    assert "fragment TrackingInfoFields on FulfillmentTrackingInfo" in op.document  # transitive
    assert "fragment OrderLineItemFields" not in op.document
    assert op.page_size == 6 and op.operation_name == "FulfillmentsUpdatedHubOrders"


def test_cost_estimate_merges_a_fragment_with_the_fields_beside_it() -> None:
    """`customer` selected both beside and inside the fragment is one object, as the server
    merges it: the estimate must not count it twice."""
    with_spread = parse_operation(
        "x",
        "query Q { orders(first: 2) { nodes { id customer { id } ...F } } }\n"
        "fragment F on Order { customer { email } lineItems(first: 3) { nodes { id } } }",
    )
    inline = parse_operation(
        "y",
        "query Q { orders(first: 2) { nodes { id customer { id email }"
        " lineItems(first: 3) { nodes { id } } } } }",
    )
    assert with_spread.estimate_cost() == inline.estimate_cost() == 2 + 2 * (1 + 1 + 2 + 3)


def test_cost_estimate_takes_the_dearest_type_branch() -> None:
    op = parse_operation(
        "z",
        "query Q($ids: [ID!]!) { nodes(ids: $ids) { id ...O ... on Product {"
        " variants(first: 30) { nodes { id } } } } }\n"
        "fragment O on Order { lineItems(first: 10) { nodes { id } } }",
    )
    assert op.estimate_cost({"ids": ["a", "b"]}) == 2 * (1 + 2 + 30)
