"""Checks of the order import for one retailer: exactly one hub order per eligible order.

The exactly-once checks are blocking and ask the hub store itself (read without a
search filter, which lags), not only our ledger: a duplicate the ledger does not
know about is exactly what they exist to catch. One index-free read of the hub's
newest orders serves both store-side checks.
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd

from flows.expectations import validate
from flows.order_creation import recent_hub_orders
from flows.steps import RetailerStep
from flows.verdicts import CheckVerdict
from resources.ledgers import orders as ledger
from sync.models import RetailerOrder
from sync.order_keys import hub_orders_by_source, parse_source_key, retailer_tag, source_key
from sync.orders import hub_lines
from sync.sku_matching import pair_label

_MARGIN = timedelta(minutes=10)
ASSET = "hub_orders"
CHECK_NAMES = (
    "hub_orders_are_unique",
    "hub_orders_have_a_source",
    "eligible_orders_have_one_hub_order",
    "hub_order_quantities_match_hub_location",
    "retailer_orders_need_no_attention",
)


def verify_orders(step: RetailerStep) -> list[CheckVerdict]:
    """Every order check for the retailer over the run's windows (widened by lookback)."""
    since, until = step.span(step.retailer.lookback_hours.orders)
    return [
        *hub_store_verdicts(step, since, until),
        eligible_orders_verdict(step, since, until),
        quantities_verdict(step, since, until),
        attention_verdict(step, since, until),
    ]


def _hub_orders_of(step: RetailerStep, since, until) -> list[dict]:
    """Hub orders carrying the retailer's tag, created since the oldest claim of an order
    in the window or touched by this run (minus a margin), so any duplicate of those is
    there. Read newest first without a search filter, which would lag."""
    oldest = ledger.oldest_claim(step.conn, step.key, step.run_id, since, until)
    if oldest is None:  # no hub order was made for this window: nothing to judge
        return []
    since = oldest - _MARGIN
    if step.shared is not None:  # one scan of the hub for every retailer of the run
        found = step.shared.hub_orders_since(since, lambda t: recent_hub_orders(step.hub, t))
    else:
        found = recent_hub_orders(step.hub, since)
    return [o for o in found if retailer_tag(step.key) in (o.get("tags") or [])]


def hub_store_verdicts(step: RetailerStep, since, until) -> list[CheckVerdict]:
    found = _hub_orders_of(step, since, until)
    by_source = hub_orders_by_source(found)
    # Only the retailer orders these hub orders name: the read does not grow with history.
    named = [ref.order_gid for key in by_source if (ref := parse_source_key(key))]
    landed = {
        source_key(step.key, gid) for gid in ledger.landed_order_gids(step.conn, step.key, named)
    }
    unique, sourced = [], []
    for key, gids in by_source.items():
        unique += [{"source_key": key, "hub_order": g} for g in gids]
        sourced += [{"hub_order": g, "has_source": key in landed} for g in gids]
    keyed = {g for gids in by_source.values() for g in gids}
    sourced += [{"hub_order": o["id"], "has_source": False} for o in found if o["id"] not in keyed]
    frame = pd.DataFrame(unique, columns=["source_key", "hub_order"])
    verdict = validate(
        frame,
        "hub_orders_are_unique",
        lambda gx: [gx.ExpectColumnValuesToBeUnique(column="source_key")],
    )
    duplicates = frame[frame.duplicated("source_key", keep=False)] if not frame.empty else frame
    extra = len(duplicates) - duplicates["source_key"].nunique() if len(duplicates) else 0
    sources = pd.DataFrame(sourced, columns=["hub_order", "has_source"])
    has_source = validate(
        sources,
        "hub_orders_have_a_source",
        lambda gx: [gx.ExpectColumnValuesToBeInSet(column="has_source", value_set=[True])],
    )
    return [
        CheckVerdict(
            "hub_orders_are_unique",
            ASSET,
            verdict.success,
            blocking=True,
            metadata={
                "hub_orders_seen": len(frame),
                "duplicate_hub_orders": int(extra),
                "duplicates": duplicates.to_dict("records"),
                **verdict.metadata(),
            },
        ),  # fmt: skip
        CheckVerdict(
            "hub_orders_have_a_source",
            ASSET,
            has_source.success,
            blocking=True,
            metadata={"hub_orders_seen": len(sources), **has_source.metadata()},
        ),  # fmt: skip
    ]


