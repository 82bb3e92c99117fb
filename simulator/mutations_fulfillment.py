"""``fulfillmentCreate`` and ``fulfillmentTrackingInfoUpdate``.

Both return code-less ``UserError {field message}`` (FACTS.md §4.6). A fulfillment moves its
fulfillment orders OPEN → IN_PROGRESS (something left) → CLOSED (nothing left). Every call
with ``notifyCustomer: true`` counts one customer email on the fulfillment, so tests can
assert "one email per shipment".
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLResolveInfo

from simulator.context import RequestContext, ctx, fo_visible
from simulator.models import Fulfillment, FulfillmentLineItem, FulfillmentOrder
from simulator.resolver_table import resolves

FULFILLABLE = ("OPEN", "IN_PROGRESS")


def _err(field: list[Any], message: str) -> dict[str, Any]:
    return {"field": [str(f) for f in field], "message": message}


def tracking_entries(info: dict[str, Any] | None) -> tuple[list[dict[str, Any]], str | None]:
    """Tracking rows from FulfillmentTrackingInput, or an error message for a bad mix."""
    if not info:
        return [], None
    company = info.get("company")
    if info.get("numbers") or info.get("urls"):
        if info.get("number") or info.get("url"):
            return [], "Use either number and url or numbers and urls, not both."
        numbers, urls = info.get("numbers") or [], info.get("urls") or []
        rows = [
            {"company": company, "number": n, "url": urls[i] if i < len(urls) else None}
            for i, n in enumerate(numbers)
        ]
        return rows, None
    if info.get("url") and not info.get("number"):
        return [], "Tracking url requires a tracking number."
    if info.get("number") or company:
        return [{"company": company, "number": info.get("number"), "url": info.get("url")}], None
    return [], None


def _plan(store: Any, groups: list[dict[str, Any]]) -> tuple[list[Any], list[dict[str, Any]]]:
    """Validate ``lineItemsByFulfillmentOrder``: [(fo, [(foli, qty)])] or user errors."""
    plan, errors = [], []
    for gi, group in enumerate(groups):
        path = ["fulfillment", "lineItemsByFulfillmentOrder", gi]
        fo = store.nodes.get(group["fulfillmentOrderId"])
        if not isinstance(fo, FulfillmentOrder) or not fo_visible(fo.order):
            errors.append(_err([*path, "fulfillmentOrderId"], "Fulfillment order does not exist."))
            continue
        if fo.status not in FULFILLABLE:
            errors.append(
                _err(
                    [*path, "fulfillmentOrderId"],
                    f"Fulfillment order {fo.id} has an unfulfillable status= {fo.status.lower()}.",
                )
            )
            continue
        wanted = group.get("fulfillmentOrderLineItems")
        if wanted is None:
            items = [
                (li, li.remaining_quantity) for li in fo.line_items_list if li.remaining_quantity
            ]
        else:
            by_id = {li.id: li for li in fo.line_items_list}
            items = []
            for li_index, want in enumerate(wanted):
                li = by_id.get(want["id"])
                where = [*path, "fulfillmentOrderLineItems", li_index]
                if li is None:
                    errors.append(
                        _err([*where, "id"], "Fulfillment order line item does not exist.")
                    )
                elif want["quantity"] <= 0 or want["quantity"] > li.remaining_quantity:
                    errors.append(
                        _err(
                            [*where, "quantity"],
                            "Invalid fulfillment order line item quantity requested.",
                        )
                    )
                else:
                    items.append((li, want["quantity"]))
        if not items and not errors:
            errors.append(_err(path, "Fulfillment order has no remaining line items to fulfill."))
        plan.append((fo, items))
    fos = [fo for fo, _ in plan]
    if fos and len({(fo.order.id, fo.location.id if fo.location else None) for fo in fos}) > 1:
        errors.append(
            _err(
                ["fulfillment"],
                "All fulfillment orders must belong to the same order and location.",
            )
        )
    return plan, errors


@resolves("Mutation", "fulfillmentCreate")
def fulfillment_create(
    _root: Any, info: GraphQLResolveInfo, fulfillment: dict[str, Any], message: str | None = None
) -> dict[str, Any]:
    context = ctx(info)
    groups = fulfillment.get("lineItemsByFulfillmentOrder") or []
    if not groups:
        return {
            "fulfillment": None,
            "userErrors": [
                _err(
                    ["fulfillment", "lineItemsByFulfillmentOrder"],
                    "must contain at least one fulfillment order",
                )
            ],
        }
    plan, errors = _plan(context.store, groups)
    tracking, tracking_error = tracking_entries(fulfillment.get("trackingInfo"))
    if tracking_error:
        errors.append(_err(["fulfillment", "trackingInfo"], tracking_error))
    if errors:
        return {"fulfillment": None, "userErrors": errors}
    created = apply_fulfillment(context, plan, tracking, bool(fulfillment.get("notifyCustomer")))
    return {"fulfillment": created, "userErrors": []}


def apply_fulfillment(
    context: RequestContext, plan: list[Any], tracking: list[dict[str, Any]], notify: bool
) -> Fulfillment:
    """Commit a validated fulfillment (also used by the warehouse actor)."""
    store, now = context.store, context.now
    order = plan[0][0].order
    created = Fulfillment(
        id=context.ids.gid("Fulfillment"),
        name=f"{order.name}.{len(order.fulfillments_list) + 1}",
        order=order,
        location=plan[0][0].location,
        created_at=now,
        updated_at=now,
        tracking=tracking,
        notifications=1 if notify else 0,
    )
    for fo, items in plan:
        for foli, qty in items:
            foli.remaining_quantity -= qty
            created.line_items_list.append(
                FulfillmentLineItem(
                    id=context.ids.gid("FulfillmentLineItem"),
                    line_item=foli.line_item,
                    quantity=qty,
                )
            )
        fo.status = "CLOSED" if fo.remaining == 0 else "IN_PROGRESS"
        fo.updated_at = now
        fo.fulfillments_list.append(created)
        created.fulfillment_orders_list.append(fo)
    for fli in created.line_items_list:
        store.add(fli)
    order.fulfillments_list.append(created)
    store.add(created)
    store.touch(order, "order", now)
    return created


@resolves("Mutation", "fulfillmentTrackingInfoUpdate")
def fulfillment_tracking_info_update(
    _root: Any,
    info: GraphQLResolveInfo,
    fulfillmentId: str,  # noqa: N803
    trackingInfoInput: dict[str, Any],
    notifyCustomer: bool | None = None,  # noqa: N803
) -> dict[str, Any]:
    context = ctx(info)
    found = context.store.nodes.get(fulfillmentId)
    if not isinstance(found, Fulfillment):
        return {
            "fulfillment": None,
            "userErrors": [_err(["fulfillmentId"], "Fulfillment does not exist.")],
        }
    tracking, error = tracking_entries(trackingInfoInput)
    if error:
        return {"fulfillment": None, "userErrors": [_err(["trackingInfoInput"], error)]}
    found.tracking = tracking
    found.updated_at = context.now
    if notifyCustomer:
        found.notifications += 1
    if found.order is not None:
        context.store.touch(found.order, "order", context.now)
    return {"fulfillment": found, "userErrors": []}
