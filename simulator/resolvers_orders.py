"""Read resolvers for orders, line items, fulfillment orders and fulfillments."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLResolveInfo

from simulator.context import ctx, fo_visible, money_bag, search
from simulator.models import Fulfillment, FulfillmentOrder, LineItem, Order
from simulator.paging import by_id, paginate
from simulator.resolver_table import resolves

ORDER_SORT = {
    "PROCESSED_AT": lambda o: (o.processed_at, o.legacy_resource_id),
    "CREATED_AT": lambda o: (o.created_at, o.legacy_resource_id),
    "UPDATED_AT": lambda o: (o.updated_at, o.legacy_resource_id),
    "ORDER_NUMBER": lambda o: (o.name, o.legacy_resource_id),
    "TOTAL_PRICE": lambda o: (float(o.total_price), o.legacy_resource_id),
    "FINANCIAL_STATUS": lambda o: (o.financial_status or "", o.legacy_resource_id),
}


def _page(info: GraphQLResolveInfo, rows: Any, args: dict[str, Any], key: Any = by_id) -> Any:
    return paginate(rows, key, args, unbounded=ctx(info).bulk)


@resolves("QueryRoot", "orders")
def orders(_root: Any, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    rows = search(info, "order", ctx(info).store.orders.values(), args.get("query"))
    return _page(info, rows, args, ORDER_SORT.get(args.get("sortKey") or "", by_id))


@resolves("QueryRoot", "orderByIdentifier")
def order_by_identifier(
    _root: Any, info: GraphQLResolveInfo, identifier: dict[str, Any]
) -> Order | None:
    """Index-free lookup (2025-04+): by GID or by a unique ``id``-type metafield value."""
    store = ctx(info).store
    if identifier.get("id"):
        found = store.nodes.get(identifier["id"])
        return found if isinstance(found, Order) else None
    custom = identifier.get("customId") or {}
    namespace = custom.get("namespace") or "app"
    for order in store.orders.values():
        mf = order.metafield(key=custom.get("key", ""), namespace=namespace)
        if mf is not None and mf.value == custom.get("value"):
            return order
    return None


@resolves("Order", "metafields")
@resolves("ProductVariant", "metafields")
def metafields(record: Any, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    rows = [
        mf
        for mf in record.metafields_list
        if (not args.get("namespace") or mf.namespace == args["namespace"])
        and (not args.get("keys") or f"{mf.namespace}.{mf.key}" in args["keys"])
    ]
    return _page(info, rows, args)


@resolves("Order", "totalPriceSet")
def total_price_set(order: Order, _info: GraphQLResolveInfo) -> dict[str, Any]:
    return money_bag(order.total_price, order.currency)


@resolves("Order", "lineItems")
def order_line_items(order: Order, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    return _page(info, order.line_items_list, args)


@resolves("Order", "fulfillmentOrders")
def order_fulfillment_orders(order: Order, info: GraphQLResolveInfo, **args: Any) -> Any:
    rows = order.fulfillment_orders_list if fo_visible(order) else []
    if args.get("displayable"):
        rows = [
            fo for fo in rows if fo.status not in ("CLOSED", "CANCELLED") or fo.fulfillments_list
        ]
    return _page(info, rows, args)


@resolves("LineItem", "originalUnitPriceSet")
def line_item_price(li: LineItem, _info: GraphQLResolveInfo) -> dict[str, Any]:
    return money_bag(li.price, li.order.currency if li.order else "USD")


@resolves("LineItem", "unfulfilledQuantity")
def line_item_unfulfilled(li: LineItem, _info: GraphQLResolveInfo) -> int:
    order = li.order
    done = sum(
        fli.quantity
        for f in (order.fulfillments_list if order else [])
        for fli in f.line_items_list
        if fli.line_item is li
    )
    return max(0, li.current_quantity - done)  # units an edit removed are not to fulfil


@resolves("FulfillmentOrder", "orderId")
def fo_order_id(fo: FulfillmentOrder, _info: GraphQLResolveInfo) -> str:
    return fo.order.id if fo.order else ""


@resolves("FulfillmentOrder", "orderName")
def fo_order_name(fo: FulfillmentOrder, _info: GraphQLResolveInfo) -> str:
    return fo.order.name if fo.order else ""


@resolves("FulfillmentOrder", "assignedLocation")
def fo_assigned_location(fo: FulfillmentOrder, _info: GraphQLResolveInfo) -> dict[str, Any]:
    loc = fo.location
    address = loc.address if loc else {}
    return {
        "name": loc.name if loc else "",
        "location": loc,
        "countryCode": address.get("countryCode", "US"),
        "address1": address.get("address1"),
        "city": address.get("city"),
        "zip": address.get("zip"),
    }


@resolves("FulfillmentOrder", "lineItems")
def fo_line_items(fo: FulfillmentOrder, info: GraphQLResolveInfo, **args: Any) -> Any:
    return _page(info, fo.line_items_list, args)


@resolves("FulfillmentOrder", "fulfillments")
def fo_fulfillments(fo: FulfillmentOrder, info: GraphQLResolveInfo, **args: Any) -> Any:
    return _page(info, fo.fulfillments_list, args)


@resolves("Fulfillment", "fulfillmentLineItems")
def fulfillment_line_items(f: Fulfillment, info: GraphQLResolveInfo, **args: Any) -> Any:
    return _page(info, f.line_items_list, args)


@resolves("Fulfillment", "fulfillmentOrders")
def fulfillment_fulfillment_orders(f: Fulfillment, info: GraphQLResolveInfo, **args: Any) -> Any:
    return _page(info, f.fulfillment_orders_list, args)
