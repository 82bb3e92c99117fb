"""Shopify's leaky bucket, one per (app, store) pair (FACTS.md §1.1, §1.4–1.6).

A store's plan sets the restore rate; the bucket holds 20 × that (observed on every plan).
A query is throttled when its *requested* cost exceeds the points currently available; nothing
is consumed then. After execution the engine refunds ``requested - actual``.

Time scale. Benchmarks cannot wait real minutes for a bucket to refill, so ``time_scale``
multiplies the refill speed: with ``time_scale=10`` a Standard store regains 1,000 points per
real second. The reported ``restoreRate`` stays the plan's figure (100), so a client that does
the documented arithmetic — wait ``(requested - currentlyAvailable) / restoreRate`` seconds —
still computes valid numbers, in *simulated* seconds. To interpret them, a client divides its
waits by the same time scale (the simulator publishes it; the client's throttle takes it as
configuration). A client that does not know the scale is never wrong, only slower: after its
wait the bucket holds at least what it expected. ``seconds_until`` returns real seconds.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

__all__ = ["BUCKET_SIZE_FACTOR", "PLAN_RESTORE_RATES", "LeakyBucket", "restore_rate_for_plan"]

#: Points restored per second, by plan (newest official figures, FACTS.md §1.6). Keys are the
#: plan names a scenario may use; Shopify renamed "Shopify" to "Grow" in 2025.
PLAN_RESTORE_RATES: dict[str, float] = {
    "Basic": 100,
    "Standard": 100,
    "Grow": 100,
    "Advanced": 200,
    "Plus": 1000,
    "Shopify Plus": 1000,
    "Enterprise": 2000,
}
#: ``maximumAvailable = BUCKET_SIZE_FACTOR × restoreRate`` (observed 2,000/4,000/20,000).
BUCKET_SIZE_FACTOR = 20


def restore_rate_for_plan(plan: str) -> float:
    """The restore rate of a plan name, case-insensitively; errors list the known plans."""
    for name, rate in PLAN_RESTORE_RATES.items():
        if name.lower() == plan.strip().lower():
            return float(rate)
    known = ", ".join(PLAN_RESTORE_RATES)
    raise ValueError(f"unknown Shopify plan {plan!r}; use one of: {known}")


class LeakyBucket:
    """Thread-safe points bucket that refills continuously, starting full."""

    def __init__(
        self,
        restore_rate: float,
        maximum: float | None = None,
        time_scale: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if restore_rate <= 0 or time_scale <= 0:
            raise ValueError("restore_rate and time_scale must be positive")
        self.restore_rate = float(restore_rate)
        self.maximum = float(maximum if maximum is not None else BUCKET_SIZE_FACTOR * restore_rate)
        self.time_scale = float(time_scale)
        self._clock = clock
        self._lock = threading.Lock()
        self._available = self.maximum
        self._stamp = clock()

    @classmethod
    def for_plan(
        cls,
        plan: str,
        time_scale: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> LeakyBucket:
        return cls(restore_rate_for_plan(plan), time_scale=time_scale, clock=clock)

    def _refill(self) -> None:
        """Bring ``_available`` up to now; caller holds the lock."""
        now = self._clock()
        elapsed = max(0.0, now - self._stamp)
        self._stamp = now
        gained = elapsed * self.restore_rate * self.time_scale
        self._available = min(self.maximum, self._available + gained)

    def try_consume(self, requested: float) -> bool:
        """Take ``requested`` points if available; False (and nothing taken) when throttled."""
        with self._lock:
            self._refill()
            if requested > self._available:
                return False
            self._available -= requested
            return True

    def refund(self, amount: float) -> None:
        """Give back points (requested minus actual cost), never beyond the maximum."""
        if amount <= 0:
            return
        with self._lock:
            self._refill()
            self._available = min(self.maximum, self._available + amount)

    def reset(self, available: float | None = None) -> None:
        """Set the level (full by default): for tests and the admin endpoint."""
        with self._lock:
            self._stamp = self._clock()
            level = self.maximum if available is None else available
            self._available = max(0.0, min(self.maximum, float(level)))

    def available(self) -> float:
        with self._lock:
            self._refill()
            return self._available

    def status(self) -> dict[str, float | int]:
        """``throttleStatus`` as Shopify sends it: floats for the maximum and the rate, an int
        (floor) for the current level."""
        with self._lock:
            self._refill()
            return {
                "maximumAvailable": self.maximum,
                "currentlyAvailable": int(math.floor(self._available)),
                "restoreRate": self.restore_rate,
            }

    def seconds_until(self, requested: float) -> float:
        """Real seconds until ``requested`` points are available (0 when they are now);
        ``inf`` when the request can never fit in the bucket."""
        with self._lock:
            self._refill()
            deficit = requested - self._available
        if deficit <= 0:
            return 0.0
        if requested > self.maximum:
            return math.inf
        return deficit / (self.restore_rate * self.time_scale)
