"""Benchmark: read 10,000 variants with their `available` level at one location.

Runs the real `ShopifyClient` against the simulator (Standard plan: 2,000-point bucket,
100 points/s, time-scaled so a run takes seconds) and prints JSON: requests, cost points,
wall and simulated time, THROTTLED count, and the minimum the cost model allows, with the
arithmetic. Two documents are measured: the inventory-item read (3 points per row) and the
variant read (4 points per row, page 240 to stay under the 1,000-point cap).

    .venv/bin/python bench/client_catalogue_read.py [--variants 10000] [--time-scale 10]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
import time
from pathlib import Path

import yaml

from resources.registry import RegistryResource
from resources.shopify import MemoryCallRecorder, ScaledClock, ShopifyResource, load_operation
from simulator import Simulator

DOMAIN = "bench-retailer.myshopify.com"
LOCATION = "gid://shopify/Location/7001"
TOKEN_ENV = "SHOPSYNC_TOKEN_BENCH_RETAILER"  # noqa: S105 (a variable name)
BUCKET, RESTORE, CAP = 2000, 100, 1000  # Standard plan (FACTS.md §1.6), single-query cap (§1.3)
READS = {  # document -> (connection path, cost per row: objects per node)
    "catalogue_inventory_items": (("inventoryItems",), 3),
    "catalogue_variants_inventory": (("productVariants",), 4),
}


def scenario(variants: int) -> dict:
    plants = variants * 3 // 5 // 3  # 3 sizes per plant, 2 per seed: 60 % / 40 %
    seeds = (variants - plants * 3) // 2
    return {
        "settings": {"seed": 11},
        "catalog": {"generate": {"plants": plants, "seeds": seeds}},
        "stores": [
            {"domain": "bench-hub.myshopify.com", "role": "hub", "plan": "Advanced",
             "token": "shpat_bench_hub", "token_env": "SHOPSYNC_TOKEN_BENCH_HUB",
             "products": []},
            {"domain": DOMAIN, "plan": "Standard", "token": "shpat_bench", "token_env": TOKEN_ENV,
             "locations": [{"id": LOCATION, "name": "Hub drop-ship"}],
             "inventory": {"coverage": {LOCATION: 1.0}}},
        ],
    }  # fmt: skip


def registry(folder: Path) -> Path:
    billing = {"company": "B", "address1": "1 St", "city": "X", "country_code": "US", "zip": "1"}
    data = {
        "hub": {"key": "hub", "name": "Hub", "shop_domain": "bench-hub.myshopify.com",
                "token_env": "SHOPSYNC_TOKEN_BENCH_HUB", "location_id": "gid://shopify/Location/1"},
        "retailers": [{"key": "bench", "name": "Bench", "shop_domain": DOMAIN,
                       "token_env": TOKEN_ENV, "hub_location_id": LOCATION,
                       "billing_address": billing}],
    }  # fmt: skip
    path = folder / "registry.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def minimum(rows: int, per_row: int) -> dict:
    """The cost model's floor: the biggest page under the cap, every row paid once."""
    page = min(250, (CAP - 2) // per_row)
    pages = math.ceil(rows / page)
    points = pages * 2 + rows * per_row
    return {
        "page_size": page,
        "requests": pages,
        "actual_points": points,
        "simulated_seconds": max(0.0, (points - BUCKET) / RESTORE),
        "arithmetic": (
            f"page = min(250, floor(({CAP} - 2) / {per_row})) = {page}; requests = "
            f"ceil({rows} / {page}) = {pages}; points = {pages} x 2 + {rows} x {per_row} = "
            f"{points}; time >= ({points} - {BUCKET} bucket) / {RESTORE} pts/s"
        ),
    }


def measure(sim: Simulator, resource: ShopifyResource, operation: str, scale: float) -> dict:
    path, per_row = READS[operation]
    store = sim.store(DOMAIN)
    store.bucket.reset()
    before = sim.counters(DOMAIN)
    recorder = MemoryCallRecorder()
    started = time.perf_counter()
    with resource.get_client("bench", recorder=recorder, clock=ScaledClock(scale)) as client:
        rows = list(client.paginate(operation, {"locationId": LOCATION}, path))
        waited = client.throttle.total_wait_seconds
    wall = time.perf_counter() - started
    after = sim.counters(DOMAIN)
    with_level = sum(
        1
        for r in rows
        if (r.get("inventoryLevel") or r.get("inventoryItem", {}).get("inventoryLevel"))
    )
    return {
        "operation": operation,
        "page_size": load_operation(operation).page_size,
        "rows": len(rows),
        "rows_with_level": with_level,
        "requests": len(recorder.calls),
        "requested_points": sum(c.requested_cost or 0 for c in recorder.calls),
        "actual_points": sum(c.actual_cost or 0 for c in recorder.calls),
        "simulator_cost_points": after["cost_points"] - before["cost_points"],
        "throttled": after["throttled"] - before["throttled"],
        "retries": sum(c.retries for c in recorder.calls),
        "wall_seconds": round(wall, 2),
        "simulated_seconds": round(wall * scale, 1),
        "client_pacing_wait_simulated_seconds": round(waited, 1),
        "minimum": minimum(len(rows), per_row),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", type=int, default=10_000)
    parser.add_argument("--time-scale", type=float, default=10.0)
    args = parser.parse_args()
    started = time.perf_counter()
    sim = Simulator(scenario(args.variants), time_scale=args.time_scale)
    build_seconds = time.perf_counter() - started
    base = sim.start()
    os.environ[TOKEN_ENV] = "shpat_bench"
    try:
        with tempfile.TemporaryDirectory() as folder:
            registry_file = RegistryResource(path=str(registry(Path(folder))))
            resource = ShopifyResource(registry=registry_file, base_url=base, api_version="2025-01")
            results = [measure(sim, resource, op, args.time_scale) for op in READS]
    finally:
        sim.stop()
    report = {
        "benchmark": "client_catalogue_read",
        "plan": "Standard (bucket 2000, restore 100/s)",
        "time_scale": args.time_scale,
        "variants_in_store": len(sim.store(DOMAIN).variants),
        "simulator_build_seconds": round(build_seconds, 2),
        "results": results,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
