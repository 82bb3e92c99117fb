"""``orderCancel`` (+ ``job(id:)``), ``fulfillmentOrderHold`` and ``fulfillmentOrderReleaseHold``,
and the read fields they add (``Order.refunds``/``totalRefundedSet``, ``FulfillmentOrder.
fulfillmentHolds``). Rules in ``simulator.order_changes`` and ``simulator.order_holds``.

User errors follow the 2025-01 payloads: ``OrderCancelUserError {code field message}`` (codes
NOT_FOUND, INVALID) mirrored without code in the deprecated ``userErrors``;
``FulfillmentOrderHoldUserError`` / ``…ReleaseHoldUserError`` with their enum codes, or no code
where the enum has none for the case (a closed FO, a handle too long). Messages are the
simulator's own wording.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLResolveInfo

from simulator.context import ctx, fo_visible, money_bag
from simulator.models import FulfillmentOrder, Order
from simulator.models_changes import Refund
from simulator.order_changes import cancel_refusal, start_cancel
from simulator.order_holds import (
    hold_refusal,
    place_hold,
    release_holds,
    split_for_hold,
    split_refusal,
)
from simulator.resolver_table import resolves

STAFF_NOTE_MAX = 255


def _error(code: str | None, field: list[str], message: str) -> dict[str, Any]:
    return {"code": code, "field": field, "message": message}


def _cancel_refused(code: str, field: list[str], message: str) -> dict[str, Any]:
    return {
        "job": None,
        "orderCancelUserErrors": [_error(code, field, message)],
        "userErrors": [{"field": field, "message": message}],
    }


def _refund_mode(refund: bool | None, method: dict[str, Any] | None) -> str | None:
    """2025-07+ ``refundMethod`` wins over the deprecated ``refund`` flag."""
    if method is not None:
        if method.get("storeCreditRefund") is not None:
            return "store_credit"
        return "original" if method.get("originalPaymentMethodsRefund") else None
    return "original" if refund else None


@resolves("Mutation", "orderCancel")
def order_cancel(
    _root: Any,
    info: GraphQLResolveInfo,
    orderId: str,  # noqa: N803
    restock: bool,
    reason: str,
    refund: bool | None = None,
    notifyCustomer: bool | None = False,  # noqa: N803
    staffNote: str | None = None,  # noqa: N803
    refundMethod: dict[str, Any] | None = None,  # noqa: N803
) -> dict[str, Any]:
    context = ctx(info)
    order = context.store.nodes.get(orderId)
    if not isinstance(order, Order):
        return _cancel_refused("NOT_FOUND", ["orderId"], "Order does not exist.")
    refusal = cancel_refusal(order)
    if refusal:
        return _cancel_refused("INVALID", ["orderId"], refusal)
    if staffNote is not None and len(staffNote) > STAFF_NOTE_MAX:
        return _cancel_refused(
            "INVALID", ["staffNote"], f"Staff note is too long (maximum is {STAFF_NOTE_MAX})."
        )
    work = {
        "reason": reason,
        "restock": restock,
        "refund": _refund_mode(refund, refundMethod),
        "notify": bool(notifyCustomer),
        "staff_note": staffNote,
    }
    job = start_cancel(context.store, context.ids, order, work)
    return {"job": job, "orderCancelUserErrors": [], "userErrors": []}


@resolves("QueryRoot", "job")
def job(_root: Any, info: GraphQLResolveInfo, id: str) -> Any:  # noqa: A002
    return ctx(info).store.jobs.get(id)


@resolves("Order", "totalRefundedSet")
def order_total_refunded(order: Order, _info: GraphQLResolveInfo) -> dict[str, Any]:
    return money_bag(order.total_refunded, order.currency)


@resolves("Refund", "totalRefundedSet")
def refund_total(refund: Refund, _info: GraphQLResolveInfo) -> dict[str, Any]:
    currency = refund.order.currency if refund.order else "USD"
    return money_bag(refund.amount, currency)


@resolves("FulfillmentOrder", "fulfillmentHolds")
def fulfillment_holds(fo: FulfillmentOrder, _info: GraphQLResolveInfo) -> list[Any]:
    return list(fo.holds)


def _fo(info: GraphQLResolveInfo, gid: str) -> FulfillmentOrder | None:
    found = ctx(info).store.nodes.get(gid)
    if isinstance(found, FulfillmentOrder) and fo_visible(found.order):
        return found
    return None


@resolves("Mutation", "fulfillmentOrderHold")
def fulfillment_order_hold(
    _root: Any,
    info: GraphQLResolveInfo,
    id: str,  # noqa: A002
    fulfillmentHold: dict[str, Any],  # noqa: N803
) -> dict[str, Any]:
    context = ctx(info)
    fo = _fo(info, id)
    refused: tuple[Any, ...] | None
    if fo is None:
        refused = (
            "FULFILLMENT_ORDER_NOT_FOUND",
            ["id"],
            "The fulfillment order could not be found.",
        )
    else:
        refused = hold_refusal(fo, fulfillmentHold.get("handle") or "")
    wanted = fulfillmentHold.get("fulfillmentOrderLineItems") or []
    if refused is None and wanted:
        refused = split_refusal(fo, wanted)  # type: ignore[arg-type]
    if refused is not None:
        return {
            "fulfillmentHold": None,
            "fulfillmentOrder": None,
            "remainingFulfillmentOrder": None,
            "userErrors": [_error(*refused)],
        }
    assert fo is not None
    rest = split_for_hold(context.store, context.ids, fo, wanted, context.now) if wanted else None
    hold = place_hold(context.store, context.ids, fo, fulfillmentHold, context.now)
    return {
        "fulfillmentHold": hold,
        "fulfillmentOrder": fo,
        "remainingFulfillmentOrder": rest,
        "userErrors": [],
    }


@resolves("Mutation", "fulfillmentOrderReleaseHold")
def fulfillment_order_release_hold(
    _root: Any,
    info: GraphQLResolveInfo,
    id: str,  # noqa: A002
    holdIds: list[str] | None = None,  # noqa: N803
    externalId: str | None = None,  # noqa: N803
) -> dict[str, Any]:
    context = ctx(info)
    fo = _fo(info, id)
    if fo is None:
        error = _error("FULFILLMENT_ORDER_NOT_FOUND", ["id"], "The fulfillment order wasn't found.")
        return {"fulfillmentOrder": None, "userErrors": [error]}
    if fo.status != "ON_HOLD":
        error = _error(None, ["id"], "The fulfillment order is not on hold.")
        return {"fulfillmentOrder": None, "userErrors": [error]}
    release_holds(context.store, fo, holdIds, context.now)
    return {"fulfillmentOrder": fo, "userErrors": []}
