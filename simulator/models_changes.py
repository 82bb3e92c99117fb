"""Records of what happens to an order after it was placed: cancel jobs, fulfillment holds,
refunds and order-edit sessions (``CalculatedOrder``). Plain data, like ``models.py``; the
rules that change them live in ``simulator.order_changes`` and ``simulator.order_edits``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from simulator.models import Location, Order, ProductVariant, Record

#: ``FulfillmentHold.displayReason``: the admin's English label of each reason.
HOLD_REASON_LABELS = {
    "AWAITING_PAYMENT": "Awaiting payment",
    "HIGH_RISK_OF_FRAUD": "High risk of fraud",
    "INCORRECT_ADDRESS": "Incorrect address",
    "INVENTORY_OUT_OF_STOCK": "Inventory out of stock",
    "UNKNOWN_DELIVERY_DATE": "Unknown delivery date",
    "ONLINE_STORE_POST_PURCHASE_CROSS_SELL": "Online store post purchase cross sell",
    "AWAITING_RETURN_ITEMS": "Awaiting return items",
    "OTHER": "Other",
}


@dataclass(eq=False)
class Job(Record):
    """An asynchronous task (``orderCancel``): ``done`` once the simulator ran it."""

    typename: ClassVar[str] = "Job"
    ready_at: float = 0.0  # time.monotonic() when the work is due
    finished: bool = False
    order: Order | None = None
    work: dict[str, Any] = field(default_factory=dict)  # what to do when due

    @property
    def done(self) -> bool:
        return self.finished

    @property
    def query(self) -> dict[str, Any] | None:
        """``Job.query`` "will only resolve once the job is done": the query root then."""
        return {} if self.finished else None


@dataclass(eq=False)
class FulfillmentHold(Record):
    typename: ClassVar[str] = "FulfillmentHold"
    handle: str = ""
    reason: str = "OTHER"
    reason_notes: str | None = None
    external_id: str | None = None
    held_by_requesting_app: bool = True  # every API caller is the one app of its token
    created_at: datetime | None = None

    @property
    def display_reason(self) -> str:
        return HOLD_REASON_LABELS.get(self.reason, self.reason.replace("_", " ").capitalize())


@dataclass(eq=False)
class Refund(Record):
    typename: ClassVar[str] = "Refund"
    order: Order | None = None
    amount: Decimal = Decimal("0")
    note: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(eq=False)
class CalculatedLineItem(Record):
    """One line of an edit session: an existing line (``line_item`` set, its id shares the
    line item's number, as Shopify's do) or a line the edit adds (``variant`` set)."""

    typename: ClassVar[str] = "CalculatedLineItem"
    line_item: Any = None  # models.LineItem
    variant: ProductVariant | None = None
    location: Location | None = None
    quantity: int = 0  # staged quantity (ordered, fulfilled units included)
    start_quantity: int = 0  # the line's current quantity when the edit began
    fulfilled: int = 0  # units already fulfilled when the edit began
    restock: bool = False

    @property
    def sku(self) -> str | None:
        return (
            self.line_item.sku if self.line_item else (self.variant.sku if self.variant else None)
        )

    @property
    def title(self) -> str:
        if self.line_item is not None:
            return self.line_item.title
        product = self.variant.product if self.variant else None
        return product.title if product else ""

    @property
    def variant_title(self) -> str | None:
        if self.line_item is not None:
            return self.line_item.variant_title
        return self.variant.title if self.variant else None

    @property
    def price(self) -> Decimal:
        if self.line_item is not None:
            return self.line_item.price
        return self.variant.price if self.variant else Decimal(0)

    @property
    def editable_quantity(self) -> int:
        return max(0, self.quantity - self.fulfilled)

    @property
    def editable_quantity_before_changes(self) -> int:
        return max(0, self.start_quantity - self.fulfilled)

    @property
    def restockable(self) -> bool:
        return self.line_item is not None and self.editable_quantity_before_changes > 0

    @property
    def restocking(self) -> bool:
        return self.restock and self.quantity < self.start_quantity


@dataclass(eq=False)
class CalculatedOrder(Record):
    """An edit session: ``orderEditBegin`` opens it, ``orderEditCommit`` uses it up."""

    typename: ClassVar[str] = "CalculatedOrder"
    original_order: Order | None = None
    lines: list[CalculatedLineItem] = field(default_factory=list)  # the order's lines
    added: list[CalculatedLineItem] = field(default_factory=list)
    committed: bool = False

    @property
    def subtotal_line_items_quantity(self) -> int:
        return sum(li.quantity for li in self.lines + self.added)

    @property
    def total_price(self) -> Decimal:
        return sum((li.price * li.quantity for li in self.lines + self.added), Decimal(0))

    def line(self, gid: str) -> CalculatedLineItem | None:
        return next((li for li in self.lines + self.added if li.id == gid), None)
