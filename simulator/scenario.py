"""Load a scenario (YAML path or dict) into stores. ``simulator/README.md`` documents the format.

Everything is derived from ``settings.seed``: the same scenario always yields the same GIDs,
inventory and orders, so a test can name what it expects.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from simulator.catalog import generate
from simulator.factory import LineSpec, OrderSpec, create_order
from simulator.faults import FaultPlan
from simulator.models import (
    InventoryItem,
    InventoryLevel,
    Location,
    Metafield,
    Product,
    ProductVariant,
)
from simulator.oauth import AppCredentials, OAuthSettings, OAuthState
from simulator.orders_gen import generate_orders
from simulator.search_index import LaggedIndex
from simulator.store import IdAllocator, Store, utcnow
from simulator.throttle import LeakyBucket


def load_spec(scenario: str | Path | dict[str, Any]) -> dict[str, Any]:
    if isinstance(scenario, dict):
        return scenario
    return yaml.safe_load(Path(scenario).read_text())


def token_env_for(domain: str) -> str:
    return "SHOPSYNC_TOKEN_" + domain.split(".")[0].upper().replace("-", "_")


def build_stores(
    spec: dict[str, Any], *, ids: IdAllocator, time_scale: float, search_lag: float, seed: int
) -> dict[str, Store]:
    settings = spec.get("settings") or {}
    base_seed = int(settings.get("seed", 0)) + seed
    now = utcnow()
    catalog = list((spec.get("catalog") or {}).get("products") or [])
    if (spec.get("catalog") or {}).get("generate"):
        catalog += generate(spec["catalog"]["generate"], base_seed)
    app = AppCredentials.from_spec(spec)
    stores: dict[str, Store] = {}
    for n, raw in enumerate(spec.get("stores") or []):
        rng = random.Random(f"{base_seed}:{raw['domain']}")
        store = Store(
            domain=raw["domain"],
            name=raw.get("name") or raw["domain"].split(".")[0],
            plan=raw.get("plan", "Standard"),
            token=raw.get("token") or f"shpat_sim_{n}_{raw['domain'].split('.')[0]}",
            token_env=raw.get("token_env") or token_env_for(raw["domain"]),
            ids=ids,
            bucket=LeakyBucket.for_plan(raw.get("plan", "Standard"), time_scale=time_scale),
            index=LaggedIndex(search_lag),
            faults=FaultPlan(seed=base_seed + n),
            currency=raw.get("currency", "USD"),
            timezone=raw.get("timezone", "America/Denver"),
            email=raw.get("email", f"owner@{raw['domain']}"),
            role=raw.get("role", "retailer"),
            order_number=int(raw.get("order_number_start", 1001)),
            fo_delay_seconds=float(settings.get("fulfillment_order_delay_seconds", 0.2)),
            cancel_job_seconds=float(settings.get("cancel_job_seconds", 1.0)),
            inventory_updated_at_moves=bool(raw.get("inventory_updated_at_moves", True)),
            oauth=OAuthState(
                raw["domain"],
                # a store may know another app than the scenario's (another organisation's)
                AppCredentials.from_spec({**spec, "app": raw["app"]}) if raw.get("app") else app,
                OAuthSettings.from_spec(raw.get("oauth"), raw["domain"]),
            ),
        )
        if raw.get("scopes"):
            store.scopes = list(raw["scopes"])
        store.faults.update(**(raw.get("faults") or {}))
        _locations(store, raw.get("locations") or [{"name": "Main"}])
        _products(store, _carried(catalog, raw, rng) + list(raw.get("extra_products") or []), now)
        _duplicates(store, raw.get("duplicate_skus") or [], now)
        _inventory(store, raw, rng, now)
        for order in raw.get("orders") or []:
            _literal_order(store, order, now)
        if raw.get("order_generator"):
            for order_spec in generate_orders(store, raw["order_generator"], rng, now):
                create_order(store, ids, order_spec, fo_delay=0)
        stores[store.domain] = store
    return stores


def _locations(store: Store, raw_locations: list[dict[str, Any]]) -> None:
    for i, raw in enumerate(raw_locations):
        loc = Location(
            id=raw.get("id") or store.ids.gid("Location"),
            name=raw.get("name", f"Location {i + 1}"),
            is_primary=bool(raw.get("primary", i == 0)),
            is_active=bool(raw.get("active", True)),
            address=raw.get("address")
            or {"address1": "1 Main St", "city": "Denver", "countryCode": "US", "zip": "80202"},
        )
        store.locations[loc.id] = loc
        store.add(loc)


def _carried(catalog: list[dict[str, Any]], raw: dict[str, Any], rng: random.Random) -> list[Any]:
    carry = raw.get("products", "all")
    if carry == "all":
        return catalog
    if isinstance(carry, dict) and "sample" in carry:
        return [p for p in catalog if rng.random() < float(carry["sample"])]
    wanted = set(carry or [])
    return [
        {**p, "variants": [v for v in p["variants"] if v["sku"] in wanted]}
        for p in catalog
        if any(v["sku"] in wanted for v in p["variants"])
    ]


def _products(store: Store, products: list[dict[str, Any]], now: datetime) -> None:
    markup = Decimal(1)
    for raw in products:
        product = Product(
            id=store.ids.gid("Product"),
            title=raw["title"],
            vendor=raw.get("vendor", ""),
            handle=raw["title"].lower().replace(" ", "-"),
        )
        store.products[product.id] = product
        store.add(product)
        for rv in raw["variants"]:
            _variant(store, product, rv, now, markup)


def _variant(
    store: Store, product: Product, rv: dict[str, Any], now: datetime, markup: Decimal
) -> ProductVariant:
    item = InventoryItem(
        id=store.ids.gid("InventoryItem"), sku=rv["sku"], created_at=now, updated_at=now
    )
    variant = ProductVariant(
        id=store.ids.gid("ProductVariant"),
        sku=rv["sku"],
        title=rv.get("title", "Default Title"),
        price=Decimal(str(rv.get("price", "10.00"))) * markup,
        product=product,
        inventory_item=item,
        updated_at=now,
        barcode=rv.get("barcode"),
    )
    item.variant = variant
    if store.role == "hub" and rv.get("retailer_cost") is not None:
        variant.metafields_list.append(
            Metafield(
                id=store.ids.gid("Metafield"),
                namespace="custom",
                key="retailer_cost",
                type="number_decimal",
                value=str(rv["retailer_cost"]),
                created_at=now,
                updated_at=now,
            )
        )
    for mf in rv.get("metafields") or []:
        variant.metafields_list.append(
            Metafield(id=store.ids.gid("Metafield"), created_at=now, updated_at=now, **mf)
        )
    for record in (item, variant):
        store.add(record)
    store.variants[variant.id] = variant
    store.inventory_items[item.id] = item
    return variant


def _duplicates(store: Store, skus: list[str], now: datetime) -> None:
    """A second product carrying an existing SKU: the ambiguity retailers really have."""
    for sku in skus:
        product = Product(id=store.ids.gid("Product"), title=f"Duplicate of {sku}")
        store.products[product.id] = product
        store.add(product)
        _variant(store, product, {"sku": sku, "title": "Duplicate"}, now, Decimal(1))


def _inventory(store: Store, raw: dict[str, Any], rng: random.Random, now: datetime) -> None:
    spec = raw.get("inventory") or {}
    low, high = int(spec.get("min", 0)), int(spec.get("max", 50))
    coverage = spec.get("coverage") or {}
    for item in store.inventory_items.values():
        for i, loc in enumerate(store.locations.values()):
            share = float(coverage.get(loc.id, 1.0 if i == 0 else 0.5))
            if rng.random() >= share:
                continue
            qty = rng.randint(low, high)
            set_level(store, item, loc, qty, now)
    for lv in spec.get("levels") or []:
        items = [i for i in store.inventory_items.values() if i.sku == lv["sku"]]
        for item in items:
            level = set_level(
                store, item, store.locations[lv["location"]], int(lv["available"]), now
            )
            level.is_active = bool(lv.get("active", True))


def set_level(
    store: Store, item: InventoryItem, loc: Location, available: int, now: datetime
) -> InventoryLevel:
    level = item.levels.get(loc.id)
    if level is None:
        n = store.ids.next()
        level = InventoryLevel(
            id=f"gid://shopify/InventoryLevel/{n}?inventory_item_id={item.legacy_resource_id}",
            item=item,
            location=loc,
            created_at=now,
        )
        item.levels[loc.id] = level
        loc.levels[item.id] = level
        store.add(level)
    level.quantities_map.update({"available": available, "on_hand": available, "committed": 0})
    level.updated_at = now
    return level


def _literal_order(store: Store, raw: dict[str, Any], now: datetime) -> None:
    by_sku = {v.sku: v for v in store.variants.values()}
    lines = [
        LineSpec(
            quantity=int(line.get("quantity", 1)),
            variant=by_sku.get(line["sku"]),
            sku=line["sku"],
            title=line.get("title") or line["sku"],
            price=Decimal(str(line["price"])) if "price" in line else None,
            location=store.locations.get(line["location"]) if line.get("location") else None,
        )
        for line in raw["lines"]
    ]
    created = now - timedelta(hours=float(raw.get("hours_ago", 1)))
    create_order(
        store,
        store.ids,
        OrderSpec(
            lines=lines,
            created_at=created,
            financial_status=raw.get("financial_status", "PAID"),
            name=raw.get("name"),
            email=raw.get("email"),
            tags=list(raw.get("tags") or []),
            note=raw.get("note"),
            shipping_address=raw.get("shipping_address"),
            custom_attributes=raw.get("custom_attributes") or [],
            metafields=raw.get("metafields") or [],
            cancelled=bool(raw.get("cancelled")),
        ),
        fo_delay=0,
    )
