"""Version differences in one place (FACTS.md §4.8, §5, §6.4)."""

from __future__ import annotations

import pytest

from resources.shopify.versions import (
    InventorySet,
    VersionWatch,
    inventory_set_operation,
    inventory_set_variables,
    parse_version,
    stable_key,
)

ENTRIES = [
    InventorySet("gid://shopify/InventoryItem/1", "gid://shopify/Location/2", 7, expected=5),
    InventorySet("gid://shopify/InventoryItem/3", "gid://shopify/Location/2", 0, expected=None),
]


def test_2025_01_uses_compare_quantity_and_no_key() -> None:
    assert inventory_set_operation("2025-01") == "inventory_set_quantities_2025_01"
    variables = inventory_set_variables("2025-01", ENTRIES, idempotency_key="k")
    assert "key" not in variables
    first, second = variables["input"]["quantities"]
    assert first["compareQuantity"] == 5 and "changeFromQuantity" not in first
    assert "compareQuantity" not in second
    assert "ignoreCompareQuantity" not in variables["input"]  # one entry still compares


def test_2025_01_without_any_expected_value_opts_out_explicitly() -> None:
    blind = [InventorySet("gid://shopify/InventoryItem/1", "gid://shopify/Location/2", 1, None)]
    assert inventory_set_variables("2025-10", blind, idempotency_key="k")["input"][
        "ignoreCompareQuantity"
    ]


@pytest.mark.parametrize("version", ["2026-04", "2026-07", "unstable"])
def test_2026_04_plus_uses_change_from_quantity_and_the_key(version: str) -> None:
    assert inventory_set_operation(version) == "inventory_set_quantities_2026_04"
    variables = inventory_set_variables(
        version, ENTRIES, idempotency_key="shopsync-k", reason="correction"
    )
    assert variables["key"] == "shopsync-k"
    first, second = variables["input"]["quantities"]
    assert first["changeFromQuantity"] == 5
    assert "changeFromQuantity" in second and second["changeFromQuantity"] is None  # explicit null
    assert all("compareQuantity" not in q for q in variables["input"]["quantities"])
    assert "ignoreCompareQuantity" not in variables["input"]


def test_stable_key_is_deterministic_and_sensitive() -> None:
    assert stable_key("inv", "retailer-a", 42) == stable_key("inv", "retailer-a", 42)
    assert stable_key("inv", "retailer-a", 42) != stable_key("inv", "retailer-a", 43)


def test_parse_version_rejects_garbage() -> None:
    assert parse_version("2026-07") == (2026, 7)
    with pytest.raises(ValueError, match="YYYY-MM"):
        parse_version("july")


def test_version_watch_reports_each_fall_forward_once(caplog) -> None:
    watch = VersionWatch()
    assert not watch.check("a", "2026-07", "2026-07")
    assert not watch.check("a", "2026-07", None)
    assert watch.check("a", "2025-01", "2025-10")
    assert watch.check("a", "2025-01", "2025-10")
    assert watch.check("b", "2025-01", "2025-10")
    assert len([r for r in caplog.records if "served 2025-10" in r.getMessage()]) == 2
