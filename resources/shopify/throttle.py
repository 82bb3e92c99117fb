"""Client-side pacing from the server's own leaky-bucket figures.

Shopify refuses a query whose *requested* cost exceeds the points currently available
(FACTS.md §1.1). So before each call we project the bucket from the last `throttleStatus`
(`currentlyAvailable` + `restoreRate` × elapsed, capped at `maximumAvailable`) and sleep
just long enough to cover the next call's requested cost. Nothing but the server's figure
is shared between processes: each process re-reads it from every response, so several
runs on one store converge on the same bucket without talking to each other.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol


class Clock(Protocol):
    def monotonic(self) -> float: ...
    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """Wall clock; `ScaledClock` divides sleeps for a time-scaled simulator."""

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class ScaledClock:
    """A clock running `scale` times faster than real time (matches a time-scaled simulator)."""

    def __init__(self, scale: float) -> None:
        if scale <= 0:
            raise ValueError("scale must be positive")
        self.scale = scale

    def monotonic(self) -> float:
        return time.monotonic() * self.scale

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds / self.scale)


@dataclass(frozen=True)
class ThrottleStatus:
    maximum_available: float
    currently_available: float
    restore_rate: float

    @classmethod
    def from_extensions(cls, extensions: dict[str, Any] | None) -> ThrottleStatus | None:
        """Parse `extensions.cost.throttleStatus`, accepting ints or floats (FACTS.md §1.4)."""
        status = ((extensions or {}).get("cost") or {}).get("throttleStatus")
        if not status:
            return None
        return cls(
            maximum_available=float(status["maximumAvailable"]),
            currently_available=float(status["currentlyAvailable"]),
            restore_rate=float(status["restoreRate"]),
        )


class Throttle:
    """Per-store pacing. Thread-safe: concurrent callers reserve points under a lock."""

    def __init__(self, clock: Clock | None = None, margin_seconds: float = 0.05) -> None:
        self.clock = clock or SystemClock()
        self.margin_seconds = margin_seconds
        self._status: ThrottleStatus | None = None
        self._available = 0.0
        self._observed_at = 0.0
        self._lock = threading.Lock()
        self.total_wait_seconds = 0.0

    @property
    def status(self) -> ThrottleStatus | None:
        """The last figure the server reported (None before the first response)."""
        return self._status

    def projected_available(self) -> float | None:
        if self._status is None:
            return None
        elapsed = max(0.0, self.clock.monotonic() - self._observed_at)
        refill = self._available + elapsed * self._status.restore_rate
        return min(self._status.maximum_available, refill)

    def wait_seconds(self, cost: float) -> float:
        """How long to wait before a call of `cost` requested points can run (0 if now)."""
        available = self.projected_available()
        if available is None or self._status is None or available >= cost:
            return 0.0
        cost = min(cost, self._status.maximum_available)
        return (cost - available) / self._status.restore_rate + self.margin_seconds

    def acquire(self, cost: float) -> float:
        """Block until `cost` points are projected available, then reserve them locally."""
        with self._lock:
            wait = self.wait_seconds(cost)
            if wait > 0:
                self.clock.sleep(wait)
                self.total_wait_seconds += wait
            available = self.projected_available()
            if available is not None:
                self._available = available - cost
                self._observed_at = self.clock.monotonic()
            return wait

    def update(self, status: ThrottleStatus | None) -> None:
        """Adopt the server's figure from a response: it is the only truth there is."""
        if status is None:
            return
        with self._lock:
            self._status = status
            self._available = status.currently_available
            self._observed_at = self.clock.monotonic()

    def throttled_wait(self, requested: float, status: ThrottleStatus | None) -> float:
        """After THROTTLED: exactly `(requested − available) / restoreRate` (FACTS.md §6.3)."""
        self.update(status)
        if status is None or status.restore_rate <= 0:
            return 1.0
        deficit = max(0.0, requested - status.currently_available)
        return deficit / status.restore_rate + self.margin_seconds
