"""Typed views of the Admin API objects the order and fulfillment flows rely on.

Each model has `from_graphql(node)`, which takes a node exactly as the 2025-01 Admin API returns
it (camelCase, connections as `nodes` or `edges { node }`, nulls anywhere Shopify allows them)
and never raises on a missing optional field: a sync run must classify a strange order, not
crash on it. Only what the flows decide on is typed; raw JSON is kept by the assets.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, ConfigDict

OPEN_FO_STATUSES = frozenset({"OPEN", "IN_PROGRESS"})
HELD_FO_STATUSES = frozenset({"ON_HOLD", "SCHEDULED"})


def nodes(connection: Any) -> list[dict[str, Any]]:
    """The objects of a connection (`nodes` or `edges`), or of a plain list; [] for null."""
    if connection is None:
        return []
    if isinstance(connection, list):
        return [n for n in connection if isinstance(n, dict)]
    if not isinstance(connection, Mapping):
        return []
    if connection.get("nodes") is not None:
        return [n for n in connection["nodes"] if isinstance(n, dict)]
    edges = connection.get("edges") or []
    return [e["node"] for e in edges if isinstance(e, Mapping) and isinstance(e.get("node"), dict)]


def _id(obj: Any) -> str | None:
    return obj.get("id") if isinstance(obj, Mapping) else None


def _sku(*candidates: Any) -> str | None:
    """The first non-blank SKU, verbatim. Shopify stores '' and ' X ' as readily as 'X': a
    blank one is no SKU, but ' X ' is kept as the store has it, so a SKU that only nearly
    matches the hub's is seen and reported, never silently matched (`sync.sku_matching`, O11)."""
    for value in candidates:
        if isinstance(value, str) and value.strip():
            return value
    return None


def _attributes(raw: Any) -> dict[str, str | None]:
    return {a["key"]: a.get("value") for a in raw or () if isinstance(a, Mapping) and "key" in a}


def parse_decimal(value: Any) -> tuple[Decimal | None, str | None]:
    """A metafield or Money value as (amount, currency): '12.5', 12.5, {"amount": …,
    "currency_code": …} (a `money` metafield's JSON) all work; junk gives (None, None)."""
    if isinstance(value, str) and value.strip().startswith("{"):
        try:
            value = json.loads(value)
        except ValueError:
            return None, None
    currency = None
    if isinstance(value, Mapping):
        currency = value.get("currency_code") or value.get("currencyCode")
        value = value.get("amount")
    try:
        return (Decimal(str(value)), currency) if value is not None else (None, None)
    except InvalidOperation:
        return None, None


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class Tracking(_Model):
    company: str | None = None
    number: str | None = None
    url: str | None = None

    @classmethod
    def from_graphql(cls, node: Mapping[str, Any]) -> Tracking:
        return cls(company=node.get("company"), number=node.get("number"), url=node.get("url"))


class OrderLine(_Model):
    id: str
    sku: str | None = None
    title: str | None = None
    quantity: int = 0
    current_quantity: int = 0
    variant_id: str | None = None

    @classmethod
    def from_graphql(cls, node: Mapping[str, Any]) -> OrderLine:
        variant = node.get("variant") or {}
        quantity = node.get("quantity") or 0
        current = node.get("currentQuantity")
        return cls(
            id=node["id"],
            sku=_sku(node.get("sku"), variant.get("sku")),
            title=node.get("title") or node.get("name"),
            quantity=quantity,
            current_quantity=quantity if current is None else current,
            variant_id=_id(variant),
        )


class FulfillmentOrderLine(_Model):
    id: str
    sku: str | None = None
    line_item_id: str | None = None
    remaining_quantity: int = 0
    total_quantity: int = 0

    @classmethod
    def from_graphql(cls, node: Mapping[str, Any]) -> FulfillmentOrderLine:
        line = node.get("lineItem") or {}
        return cls(
            id=node["id"],
            sku=_sku(node.get("sku"), line.get("sku")),
            line_item_id=_id(line),
            remaining_quantity=node.get("remainingQuantity") or 0,
            total_quantity=node.get("totalQuantity") or 0,
        )


