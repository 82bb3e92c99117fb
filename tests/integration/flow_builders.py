"""Precise retailer orders and hub shipments for the order/fulfillment flow tests.

The shopper and warehouse actors draw at random; these builders make exactly the order or
shipment a test is about (which SKUs, how many, at which location, paid or not, on hold,
cancelled, shipped in which parts with which tracking). They write the simulator's records
directly, under `store.lock`, and call `store.touch(...)` so `updated_at` and the search
index move as they do when Shopify itself changes a record: that is what the flows read.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from simulator.context import RequestContext, fo_visible
from simulator.factory import LineSpec, OrderSpec, cancel_order, create_order
from simulator.models import Fulfillment, FulfillmentOrder, Order, Product, ProductVariant
from simulator.mutations_fulfillment import apply_fulfillment
from simulator.scenario import _variant  # the scenario's own way to add a variant
from simulator.store import Store, utcnow
from simulator.versions import features_for
from sync.order_keys import source_key
from tests.fixtures.flows import FlowHarness

HUB = "hub"
OTHER = "other"
_numbers = itertools.count(1)
CARRIER_URLS = {
    "UPS": "https://www.ups.com/track?tracknum={}",
    "USPS": "https://tools.usps.com/go/TrackConfirmAction?tLabels={}",
    "FedEx": "https://www.fedex.com/fedextrack/?trknbr={}",
}


def tracking(carrier: str = "UPS", parcels: int = 1) -> list[dict[str, Any]]:
    """Tracking rows with numbers unique within the test session (one per parcel)."""
    rows = []
    for _ in range(parcels):
        number = f"{carrier[:2].upper()}T{next(_numbers):08d}"
        rows.append(
            {"company": carrier, "number": number, "url": CARRIER_URLS[carrier].format(number)}
        )
    return rows


def customer_address(**overrides: Any) -> dict[str, Any]:
    base = {
        "firstName": "Ada", "lastName": "Moss", "address1": "12 Garden Row", "city": "Denver",
        "provinceCode": "CO", "countryCode": "US", "zip": "80202", "phone": "+13035550100",
    }  # fmt: skip
    return {**base, **overrides}


def _context(store: Store, sim: Any, now: datetime | None = None) -> RequestContext:
    return RequestContext(
        store=store, ids=sim.ids, version="2025-01", features=features_for("2025-01"),
        base_url=sim.base_url, now=now or utcnow(),
    )  # fmt: skip


def _ship(
    sim: Any, store: Store, order: Order, units: Mapping[str, int],
    rows: list[dict[str, Any]], notify: bool, now: datetime | None,
) -> Fulfillment:  # fmt: skip
    """One fulfillment of exactly `units` (SKU -> quantity) on the order's open FOs."""
    with store.lock:
        plan: dict[str, tuple[FulfillmentOrder, list]] = {}
        for sku, wanted in units.items():
            need = wanted
            for fo in order.fulfillment_orders_list:
                if fo.status not in ("OPEN", "IN_PROGRESS"):
                    continue
                for foli in fo.line_items_list:
                    take = min(need, foli.remaining_quantity) if foli.sku == sku else 0
                    if take:
                        plan.setdefault(fo.id, (fo, []))[1].append((foli, take))
                        need -= take
            if need:
                raise AssertionError(f"{order.name}: cannot ship {wanted} x {sku}, {need} short")
        return apply_fulfillment(_context(store, sim, now), list(plan.values()), rows, notify)


@dataclass(frozen=True)
class Line:
    """One order line: `at` is HUB (the retailer's hub location), OTHER (its first other
    location) or a location GID."""

    sku: str
    quantity: int
    at: str = HUB


