"""The search attributes of each record kind: what ``query:`` filters can see.

Names follow Shopify's documented filters (FACTS.md §2.4); values are lower-case like the
search syntax. Lists match when any element matches (``tag``, ``sku``, ``status``).
"""

from __future__ import annotations

from typing import Any

from simulator.models import (
    InventoryItem,
    InventoryLevel,
    Location,
    Order,
    ProductVariant,
    legacy_id,
)

#: Searchable fields per record kind, with the kind of match simulator.search applies.
ORDER_FIELDS = {
    "created_at": "datetime",
    "updated_at": "datetime",
    "processed_at": "datetime",
    "cancelled_at": "datetime",
    "financial_status": "keyword",
    "fulfillment_status": "list",
    "status": "list",
    "tag": "list",
    "name": "text",
    "source_identifier": "keyword",
    "source_name": "keyword",
    "sku": "list",
    "id": "id",
    "test": "keyword",
    "email": "keyword",
    "location_id": "list",
    "fulfillment_location_id": "list",
}
VARIANT_FIELDS = {
    "sku": "keyword",
    "id": "id",
    "product_id": "id",
    "title": "text",
    "barcode": "keyword",
    "updated_at": "datetime",
    "vendor": "keyword",
}
ITEM_FIELDS = {"sku": "keyword", "id": "id", "created_at": "datetime", "updated_at": "datetime"}
#: ``Location.inventoryLevels(query:)``, as its schema description documents them.
LEVEL_FIELDS = {
    "id": "id",
    "inventory_item_id": "id",
    "created_at": "datetime",
    "updated_at": "datetime",
}
LOCATION_FIELDS = {"name": "text", "id": "id", "active": "keyword", "legacy": "keyword"}
SYNONYMS = {"order": {"tag_not": "-tag"}}

_FULFILLMENT = {
    "UNFULFILLED": ["unfulfilled", "unshipped"],
    "PARTIALLY_FULFILLED": ["partial"],
    "FULFILLED": ["fulfilled", "shipped"],
    # held orders still count as unshipped (UNVERIFIED: Shopify documents `on_hold` as a value)
    "ON_HOLD": ["on_hold", "unfulfilled", "unshipped"],
}


def order_attrs(order: Order) -> dict[str, Any]:
    if order.cancelled_at is not None:
        status = ["cancelled"]
    else:
        status = ["open"] if not order.closed else []
    status.append("closed" if order.closed else "not_closed")
    locations = [
        str(legacy_id(fo.location.id)) for fo in order.fulfillment_orders_list if fo.location
    ]
    return {
        "created_at": order.created_at,
        "updated_at": order.updated_at,
        "processed_at": order.processed_at,
        "cancelled_at": order.cancelled_at,
        "financial_status": (order.financial_status or "").lower(),
        "fulfillment_status": _FULFILLMENT.get(order.display_fulfillment_status, []),
        "status": status,
        "tag": list(order.tags),
        "name": order.name,
        "source_identifier": order.source_identifier,
        "source_name": order.source_name,
        "sku": [li.sku for li in order.line_items_list if li.sku],
        "id": order.legacy_resource_id,
        "test": "true" if order.test else "false",
        "email": order.email,
        "location_id": locations,
        "fulfillment_location_id": locations,
    }


def variant_attrs(variant: ProductVariant) -> dict[str, Any]:
    product = variant.product
    return {
        "sku": variant.sku,
        "id": variant.legacy_resource_id,
        "product_id": product.legacy_resource_id if product else None,
        "title": variant.title,
        "barcode": variant.barcode,
        "updated_at": variant.updated_at,
        "vendor": product.vendor if product else None,
    }


def item_attrs(item: InventoryItem) -> dict[str, Any]:
    return {
        "sku": item.sku,
        "id": item.legacy_resource_id,
        "created_at": item.created_at,
        "updated_at": item.updated_at,
    }


def level_attrs(level: InventoryLevel) -> dict[str, Any]:
    return {
        "id": level.legacy_resource_id,
        "inventory_item_id": level.item.legacy_resource_id if level.item else None,
        "created_at": level.created_at,
        "updated_at": level.updated_at,
    }


def location_attrs(location: Location) -> dict[str, Any]:
    return {
        "name": location.name,
        "id": location.legacy_resource_id,
        "active": "true" if location.is_active else "false",
        "legacy": "false",
    }


ATTRS = {
    "order": (order_attrs, ORDER_FIELDS),
    "variant": (variant_attrs, VARIANT_FIELDS),
    "item": (item_attrs, ITEM_FIELDS),
    "location": (location_attrs, LOCATION_FIELDS),
    "level": (level_attrs, LEVEL_FIELDS),
}
