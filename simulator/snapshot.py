"""Plain-JSON views of a store for the admin endpoint and tests (no GraphQL, no cost)."""

from __future__ import annotations

from typing import Any

from simulator.resolver_table import format_datetime
from simulator.store import Store


def _dt(value: Any) -> str | None:
    return format_datetime(value) if value is not None else None


def order_view(order: Any) -> dict[str, Any]:
    return {
        "id": order.id,
        "name": order.name,
        "created_at": _dt(order.created_at),
        "updated_at": _dt(order.updated_at),
        "financial_status": order.financial_status,
        "fulfillment_status": order.display_fulfillment_status,
        "cancelled_at": _dt(order.cancelled_at),
        "cancel_reason": order.cancel_reason,
        "cancel_staff_note": order.cancel_staff_note,
        "cancelling": order.cancel_job_id is not None,
        "return_status": order.return_status,
        "edited": order.edited,
        "edits": [{**e, "at": _dt(e["at"])} for e in order.edits],
        "refunds": [
            {"id": r.id, "amount": str(r.amount), "note": r.note, "created_at": _dt(r.created_at)}
            for r in order.refunds_list
        ],
        "notifications": order.notifications,
        "tags": list(order.tags),
        "source_identifier": order.source_identifier,
        "note": order.note,
        "custom_attributes": list(order.custom_attributes),
        "metafields": [
            {"namespace": m.namespace, "key": m.key, "value": m.value}
            for m in order.metafields_list
        ],
        "shipping_address": order.shipping_address,
        "billing_address": order.billing_address,
        "line_items": [
            {
                "id": li.id,
                "sku": li.sku,
                "quantity": li.quantity,
                "current_quantity": li.current_quantity,
                "price": str(li.price),
            }
            for li in order.line_items_list
        ],
        "fulfillment_orders": [
            {
                "id": fo.id,
                "status": fo.status,
                "location_id": fo.location.id if fo.location else None,
                "holds": [{"id": h.id, "handle": h.handle, "reason": h.reason} for h in fo.holds],
                "line_items": [
                    {
                        "id": x.id,
                        "sku": x.sku,
                        "total_quantity": x.total_quantity,
                        "remaining_quantity": x.remaining_quantity,
                        "committed_quantity": x.committed_quantity,
                    }
                    for x in fo.line_items_list
                ],
            }
            for fo in order.fulfillment_orders_list
        ],
        "fulfillments": [fulfillment_view(f) for f in order.fulfillments_list],
    }


def fulfillment_view(f: Any) -> dict[str, Any]:
    return {
        "id": f.id,
        "name": f.name,
        "status": f.status,
        "created_at": _dt(f.created_at),
        "updated_at": _dt(f.updated_at),
        "tracking": [dict(t) for t in f.tracking],
        "notifications": f.notifications,
        "line_items": [
            {"line_item_id": x.line_item.id, "sku": x.line_item.sku, "quantity": x.quantity}
            for x in f.line_items_list
        ],
        "fulfillment_order_ids": [fo.id for fo in f.fulfillment_orders_list],
    }


def inventory_view(store: Store) -> list[dict[str, Any]]:
    return [
        {
            "sku": item.sku,
            "inventory_item_id": item.id,
            "location_id": loc_id,
            "level_id": lv.id,
            **{k: v for k, v in lv.quantities_map.items()},
        }
        for item in store.inventory_items.values()
        for loc_id, lv in item.levels.items()
    ]


def state(store: Store) -> dict[str, Any]:
    with store.lock:
        orders = [order_view(o) for o in store.orders.values()]
        return {
            "domain": store.domain,
            "orders": orders,
            "fulfillments": [f for o in orders for f in o["fulfillments"]],
            "inventory": inventory_view(store),
            "notifications": sum(f["notifications"] for o in orders for f in o["fulfillments"]),
        }


def store_summary(store: Store) -> dict[str, Any]:
    return {
        "domain": store.domain,
        "name": store.name,
        "plan": store.plan,
        "role": store.role,
        "token_env": store.token_env,
        "locations": [
            {"id": loc.id, "name": loc.name, "primary": loc.is_primary}
            for loc in store.locations.values()
        ],
        "location_ids": list(store.locations),
        "variants": len(store.variants),
        "orders": len(store.orders),
    }
