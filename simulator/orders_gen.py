"""Seeded order generation: the scenario's ``order_generator`` and the shopper actor.

The mix reproduces what the import flow must tell apart: paid orders at the hub location
(the bulk), unpaid ones, cancelled ones, lines with SKUs the hub lacks, lines at another
location of the retailer, and orders with no shipping address.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from simulator.factory import LineSpec, OrderSpec
from simulator.store import Store

FIRST = ("Ada", "Ben", "Cora", "Dev", "Elle", "Finn", "Gia", "Hal", "Ivy", "Jon", "Kai", "Lia")
LAST = ("Moss", "Fern", "Rowan", "Birch", "Hazel", "Reed", "Sage", "Alder", "Holly", "Ash")
CITIES = (
    ("Denver", "CO", "80202"),
    ("Austin", "TX", "73301"),
    ("Portland", "OR", "97201"),
    ("Boise", "ID", "83702"),
    ("Madison", "WI", "53703"),
    ("Tucson", "AZ", "85701"),
)
DEFAULT_MIX = {
    "unpaid": 0.1,
    "cancelled": 0.05,
    "hubless_sku": 0.05,
    "other_location": 0.1,
    "no_shipping_address": 0.04,
}


def address(rng: random.Random) -> dict[str, Any]:
    city, province, zip_code = rng.choice(CITIES)
    return {
        "firstName": rng.choice(FIRST),
        "lastName": rng.choice(LAST),
        "address1": f"{rng.randint(10, 9999)} {rng.choice(LAST)} St",
        "city": city,
        "provinceCode": province,
        "countryCode": "US",
        "zip": zip_code,
        "phone": f"+1555{rng.randint(1000000, 9999999)}",
    }


def one_order(
    store: Store, gen: dict[str, Any], rng: random.Random, created_at: datetime
) -> OrderSpec | None:
    """One order drawn from ``store``'s catalogue according to the generator spec."""
    mix = {**DEFAULT_MIX, **(gen.get("mix") or {})}
    hubless = set(gen.get("hubless_skus") or [])
    variants = [v for v in store.variants.values() if v.sku and v.sku not in hubless]
    exotic = [
        v
        for v in store.variants.values()
        if v.sku in hubless or (not hubless and (v.sku or "").startswith("RET-"))
    ]
    if not variants:
        return None
    locations = list(store.locations.values())
    low, high = gen.get("lines", [1, 3])
    picks = rng.sample(variants, k=min(len(variants), rng.randint(int(low), int(high))))
    lines = [
        LineSpec(quantity=rng.choice((1, 1, 1, 2, 3)), variant=v, location=locations[0])
        for v in picks
    ]
    if exotic and rng.random() < mix["hubless_sku"]:
        lines.append(LineSpec(quantity=1, variant=rng.choice(exotic), location=locations[0]))
    if len(locations) > 1 and rng.random() < mix["other_location"]:
        lines[-1].location = rng.choice(locations[1:])
    unpaid = rng.random() < mix["unpaid"]
    cancelled = rng.random() < mix["cancelled"]
    shipping = None if rng.random() < mix["no_shipping_address"] else address(rng)
    return OrderSpec(
        lines=lines,
        created_at=created_at,
        financial_status=rng.choice(("PENDING", "AUTHORIZED")) if unpaid else "PAID",
        email=f"{rng.choice(FIRST).lower()}{rng.randint(1, 999)}@example.com",
        shipping_address=shipping,
        billing_address=shipping,
        cancelled=cancelled,
        cancel_reason="CUSTOMER" if cancelled else None,
        source_name="web",
        custom_attributes=[
            {"key": "ship_date", "value": (created_at + timedelta(days=2)).date().isoformat()}
        ],
    )


def generate_orders(
    store: Store, gen: dict[str, Any], rng: random.Random, now: datetime
) -> list[OrderSpec]:
    """``days`` × ``per_day`` orders spread over the past days, oldest first."""
    days, per_day = float(gen.get("days", 3)), int(gen.get("per_day", 10))
    total = int(days * per_day)
    stamps = sorted(now - timedelta(seconds=rng.uniform(60, days * 86400)) for _ in range(total))
    specs = [one_order(store, gen, rng, ts.replace(microsecond=0)) for ts in stamps]
    return [s for s in specs if s is not None]
