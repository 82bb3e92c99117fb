"""Checks of the fulfillment push: every hub shipment pushed, none pushed twice.

The uniqueness check reads the retailer store itself: a second fulfillment for
one shipment (a retried `fulfillmentCreate`) is invisible to our ledger.
"""

import dagster as dg
import pandas as pd

from assets.fulfillment_push import read_retailer_order
from assets.fulfillments import retailer_fulfillments
from assets.runtime import recorded_client
from checks.expectations import expectations, validate
from checks.scope import check_scope
from resources.postgres import PostgresResource
from resources.shopify import ShopifyResource


@dg.asset_check(asset=retailer_fulfillments, blocking=True)
def hub_shipments_are_pushed(
    context: dg.AssetCheckExecutionContext, postgres: PostgresResource
) -> dg.AssetCheckResult:
    """Every successful hub fulfillment landed in the run's windows is pushed (or recorded
    terminal with a reason): nothing is silently left behind."""
    frames = []
    with postgres.get_connection() as conn:
        for retailer, (since, until) in check_scope(context, lookback="fulfillments").items():
            frames.append(
                pd.DataFrame(
                    conn.execute(
                        """
                SELECT h.hub_fulfillment_gid, h.retailer_order_gid,
                       coalesce(l.state, 'missing') AS state, l.terminal_reason
                  FROM shopsync.hub_fulfillments h
                  LEFT JOIN shopsync.fulfillment_links l USING (hub_fulfillment_gid)
                 WHERE h.retailer = %s AND h.status = 'SUCCESS'
                   AND h.updated_at >= %s AND h.updated_at < %s
                """,
                        (retailer, since, until),
                    ).fetchall(),
                    columns=["hub_fulfillment_gid", "retailer_order_gid", "state", "reason"],
                )
            )
    frame = pd.concat(frames) if frames else pd.DataFrame()
    verdict = validate(
        frame,
        "hub_shipments_are_pushed",
        [
            expectations().ExpectColumnValuesToBeInSet(
                column="state", value_set=["created", "terminal"]
            )
        ],
    )
    counts = frame["state"].value_counts().to_dict() if not frame.empty else {}
    return dg.AssetCheckResult(
        passed=verdict.success,
        metadata={
            "hub_shipments": len(frame),
            "by_state": dg.MetadataValue.json(counts),
            **verdict.metadata(),
        },
    )


@dg.asset_check(asset=retailer_fulfillments, blocking=True)
def retailer_fulfillments_are_unique(
    context: dg.AssetCheckExecutionContext, shopify: ShopifyResource, postgres: PostgresResource
) -> dg.AssetCheckResult:
    """Each pushed hub shipment appears once at the retailer: counted in the retailer store
    by tracking numbers (or, untracked, by the one fulfillment the ledger names)."""
    rows = []
    with postgres.get_connection() as conn:
        for retailer, (since, until) in check_scope(context, lookback="fulfillments").items():
            links = conn.execute(
                """
                SELECT l.hub_fulfillment_gid, l.retailer_order_gid, l.retailer_fulfillment_gid,
                       h.tracking
                  FROM shopsync.fulfillment_links l
                  JOIN shopsync.hub_fulfillments h USING (hub_fulfillment_gid)
                 WHERE l.retailer = %s AND l.state = 'created'
                   AND h.updated_at >= %s AND h.updated_at < %s
                """,
                (retailer, since, until),
            ).fetchall()
            if not links:
                continue
            with recorded_client(context, shopify, postgres, retailer) as client:
                orders = {gid: read_retailer_order(client, gid)[0] for gid in {r[1] for r in links}}
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
        [
            expectations().ExpectColumnValuesToBeBetween(
                column="retailer_copies", min_value=1, max_value=1
            )
        ],
    )
    duplicates = int((frame["retailer_copies"] - 1).clip(lower=0).sum()) if len(frame) else 0
    return dg.AssetCheckResult(
        passed=verdict.success,
        metadata={
            "pushed_shipments": len(frame),
            "duplicate_retailer_fulfillments": duplicates,
            **verdict.metadata(),
        },
    )
