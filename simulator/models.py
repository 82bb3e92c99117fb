"""Plain records of a simulated store: what Shopify keeps, in snake_case.

GraphQL fields map onto these by name (``displayName`` -> ``display_name``); a method named
after a field is called with the field's arguments. Anything that needs the request context
(clock, search index, version) lives in the resolver modules instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar


def gid(typename: str, n: int) -> str:
    return f"gid://shopify/{typename}/{n}"


def legacy_id(gid_value: str) -> int:
    """The numeric part of a GID (``gid://shopify/InventoryLevel/7?inventory_item_id=9`` -> 7)."""
    return int(gid_value.rsplit("/", 1)[1].split("?", 1)[0])


@dataclass(eq=False)
class Record:
    typename: ClassVar[str] = ""
    id: str

    @property
    def legacy_resource_id(self) -> int:
        return legacy_id(self.id)


@dataclass(eq=False)
class Metafield(Record):
    typename: ClassVar[str] = "Metafield"
    namespace: str = ""
    key: str = ""
    type: str = "single_line_text_field"
    value: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None


class HasMetafields:
    """Mixin: ``metafield(namespace:, key:)`` as Shopify resolves it."""

    metafields_list: list[Metafield]

    def metafield(self, key: str, namespace: str | None = None) -> Metafield | None:
        for mf in self.metafields_list:
            if mf.key == key and (namespace is None or mf.namespace == namespace):
                return mf
        return None


@dataclass(eq=False)
class Location(Record):
    typename: ClassVar[str] = "Location"
    name: str = ""
    is_active: bool = True
    is_primary: bool = False
    fulfills_online_orders: bool = True
    ships_inventory: bool = True
    address: dict[str, Any] = field(default_factory=dict)
    #: The levels stocked here, by inventory item GID (what ``inventoryLevels`` pages over).
    levels: dict[str, InventoryLevel] = field(default_factory=dict, repr=False)


@dataclass(eq=False)
class Product(Record):
    typename: ClassVar[str] = "Product"
    title: str = ""
    handle: str = ""
    vendor: str = ""
    status: str = "ACTIVE"


@dataclass(eq=False)
class InventoryLevel(Record):
    typename: ClassVar[str] = "InventoryLevel"
    item: InventoryItem | None = None
    location: Location | None = None
    quantities_map: dict[str, int] = field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    #: 2026-04+: a deactivated level keeps its quantities (earlier versions delete it).
    is_active: bool = True


@dataclass(eq=False)
class InventoryItem(Record):
    typename: ClassVar[str] = "InventoryItem"
    sku: str | None = None
    tracked: bool = True
    variant: ProductVariant | None = None
    levels: dict[str, InventoryLevel] = field(default_factory=dict)  # by location GID
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def inventory_level(self, location_id: str) -> InventoryLevel | None:
        return self.levels.get(location_id)


@dataclass(eq=False)
class ProductVariant(Record, HasMetafields):
    typename: ClassVar[str] = "ProductVariant"
    sku: str | None = None
    title: str = "Default Title"
    price: Decimal = Decimal("0")
    barcode: str | None = None
    product: Product | None = None
    inventory_item: InventoryItem | None = None
    metafields_list: list[Metafield] = field(default_factory=list)
    updated_at: datetime | None = None

    @property
    def display_name(self) -> str:
        return f"{self.product.title if self.product else ''} - {self.title}"

    @property
    def inventory_quantity(self) -> int:
        levels = self.inventory_item.levels.values() if self.inventory_item else ()
        return sum(lv.quantities_map.get("available", 0) for lv in levels)


@dataclass(eq=False)
class LineItem(Record):
    typename: ClassVar[str] = "LineItem"
    sku: str | None = None
    title: str = ""
    variant_title: str | None = None
    vendor: str | None = None
    quantity: int = 1
    price: Decimal = Decimal("0")
    variant: ProductVariant | None = None
    requires_shipping: bool = True
    order: Order | None = None
    location_hint: str | None = None  # where routing puts it (scenario/shopper choice)
    #: Units taken off by order edits: ``quantity`` keeps counting them, ``currentQuantity``
    #: does not (the schema: "including/excluding refunded and removed units").
    removed_quantity: int = 0

    @property
    def name(self) -> str:
        return self.title if not self.variant_title else f"{self.title} - {self.variant_title}"

    @property
    def current_quantity(self) -> int:
        return self.quantity - self.removed_quantity


@dataclass(eq=False)
class FulfillmentOrderLineItem(Record):
    typename: ClassVar[str] = "FulfillmentOrderLineItem"
    line_item: LineItem | None = None
    total_quantity: int = 0
    remaining_quantity: int = 0
    #: Units this line committed at the FO's location (a sale or a decrementing orderCreate);
    #: a cancel or an edit releases them (simulator.order_changes).
    committed_quantity: int = 0

    @property
    def sku(self) -> str | None:
        return self.line_item.sku if self.line_item else None

    @property
    def variant(self) -> ProductVariant | None:
        return self.line_item.variant if self.line_item else None

    @property
    def inventory_item_id(self) -> str | None:
        v = self.variant
        return v.inventory_item.id if v and v.inventory_item else None

    @property
    def product_title(self) -> str:
        return self.line_item.title if self.line_item else ""


@dataclass(eq=False)
class FulfillmentOrder(Record):
    typename: ClassVar[str] = "FulfillmentOrder"
    order: Order | None = None
    location: Location | None = None
    status: str = "OPEN"
    request_status: str = "UNSUBMITTED"
    created_at: datetime | None = None
    updated_at: datetime | None = None
    line_items_list: list[FulfillmentOrderLineItem] = field(default_factory=list)
    fulfillments_list: list[Fulfillment] = field(default_factory=list)
    holds: list[Any] = field(default_factory=list)  # simulator.models_changes.FulfillmentHold
    held_from: str | None = None  # the status an ON_HOLD FO returns to when released

    @property
    def remaining(self) -> int:
        return sum(li.remaining_quantity for li in self.line_items_list)


@dataclass(eq=False)
class FulfillmentLineItem(Record):
    typename: ClassVar[str] = "FulfillmentLineItem"
    line_item: LineItem | None = None
    quantity: int = 0


@dataclass(eq=False)
class Fulfillment(Record):
    typename: ClassVar[str] = "Fulfillment"
    name: str = ""
    status: str = "SUCCESS"
    order: Order | None = None
    location: Location | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    tracking: list[dict[str, str | None]] = field(default_factory=list)
    line_items_list: list[FulfillmentLineItem] = field(default_factory=list)
    fulfillment_orders_list: list[FulfillmentOrder] = field(default_factory=list)
    notifications: int = 0  # customer emails sent for this shipment

    @property
    def display_status(self) -> str:
        return "FULFILLED"

    @property
    def total_quantity(self) -> int:
        return sum(li.quantity for li in self.line_items_list)

    def tracking_info(self, first: int | None = None) -> list[dict[str, str | None]]:
        return self.tracking[:first] if first is not None else list(self.tracking)


@dataclass(eq=False)
class Order(Record, HasMetafields):
    typename: ClassVar[str] = "Order"
    name: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None
    processed_at: datetime | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    closed: bool = False
    closed_at: datetime | None = None
    financial_status: str | None = "PAID"
    tags: list[str] = field(default_factory=list)
    note: str | None = None
    email: str | None = None
    test: bool = False
    source_identifier: str | None = None
    source_name: str | None = None
    currency: str = "USD"
    custom_attributes: list[dict[str, str | None]] = field(default_factory=list)
    metafields_list: list[Metafield] = field(default_factory=list)
    shipping_address: dict[str, Any] | None = None
    billing_address: dict[str, Any] | None = None
    line_items_list: list[LineItem] = field(default_factory=list)
    fulfillment_orders_list: list[FulfillmentOrder] = field(default_factory=list)
    fulfillments_list: list[Fulfillment] = field(default_factory=list)
    fo_visible_at: float = 0.0  # wall-clock time when routing "finishes"
    # -- after import (simulator.order_changes) --
    cancel_staff_note: str | None = None
    cancel_job_id: str | None = None  # an orderCancel job not done yet
    refunds_list: list[Any] = field(default_factory=list)  # models_changes.Refund
    return_status: str = "NO_RETURN"  # OrderReturnStatus; an active return blocks a cancel
    pending_authorization: bool = False  # a payment authorization still being processed
    edited: bool = False
    edits: list[dict[str, Any]] = field(default_factory=list)  # committed edits (staff notes)
    notifications: int = 0  # customer emails about the order itself (cancel, edit)

    @property
    def display_financial_status(self) -> str | None:
        return self.financial_status

    @property
    def display_fulfillment_status(self) -> str:
        fulfilled = sum(li.quantity for f in self.fulfillments_list for li in f.line_items_list)
        total = sum(li.current_quantity for li in self.line_items_list)
        if fulfilled == 0:
            waiting = [fo for fo in self.fulfillment_orders_list if fo.remaining]
            if waiting and all(fo.status == "ON_HOLD" for fo in waiting):
                return "ON_HOLD"  # "All of the unfulfilled items in this order are on hold."
            return "UNFULFILLED"
        return "FULFILLED" if fulfilled >= total else "PARTIALLY_FULFILLED"

    @property
    def total_price(self) -> Decimal:
        return sum((li.price * li.current_quantity for li in self.line_items_list), Decimal("0"))

    @property
    def total_refunded(self) -> Decimal:
        return sum((r.amount for r in self.refunds_list), Decimal("0"))

    @property
    def cancellation(self) -> dict[str, Any] | None:
        return {"staffNote": self.cancel_staff_note} if self.cancelled_at else None

    def refunds(self, first: int | None = None) -> list[Any]:
        return self.refunds_list[:first] if first is not None else list(self.refunds_list)

    def fulfillments(self, first: int | None = None) -> list[Fulfillment]:
        return self.fulfillments_list[:first] if first is not None else list(self.fulfillments_list)


@dataclass(eq=False)
class BulkOperation(Record):
    typename: ClassVar[str] = "BulkOperation"
    status: str = "CREATED"
    error_code: str | None = None
    created_at: datetime | None = None
    completed_at: datetime | None = None
    object_count: int = 0
    root_object_count: int = 0
    file_size: int | None = None
    url: str | None = None
    partial_data_url: str | None = None
    query: str = ""
    type: str = "QUERY"
    ready_at: float = 0.0
    payload: bytes = b""
