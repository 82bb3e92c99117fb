"""Admin-API-shaped nodes (2025-01 field names, as the flow documents select them) for the
order import and fulfillment push unit tests. Builders take the few facts a test is about and
fill the rest with realistic values, nulls included where Shopify returns them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

HUB_LOCATION = "gid://shopify/Location/4001"  # the retailer's hub location
OTHER_LOCATION = "gid://shopify/Location/4002"
NOW = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)


def gid(kind: str, n: int) -> str:
    return f"gid://shopify/{kind}/{n}"


def iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def page(items: list[dict], has_next: bool = False, cursor: str | None = None) -> dict:
    end = cursor if cursor is not None else ("c-last" if items else None)
    return {"pageInfo": {"hasNextPage": has_next, "endCursor": end}, "nodes": items}


def address(**overrides: Any) -> dict[str, Any]:
    base = {
        "firstName": "Ada",
        "lastName": "Lovelace",
        "company": None,
        "address1": "12 Garden Row",
        "address2": None,
        "city": "Denver",
        "provinceCode": "CO",
        "countryCodeV2": "US",
        "zip": "80202",
        "phone": "+13035550100",
    }
    return base | overrides


def line_item(n: int, sku: str | None, quantity: int, current: int | None = None) -> dict:
    return {
        "id": gid("LineItem", n),
        "sku": sku,
        "title": f"Plant {sku or n}",
        "quantity": quantity,
        "currentQuantity": quantity if current is None else current,
        "variant": {"id": gid("ProductVariant", 9000 + n), "sku": sku},
    }


def fo_line(n: int, line: dict, remaining: int, total: int | None = None) -> dict:
    return {
        "id": gid("FulfillmentOrderLineItem", n),
        "sku": line["sku"],
        "remainingQuantity": remaining,
        "totalQuantity": line["quantity"] if total is None else total,
        "lineItem": {"id": line["id"], "sku": line["sku"]},
    }


def fulfillment_order(
    n: int, lines: list[dict], *, location: str = HUB_LOCATION, status: str = "OPEN"
) -> dict:
    return {
        "id": gid("FulfillmentOrder", n),
        "status": status,
        "assignedLocation": {"location": {"id": location}},
        "lineItems": page(lines),
    }


def fulfillment(
    n: int,
    lines: list[tuple[str | None, int]],
    *,
    tracking: list[tuple[str | None, str | None, str | None]] = (),
    status: str = "SUCCESS",
    created: datetime = NOW,
) -> dict:
    """A Fulfillment as `Order.fulfillments` returns it; lines are (sku, quantity)."""
    return {
        "id": gid("Fulfillment", n),
        "status": status,
        "createdAt": iso(created),
        "updatedAt": iso(created),
        "trackingInfo": [{"company": c, "number": num, "url": u} for c, num, u in tracking],
        "fulfillmentLineItems": page(
            [
                {
                    "id": gid("FulfillmentLineItem", n * 100 + i),
                    "quantity": qty,
                    "lineItem": {"id": gid("LineItem", n * 100 + i), "sku": sku},
                }
                for i, (sku, qty) in enumerate(lines)
            ]
        ),
    }


def retailer_order(
    n: int = 1001,
    *,
    lines: list[dict] | None = None,
    fulfillment_orders: list[dict] | None = None,
    financial: str | None = "PAID",
    created: datetime = NOW - timedelta(hours=1),
    cancelled: datetime | None = None,
    shipping: dict | None | str = "default",
    tags: list[str] = (),
    ship_date: str | None = "2025-01-20",
    fulfillments: list[dict] = (),
    test: bool = False,
) -> dict:
    """A retailer order node. Default: 2 lines, both on one OPEN FO at the hub location."""
    if lines is None:
        lines = [line_item(1, "FERN-1", 2), line_item(2, "MOSS-2", 1)]
    if fulfillment_orders is None:
        fulfillment_orders = [
            fulfillment_order(
                n * 10, [fo_line(n * 10 + i, li, li["quantity"]) for i, li in enumerate(lines)]
            )
        ]
    return {
        "id": gid("Order", n),
        "legacyResourceId": str(n),
        "name": f"#{n}",
        "createdAt": iso(created),
        "updatedAt": iso(created + timedelta(minutes=5)),
        "processedAt": iso(created),
        "cancelledAt": iso(cancelled) if cancelled else None,
        "closed": False,
        "test": test,
        "displayFinancialStatus": financial,
        "displayFulfillmentStatus": "UNFULFILLED",
        "email": "ada@example.com",
        "tags": list(tags),
        "note": "Leave at the back door",
        "customAttributes": [{"key": "gift", "value": "no"}],
        "shipDate": {"value": ship_date} if ship_date else None,
        "shippingAddress": address() if shipping == "default" else shipping,
        "lineItems": page(lines),
        "fulfillmentOrders": page(fulfillment_orders),
        "fulfillments": list(fulfillments),
    }


def hub_variant(n: int, sku: str, price: str = "10.00", retailer_cost: Any = "6.50") -> dict:
    """As the hub variant look-up returns it (metafield aliased `retailerCost`)."""
    return {
        "id": gid("ProductVariant", n),
        "sku": sku,
        "price": price,
        "retailerCost": None if retailer_cost is None else {"value": retailer_cost},
    }


def hub_order(
    n: int,
    *,
    source: str | None = None,
    tags: list[str] = (),
    source_identifier: str | None = None,
    attributes: dict[str, str] | None = None,
    created: datetime = NOW,
    fulfillments: list[dict] = (),
) -> dict:
    """A hub order as `orders_recent_hub` / `fulfillments_updated_hub_orders` return it."""
    all_tags = ["shopsync", *tags] + ([source] if source else [])
    attrs = (
        attributes if attributes is not None else ({"shopsync_source": source} if source else {})
    )
    return {
        "id": gid("Order", n),
        "name": f"#H{n}",
        "createdAt": iso(created),
        "updatedAt": iso(created),
        "cancelledAt": None,
        "tags": all_tags,
        "sourceIdentifier": source_identifier if source_identifier is not None else source,
        "customAttributes": [{"key": k, "value": v} for k, v in attrs.items()],
        "fulfillments": list(fulfillments),
    }
