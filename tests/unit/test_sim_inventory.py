"""inventorySetQuantities: compare-and-set by version, user errors, idempotency keys."""

from __future__ import annotations

import pytest

from tests.fixtures.sim import RETAILER_A, variant_by_sku

HUB_LOC = "gid://shopify/Location/2001"
OLD = """mutation($input: InventorySetQuantitiesInput!) { inventorySetQuantities(input: $input) {
  inventoryAdjustmentGroup { id changes { name delta quantityAfterChange } }
  userErrors { code field message } } }"""
NEW = """mutation($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) {
  inventoryAdjustmentGroup { id } userErrors { code field message } } }"""


def _item(sim, sku="PLT-MONS-04"):
    return variant_by_sku(sim, RETAILER_A, sku).inventory_item


def _input(item_id, quantity, location=HUB_LOC, **extra):
    return {
        "name": "available",
        "reason": "correction",
        "referenceDocumentUri": "shopsync://sync/1",
        "quantities": [
            {"inventoryItemId": item_id, "locationId": location, "quantity": quantity, **extra}
        ],
    }


def _available(item, location=HUB_LOC):
    return item.levels[location].quantities_map["available"]


def test_compare_quantity_sets_and_stale_changes_nothing(simulator, gql):
    call, item = gql(simulator, RETAILER_A), _item(simulator)
    ok = call(OLD, {"input": _input(item.id, 9, compareQuantity=5)})["data"][
        "inventorySetQuantities"
    ]
    assert ok["userErrors"] == [] and _available(item) == 9
    assert {"name": "on_hand", "delta": 4, "quantityAfterChange": 9} in ok[
        "inventoryAdjustmentGroup"
    ]["changes"]
    stale = call(OLD, {"input": _input(item.id, 1, compareQuantity=5)})["data"][
        "inventorySetQuantities"
    ]
    assert stale["userErrors"][0]["code"] == "COMPARE_QUANTITY_STALE" and _available(item) == 9


@pytest.mark.parametrize(
    ("quantities", "code"),
    [
        ({"compareQuantity": None}, "COMPARE_QUANTITY_REQUIRED"),
        ({"location": "gid://shopify/Location/999999", "compareQuantity": 5}, "INVALID_LOCATION"),
        (
            {"location": "gid://shopify/Location/2002", "compareQuantity": 5},
            "ITEM_NOT_STOCKED_AT_LOCATION",
        ),
    ],
)
def test_user_errors(simulator, gql, quantities, code):
    item = _item(simulator, "PLT-SNAK-04")
    location = quantities.pop("location", HUB_LOC)
    body = gql(simulator, RETAILER_A)(OLD, {"input": _input(item.id, 1, location, **quantities)})
    assert body["data"]["inventorySetQuantities"]["userErrors"][0]["code"] == code
    assert _available(item) == 3


def test_unknown_item_and_reason(simulator, gql):
    call = gql(simulator, RETAILER_A)
    body = call(OLD, {"input": _input("gid://shopify/InventoryItem/1", 1, compareQuantity=0)})
    assert (
        body["data"]["inventorySetQuantities"]["userErrors"][0]["code"] == "INVALID_INVENTORY_ITEM"
    )
    bad = _input(_item(simulator).id, 1, compareQuantity=5)
    bad["reason"] = "because"
    assert (
        call(OLD, {"input": bad})["data"]["inventorySetQuantities"]["userErrors"][0]["code"]
        == "INVALID_REASON"
    )


def test_one_bad_entry_writes_nothing(simulator, gql):
    a, b = _item(simulator), _item(simulator, "PLT-SNAK-04")
    payload = _input(a.id, 1, compareQuantity=5)
    payload["quantities"].append(
        {"inventoryItemId": b.id, "locationId": HUB_LOC, "quantity": 1, "compareQuantity": 99}
    )
    body = gql(simulator, RETAILER_A)(OLD, {"input": payload})
    assert body["data"]["inventorySetQuantities"]["inventoryAdjustmentGroup"] is None
    assert (_available(a), _available(b)) == (5, 3)


def test_2026_04_change_from_quantity_and_idempotency(simulator, gql):
    call, item = gql(simulator, RETAILER_A, "2026-07"), _item(simulator)
    first = call(NEW, {"input": _input(item.id, 7, changeFromQuantity=5), "key": "k1"})
    assert first["data"]["inventorySetQuantities"]["userErrors"] == [] and _available(item) == 7
    replay = call(NEW, {"input": _input(item.id, 7, changeFromQuantity=5), "key": "k1"})
    assert replay["data"] == first["data"] and _available(item) == 7  # applied once
    mismatch = call(NEW, {"input": _input(item.id, 8, changeFromQuantity=7), "key": "k1"})
    assert (
        mismatch["data"]["inventorySetQuantities"]["userErrors"][0]["code"]
        == "IDEMPOTENCY_KEY_PARAMETER_MISMATCH"
    )
    stale = call(NEW, {"input": _input(item.id, 8, changeFromQuantity=5), "key": "k2"})
    assert (
        stale["data"]["inventorySetQuantities"]["userErrors"][0]["code"]
        == "CHANGE_FROM_QUANTITY_STALE"
    )
    opt_out = call(NEW, {"input": _input(item.id, 2, changeFromQuantity=None), "key": "k3"})
    assert opt_out["data"]["inventorySetQuantities"]["userErrors"] == [] and _available(item) == 2


def test_2026_04_rules_are_enforced(simulator, gql):
    call, item = gql(simulator, RETAILER_A, "2026-04"), _item(simulator)
    no_key = call(OLD, {"input": _input(item.id, 1, changeFromQuantity=5)})
    assert "@idempotent" in no_key["errors"][0]["message"]
    omitted = call(NEW, {"input": _input(item.id, 1), "key": "k"})
    assert "changeFromQuantity" in omitted["errors"][0]["message"]
    old_style = call(NEW, {"input": _input(item.id, 1, compareQuantity=5), "key": "k9"})
    assert "compareQuantity" in old_style["errors"][0]["message"]  # removed from the schema
    assert _available(item) == 5


def test_2025_01_has_no_idempotent_directive(simulator, gql):
    item = _item(simulator)
    body = gql(simulator, RETAILER_A)(
        NEW, {"input": _input(item.id, 1, compareQuantity=5), "key": "k"}
    )
    assert "idempotent" in body["errors"][0]["message"]
