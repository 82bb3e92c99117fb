"""Creating orders and their fulfillment orders: shared by orderCreate, scenarios and actors.

Routing mimics Shopify's default: each line goes to a location that stocks its item (the
line's ``location_hint`` when the scenario or shopper chose one, else the first location in
store order that stocks it, else the primary location); one fulfillment order per location.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from simulator.models import (
    FulfillmentOrder,
    FulfillmentOrderLineItem,
    LineItem,
    Location,
    Metafield,
    Order,
    ProductVariant,
)
from simulator.store import IdAllocator, Store

COUNTRY_NAMES = {"US": "United States", "CA": "Canada", "GB": "United Kingdom", "MX": "Mexico"}


@dataclass
class LineSpec:
    quantity: int
    variant: ProductVariant | None = None
    sku: str | None = None
    title: str | None = None
    price: Decimal | None = None
    location: Location | None = None


@dataclass
class OrderSpec:
    lines: list[LineSpec]
    created_at: datetime
    financial_status: str | None = "PAID"
    name: str | None = None
    email: str | None = None
    note: str | None = None
    tags: list[str] = field(default_factory=list)
    source_identifier: str | None = None
    source_name: str | None = None
    custom_attributes: list[dict[str, Any]] = field(default_factory=list)
    metafields: list[dict[str, Any]] = field(default_factory=list)
    shipping_address: dict[str, Any] | None = None
    billing_address: dict[str, Any] | None = None
    test: bool = False
    cancelled: bool = False
    cancel_reason: str | None = None


def mailing_address(ids: IdAllocator, raw: dict[str, Any] | None) -> dict[str, Any] | None:
    """A MailingAddress record from MailingAddressInput-shaped (or scenario) data."""
    if not raw:
        return None
    country = raw.get("countryCode") or raw.get("country_code")
    first, last = raw.get("firstName"), raw.get("lastName")
    return {
        "id": f"gid://shopify/MailingAddress/{ids.next()}",
        "firstName": first,
        "lastName": last,
        "name": " ".join(p for p in (first, last) if p) or None,
        "company": raw.get("company"),
        "address1": raw.get("address1"),
        "address2": raw.get("address2"),
        "city": raw.get("city"),
        "province": raw.get("province") or raw.get("provinceCode") or raw.get("province_code"),
        "provinceCode": raw.get("provinceCode") or raw.get("province_code"),
        "country": COUNTRY_NAMES.get(country or "", country),
        "countryCodeV2": country,
        "zip": raw.get("zip"),
        "phone": raw.get("phone"),
    }


def _route(store: Store, line: LineItem, hint: Location | None) -> Location | None:
    if hint is not None:
        return hint
    item = line.variant.inventory_item if line.variant else None
    if item is not None:
        for loc in store.locations.values():
            if loc.id in item.levels:
                return loc
    return store.primary_location()


def create_order(
    store: Store, ids: IdAllocator, spec: OrderSpec, *, fo_delay: float | None = None
) -> Order:
    """Build, route and register an order; FOs become visible after ``fo_delay`` seconds."""
    when = spec.created_at
    if spec.name and spec.name.lstrip("#").isdigit():  # keep auto-numbering past given names
        store.order_number = max(store.order_number, int(spec.name.lstrip("#")) + 1)
    order = Order(
        id=ids.gid("Order"),
        name=spec.name or store.next_order_name(),
        created_at=when,
        updated_at=when,
        processed_at=when,
        financial_status=spec.financial_status,
        email=spec.email,
        note=spec.note,
        tags=list(dict.fromkeys(spec.tags)),
        source_identifier=spec.source_identifier,
        source_name=spec.source_name,
        currency=store.currency,
        custom_attributes=[
            {"key": a["key"], "value": a.get("value")} for a in spec.custom_attributes
        ],
        shipping_address=mailing_address(ids, spec.shipping_address),
        billing_address=mailing_address(ids, spec.billing_address),
        test=spec.test,
    )
    for mf in spec.metafields:
        order.metafields_list.append(
            Metafield(
                id=ids.gid("Metafield"),
                namespace=mf.get("namespace") or "app",
                key=mf["key"],
                type=mf.get("type") or "single_line_text_field",
                value=str(mf["value"]),
                created_at=when,
                updated_at=when,
            )
        )
    by_location: dict[str, list[LineItem]] = {}
    locations: dict[str, Location] = {}
    for ls in spec.lines:
        variant = ls.variant
        li = LineItem(
            id=ids.gid("LineItem"),
            sku=variant.sku if variant else ls.sku,
            title=ls.title or (variant.product.title if variant and variant.product else "Item"),
            variant_title=variant.title if variant else None,
            vendor=variant.product.vendor if variant and variant.product else None,
            quantity=ls.quantity,
            price=ls.price if ls.price is not None else (variant.price if variant else Decimal(0)),
            variant=variant,
            order=order,
        )
        order.line_items_list.append(li)
        store.add(li)
        loc = _route(store, li, ls.location)
        if loc is not None:
            by_location.setdefault(loc.id, []).append(li)
            locations[loc.id] = loc
    for loc_id, lines in by_location.items():
        fo = FulfillmentOrder(
            id=ids.gid("FulfillmentOrder"),
            order=order,
            location=locations[loc_id],
            created_at=when,
            updated_at=when,
        )
        for li in lines:
            foli = FulfillmentOrderLineItem(
                id=ids.gid("FulfillmentOrderLineItem"),
                line_item=li,
                total_quantity=li.quantity,
                remaining_quantity=li.quantity,
            )
            fo.line_items_list.append(foli)
            store.add(foli)
        order.fulfillment_orders_list.append(fo)
        store.add(fo)
    delay = store.fo_delay_seconds if fo_delay is None else fo_delay
    order.fo_visible_at = time.time() + delay if delay > 0 else 0.0
    if spec.cancelled:
        cancel_order(order, when, spec.cancel_reason or "CUSTOMER")
    store.orders[order.id] = order
    store.add(order)
    return order


def cancel_order(order: Order, when: datetime, reason: str = "CUSTOMER") -> None:
    """Cancel: FOs close with nothing left to fulfil (the exact FO state is UNVERIFIED)."""
    order.cancelled_at = when
    order.cancel_reason = reason
    order.updated_at = when
    for fo in order.fulfillment_orders_list:
        fo.status = "CLOSED"
        fo.updated_at = when
        for foli in fo.line_items_list:
            foli.remaining_quantity = 0
