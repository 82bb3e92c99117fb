"""The order writes the follow-ups share, each through the follow-up ledger: read an order
as a follow-up sees it, cancel it (an asynchronous job), record a refusal.

The hub's follow-ups of retailer changes (`flows.follow_ups`) and the retailer's of hub
cancels (`flows.hub_cancellations`) differ in what they decide, not in how a cancel is
sent exactly once: the row says a cancel is in flight, a lost response is not resent
until the store has had time to show it, and the store's own `cancelledAt` is the proof.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta

from flows.steps import RetailerStep
from resources.ledgers import follow_ups as ledger
from resources.shopify import ShopifyClient
from sync.follow_up_plan import HubOrder as OrderState

#: How long a cancel whose response was lost is given to show at the store before it is
#: sent again (a cancel job takes seconds; a cycle is 15 minutes, so in practice: one cycle).
CANCEL_SETTLE = timedelta(seconds=30)
#: How long one run waits for a cancel job (it is polled again by the next run).
JOB_WAIT_SECONDS = 20.0
JOB_POLL_SECONDS = 0.5


def read_order(client: ShopifyClient, gid: str, store: str = "hub") -> OrderState:
    """The order as a follow-up must see it before acting (`follow_ups_hub_order`, which
    reads any store's order: lines, fulfillment orders with their holds and locations)."""
    node = client.execute("follow_ups_hub_order", {"id": gid}).get("order")
    if node is None:
        raise LookupError(f"{store} order {gid} is gone: it was deleted at the {store}")
    return OrderState.from_graphql(node)


def refused(
    conn, row: ledger.FollowUpRow, what: str, result, store: str = "hub"
) -> ledger.FollowUpRow:
    errors = "; ".join(e.message for e in result.user_errors)
    return ledger.advance(conn, row, "failed", last_error=f"{what} refused: {errors}",
                          detail=f"Shopify refused to {what} the {store} order: {errors}",
                          attempt=True)  # fmt: skip


@dataclass(frozen=True)
class OrderCancel:
    """One `orderCancel` of `order_gid` at `client`'s store, carried by a ledger row that
    is `cancelling` while the job runs and `cancelled` once the order shows it."""

    client: ShopifyClient
    order_gid: str
    note: str
    cancelling: str
    cancelled: str
    refund: bool = False
    reason: str = "CUSTOMER"
    store: str = "hub"

    def __call__(self, step: RetailerStep, row: ledger.FollowUpRow) -> ledger.FollowUpRow:
        conn = step.conn
        if row.job_id is None:
            if row.ambiguous_at is not None and step.now - row.ambiguous_at < CANCEL_SETTLE:
                return row  # the lost cancel may still be running: re-read next run
            result = self.client.mutate("follow_ups_cancel", {
                "orderId": self.order_gid, "reason": self.reason, "staffNote": self.note,
                "refund": self.refund})  # fmt: skip
            if not result.ok:
                if self._is_cancelled():
                    return ledger.advance(conn, row, self.cancelled, run_id=step.run_id)
                return refused(conn, row, "cancel", result, self.store)
            job = (result.payload.get("job") or {}).get("id")
            row = ledger.advance(conn, row, self.cancelling, job_id=job, attempt=True,
                                 ambiguous_at=None)  # fmt: skip
        if wait_for_job(self.client, row.job_id) and self._is_cancelled():
            return ledger.advance(conn, row, self.cancelled, run_id=step.run_id)
        return row

    def _is_cancelled(self) -> bool:
        return read_order(self.client, self.order_gid, self.store).cancelled


def wait_for_job(client: ShopifyClient, job_id: str | None) -> bool:
    if job_id is None:
        return True
    deadline = time.monotonic() + JOB_WAIT_SECONDS
    while True:
        job = client.execute("follow_ups_job", {"id": job_id}).get("job") or {}
        if job.get("done") or not job:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(JOB_POLL_SECONDS)
