"""A search index that trails writes, as Shopify's does.

Queries with a ``query:`` argument read *indexed* attributes; reads without one read the live
records. With ``lag_seconds`` > 0 every write is recorded as a timestamped snapshot and a query
sees, for each record, the newest snapshot at least ``lag_seconds`` old: a brand-new record is
invisible to search until then, and an updated one still matches its old values.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

Attrs = dict[str, Any]


class LaggedIndex:
    def __init__(self, lag_seconds: float = 0.0, clock: Callable[[], float] = time.monotonic):
        self.lag_seconds = lag_seconds
        self._clock = clock
        self._history: dict[tuple[str, str], list[tuple[float, Attrs]]] = {}
        self._lock = threading.Lock()

    def seed(self, kind: str, gid: str, attrs: Attrs) -> None:
        """Index a record that existed before the simulator started (visible at once)."""
        if self.lag_seconds > 0:
            with self._lock:
                self._history[(kind, gid)] = [(float("-inf"), attrs)]

    def record(self, kind: str, gid: str, attrs: Attrs, when: float | None = None) -> None:
        if self.lag_seconds <= 0:
            return
        now = self._clock() if when is None else when
        cutoff = now - self.lag_seconds
        with self._lock:
            hist = self._history.setdefault((kind, gid), [])
            hist.append((now, attrs))
            # keep the newest snapshot older than the cutoff plus everything newer
            older = [i for i, (t, _) in enumerate(hist) if t <= cutoff]
            if len(older) > 1:
                del hist[: older[-1]]

    def view(self, kind: str, gid: str, live: Callable[[], Attrs]) -> Attrs | None:
        """What search sees for a record now, or None if it is not indexed yet."""
        if self.lag_seconds <= 0:
            return live()
        cutoff = self._clock() - self.lag_seconds
        with self._lock:
            hist = self._history.get((kind, gid))
            if not hist:
                return live()
            seen = None
            for t, attrs in hist:
                if t <= cutoff:
                    seen = attrs
            return seen
