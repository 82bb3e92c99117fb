"""Read resolvers for the shop, locations, products, variants and inventory."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError, GraphQLResolveInfo

from simulator.context import ctx, fo_visible, search
from simulator.models import FulfillmentOrder, InventoryLevel
from simulator.paging import MAX_PAGE_SIZE, by_id, paginate
from simulator.resolver_table import resolves

PLAN_NAMES = {"Standard": "Basic", "Advanced": "Advanced", "Plus": "Shopify Plus"}
KNOWN_QUANTITY_NAMES = {
    "available",
    "on_hand",
    "committed",
    "reserved",
    "incoming",
    "damaged",
    "quality_control",
    "safety_stock",
}


@resolves("QueryRoot", "shop")
def shop(_root: Any, info: GraphQLResolveInfo) -> dict[str, Any]:
    store = ctx(info).store
    return {
        "id": store.shop_id,
        "name": store.name,
        "myshopifyDomain": store.domain,
        "currencyCode": store.currency,
        "ianaTimezone": store.timezone,
        "email": store.email,
        "plan": {
            "displayName": PLAN_NAMES.get(store.plan, store.plan),
            "partnerDevelopment": False,
            "shopifyPlus": store.plan in ("Plus", "Shopify Plus"),
        },
    }


@resolves("QueryRoot", "locations")
def locations(_root: Any, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    store = ctx(info).store
    rows = [loc for loc in store.locations.values() if loc.is_active or args["includeInactive"]]
    rows = search(info, "location", rows, args.get("query"))
    key = by_id if args.get("sortKey") == "ID" else (lambda r: (r.name, r.legacy_resource_id))
    return paginate(rows, key, args, unbounded=ctx(info).bulk)


@resolves("QueryRoot", "location")
def location(_root: Any, info: GraphQLResolveInfo, id: str | None = None) -> Any:
    store = ctx(info).store
    return store.primary_location() if id is None else store.locations.get(id)


def _lookup(type_name: str):
    def resolve(_root: Any, info: GraphQLResolveInfo, id: str) -> Any:
        record = ctx(info).store.nodes.get(id)
        if record is None or type(record).typename != type_name:
            return None
        if isinstance(record, FulfillmentOrder) and not fo_visible(record.order):
            return None
        return record

    return resolve


for _field, _type in {
    "productVariant": "ProductVariant",
    "inventoryItem": "InventoryItem",
    "inventoryLevel": "InventoryLevel",
    "fulfillmentOrder": "FulfillmentOrder",
    "order": "Order",
}.items():
    resolves("QueryRoot", _field)(_lookup(_type))


@resolves("QueryRoot", "node")
def node(_root: Any, info: GraphQLResolveInfo, id: str) -> Any:
    record = ctx(info).store.nodes.get(id)
    if isinstance(record, FulfillmentOrder) and not fo_visible(record.order):
        return None
    return record


@resolves("QueryRoot", "nodes")
def nodes(root: Any, info: GraphQLResolveInfo, ids: list[str]) -> list[Any]:
    if len(ids) > MAX_PAGE_SIZE:
        raise GraphQLError(
            f"The input array size of {len(ids)} is greater than the maximum "
            f"allowed of {MAX_PAGE_SIZE}."
        )
    return [node(root, info, i) for i in ids]


@resolves("QueryRoot", "productVariants")
def product_variants(_root: Any, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    rows = search(info, "variant", ctx(info).store.variants.values(), args.get("query"))
    sort = args.get("sortKey")
    if sort == "SKU":
        key = lambda v: (v.sku or "", v.legacy_resource_id)  # noqa: E731
    elif sort in ("TITLE", "FULL_TITLE", "NAME"):
        key = lambda v: (v.display_name, v.legacy_resource_id)  # noqa: E731
    else:
        key = by_id
    return paginate(rows, key, args, unbounded=ctx(info).bulk)


@resolves("QueryRoot", "inventoryItems")
def inventory_items(_root: Any, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    rows = search(info, "item", ctx(info).store.inventory_items.values(), args.get("query"))
    return paginate(rows, by_id, args, unbounded=ctx(info).bulk)


@resolves("QueryRoot", "currentAppInstallation")
def current_app_installation(_root: Any, info: GraphQLResolveInfo) -> dict[str, Any]:
    store = ctx(info).store
    return {
        "id": "gid://shopify/AppInstallation/1",
        "accessScopes": [{"handle": s, "description": s.replace("_", " ")} for s in store.scopes],
    }


def level_visible(level: InventoryLevel | None, info: GraphQLResolveInfo) -> bool:
    """Before 2026-04 a deactivated level does not exist (it was deleted with its
    quantities); from 2026-04 it stays, with ``isActive: false`` (FACTS §10.2)."""
    return level is not None and (level.is_active or ctx(info).features.level_activation)


@resolves("Location", "inventoryLevel")
def location_inventory_level(loc: Any, info: GraphQLResolveInfo, inventoryItemId: str) -> Any:  # noqa: N803
    item = ctx(info).store.inventory_items.get(inventoryItemId)
    level = item.levels.get(loc.id) if item else None
    return level if level_visible(level, info) else None


@resolves("InventoryItem", "inventoryLevel")
def item_inventory_level(item: Any, info: GraphQLResolveInfo, locationId: str) -> Any:  # noqa: N803
    level = item.levels.get(locationId)
    return level if level_visible(level, info) else None


@resolves("Location", "inventoryLevels")
def location_inventory_levels(loc: Any, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    """The levels stocked at a location, filtered by ``query:`` through the lagging search
    index (``updated_at:>…`` sees a change only once it is indexed). From 2026-04 inactive
    levels are left out unless ``includeInactive: true``."""
    include_inactive = bool(args.get("includeInactive"))
    rows = [
        lv
        for lv in loc.levels.values()
        if lv.is_active or (include_inactive and ctx(info).features.level_activation)
    ]
    rows = search(info, "level", rows, args.get("query"))
    return paginate(rows, by_id, args, unbounded=ctx(info).bulk)


@resolves("InventoryLevel", "quantities")
def quantities(level: InventoryLevel, _info: GraphQLResolveInfo, names: list[str]) -> list[Any]:
    unknown = [n for n in names if n not in KNOWN_QUANTITY_NAMES]
    if unknown:
        raise GraphQLError(f"Invalid quantity names: {', '.join(unknown)}")
    return [
        {
            "id": f"gid://shopify/InventoryQuantity/{level.legacy_resource_id}?name={n}",
            "name": n,
            "quantity": level.quantities_map.get(n, 0),
            "updatedAt": level.updated_at,
        }
        for n in names
    ]


@resolves("ProductVariant", "price")
def variant_price(variant: Any, _info: GraphQLResolveInfo) -> Any:
    return variant.price
