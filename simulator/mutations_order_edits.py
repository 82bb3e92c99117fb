"""``orderEditBegin`` → ``orderEditSetQuantity`` / ``orderEditAddVariant`` → ``orderEditCommit``,
and the ``CalculatedOrder`` / ``CalculatedLineItem`` reads. Rules in ``simulator.order_edits``.

All four return the code-less ``UserError {field message}`` (2025-01). A calculated order is
single-use: once committed, every further call on it is a user error. ``lineItems(query:)``
filters (``editable``, ``id``) are not modelled: the argument is accepted and ignored.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLResolveInfo

from simulator.context import ctx, money_bag
from simulator.models import Location, Order, ProductVariant
from simulator.models_changes import CalculatedLineItem, CalculatedOrder
from simulator.order_edits import (
    begin_edit,
    commit_edit,
    commit_refusal,
    default_location,
    edit_refusal,
)
from simulator.paging import by_id, paginate
from simulator.resolver_table import resolves


def _err(field: list[str], message: str) -> dict[str, Any]:
    return {"field": field, "message": message}


def _session(info: GraphQLResolveInfo, gid: str) -> tuple[CalculatedOrder | None, Any]:
    """The open session ``gid``, or a user error saying why not."""
    found = ctx(info).store.nodes.get(gid)
    if not isinstance(found, CalculatedOrder):
        return None, _err(["id"], "The calculated order does not exist.")
    if found.committed:
        return None, _err(["id"], "The calculated order has already been committed.")
    return found, None


@resolves("Mutation", "orderEditBegin")
def order_edit_begin(_root: Any, info: GraphQLResolveInfo, id: str) -> dict[str, Any]:  # noqa: A002
    context = ctx(info)
    order = context.store.nodes.get(id)
    if not isinstance(order, Order):
        return {"calculatedOrder": None, "userErrors": [_err(["id"], "Order does not exist.")]}
    refusal = edit_refusal(order)
    if refusal:
        return {"calculatedOrder": None, "userErrors": [_err(["id"], refusal)]}
    return {"calculatedOrder": begin_edit(context.store, context.ids, order), "userErrors": []}


def _staged(session: Any, line: Any, error: Any) -> dict[str, Any]:
    if error is not None:
        return {"calculatedLineItem": None, "calculatedOrder": None, "userErrors": [error]}
    return {"calculatedLineItem": line, "calculatedOrder": session, "userErrors": []}


@resolves("Mutation", "orderEditSetQuantity")
def order_edit_set_quantity(
    _root: Any,
    info: GraphQLResolveInfo,
    id: str,  # noqa: A002
    lineItemId: str,  # noqa: N803
    quantity: int,
    restock: bool | None = None,
) -> dict[str, Any]:
    session, error = _session(info, id)
    line = session.line(lineItemId) if session else None
    if session is not None and line is None:
        error = _err(["lineItemId"], "The calculated line item does not exist.")
    elif line is not None and quantity < 0:
        error = _err(["quantity"], "Quantity cannot be negative.")
    elif line is not None and quantity < line.fulfilled:
        error = _err(
            ["quantity"],
            f"Quantity cannot be less than the fulfilled quantity ({line.fulfilled}).",
        )
    if error is None and line is not None:
        line.quantity, line.restock = quantity, bool(restock)
        if line.line_item is None and quantity == 0:
            session.added.remove(line)  # type: ignore[union-attr]
    return _staged(session, line, error)


@resolves("Mutation", "orderEditAddVariant")
def order_edit_add_variant(
    _root: Any,
    info: GraphQLResolveInfo,
    id: str,  # noqa: A002
    variantId: str,  # noqa: N803
    quantity: int,
    locationId: str | None = None,  # noqa: N803
    allowDuplicates: bool | None = None,  # noqa: N803
) -> dict[str, Any]:
    store = ctx(info).store
    session, error = _session(info, id)
    variant = store.nodes.get(variantId)
    location = store.nodes.get(locationId) if locationId else None
    if session is None:
        pass
    elif not isinstance(variant, ProductVariant):
        error = _err(["variantId"], "The variant does not exist.")
    elif quantity < 1:
        error = _err(["quantity"], "Quantity must be greater than 0.")
    elif locationId and not isinstance(location, Location):
        error = _err(["locationId"], "The location does not exist.")
    elif not allowDuplicates and any(
        (li.line_item.variant if li.line_item else li.variant) is variant and li.quantity > 0
        for li in session.lines + session.added
    ):
        error = _err(["variantId"], "The variant is already on the order.")
    if error is not None:
        return _staged(None, None, error)
    assert session is not None
    line = CalculatedLineItem(
        id=ctx(info).ids.gid("CalculatedLineItem"),
        variant=variant,  # type: ignore[arg-type]
        location=location or default_location(store, variant),
        quantity=quantity,
    )
    session.added.append(line)
    return _staged(session, line, None)


@resolves("Mutation", "orderEditCommit")
def order_edit_commit(
    _root: Any,
    info: GraphQLResolveInfo,
    id: str,  # noqa: A002
    notifyCustomer: bool | None = None,  # noqa: N803
    staffNote: str | None = None,  # noqa: N803
) -> dict[str, Any]:
    context = ctx(info)
    session, error = _session(info, id)
    if session is not None:
        refused = commit_refusal(session)
        error = _err(*refused) if refused else None
    if error is not None:
        return {"order": None, "userErrors": [error]}
    assert session is not None
    order = commit_edit(
        context.store,
        context.ids,
        session,
        staff_note=staffNote,
        notify=bool(notifyCustomer),
        when=context.now,
    )
    return {"order": order, "userErrors": []}


@resolves("CalculatedOrder", "lineItems")
def calculated_line_items(session: CalculatedOrder, info: GraphQLResolveInfo, **args: Any) -> Any:
    args.pop("query", None)
    return paginate(session.lines, by_id, args)


@resolves("CalculatedOrder", "addedLineItems")
def calculated_added_items(session: CalculatedOrder, info: GraphQLResolveInfo, **args: Any) -> Any:
    return paginate(session.added, by_id, args)


@resolves("CalculatedOrder", "totalPriceSet")
def calculated_total(session: CalculatedOrder, _info: GraphQLResolveInfo) -> dict[str, Any]:
    order = session.original_order
    return money_bag(session.total_price, order.currency if order else "USD")


@resolves("CalculatedLineItem", "originalUnitPriceSet")
def calculated_price(line: CalculatedLineItem, info: GraphQLResolveInfo) -> dict[str, Any]:
    return money_bag(line.price, ctx(info).store.currency)
