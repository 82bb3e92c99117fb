"""Checks of the fulfillment push for one retailer: every hub shipment pushed, none twice.

The uniqueness check reads the retailer store itself: a second fulfillment for
one shipment (a retried `fulfillmentCreate`) is invisible to our ledger.
"""

from __future__ import annotations

import pandas as pd

from flows.expectations import validate
from flows.fulfillments import read_retailer_order
from flows.steps import RetailerStep
from flows.verdicts import CheckVerdict
from resources.ledgers import fulfillments as ledger

ASSET = "retailer_fulfillments"
CHECK_NAMES = ("hub_shipments_are_pushed", "retailer_fulfillments_are_unique")


def verify_fulfillments(step: RetailerStep) -> list[CheckVerdict]:
    since, until = step.span(step.retailer.lookback_hours.fulfillments)
    return [pushed_verdict(step, since, until), unique_verdict(step, since, until)]


def pushed_verdict(step: RetailerStep, since, until) -> CheckVerdict:
    """Every successful hub fulfillment landed in the window is pushed (or recorded
    terminal with a reason): nothing is silently left behind."""
    columns = ["hub_fulfillment_gid", "retailer_order_gid", "state", "reason"]
    frame = pd.DataFrame(ledger.shipment_states(step.conn, step.key, since, until), columns=columns)
    verdict = validate(
        frame,
        "hub_shipments_are_pushed",
        lambda gx: [
            gx.ExpectColumnValuesToBeInSet(column="state", value_set=["created", "terminal"])
        ],
    )
    counts = frame["state"].value_counts().to_dict() if not frame.empty else {}
    return CheckVerdict(
        "hub_shipments_are_pushed", ASSET, verdict.success, blocking=True,
        metadata={"hub_shipments": len(frame), "by_state": counts, **verdict.metadata()},
    )  # fmt: skip


def unique_verdict(step: RetailerStep, since, until) -> CheckVerdict:
    """Each pushed hub shipment appears once at the retailer: counted in the retailer
    store by tracking numbers (or, untracked, by the one fulfillment the ledger names)."""
    links = ledger.pushed_in_window(step.conn, step.key, since, until)
    orders = {gid: read_retailer_order(step.client, gid)[0] for gid in {r[1] for r in links}}
    rows = []
    for hub_gid, order_gid, pushed_gid, tracking in links:
        numbers = {t["number"] for t in tracking if t.get("number")}
        live = [f for f in orders[order_gid].fulfillments if f.status != "CANCELLED"]
        if numbers:
            copies = sum(1 for f in live if set(f.tracking_numbers) == numbers)
        else:
            copies = sum(1 for f in live if f.id == pushed_gid)
        rows.append({"hub_fulfillment_gid": hub_gid, "retailer_copies": copies})
    frame = pd.DataFrame(rows, columns=["hub_fulfillment_gid", "retailer_copies"])
    verdict = validate(
        frame,
        "retailer_fulfillments_are_unique",
        lambda gx: [
            gx.ExpectColumnValuesToBeBetween(column="retailer_copies", min_value=1, max_value=1)
        ],
    )
    duplicates = int((frame["retailer_copies"] - 1).clip(lower=0).sum()) if len(frame) else 0
    return CheckVerdict(
        "retailer_fulfillments_are_unique", ASSET, verdict.success, blocking=True,
        metadata={"pushed_shipments": len(frame), "duplicate_retailer_fulfillments": duplicates,
                  **verdict.metadata()},
    )  # fmt: skip