class RetailerShop:
    """One retailer's simulated store, as the flow tests shape it."""

    def __init__(self, flow: FlowHarness, key: str) -> None:
        self.flow, self.key = flow, key
        self.config = flow.registry.retailer(key)
        self.store = flow.sim.store(self.config.shop_domain)
        self.hub_store = flow.sim.store(flow.registry.hub.shop_domain)
        self.hub_location = self.store.locations[self.config.hub_location_id]
        self.other_locations = [
            loc for loc in self.store.locations.values() if loc.id != self.hub_location.id
        ]

    # -- catalogue -----------------------------------------------------------------------

    def skus(self, n: int, *, cost: bool | None = None, skip: int = 0) -> list[str]:
        """`n` SKUs sold exactly once by both this retailer and the hub; `cost` True/False
        keeps only hub variants with/without `custom.retailer_cost`."""
        mine = _single_variants(self.store)
        hub = _single_variants(self.hub_store)
        found = [
            sku for sku in sorted(mine.keys() & hub.keys())
            if cost is None or (hub[sku].metafield("retailer_cost", "custom") is not None) == cost
        ]  # fmt: skip
        if len(found) < skip + n:
            raise AssertionError(f"{self.key}: only {len(found)} shared SKUs (cost={cost})")
        return found[skip : skip + n]

    def hubless_sku(self) -> str:
        """A SKU this retailer sells and the hub does not (added when the scenario has none)."""
        hub = {v.sku for v in self.hub_store.variants.values()}
        for sku in sorted(_single_variants(self.store)):
            if sku not in hub:
                return sku
        sku = f"RET-{self.key.upper()[:6]}-ONLY"
        add_variant(self.store, sku, title=f"{self.key} exclusive")
        return sku

    # -- orders ----------------------------------------------------------------------------

    def order(
        self, *lines: Line, financial_status: str = "PAID", shipping: bool = True,
        cancelled: bool = False, age: timedelta = timedelta(minutes=10),
        created_at: datetime | None = None, ship_date: str | None = None, note: str | None = None,
    ) -> Order:  # fmt: skip
        """Place an order now (created `age` ago, or at `created_at`), FOs visible at once."""
        variants = _single_variants(self.store)
        when = (created_at or utcnow() - age).replace(microsecond=0)
        specs = [
            LineSpec(quantity=ln.quantity, variant=variants[ln.sku], location=self._where(ln.at))
            for ln in lines
        ]
        metafields = (
            [{"namespace": "custom", "key": "ship_date", "type": "date", "value": ship_date}]
            if ship_date else []
        )  # fmt: skip
        spec = OrderSpec(
            lines=specs, created_at=when, financial_status=financial_status, note=note,
            email="customer@example.com", shipping_address=customer_address() if shipping else None,
            billing_address=customer_address(), cancelled=cancelled, metafields=metafields,
            source_name="web",
        )  # fmt: skip
        with self.store.lock:
            order = create_order(self.store, self.flow.sim.ids, spec, fo_delay=0)
            self.store.touch(order, "order")
        return order

    def _where(self, at: str):
        if at == HUB:
            return self.hub_location
        if at == OTHER:
            return self.other_locations[0]
        return self.store.locations[at]

    def hub_fo(self, order: Order) -> FulfillmentOrder:
        return next(fo for fo in order.fulfillment_orders_list if fo.location is self.hub_location)

    def source_key(self, order: Order) -> str:
        return source_key(self.key, order.id)

    def _changed(self, order: Order) -> None:
        self.store.touch(order, "order", utcnow())

    def hold(self, order: Order) -> None:
        """Put the hub-location FO on hold (a merchant hold at the retailer)."""
        with self.store.lock:
            self.hub_fo(order).status = "ON_HOLD"
            self._changed(order)

    def release(self, order: Order) -> None:
        with self.store.lock:
            self.hub_fo(order).status = "OPEN"
            self._changed(order)

    def pay(self, order: Order) -> None:
        with self.store.lock:
            order.financial_status = "PAID"
            self._changed(order)

    def cancel(self, order: Order) -> None:
        """The retailer cancels the order (its FOs close with nothing left)."""
        with self.store.lock:
            cancel_order(order, utcnow())
            self._changed(order)

    def edit_quantity(self, order: Order, sku: str, quantity: int) -> None:
        """An order edit: the line's quantity (and what its FO line has left) changes."""
        with self.store.lock:
            line = next(li for li in order.line_items_list if li.sku == sku)
            delta = quantity - line.quantity
            line.quantity = quantity
            for fo in order.fulfillment_orders_list:
                for foli in fo.line_items_list:
                    if foli.line_item is line:
                        foli.total_quantity += delta
                        foli.remaining_quantity = max(0, foli.remaining_quantity + delta)
            self._changed(order)

    def fulfill_here(self, order: Order, units: Mapping[str, int]) -> Fulfillment:
        """The retailer ships some units itself (e.g. from the hub location's shelf)."""
        return _ship(self.flow.sim, self.store, order, units, tracking("USPS"), False, None)

    def set_fo_status(self, order: Order, status: str) -> None:
        """Close or cancel the hub-location FO without fulfilling it (F6)."""
        with self.store.lock:
            self.hub_fo(order).status = status
            self._changed(order)

    def move_fo(self, order: Order) -> None:
        """Move the hub-location FO to the retailer's other location (F6)."""
        with self.store.lock:
            fo = self.hub_fo(order)
            fo.location = self.other_locations[0]
            fo.updated_at = utcnow()
            self._changed(order)

    def state_of(self, order: Order) -> dict[str, Any]:
        """The order as the simulator's admin state shows it (plain JSON)."""
        return next(
            o for o in self.flow.sim.state(self.store.domain)["orders"] if o["id"] == order.id
        )


