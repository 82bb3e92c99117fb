"""The leaky bucket (FACTS.md §1.1, §1.4–1.6), driven by a fake clock."""

from __future__ import annotations

import math
import threading

import pytest

from simulator.throttle import PLAN_RESTORE_RATES, LeakyBucket, restore_rate_for_plan


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_bucket_is_twenty_times_the_restore_rate_and_starts_full(clock):
    bucket = LeakyBucket(100, clock=clock)
    assert bucket.status() == {
        "maximumAvailable": 2000.0,
        "currentlyAvailable": 2000,
        "restoreRate": 100.0,
    }


def test_status_types_match_shopify(clock):
    status = LeakyBucket(200, clock=clock).status()
    assert isinstance(status["maximumAvailable"], float)
    assert isinstance(status["restoreRate"], float)
    assert isinstance(status["currentlyAvailable"], int)


@pytest.mark.parametrize(
    ("plan", "rate", "maximum"),
    [("Standard", 100, 2000), ("Advanced", 200, 4000), ("Shopify Plus", 1000, 20000)],
)
def test_plans(plan, rate, maximum, clock):
    bucket = LeakyBucket.for_plan(plan, clock=clock)
    assert bucket.status()["restoreRate"] == rate
    assert bucket.status()["maximumAvailable"] == maximum
    assert PLAN_RESTORE_RATES["Enterprise"] == 2000


def test_unknown_plan_names_the_known_ones():
    with pytest.raises(ValueError, match="Advanced"):
        restore_rate_for_plan("Platinum")
    assert restore_rate_for_plan("advanced") == 200


def test_throttled_request_consumes_nothing(clock):
    bucket = LeakyBucket(100, clock=clock)
    assert bucket.try_consume(1990)
    assert bucket.status()["currentlyAvailable"] == 10
    assert not bucket.try_consume(11)
    assert bucket.status()["currentlyAvailable"] == 10
    assert bucket.try_consume(10)
    assert bucket.status()["currentlyAvailable"] == 0


def test_refill_is_continuous_and_capped(clock):
    bucket = LeakyBucket(100, clock=clock)
    bucket.try_consume(2000)
    clock.advance(0.5)
    assert bucket.status()["currentlyAvailable"] == 50
    clock.advance(1000)
    assert bucket.status()["currentlyAvailable"] == 2000


def test_refund_returns_points_but_never_beyond_the_maximum(clock):
    bucket = LeakyBucket(100, clock=clock)
    bucket.try_consume(252)
    bucket.refund(252 - 12)
    assert bucket.status()["currentlyAvailable"] == 2000 - 12
    bucket.refund(500)
    assert bucket.status()["currentlyAvailable"] == 2000


def test_currently_available_is_floored(clock):
    bucket = LeakyBucket(100, clock=clock)
    bucket.try_consume(2000)
    clock.advance(0.019)
    assert bucket.status()["currentlyAvailable"] == 1
    assert bucket.available() == pytest.approx(1.9)


def test_seconds_until(clock):
    bucket = LeakyBucket(100, clock=clock)
    assert bucket.seconds_until(500) == 0.0
    bucket.try_consume(2000)
    assert bucket.seconds_until(250) == pytest.approx(2.5)
    assert math.isinf(bucket.seconds_until(2001))


def test_time_scale_speeds_refill_but_reports_the_plan_rate(clock):
    bucket = LeakyBucket(100, time_scale=10, clock=clock)
    bucket.try_consume(2000)
    assert bucket.status()["restoreRate"] == 100.0
    assert bucket.seconds_until(1000) == pytest.approx(1.0)  # real seconds
    clock.advance(1.0)
    assert bucket.status()["currentlyAvailable"] == 1000


def test_reset(clock):
    bucket = LeakyBucket(100, clock=clock)
    bucket.reset(5)
    assert bucket.status()["currentlyAvailable"] == 5
    bucket.reset()
    assert bucket.status()["currentlyAvailable"] == 2000


def test_rejects_nonsense():
    with pytest.raises(ValueError):
        LeakyBucket(0)
    with pytest.raises(ValueError):
        LeakyBucket(100, time_scale=0)


def test_concurrent_consumers_never_overdraw(clock):
    """The clock stands still, so exactly 2000 / 7 requests can succeed, whatever the threads."""
    bucket = LeakyBucket(100, clock=clock)
    wins: list[bool] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(100):
            ok = bucket.try_consume(7)
            with lock:
                wins.append(ok)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(wins) == 2000 // 7
    assert bucket.status()["currentlyAvailable"] == 2000 - 7 * (2000 // 7)