def eligible_orders_verdict(step: RetailerStep, since, until) -> CheckVerdict:
    """Every retailer order eligible in the window is linked to exactly one hub order
    (FAULTS A2: the failure lists the order IDs)."""
    columns = ["order_gid", "name", "state", "hub_order_gid"]
    frame = pd.DataFrame(ledger.eligible_links(step.conn, step.key, since, until), columns=columns)
    verdict = validate(
        frame,
        "eligible_orders_have_one_hub_order",
        lambda gx: [
            gx.ExpectColumnValuesToNotBeNull(column="hub_order_gid"),
            gx.ExpectColumnValuesToBeInSet(column="state", value_set=["created", "confirmed"]),
            gx.ExpectColumnValuesToBeUnique(column="order_gid"),
        ],
    )
    missing = frame[frame["hub_order_gid"].isna()]
    return CheckVerdict(
        "eligible_orders_have_one_hub_order", ASSET, verdict.success, blocking=True,
        metadata={"eligible_orders": len(frame), "without_hub_order": len(missing),
                  "missing_order_ids": missing["order_gid"].tolist(), **verdict.metadata()},
    )  # fmt: skip


def quantities_verdict(step: RetailerStep, since, until) -> CheckVerdict:
    """Hub order lines equal the units that remained at the retailer's hub location at
    import: never "everything ordered", never a line from another location. Its metadata
    also lists every retailer SKU matched to a different hub SKU by the retailer's opted-in
    normalisation (`sku_matching`, FAULTS O11): the count of such lines and the pairs."""
    location = step.retailer.hub_location_id
    rows, normalised = [], []
    for gid, snapshot, lines in ledger.created_hub_lines(step.conn, step.key, since, until):
        wanted = _by_sku(hub_lines(RetailerOrder.from_graphql(snapshot), location))
        made = _by_sku(lines)
        rows.append({"order_gid": gid, "matches": wanted == made, "wanted": str(wanted),
                     "made": str(made)})  # fmt: skip
        normalised += [
            (line["sku"], line["hub_sku"])
            for line in lines
            if line.get("hub_sku") is not None and line["hub_sku"] != line["sku"]
        ]
    frame = pd.DataFrame(rows, columns=["order_gid", "matches", "wanted", "made"])
    verdict = validate(
        frame,
        "hub_order_quantities",
        lambda gx: [gx.ExpectColumnValuesToBeInSet(column="matches", value_set=[True])],
    )
    return CheckVerdict(
        "hub_order_quantities_match_hub_location", ASSET, verdict.success,
        metadata={"hub_orders_compared": len(frame), **verdict.metadata(),
                  "sku_normalised_matches": len(normalised),
                  "sku_normalisations": [pair_label(r, h) for r, h in sorted(set(normalised))]},
    )  # fmt: skip


def _by_sku(lines) -> dict[str, int]:
    totals: dict[str, int] = {}
    for line in lines:
        sku = line["sku"] if isinstance(line, dict) else line.sku
        qty = line["quantity"] if isinstance(line, dict) else line.quantity
        totals[sku] = totals.get(sku, 0) + qty
    return totals


def attention_verdict(step: RetailerStep, since, until) -> CheckVerdict:
    """Quarantined orders and orders changed after import, by reason (waiting is normal
    and only counted). Fails (WARN) while any need an operator."""
    counts = ledger.status_counts(step.conn, step.key, since, until)
    flags = ledger.open_flags(step.conn, step.key)
    quarantined = sum(n for k, n in counts.items() if k.startswith("quarantined:"))
    return CheckVerdict(
        "retailer_orders_need_no_attention", "retailer_orders", quarantined == 0 and not flags,
        warn_only=True,
        metadata={"by_status_and_reason": counts, "quarantined": quarantined,
                  "waiting": sum(n for k, n in counts.items() if k.startswith("waiting:")),
                  "changed_after_import": flags},
    )  # fmt: skip
