"""Pacing by the server's bucket (FACTS.md §1): no THROTTLED in steady state."""

from __future__ import annotations

import json

import httpx
import pytest
from shopify_fakes import TOKEN_ENV, FakeClock, make_client

from resources.shopify.recorder import MemoryCallRecorder
from resources.shopify.throttle import Throttle, ThrottleStatus


class LeakyBucketShopify:
    """Shopify's bucket on the fake clock: refuses a request whose requested cost exceeds
    what is available, charges the requested cost up front and refunds the difference."""

    def __init__(self, clock: FakeClock, *, size: float, rate: float, requested: int, actual: int):
        self.clock, self.size, self.rate = clock, size, rate
        self.requested, self.actual = requested, actual
        self.available, self.at = size, clock.now
        self.throttled = 0
        self.served = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        now = self.clock.monotonic()
        self.available = min(self.size, self.available + (now - self.at) * self.rate)
        self.at = now
        status = {"maximumAvailable": self.size, "restoreRate": self.rate}
        if self.available < self.requested:
            self.throttled += 1
            status["currentlyAvailable"] = int(self.available)
            cost = {"requestedQueryCost": self.requested, "actualQueryCost": None}
            body = {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}]}
        else:
            self.available -= self.actual
            self.served += 1
            status["currentlyAvailable"] = int(self.available)
            cost = {"requestedQueryCost": self.requested, "actualQueryCost": self.actual}
            after = json.loads(request.content)["variables"].get("after")
            page = int(after or 0) + 1
            body = {
                "data": {
                    "productVariants": {
                        "nodes": [{"id": f"v{page}"}],
                        "pageInfo": {"hasNextPage": True, "endCursor": str(page)},
                    }
                }
            }
        body["extensions"] = {"cost": {**cost, "throttleStatus": status}}
        return httpx.Response(200, json=body)


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, "shpat_unit")


def test_steady_run_at_standard_plan_sees_no_throttled() -> None:
    """200 full pages (752 requested, 752 actual) at 100 pts/s with a 2,000 bucket."""
    clock, recorder = FakeClock(), MemoryCallRecorder()
    shopify = LeakyBucketShopify(clock, size=2000, rate=100, requested=752, actual=752)
    client = make_client(shopify, clock, recorder=recorder)
    nodes = client.paginate("products_variants_by_sku", {"query": "sku:*"}, ("productVariants",))
    for _, _node in zip(range(200), nodes, strict=False):
        pass
    assert shopify.throttled == 0
    assert not any(call.throttled for call in recorder.calls)
    # paced to the restore rate, not faster: 200 × 752 points minus the initial bucket
    elapsed = clock.now - 1000.0
    assert elapsed >= (200 * 752 - 2000) / 100


def test_a_second_process_draining_the_bucket_is_absorbed_with_one_exact_wait() -> None:
    clock = FakeClock()
    shopify = LeakyBucketShopify(clock, size=2000, rate=100, requested=752, actual=10)
    client = make_client(shopify, clock)
    client.execute("products_variants_by_sku", {"query": "sku:A"})
    shopify.available = 52.0  # someone else spent the bucket; we only learn it from the server
    client.execute("products_variants_by_sku", {"query": "sku:A"})
    assert shopify.throttled == 1
    assert clock.sleeps[-1] == pytest.approx((752 - 52) / 100 + client.throttle.margin_seconds)


def test_projection_refills_at_the_restore_rate_and_caps_at_the_bucket() -> None:
    clock = FakeClock()
    throttle = Throttle(clock, margin_seconds=0)
    assert throttle.wait_seconds(5000) == 0  # nothing known yet: go and learn
    throttle.update(ThrottleStatus(2000.0, 100.0, 100.0))
    assert throttle.wait_seconds(600) == pytest.approx(5.0)
    clock.sleep(3)
    assert throttle.projected_available() == pytest.approx(400.0)
    clock.sleep(1000)
    assert throttle.projected_available() == 2000.0


def test_acquire_reserves_points_for_concurrent_callers() -> None:
    clock = FakeClock()
    throttle = Throttle(clock, margin_seconds=0)
    throttle.update(ThrottleStatus(2000.0, 1000.0, 100.0))
    assert throttle.acquire(752) == 0
    assert throttle.acquire(752) == pytest.approx(5.04)  # 248 left, 504 missing at 100/s


def test_throttle_status_accepts_ints_and_floats() -> None:
    ext = {
        "cost": {
            "throttleStatus": {
                "maximumAvailable": 2000,
                "currentlyAvailable": 1988.5,
                "restoreRate": 100,
            }
        }
    }
    assert ThrottleStatus.from_extensions(ext) == ThrottleStatus(2000.0, 1988.5, 100.0)
    assert ThrottleStatus.from_extensions({}) is None