class HubShop:
    """The hub store: find the hub order made for a retailer order, ship it, fix SKUs."""

    def __init__(self, flow: FlowHarness) -> None:
        self.flow = flow
        self.store = flow.sim.store(flow.registry.hub.shop_domain)

    def orders_for(self, shop: RetailerShop, order: Order) -> list[Order]:
        key = shop.source_key(order)
        with self.store.lock:
            return [o for o in self.store.orders.values() if o.source_identifier == key]

    def order_for(self, shop: RetailerShop, order: Order) -> Order:
        found = self.orders_for(shop, order)
        assert len(found) == 1, f"{shop.source_key(order)}: {len(found)} hub orders"
        return found[0]

    def ship(
        self, hub_order: Order, units: Mapping[str, int],
        rows: list[dict[str, Any]] | None = None, *, notify: bool = True,
        now: datetime | None = None,
    ) -> Fulfillment:  # fmt: skip
        """The warehouse ships exactly `units` of a hub order in one parcel set."""
        deadline = time.monotonic() + 5
        while not fo_visible(hub_order):  # FOs of an orderCreate order appear after a delay
            assert time.monotonic() < deadline, f"{hub_order.name}: no fulfillment order yet"
            time.sleep(0.05)
        rows = tracking() if rows is None else rows
        return _ship(self.flow.sim, self.store, hub_order, units, rows, notify, now)

    def backdate(self, hub_order: Order, when: datetime) -> None:
        """Make the hub order look created (and last updated) at `when`."""
        with self.store.lock:
            hub_order.created_at = hub_order.processed_at = when
            for fo in hub_order.fulfillment_orders_list:
                fo.created_at = fo.updated_at = when
            self.store.touch(hub_order, "order", when)

    def add_variant(self, sku: str, *, retailer_cost: str | None = None) -> ProductVariant:
        """Put a SKU in the hub catalogue (the operator's fix for `sku_unknown`)."""
        return add_variant(self.store, sku, title=f"Hub {sku}", retailer_cost=retailer_cost)

    def duplicate_sku(self, sku: str) -> ProductVariant:
        """A second hub variant with an existing SKU: the SKU becomes ambiguous."""
        return add_variant(self.store, sku, title=f"Duplicate of {sku}")


def add_variant(
    store: Store, sku: str, *, title: str, retailer_cost: str | None = None, price: str = "9.50"
) -> ProductVariant:
    with store.lock:
        product = Product(id=store.ids.gid("Product"), title=title)
        store.products[product.id] = product
        store.add(product)
        raw: dict[str, Any] = {"sku": sku, "title": "Default Title", "price": price}
        if retailer_cost is not None:
            raw["retailer_cost"] = retailer_cost
        variant = _variant(store, product, raw, utcnow(), Decimal(1))
        store.touch(variant, "variant")
        store.touch(variant.inventory_item, "item")
    return variant


def _single_variants(store: Store) -> dict[str, ProductVariant]:
    """SKU -> variant for SKUs exactly one variant of the store carries."""
    by_sku: dict[str, list[ProductVariant]] = {}
    with store.lock:
        for variant in store.variants.values():
            if variant.sku:
                by_sku.setdefault(variant.sku, []).append(variant)
    return {sku: vs[0] for sku, vs in by_sku.items() if len(vs) == 1}


def units_of(fulfillment: Mapping[str, Any]) -> dict[str, int]:
    """SKU -> quantity of a fulfillment in the simulator's state view."""
    out: dict[str, int] = {}
    for line in fulfillment["line_items"]:
        out[line["sku"]] = out.get(line["sku"], 0) + line["quantity"]
    return out


def numbers_of(rows: Iterable[Mapping[str, Any]]) -> set[str]:
    return {t["number"] for t in rows if t.get("number")}


# -- reading what the flows did ---------------------------------------------------------------

#: The checks of `hub_orders` (the first three are blocking).
ORDER_CHECKS = (
    "hub_orders_are_unique",
    "eligible_orders_have_one_hub_order",
    "hub_orders_have_a_source",
    "hub_order_quantities_match_hub_location",
)


def calls(flow: FlowHarness, operation: str) -> int:
    """Shopify calls of one operation the harness's clients made so far."""
    return sum(1 for c in flow.recorder.calls if c.operation == operation)


def order_flags(flow: FlowHarness, retailer: str) -> set[tuple[str, str]]:
    """(retailer order GID, kind) rows of `shopsync.order_flags`."""
    rows = flow.connect().execute(
        "SELECT retailer_order_gid, kind FROM shopsync.order_flags WHERE retailer = %s",
        (retailer,),
    )
    return set(rows.fetchall())


def job_metadata(result: Any, asset: str) -> dict[str, Any]:
    """The materialization metadata (plain values) of `asset` in a Dagster run result."""
    for event in result.get_asset_materialization_events():
        if event.asset_key.path[-1] == asset:
            return {k: v.value for k, v in event.materialization.metadata.items()}
    raise AssertionError(f"{asset} was not materialized")