class FulfillmentOrder(_Model):
    id: str
    status: str = "OPEN"
    location_id: str | None = None
    lines: tuple[FulfillmentOrderLine, ...] = ()

    @property
    def is_open(self) -> bool:
        """Work can be fulfilled on it now (ON_HOLD/SCHEDULED cannot, CLOSED/CANCELLED never)."""
        return self.status in OPEN_FO_STATUSES

    @classmethod
    def from_graphql(cls, node: Mapping[str, Any]) -> FulfillmentOrder:
        assigned = node.get("assignedLocation") or {}
        return cls(
            id=node["id"],
            status=node.get("status") or "OPEN",
            location_id=_id(assigned.get("location")),
            lines=tuple(FulfillmentOrderLine.from_graphql(n) for n in nodes(node.get("lineItems"))),
        )


class FulfillmentLine(_Model):
    id: str | None = None
    sku: str | None = None
    line_item_id: str | None = None
    quantity: int = 0

    @classmethod
    def from_graphql(cls, node: Mapping[str, Any]) -> FulfillmentLine:
        line = node.get("lineItem") or {}
        return cls(
            id=node.get("id"),
            sku=_sku(line.get("sku")),
            line_item_id=_id(line),
            quantity=node.get("quantity") or 0,
        )


class Fulfillment(_Model):
    """A shipment, on either side: lines by SKU and every tracking entry."""

    id: str
    status: str = "SUCCESS"
    created_at: datetime | None = None
    updated_at: datetime | None = None
    tracking: tuple[Tracking, ...] = ()
    lines: tuple[FulfillmentLine, ...] = ()

    @property
    def tracking_numbers(self) -> tuple[str, ...]:
        return _unique(t.number.strip() for t in self.tracking if t.number and t.number.strip())

    def quantities_by_sku(self) -> dict[str | None, int]:
        """Shipped units per SKU (None collects lines whose SKU is unknown)."""
        totals: dict[str | None, int] = {}
        for line in self.lines:
            totals[line.sku] = totals.get(line.sku, 0) + line.quantity
        return {sku: q for sku, q in totals.items() if q > 0}

    @classmethod
    def from_graphql(cls, node: Mapping[str, Any], **extra: Any) -> Fulfillment:
        return cls(
            id=node["id"],
            status=node.get("status") or "SUCCESS",
            created_at=node.get("createdAt"),
            updated_at=node.get("updatedAt"),
            tracking=tuple(Tracking.from_graphql(t) for t in node.get("trackingInfo") or ()),
            lines=tuple(
                FulfillmentLine.from_graphql(n) for n in nodes(node.get("fulfillmentLineItems"))
            ),
            **extra,
        )


class HubFulfillment(Fulfillment):
    """A hub shipment plus the hub order it belongs to (whose source key names the retailer
    order it must be pushed to)."""

    order_id: str | None = None
    order_name: str | None = None


