"""Read the rest of an order's nested lists, so no line or fulfillment is ever missed.

List queries nest only a first page of each inner connection (the 1,000-point cap, FACTS §1.3).
`complete_order` follows every `pageInfo.hasNextPage` with the follow-up documents, and
re-reads `Order.fulfillments` (a plain list, no cursor) when it came back full. It does no
I/O itself: `fetch(operation, variables)` is the Shopify client's `execute`, returning the
response's `data` dict. The node is returned in the same shape, with complete lists.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from sync.models import nodes

Fetch = Callable[[str, dict[str, Any]], Mapping[str, Any]]

#: Literal page sizes of `Order.fulfillments` in the list documents (a unit test checks them).
HUB_ORDER_FULFILLMENTS_FIRST = 5  # fulfillments_updated_hub_orders
RETAILER_ORDER_FULFILLMENTS_FIRST = 10  # fulfillments_retailer_order_fulfillment_orders
ORDER_FULFILLMENTS_MAX = 250  # fulfillments_order_fulfillments


def _has_next(connection: Any) -> tuple[bool, str | None]:
    info = (connection or {}).get("pageInfo") or {} if isinstance(connection, Mapping) else {}
    return bool(info.get("hasNextPage")), info.get("endCursor")


def _read_all(
    connection: Any, fetch: Fetch, operation: str, owner_id: str, path: tuple[str, str]
) -> dict[str, Any]:
    """All nodes of a connection whose first page is `connection`; `path` = (root field,
    connection field) in the follow-up document's data."""
    items = nodes(connection)
    more, cursor = _has_next(connection)
    while more:
        if not cursor:
            raise ValueError(f"{operation}: hasNextPage without endCursor for {owner_id}")
        data = fetch(operation, {"id": owner_id, "after": cursor})
        owner = (data or {}).get(path[0])
        if owner is None:
            raise LookupError(f"{operation}: {owner_id} vanished while paging")
        page = owner.get(path[1])
        items.extend(nodes(page))
        more, cursor = _has_next(page)
    return {"nodes": items, "pageInfo": {"hasNextPage": False, "endCursor": cursor}}


def _complete_fulfillment(fulfillment: dict[str, Any], fetch: Fetch) -> dict[str, Any]:
    lines = fulfillment.get("fulfillmentLineItems")
    if lines is None:  # read by fulfillments_order_fulfillments: no lines yet
        data = fetch("fulfillments_fulfillment_line_items_page", {"id": fulfillment["id"]})
        lines = ((data or {}).get("node") or {}).get("fulfillmentLineItems")
    fulfillment["fulfillmentLineItems"] = _read_all(
        lines,
        fetch,
        "fulfillments_fulfillment_line_items_page",
        fulfillment["id"],
        ("node", "fulfillmentLineItems"),
    )
    return fulfillment


def _complete_fulfillments(
    order: dict[str, Any], fetch: Fetch, fulfillments_first: int
) -> list[dict[str, Any]]:
    listed = [f for f in order.get("fulfillments") or [] if isinstance(f, dict)]
    if len(listed) >= fulfillments_first:
        data = fetch("fulfillments_order_fulfillments", {"id": order["id"]})
        full = ((data or {}).get("order") or {}).get("fulfillments") or []
        known = {f["id"]: f for f in listed}
        listed = [known.get(f["id"], f) for f in full if isinstance(f, dict)]
    return [_complete_fulfillment(f, fetch) for f in listed]


def complete_order(
    node: Mapping[str, Any], fetch: Fetch, *, fulfillments_first: int | None = None
) -> dict[str, Any]:
    """A copy of an order node with every nested list read to the end.

    Handles `lineItems`, `fulfillmentOrders` (and each FO's `lineItems`) and, when
    `fulfillments_first` is given (the literal page size of `Order.fulfillments` in the
    document the node came from, e.g. `HUB_ORDER_FULFILLMENTS_FIRST`), `fulfillments` with
    their `fulfillmentLineItems`. Fields the document did not select are left alone.
    """
    order = copy.deepcopy(dict(node))
    oid = order["id"]
    if "lineItems" in order:
        order["lineItems"] = _read_all(
            order["lineItems"], fetch, "order_line_items_page", oid, ("order", "lineItems")
        )
    if "fulfillmentOrders" in order:
        fos = _read_all(
            order["fulfillmentOrders"],
            fetch,
            "order_fulfillment_orders",
            oid,
            ("order", "fulfillmentOrders"),
        )
        for fo in fos["nodes"]:
            if "lineItems" in fo:
                fo["lineItems"] = _read_all(
                    fo["lineItems"],
                    fetch,
                    "order_fulfillment_order_line_items_page",
                    fo["id"],
                    ("fulfillmentOrder", "lineItems"),
                )
        order["fulfillmentOrders"] = fos
    if fulfillments_first is not None and "fulfillments" in order:
        order["fulfillments"] = _complete_fulfillments(order, fetch, fulfillments_first)
    return order
