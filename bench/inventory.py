"""Benchmark: one inventory sync, ours (delta cycle, full reconciliation) against the
per-SKU approach, on the same stores, measured side by side.

    .venv/bin/python -m bench.inventory            # 1k / 10k / 50k SKUs (tens of minutes)
    .venv/bin/python -m bench.inventory --quick    # 1k and 10k SKUs (a few minutes)

Per group (SKUs × retailers) a simulator runs in its own process (so the peak RSS of the
sync process is the sync's own) with a Standard-plan hub and retailers (2,000-point
bucket, 100 points/s), time-scaled by `--time-scale`. Every retailer carries every hub
SKU at its hub location. A first full sync (not measured) brings them in step; then, for
each changed fraction, a fresh set of that share of hub levels is changed before each
approach, so each has the same work:

- `delta`: our 5-minute cycle (`flows.inventory`): the hub read once by `updated_at`,
  each retailer's changed levels, the differences written in batches of 250;
- `full`: the same cycle as the hourly reconciliation (every level of every store, by
  pages, or by a bulk query above the registry's threshold);
- `per_sku`: a faithful re-implementation of the common approach: list the retailer's
  SKUs, then per SKU look it up in the hub by SKU search and in the retailer, write it
  alone if it differs, pausing 2 seconds after every 10 SKUs.

Per case: requests, cost points (hub and retailers apart), THROTTLED responses (as the
simulator counted them), wall time, unscaled time (what the run would take against the
real restore rate: the time not spent waiting for the bucket, plus the longest pacing wait
of any one store's client at real speed; the per-SKU pauses count at their real 2 s),
peak RSS of the group's process, and the floor: the fewest cost points Shopify's cost
model allows for what the case must read and write (`floor_query` names the shape), and
the least unscaled time those points take at 100 points/s after a full bucket.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import random
import resource
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import yaml

RESULTS = Path(__file__).with_name("results") / "inventory.json"
BUCKET, RESTORE = 2000, 100  # Standard plan (FACTS §1.6)
PAGE = 250
LEVEL_POINTS = 3  # per level or item row: the row, its item (or level), its quantities
WRITE_POINTS = 10  # one inventorySetQuantities call (FACTS §10.2: 10 actual + payload)
BULK_POINTS = 10 + 1  # bulkOperationRunQuery + one status poll
HUB_LOCATION = "gid://shopify/Location/1001"
PER_SKU_BATCH, PER_SKU_PAUSE = 10, 2.0
OVERLAP = 3  # seconds of delta-read overlap (the bench simulator has no search lag)


def _retailer_location(i: int) -> str:
    return f"gid://shopify/Location/{2001 + 10 * i}"


def scenario(skus: int, retailers: int) -> dict[str, Any]:
    plants = skus * 3 // 5 // 3
    seeds = (skus - plants * 3) // 2
    stores = [
        {"domain": "bench-hub.myshopify.com", "role": "hub", "plan": "Standard",
         "token": "shpat_bench_hub", "token_env": "SHOPSYNC_TOKEN_BENCH_HUB",
         "locations": [{"id": HUB_LOCATION, "name": "Warehouse"}],
         "inventory": {"min": 0, "max": 80}},
    ]  # fmt: skip
    for i in range(retailers):
        stores.append(
            {"domain": f"bench-r{i}.myshopify.com", "plan": "Standard",
             "token": f"shpat_bench_r{i}", "token_env": f"SHOPSYNC_TOKEN_BENCH_R{i}",
             "locations": [{"id": _retailer_location(i), "name": "Hub drop-ship"}],
             "inventory": {"min": 0, "max": 30}}
        )  # fmt: skip
    return {
        "settings": {"seed": 5, "fulfillment_order_delay_seconds": 0},
        "catalog": {"generate": {"plants": plants, "seeds": seeds, "retailer_cost": 1.0}},
        "stores": stores,
    }


def registry(spec: dict[str, Any]) -> dict[str, Any]:
    billing = {"company": "B", "address1": "1 St", "city": "X", "country_code": "US", "zip": "1"}
    hub, *shops = spec["stores"]
    return {
        "hub": {"key": "hub", "name": "Hub", "shop_domain": hub["domain"],
                "token_env": hub["token_env"], "location_id": HUB_LOCATION},
        "retailers": [
            {"key": f"r{i}", "name": f"R{i}", "shop_domain": s["domain"],
             "token_env": s["token_env"], "hub_location_id": _retailer_location(i),
             "billing_address": billing,
             "flows": {"orders": False, "fulfillments": False, "inventory": True}}
            for i, s in enumerate(shops)
        ],
        # The simulator's search does not lag here: a few seconds of overlap suffice.
        "inventory": {"delta_overlap_seconds": OVERLAP},
    }  # fmt: skip


class Sim:
    """The simulator in a child process, driven through its admin API."""

    def __init__(self, spec: dict[str, Any], folder: Path, time_scale: float) -> None:
        path = folder / "scenario.yaml"
        path.write_text(yaml.safe_dump(spec))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.base = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "simulator", "--scenario", str(path), "--port", str(port),
             "--time-scale", str(time_scale)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.http = httpx.Client(base_url=self.base, timeout=600)
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            try:
                self.http.get("/_sim/stores").raise_for_status()
                return
            except httpx.HTTPError:
                time.sleep(0.5)
        raise RuntimeError("the simulator did not start")

    def counters(self, domain: str) -> dict[str, Any]:
        return self.http.get(f"/_sim/stores/{domain}/counters").json()

    def full_buckets(self, domains: list[str]) -> None:
        for domain in domains:
            self.http.post(f"/_sim/stores/{domain}/bucket", json={})

    def set_levels(self, domain: str, levels: list[dict[str, Any]]) -> None:
        self.http.post(f"/_sim/stores/{domain}/inventory", json={"levels": levels})

    def state(self, domain: str) -> dict[str, Any]:
        return self.http.get(f"/_sim/stores/{domain}/state").json()

    def stop(self) -> None:
        self.http.close()
        self.proc.terminate()
        self.proc.wait(timeout=30)


def fresh_database(name: str) -> str:
    from resources.postgres import apply_migrations, database_url, with_database

    admin = database_url()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = with_database(admin, name)
    with psycopg.connect(url) as conn:
        apply_migrations(conn)
    return url


class Ours:
    """Our cycle, as `inventory_job` runs it: the hub once, then each step for every
    retailer (at most 4 at a time), through the real flow functions."""

    def __init__(self, shopify, registry_obj, db_url: str, time_scale: float) -> None:
        self.shopify, self.registry, self.db_url = shopify, registry_obj, db_url
        self.scale = time_scale
        self.waits: dict[str, float] = {}

    def _client(self, key: str, stack):
        from resources.shopify import ScaledClock

        client = stack.enter_context(self.shopify.get_client(key, clock=ScaledClock(self.scale)))
        return client

    def cycle(self, run_id: str, *, full: bool) -> None:
        from contextlib import ExitStack

        from flows.inventory import push_inventory, read_retailer_inventory, refresh_hub
        from flows.steps import FlowOptions, RetailerStep

        now = datetime.now(UTC)
        with ExitStack() as stack:
            hub = self._client("hub", stack)
            conn = stack.enter_context(psycopg.connect(self.db_url, autocommit=True))
            refresh_hub(hub, conn, self.registry, full=full, now=now)
            steps = []
            for retailer in self.registry.retailers:
                steps.append(
                    RetailerStep(
                        retailer=retailer, client=self._client(retailer.key, stack),
                        hub=hub, conn=stack.enter_context(
                            psycopg.connect(self.db_url, autocommit=True)),
                        windows=[], run_id=run_id, now=now,
                        options=FlowOptions(full_reconciliation=full), registry=self.registry,
                    )
                )  # fmt: skip
            with ThreadPoolExecutor(max_workers=4) as pool:
                list(pool.map(read_retailer_inventory, steps))
                list(pool.map(push_inventory, steps))
            self.waits = {"hub": hub.throttle.total_wait_seconds} | {
                s.key: s.client.throttle.total_wait_seconds for s in steps
            }


class PerSku:
    """The common approach, one SKU at a time (see the module docstring)."""

    def __init__(self, shopify, registry_obj, time_scale: float) -> None:
        self.shopify, self.registry, self.scale = shopify, registry_obj, time_scale
        self.waits: dict[str, float] = {}
        self.paused = 0.0  # the 2-second pauses, at real speed

    def cycle(self, run_id: str, *, full: bool = True) -> None:
        from contextlib import ExitStack

        from resources.shopify import InventorySet, ScaledClock, stable_key

        with ExitStack() as stack:
            clock = ScaledClock(self.scale)
            hub = stack.enter_context(self.shopify.get_client("hub", clock=clock))
            for retailer in self.registry.retailers:
                shop = stack.enter_context(self.shopify.get_client(retailer.key, clock=clock))
                location = retailer.hub_location_id
                skus = [
                    n["sku"]
                    for n in shop.paginate(
                        "catalogue_inventory_items", {"locationId": location}, ("inventoryItems",)
                    )
                    if n.get("sku")
                ]
                for i, sku in enumerate(skus):
                    theirs = _lookup(hub, sku, self.registry.hub.location_id)
                    mine = _lookup(shop, sku, location)
                    if theirs and mine and theirs[1] != mine[1]:
                        entry = InventorySet(mine[0], location, max(0, theirs[1]), mine[1])
                        shop.set_inventory([entry], idempotency_key=stable_key(run_id, sku))
                    if (i + 1) % PER_SKU_BATCH == 0:
                        clock.sleep(PER_SKU_PAUSE)
                        self.paused += PER_SKU_PAUSE
                self.waits[retailer.key] = shop.throttle.total_wait_seconds
            self.waits["hub"] = hub.throttle.total_wait_seconds


def _lookup(client, sku: str, location: str) -> tuple[str, int] | None:
    """(inventory item, available at `location`) of the variant with exactly `sku`."""
    data = client.execute(
        "catalogue_variants_inventory", {"first": 1, "locationId": location,
                                         "query": f'sku:"{sku}"'}
    )  # fmt: skip
    for node in (data.get("productVariants") or {}).get("nodes") or []:
        item = node.get("inventoryItem") or {}
        level = item.get("inventoryLevel")
        if node.get("sku") == sku and level:
            return item["id"], int(level["quantities"][0]["quantity"])
    return None


def _pages(rows: int) -> int:
    return max(1, math.ceil(rows / PAGE))


def floor(skus: int, changed: int, retailers: int, approach: str, bulk_threshold: int):
    """(cost points, unscaled seconds, query shape) of the least the case allows."""
    writes = retailers * math.ceil(changed / PAGE) * WRITE_POINTS
    if approach == "delta":
        hub = _pages(changed) * 3 + changed * LEVEL_POINTS
        each = 3  # a retailer's delta read that finds nothing changed there
        shape = (
            "hub: Location.inventoryLevels(query: updated_at) pages of 250 (3 + 3/level); "
            "each retailer: one empty delta page (3); writes: inventorySetQuantities of 250 "
            "(10 per call)"
        )
    elif skus > bulk_threshold:
        hub = each = BULK_POINTS
        shape = (
            "every store: one bulk query of inventoryItems { inventoryLevel(locationId) } "
            "(10 + one poll); writes: inventorySetQuantities of 250 (10 per call)"
        )
    else:
        hub = each = _pages(skus) * 2 + skus * LEVEL_POINTS
        shape = (
            "every store: inventoryItems { inventoryLevel(locationId) } pages of 250 "
            "(2 + 3/item); writes: inventorySetQuantities of 250 (10 per call)"
        )
    per_retailer = each + math.ceil(changed / PAGE) * WRITE_POINTS
    points = hub + retailers * each + writes
    seconds = max(max(0, hub - BUCKET), max(0, per_retailer - BUCKET)) / RESTORE
    return points, round(seconds, 2), shape


def run_group(skus: int, retailers: int, fractions: list[float], args, out) -> None:
    """One simulator and database: setup sync, then every fraction × approach."""
    os.environ["SHOPSYNC_LOG_LEVEL"] = "WARNING"
    from resources.registry import RegistryResource, parse_registry
    from resources.shopify import ShopifyResource

    folder = Path(tempfile.mkdtemp(prefix="bench-inventory-"))
    spec = scenario(skus, retailers)
    raw = registry(spec)
    (folder / "registry.yaml").write_text(yaml.safe_dump(raw))
    reg = parse_registry(raw, folder / "registry.yaml")
    for store in spec["stores"]:
        os.environ[store["token_env"]] = store["token"]
    sim = Sim(spec, folder, args.time_scale)
    os.environ["SHOPSYNC_SHOPIFY_BASE_URL"] = sim.base
    shopify = ShopifyResource(
        registry=RegistryResource(path=str(folder / "registry.yaml")), retry_deadline_seconds=900
    )
    db = fresh_database(f"bench_inventory_{skus}_{retailers}")
    domains = [s["domain"] for s in spec["stores"]]
    ours = Ours(shopify, reg, db, args.time_scale)
    try:
        ours.cycle("setup", full=True)  # everything in step, then a delta that reads the
        time.sleep(OVERLAP + 1)  # echo of those writes, so each measured delta starts clean
        ours.cycle("setup-delta", full=False)
        hub_skus = sorted(
            r["sku"] for r in sim.state(domains[0])["inventory"] if r["location_id"] == HUB_LOCATION
        )
        rng = random.Random(skus * 7 + retailers)
        for fraction in fractions:
            changed = max(1, round(skus * fraction))
            for approach in ("delta", "full", "per_sku"):
                if approach == "per_sku" and skus * retailers > args.per_sku_max:
                    out.append(_skipped(skus, fraction, retailers, args.per_sku_max))
                    continue
                time.sleep(OVERLAP + 1)  # what came before is older than the delta's overlap
                picked = rng.sample(hub_skus, changed)
                sim.set_levels(domains[0], [
                    {"sku": s, "location": HUB_LOCATION, "available": rng.randint(81, 400)}
                    for s in picked
                ])  # fmt: skip
                runner = ours if approach != "per_sku" else PerSku(shopify, reg, args.time_scale)
                out.append(
                    _measure(sim, domains, runner, approach, skus, fraction, retailers, changed,
                             args, reg.inventory.bulk_threshold)
                )  # fmt: skip
                print(json.dumps(out[-1]), flush=True)
    finally:
        sim.stop()


def _skipped(skus, fraction, retailers, cap) -> dict[str, Any]:
    return {
        "skus": skus, "changed_fraction": fraction, "retailers": retailers,
        "approach": "per_sku", "skipped": f"SKUs × retailers above --per-sku-max {cap} "
        "(2 look-ups per SKU per retailer; raise it to run)",
    }  # fmt: skip


def _measure(sim, domains, runner, approach, skus, fraction, retailers, changed, args, bulk):
    sim.full_buckets(domains)
    before = {d: sim.counters(d) for d in domains}
    started = time.perf_counter()
    runner.cycle(f"{approach}-{fraction}", full=approach == "full")
    wall = time.perf_counter() - started
    after = {d: sim.counters(d) for d in domains}
    delta = {
        d: {k: after[d][k] - before[d][k] for k in ("requests", "cost_points", "throttled")}
        for d in domains
    }
    waited = max(runner.waits.values(), default=0.0)  # pacing, in real-rate seconds
    paused = runner.paused if isinstance(runner, PerSku) else 0.0
    work = max(0.0, wall - (waited + paused) / args.time_scale)
    busiest = max(max(0.0, v["cost_points"] - BUCKET) / RESTORE for v in delta.values())
    points, seconds, shape = floor(skus, changed, retailers, approach, bulk)
    cost = sum(v["cost_points"] for v in delta.values())
    return {
        "skus": skus,
        "changed_fraction": fraction,
        "retailers": retailers,
        "approach": approach,
        "requests": sum(v["requests"] for v in delta.values()),
        "cost_points": round(cost),
        "hub_cost_points": round(delta[domains[0]]["cost_points"]),
        "throttled": sum(v["throttled"] for v in delta.values()),
        "wall_s": round(wall, 2),
        "unscaled_s": round(max(work, busiest) + paused, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "floor_cost_points": points,
        "floor_unscaled_s": seconds,
        "floor_query": shape,
    }


def _group(skus, retailers, fractions, args, queue) -> None:
    out: list[dict[str, Any]] = []
    try:
        run_group(skus, retailers, fractions, args, out)
    finally:
        queue.put(out)


def table(results: list[dict[str, Any]]) -> str:
    """The results as the markdown table of bench/README.md."""
    head = (
        "| SKUs | changed | retailers | approach | requests | cost points (hub) | THROTTLED "
        "| wall s | unscaled s | peak RSS MB | floor points | floor s | cost / floor |\n"
        "|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    rows = [head]
    for r in results:
        if "skipped" in r:
            rows.append(
                f"| {r['skus']:,} | {r['changed_fraction']:.0%} | {r['retailers']} "
                f"| {r['approach']} | skipped: {r['skipped']} |||||||||"
            )
            continue
        ratio = r["cost_points"] / r["floor_cost_points"] if r["floor_cost_points"] else 0
        rows.append(
            f"| {r['skus']:,} | {r['changed_fraction']:.0%} | {r['retailers']} | {r['approach']} "
            f"| {r['requests']:,} | {r['cost_points']:,} ({r['hub_cost_points']:,}) "
            f"| {r['throttled']} | {r['wall_s']} | {r['unscaled_s']} | {r['peak_rss_mb']} "
            f"| {r['floor_cost_points']:,} | {r['floor_unscaled_s']} | {ratio:.2f} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 and 10,000 SKUs only")
    parser.add_argument("--time-scale", type=float, default=50.0)
    parser.add_argument(
        "--per-sku-max", type=int, default=20_000, help="skip per_sku above SKUs × retailers"
    )
    parser.add_argument("--sizes", help="comma-separated SKU counts (instead of the cases)")
    parser.add_argument("--retailers", default="1,4", help="comma-separated retailer counts")
    parser.add_argument("--output", default=str(RESULTS))
    parser.add_argument("--table", action="store_true", help="print --output as markdown")
    args = parser.parse_args(argv)
    if args.table:
        print(table(json.loads(Path(args.output).read_text())))
        return 0
    sizes = [1000, 10_000] if args.quick else [1000, 10_000, 50_000]
    if args.sizes:
        sizes = [int(n) for n in args.sizes.split(",")]
    results: list[dict[str, Any]] = []
    context = multiprocessing.get_context("spawn")
    for skus in sizes:
        for retailers in [int(n) for n in args.retailers.split(",")]:
            queue = context.Queue()
            proc = context.Process(target=_group, args=(skus, retailers, [0.02, 0.30], args, queue))
            proc.start()
            results += queue.get()
            proc.join()
    Path(args.output).write_text(json.dumps(results, indent=1) + "\n")
    print(table(results))
    print(f"wrote {args.output}: {len(results)} cases")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