class RetailerOrder(_Model):
    id: str
    legacy_id: str | None = None
    name: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None
    cancelled_at: datetime | None = None
    closed: bool = False
    test: bool = False
    financial_status: str | None = None
    fulfillment_status: str | None = None
    return_status: str | None = None  # OrderReturnStatus; None in snapshots made before it
    email: str | None = None
    tags: tuple[str, ...] = ()
    note: str | None = None
    custom_attributes: dict[str, str | None] = {}
    ship_date: str | None = None
    shipping_address: dict[str, Any] | None = None
    lines: tuple[OrderLine, ...] = ()
    fulfillment_orders: tuple[FulfillmentOrder, ...] = ()
    fulfillments: tuple[Fulfillment, ...] = ()

    def fulfillment_orders_at(self, location_id: str) -> list[FulfillmentOrder]:
        return [fo for fo in self.fulfillment_orders if fo.location_id == location_id]

    @classmethod
    def from_graphql(cls, node: Mapping[str, Any]) -> RetailerOrder:
        ship_date = node.get("shipDate") or {}
        legacy = node.get("legacyResourceId")
        return cls(
            id=node["id"],
            legacy_id=str(legacy) if legacy is not None else None,
            name=node.get("name") or "",
            created_at=node.get("createdAt"),
            updated_at=node.get("updatedAt"),
            cancelled_at=node.get("cancelledAt"),
            closed=bool(node.get("closed")),
            test=bool(node.get("test")),
            financial_status=node.get("displayFinancialStatus"),
            fulfillment_status=node.get("displayFulfillmentStatus"),
            return_status=node.get("returnStatus"),
            email=node.get("email"),
            tags=tuple(node.get("tags") or ()),
            note=node.get("note"),
            custom_attributes=_attributes(node.get("customAttributes")),
            ship_date=ship_date.get("value") if isinstance(ship_date, Mapping) else None,
            shipping_address=node.get("shippingAddress"),
            lines=tuple(OrderLine.from_graphql(n) for n in nodes(node.get("lineItems"))),
            fulfillment_orders=tuple(
                FulfillmentOrder.from_graphql(n) for n in nodes(node.get("fulfillmentOrders"))
            ),
            fulfillments=tuple(
                Fulfillment.from_graphql(n) for n in nodes(node.get("fulfillments"))
            ),
        )


class HubOrder(_Model):
    """A hub order as read back (recent-orders scan, by id, or with its fulfillments)."""

    id: str
    name: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None
    cancelled_at: datetime | None = None
    tags: tuple[str, ...] = ()
    source_identifier: str | None = None
    custom_attributes: dict[str, str | None] = {}
    lines: tuple[OrderLine, ...] = ()
    fulfillments: tuple[HubFulfillment, ...] = ()

    @classmethod
    def from_graphql(cls, node: Mapping[str, Any]) -> HubOrder:
        order_id, name = node["id"], node.get("name") or ""
        return cls(
            id=order_id,
            name=name,
            created_at=node.get("createdAt"),
            updated_at=node.get("updatedAt"),
            cancelled_at=node.get("cancelledAt"),
            tags=tuple(node.get("tags") or ()),
            source_identifier=node.get("sourceIdentifier"),
            custom_attributes=_attributes(node.get("customAttributes")),
            lines=tuple(OrderLine.from_graphql(n) for n in nodes(node.get("lineItems"))),
            fulfillments=tuple(
                HubFulfillment.from_graphql(n, order_id=order_id, order_name=name)
                for n in nodes(node.get("fulfillments"))
            ),
        )


class HubVariant(_Model):
    """A hub product variant found by SKU, with the price the retailer pays for it."""

    id: str
    sku: str | None = None
    price: Decimal | None = None
    retailer_cost: Decimal | None = None
    retailer_cost_currency: str | None = None

    @classmethod
    def from_graphql(cls, node: Mapping[str, Any]) -> HubVariant:
        """Accepts the metafield as `retailerCost { value }` (the alias we ask the variant
        look-up to use), `metafield { value }`, or an already-flat `retailer_cost`."""
        raw_cost = node.get("retailer_cost")
        for key in ("retailerCost", "metafield"):
            if isinstance(node.get(key), Mapping):
                raw_cost = node[key].get("value")
                break
        cost, currency = parse_decimal(raw_cost)
        price, _ = parse_decimal(node.get("price"))
        return cls(
            id=node["id"],
            sku=_sku(node.get("sku")),
            price=price,
            retailer_cost=cost,
            retailer_cost_currency=currency,
        )


def as_hub_variants(
    by_sku: Mapping[str, Sequence[HubVariant | Mapping[str, Any]]],
) -> dict[str, list[HubVariant]]:
    """`client.variants_by_sku(...)` output (dicts) or models as models, keyed by SKU verbatim."""
    return {
        sku: [v if isinstance(v, HubVariant) else HubVariant.from_graphql(v) for v in vs]
        for sku, vs in by_sku.items()
    }


def _unique(values: Any) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))
