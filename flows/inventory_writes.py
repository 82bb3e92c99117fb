"""Writing retailer stock exactly once: batched, compare-and-set, through the ledger.

Each batch is one `inventorySetQuantities` call of at most 250 absolute sets of
`available`, each compared against the value just read (2025-01 `compareQuantity`,
2026-04+ `changeFromQuantity`). Its entries are claimed in `inventory_pushes` before
the call; the call's `@idempotent` key is derived from the run and the entries, so a
retry of the same write sends the same key (FAULTS I2). What can come back:

- applied: entries settled, the landed retailer value becomes the written one;
- a stale compare (a sale between our read and our write, FAULTS I1): Shopify writes
  nothing of the batch; the stale items are re-read by GID and the batch is sent again
  with their new values (same target: the sale is already in `pending`); stale a second
  time, they are reported and left for the next cycle, the rest is sent;
- `IDEMPOTENCY_CONCURRENT_REQUEST`: the same key is still in flight: wait, same key;
- `IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED`: the key is dead: the same write, a new key;
- `ITEM_NOT_STOCKED_AT_LOCATION` and other user errors: those entries are refused and
  reported (a not-stocked item is not paired again), the rest is sent;
- a lost response in 2025-01 (no idempotency key there): the items are re-read; those
  at their target were applied, the others are sent again with the value read, and the
  compare-and-set makes a second apply impossible.

Only allowed pairs are written: items read at the retailer's hub location, stocked and
active (FAULTS I9). Since 2026-10 Shopify no longer refuses an unstocked pair, so this
allowlist is the only guard.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pandas as pd

from flows.inventory_reads import re_read_items
from flows.steps import RetailerStep
from resources.ledgers import inventory as ledger
from resources.ledgers.states import InventoryPushState as State
from resources.shopify import (
    InventorySet,
    MutationResult,
    ShopifyAmbiguousWriteError,
    ShopifyTransientError,
    stable_key,
)

STALE_CODES = frozenset({"COMPARE_QUANTITY_STALE", "CHANGE_FROM_QUANTITY_STALE"})
CONCURRENT = "IDEMPOTENCY_CONCURRENT_REQUEST"
KEY_DEAD = "IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED"
NOT_STOCKED = "ITEM_NOT_STOCKED_AT_LOCATION"
#: Calls one batch may take (stale twice, a concurrent wait or two, a dead key …).
MAX_CALLS_PER_BATCH = 6


@dataclass
class Pending:
    """One write to make: an item, the value we believe it has, the target."""

    item_id: str
    sku: str | None
    from_qty: int
    to_qty: int
    stale_once: bool = False


@dataclass
class WriteTally:
    applied: int = 0
    already: int = 0  # found at target when re-read (a lost response that had applied)
    stale: list[str] = field(default_factory=list)  # SKUs stale twice: next cycle
    refused: list[tuple[str, str]] = field(default_factory=list)  # (SKU, message)
    not_allowed: list[str] = field(default_factory=list)  # SKUs the allowlist stopped
    calls: int = 0
    batches: int = 0
    left: list[str] = field(default_factory=list)  # messages: work left for the next run

    def counts(self) -> dict[str, int]:
        return {
            "inventory_pushed": self.applied,
            "inventory_found_applied": self.already,
            "inventory_stale": len(self.stale),
            "inventory_refused": len(self.refused),
            "inventory_not_allowed": len(self.not_allowed),
            "inventory_write_calls": self.calls,
            "inventory_batches": self.batches,
        }


class BatchWriter:
    """Writes one retailer's differences at its hub location (see the module docstring)."""

    def __init__(self, step: RetailerStep, allowed: set[str], batch_size: int) -> None:
        self.step, self.allowed, self.batch_size = step, allowed, batch_size
        self.location = step.retailer.hub_location_id
        self.tally = WriteTally()

    def write(self, writes: pd.DataFrame) -> WriteTally:
        """`writes` has item_id, sku, available (believed), target; one call per batch."""
        todo = []
        for row in writes.itertuples(index=False):
            if row.item_id not in self.allowed:
                self.tally.not_allowed.append(row.sku)
                continue
            todo.append(Pending(row.item_id, row.sku, int(row.available), int(row.target)))
        for start in range(0, len(todo), self.batch_size):
            self.tally.batches += 1
            try:
                self._batch(todo[start : start + self.batch_size])
            except ShopifyTransientError as exc:  # retries exhausted: the next cycle goes on
                self.tally.left.append(
                    f"retailer '{self.step.key}': inventory writes stopped after "
                    f"{self.tally.applied} applied: {exc}"
                )
                break
        return self.tally

    def _batch(self, rows: list[Pending]) -> None:
        generation = 0
        for _ in range(MAX_CALLS_PER_BATCH):
            if not rows:
                return
            entries = self._claim(rows, generation)
            try:
                result = self._send(rows, entries[0].batch_key)
            except ShopifyAmbiguousWriteError:
                time.sleep(self.step.options.reconcile_delay)
                rows = self._reconcile(rows, entries)
                continue
            codes = result.codes()
            if result.ok:
                self._applied(rows, entries)
                return
            if CONCURRENT in codes:
                time.sleep(self.step.options.reconcile_delay)
                continue
            if KEY_DEAD in codes:
                ledger.settle(self.step.conn, [e.entry_key for e in entries], State.SUPERSEDED,
                              "idempotency key dead: retried with a new key")  # fmt: skip
                generation += 1
                continue
            rows = self._refused(rows, entries, result)
        self.tally.left.append(
            f"retailer '{self.step.key}': {len(rows)} inventory writes not confirmed after "
            f"{MAX_CALLS_PER_BATCH} calls; the next cycle re-reads and re-plans them"
        )

    def _claim(self, rows: list[Pending], generation: int) -> list[ledger.PushEntry]:
        step = self.step
        keys = [stable_key(step.key, r.item_id, r.from_qty, r.to_qty, step.run_id) for r in rows]
        batch_key = stable_key(step.key, step.run_id, generation, *keys)
        entries = [
            ledger.PushEntry(k, batch_key, step.key, r.item_id, self.location, r.sku,
                             r.from_qty, r.to_qty)
            for k, r in zip(keys, rows, strict=True)
        ]  # fmt: skip
        ledger.claim(step.conn, entries, step.run_id)
        return entries

    def _send(self, rows: list[Pending], key: str) -> MutationResult:
        self.tally.calls += 1
        sets = [InventorySet(r.item_id, self.location, r.to_qty, r.from_qty) for r in rows]
        return self.step.client.set_inventory(
            sets,
            idempotency_key=key,
            reason="correction",
            reference_document_uri=f"shopsync://inventory/{self.step.key}/{self.step.run_id}",
        )

    def _applied(self, rows: list[Pending], entries, *, found: bool = False) -> None:
        """Settle entries the store has: written now, or (`found`) by a lost attempt."""
        conn = self.step.conn
        ledger.settle(conn, [e.entry_key for e in entries], State.APPLIED)
        ledger.set_retailer_available(conn, self.step.key, [(r.item_id, r.to_qty) for r in rows])
        if found:
            self.tally.already += len(rows)
        else:
            self.tally.applied += len(rows)

    def _reconcile(self, rows: list[Pending], entries) -> list[Pending]:
        """After a lost response: what the store has now decides, entry by entry."""
        current = re_read_items(self.step.client, self.location, [r.item_id for r in rows])
        return self._refreshed(rows, entries, current, "response lost, not applied: re-sent")

    def _refused(self, rows: list[Pending], entries, result: MutationResult) -> list[Pending]:
        """Split a refused batch: stale entries re-read once, the others refused."""
        conn, by_index = self.step.conn, _errors_by_entry(result, len(rows))
        stale = {i for i, (code, _) in by_index.items() if code in STALE_CODES}
        refused = {i: e for i, e in by_index.items() if i not in stale}
        for i, (code, message) in refused.items():
            ledger.settle(conn, [entries[i].entry_key], State.REFUSED, f"{code}: {message}")
            self.tally.refused.append((rows[i].sku, f"{code}: {message}"))
        not_stocked = [rows[i].item_id for i, (code, _) in refused.items() if code == NOT_STOCKED]
        if not_stocked:
            ledger.mark_not_stocked(conn, self.step.key, not_stocked)
        twice = {i for i in stale if rows[i].stale_once}
        for i in twice:
            ledger.settle(conn, [entries[i].entry_key], State.STALE, "stale twice: next cycle")
            self.tally.stale.append(rows[i].sku)
        # Entries Shopify did not complain about were not written either (all or nothing).
        untouched = [i for i in range(len(rows)) if i not in by_index]
        ledger.settle(conn, [entries[i].entry_key for i in untouched], State.SUPERSEDED,
                      "batch refused for other entries: re-sent")  # fmt: skip
        again = [i for i in sorted(stale) if i not in twice]
        if not again:
            return [rows[i] for i in untouched]
        current = re_read_items(self.step.client, self.location, [rows[i].item_id for i in again])
        for i in again:
            rows[i].stale_once = True
        refreshed = self._refreshed(
            [rows[i] for i in again], [entries[i] for i in again], current,
            "stale: re-read and re-sent",
        )  # fmt: skip
        return [rows[i] for i in untouched] + refreshed

    def _refreshed(self, rows: list[Pending], entries, current, reason: str) -> list[Pending]:
        """Settle each entry by the value just read: at target, it was applied (by a lost
        attempt); gone, unstocked or inactive, it is refused; otherwise it is superseded
        and sent again from the value read."""
        keep = []
        for r, entry in zip(rows, entries, strict=True):
            level = current.get(r.item_id)
            if level is None or not level.stocked or not level.active:
                ledger.settle(self.step.conn, [entry.entry_key], State.REFUSED, "not stocked")
                self.tally.refused.append((r.sku, "no longer stocked or active at the location"))
                continue
            if level.available == r.to_qty:
                self._applied([r], [entry], found=True)
                continue
            ledger.settle(self.step.conn, [entry.entry_key], State.SUPERSEDED, reason)
            r.from_qty = int(level.available or 0)
            ledger.set_retailer_available(self.step.conn, self.step.key, [(r.item_id, r.from_qty)])
            keep.append(r)
        return keep


def _errors_by_entry(result: MutationResult, count: int) -> dict[int, tuple[str, str]]:
    """User errors keyed by the entry they name (`field: [input, quantities, i, …]`);
    an error naming no entry applies to all of them."""
    found: dict[int, tuple[str, str]] = {}
    for error in result.user_errors:
        path = error.field or []
        index = int(path[2]) if len(path) > 2 and path[1] == "quantities" else None
        entry = (error.code or "USER_ERROR", error.message)
        for i in [index] if index is not None and index < count else range(count):
            found.setdefault(i, entry)
    return found
