"""``orderCreate`` and ``tagsAdd``.

User errors follow the 2025-01 payload types: ``OrderCreateUserError {code field message}``
and the code-less ``UserError {field message}`` of tagsAdd (FACTS.md §4.5, §4.7). Messages are
the simulator's own wording where Shopify's exact text is not on record.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from graphql import GraphQLResolveInfo

from simulator.context import ctx
from simulator.factory import LineSpec, OrderSpec, create_order
from simulator.models import Order, ProductVariant
from simulator.resolver_table import resolves
from simulator.store import Store


def _error(field: list[Any], message: str, code: str = "INVALID") -> dict[str, Any]:
    return {"field": [str(f) for f in field], "message": message, "code": code}


def _unique_metafield_clash(orders: Any, metafields: list[dict[str, Any]]) -> int | None:
    """Index of an ``id``-type metafield whose value another order already holds."""
    for i, mf in enumerate(metafields):
        if mf.get("type") != "id":
            continue
        ns = mf.get("namespace") or "app"
        for order in orders:
            other = order.metafield(key=mf["key"], namespace=ns)
            if other is not None and other.value == str(mf["value"]):
                return i
    return None


def _lines(store: Any, raw_lines: list[dict[str, Any]], errors: list[Any]) -> list[LineSpec]:
    lines = []
    for i, raw in enumerate(raw_lines):
        path = ["order", "lineItems", i]
        variant = None
        if raw.get("variantId"):
            variant = store.nodes.get(raw["variantId"])
            if not isinstance(variant, ProductVariant):
                errors.append(_error([*path, "variantId"], "Variant does not exist."))
                continue
        if raw["quantity"] < 1:
            errors.append(_error([*path, "quantity"], "Quantity must be greater than 0."))
            continue
        price = None
        if raw.get("priceSet"):
            try:
                price = Decimal(str(raw["priceSet"]["shopMoney"]["amount"]))
            except (InvalidOperation, KeyError):
                errors.append(_error([*path, "priceSet"], "Price is invalid."))
                continue
        if variant is None and not raw.get("title"):
            errors.append(_error([*path, "title"], "Title is required for custom line items."))
            continue
        lines.append(
            LineSpec(
                quantity=raw["quantity"],
                variant=variant,
                sku=raw.get("sku"),
                title=raw.get("title"),
                price=price,
            )
        )
    return lines


def _claim_inventory(store: Store, order: Order, behaviour: str, now: datetime) -> str | None:
    """Decrement ``available`` at each line's FO location; error text when it must not."""
    if behaviour == "BYPASS":
        return None
    claims = []
    for fo in order.fulfillment_orders_list:
        for foli in fo.line_items_list:
            item = foli.variant.inventory_item if foli.variant else None
            level = item.levels.get(fo.location.id) if item and fo.location else None
            if level is None:
                continue
            have = level.quantities_map.get("available", 0)
            if behaviour == "DECREMENT_OBEYING_POLICY" and have < foli.total_quantity:
                return f"Unable to reserve inventory for {foli.sku or 'line item'}."
            claims.append((level, foli))
    for level, foli in claims:
        store.change_level(level, now, committed=foli.total_quantity)
        foli.committed_quantity += foli.total_quantity  # a cancel or an edit releases it
    return None


@resolves("Mutation", "orderCreate")
def order_create(
    _root: Any,
    info: GraphQLResolveInfo,
    order: dict[str, Any],
    options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    context = ctx(info)
    store = context.store
    errors: list[dict[str, Any]] = []
    raw_lines = order.get("lineItems") or []
    if not raw_lines:
        errors.append(_error(["order", "lineItems"], "Line items must have at least one item."))
    lines = _lines(store, raw_lines, errors)
    metafields = order.get("metafields") or []
    clash = _unique_metafield_clash(store.orders.values(), metafields)
    if clash is not None:
        errors.append(_error(["order", "metafields", clash, "value"], "Value is already taken."))
    if errors:
        return {"order": None, "userErrors": errors}
    tags = order.get("tags") or []
    if isinstance(tags, str):
        tags = [tags]
    tags = [t.strip() for tag in tags for t in tag.split(",") if t.strip()]
    spec = OrderSpec(
        lines=lines,
        created_at=context.now,
        financial_status=order.get("financialStatus") or "PENDING",
        name=order.get("name"),
        email=order.get("email"),
        note=order.get("note"),
        tags=tags,
        source_identifier=order.get("sourceIdentifier"),
        source_name=order.get("sourceName"),
        custom_attributes=order.get("customAttributes") or [],
        metafields=metafields,
        shipping_address=order.get("shippingAddress"),
        billing_address=order.get("billingAddress"),
        test=bool(order.get("test")),
    )
    created = create_order(store, context.ids, spec)
    behaviour = (options or {}).get("inventoryBehaviour") or "BYPASS"
    failure = _claim_inventory(store, created, behaviour, context.now)
    if failure is not None:
        _forget(store, created)
        return {"order": None, "userErrors": [_error(["order"], failure, "INVENTORY_CLAIM_FAILED")]}
    store.touch(created, "order")
    return {"order": created, "userErrors": []}


def _forget(store: Any, order: Order) -> None:
    store.orders.pop(order.id, None)
    if order.name == f"#{store.order_number - 1}":
        store.order_number -= 1
    for gid in [order.id] + [li.id for li in order.line_items_list]:
        store.nodes.pop(gid, None)
    for fo in order.fulfillment_orders_list:
        store.nodes.pop(fo.id, None)
        for foli in fo.line_items_list:
            store.nodes.pop(foli.id, None)


@resolves("Mutation", "tagsAdd")
def tags_add(_root: Any, info: GraphQLResolveInfo, id: str, tags: list[str]) -> dict[str, Any]:
    context = ctx(info)
    record = context.store.nodes.get(id)
    if not isinstance(record, Order):
        return {"node": None, "userErrors": [{"field": ["id"], "message": "Resource not found"}]}
    new = [t.strip() for tag in tags for t in tag.split(",") if t.strip()]
    record.tags = list(dict.fromkeys([*record.tags, *new]))
    context.store.touch(record, "order", context.now)
    return {"node": record, "userErrors": []}
