"""Fault injection per store: seeded, adjustable at run time, counted by kind.

Two moments matter. *Before* execution a request may fail with an HTTP error, hang past the
client's timeout, or lose its connection: nothing was applied. *After* a mutation committed,
``lose_response_after_commit`` throws the answer away (a 502 or a dropped connection): the
client cannot know the change happened, which is the failure every ledger must survive.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field

PRE_KINDS = ("http_500", "http_502", "http_503", "http_429", "timeout", "reset")
POST_KINDS = ("lose_response_after_commit",)
KINDS = PRE_KINDS + POST_KINDS
#: Events armed for the next N times they can happen (a count, not a rate):
#: - ``sell_before_inventory_write``: a shopper buys one unit of the first entry's item at
#:   its location just before an ``inventorySetQuantities`` applies (FAULTS I1);
#: - ``idempotency_concurrent_request``: the keyed write answers
#:   ``IDEMPOTENCY_CONCURRENT_REQUEST`` and applies nothing (retry later, same key);
#: - ``idempotency_previous_attempt_failed``: the key is poisoned: it answers
#:   ``IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED`` from now on (retry with a new key).
ARMED_KINDS = (
    "sell_before_inventory_write",
    "idempotency_concurrent_request",
    "idempotency_previous_attempt_failed",
)


@dataclass
class FaultPlan:
    """Rates in [0, 1] per kind. ``only_fields`` limits faults to requests touching those root
    fields (e.g. ``{"orderCreate"}``); ``max_faults`` stops injecting after that many."""

    rates: dict[str, float] = field(default_factory=dict)
    timeout_seconds: float = 35.0
    only_fields: set[str] | None = None
    max_faults: int | None = None
    seed: int = 0
    injected: int = 0
    #: Outcome forced on the next bulk operations: FAILED, TIMEOUT (partial data) or NO_URL.
    bulk_outcome: str | None = None
    armed: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()

    def update(self, **settings: object) -> None:
        """Change rates/settings at run time; unknown names are a programming error."""
        with self._lock:
            for name, value in settings.items():
                if name in KINDS:
                    self.rates[name] = float(value)  # type: ignore[arg-type]
                elif name == "timeout_seconds":
                    self.timeout_seconds = float(value)  # type: ignore[arg-type]
                elif name == "only_fields":
                    self.only_fields = set(value) if value else None  # type: ignore[arg-type]
                elif name == "max_faults":
                    self.max_faults = None if value is None else int(value)  # type: ignore[arg-type]
                    self.injected = 0
                elif name in ARMED_KINDS:
                    self.armed[name] = int(value)  # type: ignore[arg-type]
                elif name == "bulk_outcome":
                    self.bulk_outcome = str(value) if value else None
                elif name == "seed":
                    self._rng = random.Random(int(value))  # type: ignore[arg-type]
                else:
                    raise ValueError(
                        f"unknown fault setting {name!r}; known: {KINDS + ARMED_KINDS}"
                    )

    def clear(self) -> None:
        self.update(**dict.fromkeys(KINDS, 0.0), only_fields=None, max_faults=None)
        self.bulk_outcome = None
        self.armed.clear()

    def as_dict(self) -> dict[str, object]:
        return {
            "rates": {k: self.rates.get(k, 0.0) for k in KINDS},
            "timeout_seconds": self.timeout_seconds,
            "only_fields": sorted(self.only_fields) if self.only_fields else None,
            "max_faults": self.max_faults,
            "bulk_outcome": self.bulk_outcome,
            "armed": dict(self.armed),
        }

    def _pick(self, kinds: tuple[str, ...], root_fields: set[str]) -> str | None:
        with self._lock:
            if self.max_faults is not None and self.injected >= self.max_faults:
                return None
            if self.only_fields is not None and not (root_fields & self.only_fields):
                return None
            total = sum(self.rates.get(k, 0.0) for k in kinds)
            if total <= 0:
                return None
            draw = self._rng.random()
            acc = 0.0
            for kind in kinds:
                acc += self.rates.get(kind, 0.0)
                if draw < acc:
                    self.injected += 1
                    return kind
            return None

    def before(self, root_fields: set[str]) -> str | None:
        """The fault to inject before executing, if any."""
        return self._pick(PRE_KINDS, root_fields)

    def after_commit(self, is_mutation: bool, root_fields: set[str]) -> str | None:
        """For a mutation that ran: whether to lose its response."""
        return self._pick(POST_KINDS, root_fields) if is_mutation else None

    def take(self, kind: str) -> bool:
        """Whether an armed event happens now (and one fewer stays armed)."""
        with self._lock:
            if self.armed.get(kind, 0) <= 0:
                return False
            self.armed[kind] -= 1
            return True

    def coin(self) -> bool:
        with self._lock:
            return self._rng.random() < 0.5
