"""Reading inventory levels from a store: what changed since a moment, everything, or a
few items by GID.

- A *delta* read pages `Location.inventoryLevels(query: "updated_at:>='…'")` at one
  location: it costs what changed, not what exists (FACTS §10.2). The lower bound is the
  previous read's start less an overlap, because the search index lags behind writes.
- A *full* read pages the store's inventory items with their level at the location
  (`inventoryItems { inventoryLevel(locationId:) }`, 3 points per item, the same as a
  level), or runs it as one bulk operation above a size threshold. Reading items, not
  levels, is what shows a SKU the store sells but has not stocked at the location.
- A *re-read* looks items up by GID (`nodes`), index-free: after a stale compare, to
  settle an ambiguous write, and for the checks.

From API 2026-04 the documents also read deactivated levels with `isActive`, so a
write never targets one (FAULTS I9).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from resources.ledgers.inventory import Level
from resources.shopify import ShopifyClient
from resources.shopify.pagination import connection_at, connection_nodes
from resources.shopify.versions import inventory_read_operation, reads_inactive_levels

BY_IDS_MAX = 250  # `nodes(ids:)` takes at most 250 GIDs


class LocationMissingError(LookupError):
    """The configured location does not exist at the store (or the app cannot see it)."""


def search_time(moment: datetime) -> str:
    """A quoted ISO-8601 value: unquoted, Shopify search drops the time of day (§2.3)."""
    return f"'{moment:%Y-%m-%dT%H:%M:%SZ}'"


def read_changed_levels(
    client: ShopifyClient, location_id: str, since: datetime | None
) -> list[Level]:
    """Levels at `location_id` updated at or after `since` (every level when None)."""
    op = inventory_read_operation("inventory_levels_at_location", client.api_version)
    variables: dict[str, Any] = {"locationId": location_id}
    if since is not None:
        variables["query"] = f"updated_at:>={search_time(since)}"
    levels = []
    while True:
        data = client.execute(op, variables)
        if data.get("location") is None:
            raise LocationMissingError(_missing(client, location_id))
        connection = connection_at(data, ("location", "inventoryLevels"))
        levels += [_from_level(node) for node in connection_nodes(connection)]
        info = connection.get("pageInfo") or {}
        if not info.get("hasNextPage"):
            return levels
        variables["after"] = info["endCursor"]


def read_all_items(client: ShopifyClient, location_id: str, *, bulk: bool) -> list[Level]:
    """Every inventory item of the store with its level at `location_id` (or unstocked)."""
    if client.execute("location_by_id", {"id": location_id}).get("location") is None:
        raise LocationMissingError(_missing(client, location_id))
    if bulk:
        nodes: Iterable[dict] = client.bulk_query(_bulk_items_query(client, location_id))
    else:
        op = inventory_read_operation("catalogue_inventory_items", client.api_version)
        nodes = client.paginate(op, {"locationId": location_id}, ("inventoryItems",))
    return [_from_item(node) for node in nodes]


def re_read_items(
    client: ShopifyClient, location_id: str, item_ids: Iterable[str]
) -> dict[str, Level]:
    """The current level of each item at `location_id`, by GID (no search lag)."""
    op = inventory_read_operation("inventory_levels_by_items", client.api_version)
    found: dict[str, Level] = {}
    for chunk in _chunks(sorted(set(item_ids)), BY_IDS_MAX):
        data = client.execute(op, {"ids": chunk, "locationId": location_id})
        for node in data.get("nodes") or []:
            if node is not None:
                found[node["id"]] = _from_item(node)
    return found


def skus_at_location(client: ShopifyClient, location_id: str) -> list[str]:
    """Every variant SKU the store stocks at the location, one entry per variant (a SKU
    on two variants appears twice): what the doctor and onboarding compare catalogues by."""
    nodes = client.paginate(
        "catalogue_variants_inventory", {"locationId": location_id}, ("productVariants",)
    )
    return [n["sku"] for n in nodes if n.get("sku")]


def _from_level(node: dict[str, Any]) -> Level:
    item = node.get("item") or {}
    return Level(
        item_id=item["id"],
        sku=item.get("sku"),
        available=_available(node),
        updated_at=_parse(node.get("updatedAt")),
        active=node.get("isActive", True),
    )


def _from_item(node: dict[str, Any]) -> Level:
    level = node.get("inventoryLevel")
    return Level(
        item_id=node["id"],
        sku=node.get("sku"),
        available=_available(level) if level else None,
        active=level.get("isActive", True) if level else True,
        stocked=level is not None,
    )


def _available(level: dict[str, Any]) -> int:
    for quantity in level.get("quantities") or []:
        if quantity.get("name", "available") == "available":
            return int(quantity["quantity"])
    return 0


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _bulk_items_query(client: ShopifyClient, location_id: str) -> str:
    active = " isActive" if reads_inactive_levels(client.api_version) else ""
    return (
        "{ inventoryItems { edges { node { id sku inventoryLevel(locationId: "
        f'"{location_id}") {{ id{active} quantities(names: ["available"]) '
        "{ name quantity } } } } } }"
    )


def _chunks(values: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _missing(client: ShopifyClient, location_id: str) -> str:
    return (
        f"store '{client.store.key}': location {location_id} does not exist or is not "
        "visible to the app (read_locations scope); fix the location GID in the registry"
    )
