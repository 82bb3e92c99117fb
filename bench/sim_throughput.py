"""Simulator throughput: requests per second for a 250-order page (prints JSON).

Usage: ``python bench/sim_throughput.py [--requests 200] [--threads 1 4]``. The bucket's
restore is sped up (time scale 1000) so the figure measures the simulator, not throttling.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from simulator import Simulator

DOMAIN = "bench.myshopify.com"
SCENARIO = {
    "settings": {"seed": 1},
    "catalog": {"generate": {"plants": 40, "seeds": 40}},
    "stores": [
        {
            "domain": DOMAIN,
            "token": "shpat_bench",
            "plan": "Plus",
            "locations": [{"id": "gid://shopify/Location/9001", "name": "Bench"}],
            "order_generator": {"days": 1, "per_day": 300, "lines": [1, 3]},
        }
    ],
}
QUERY = """query($after: String) { orders(first: 250, after: $after, sortKey: CREATED_AT) {
  nodes { id name createdAt updatedAt displayFinancialStatus displayFulfillmentStatus
          cancelledAt tags sourceIdentifier email }
  pageInfo { hasNextPage endCursor } } }"""


def _worker(url: str, count: int) -> list[float]:
    timings = []
    with httpx.Client(headers={"X-Shopify-Access-Token": "shpat_bench"}, timeout=30) as client:
        for _ in range(count):
            start = time.perf_counter()
            body = client.post(url, json={"query": QUERY}).json()
            timings.append(time.perf_counter() - start)
            assert len(body["data"]["orders"]["nodes"]) == 250, body.get("errors")
    return timings


def measure(requests: int, threads: int) -> dict[str, float]:
    with Simulator(SCENARIO, time_scale=1000.0) as sim:
        url = sim.url(DOMAIN, "2026-07")
        _worker(url, 3)  # warm up: schema build, first connection
        start = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            parts = list(pool.map(lambda _: _worker(url, requests // threads), range(threads)))
        elapsed = time.perf_counter() - start
    timings = [t for part in parts for t in part]
    return {
        "threads": threads,
        "requests": len(timings),
        "requests_per_second": round(len(timings) / elapsed, 1),
        "orders_per_second": round(250 * len(timings) / elapsed),
        "p50_ms": round(1000 * statistics.median(timings), 1),
        "p95_ms": round(1000 * sorted(timings)[int(0.95 * len(timings)) - 1], 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 4])
    args = parser.parse_args(argv)
    results = [measure(args.requests, n) for n in args.threads]
    json.dump(
        {"benchmark": "sim_throughput", "page": "orders(first: 250)", "results": results},
        sys.stdout,
        indent=2,
    )
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
