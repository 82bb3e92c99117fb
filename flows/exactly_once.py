"""The claim → mutate → reconcile loop, written once for every non-idempotent write.

Shopify's `orderCreate` and `fulfillmentCreate` take no idempotency key. Each write
is claimed in a ledger (committed) before the mutation. A lost response, a timeout or
a 5xx after sending is *ambiguous*: the store may have committed. It is never resent
blindly. The loop waits for the store's reads to catch up, reconciles (looks for the
record the write would have made, without a search filter, which lags) and writes
again only if it is not there. A write refused by Shopify (user errors) is final.
"""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Protocol

from resources.shopify import MutationResult, ShopifyAmbiguousWriteError


class Outcome(StrEnum):
    CREATED = "created"  # this run made it
    FOUND = "found"  # already in the store (an earlier attempt made it): recorded, healed
    SETTLED = "settled"  # nothing to write: terminal, or wait for a later run
    REFUSED = "refused"  # Shopify answered with user errors: final, alerted
    UNCONFIRMED = "unconfirmed"  # every attempt ambiguous, nothing found yet: next run


class ClaimedWrite(Protocol):
    """One claimed write: how to find it in the store, make it, and record each outcome."""

    def reconcile(self, attempt: int) -> Outcome | None:
        """FOUND or SETTLED if the store already decides it, else None: write. Called
        before every attempt (`attempt` counts from 0) and once after the last."""

    def write(self) -> MutationResult: ...

    def created(self, result: MutationResult) -> None: ...

    def refused(self, result: MutationResult) -> None: ...

    def ambiguous(self, error: ShopifyAmbiguousWriteError) -> None:
        """Keep the error on the claim (the row stays claimed: the next run reconciles)."""


class WriteOnce:
    """Runs a `ClaimedWrite` at most `attempts` times, reconciling before each."""

    def __init__(self, attempts: int = 3, reconcile_delay: float = 1.0) -> None:
        self.attempts, self.reconcile_delay = attempts, reconcile_delay

    def __call__(self, claimed: ClaimedWrite) -> Outcome:
        for attempt in range(self.attempts):
            settled = claimed.reconcile(attempt)
            if settled is not None:
                return settled
            try:
                result = claimed.write()
            except ShopifyAmbiguousWriteError as error:
                claimed.ambiguous(error)
                time.sleep(self.reconcile_delay * (attempt + 1))  # let reads catch up
                continue
            if result.user_errors:
                claimed.refused(result)
                return Outcome.REFUSED
            claimed.created(result)
            return Outcome.CREATED
        # The last attempt was ambiguous: look once more before leaving it to the next run.
        return claimed.reconcile(self.attempts) or Outcome.UNCONFIRMED
