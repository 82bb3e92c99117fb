"""Checks of the order import: exactly one hub order per eligible retailer order.

The exactly-once checks are blocking and ask the hub store itself (read without a
search filter, which lags), not only our ledger: a duplicate the ledger does not
know about is exactly what they exist to catch.
"""

from datetime import timedelta

import dagster as dg
import pandas as pd

from assets.hub_order_creation import recent_hub_orders
from assets.orders import hub_orders, retailer_orders
from assets.runtime import recorded_client
from checks.expectations import expectations, validate
from checks.scope import check_scope
from resources.postgres import PostgresResource
from resources.registry import RegistryResource
from resources.shopify import ShopifyResource
from sync.models import RetailerOrder
from sync.order_keys import hub_orders_by_source, retailer_tag, source_key
from sync.orders import hub_lines

_MARGIN = timedelta(minutes=10)


def _hub_orders_of(context, shopify, postgres, conn, retailer: str, since, until) -> list[dict]:
    """Hub orders carrying the retailer's tag, created since the oldest claim of an order
    in the check's window or touched by this run (minus a margin), so any duplicate of
    those is there. Read newest first without a search filter, which would lag."""
    oldest = conn.execute(
        """
        SELECT min(l.claimed_at) FROM shopsync.order_links l
          JOIN shopsync.retailer_orders o
            ON o.retailer = l.retailer AND o.order_gid = l.retailer_order_gid
         WHERE l.retailer = %s
           AND (l.last_run_id = %s OR (o.updated_at >= %s AND o.updated_at < %s))
        """,
        (retailer, context.run.run_id, since, until),
    ).fetchone()[0]
    if oldest is None:  # no hub order was made for this window: nothing to judge
        return []
    with recorded_client(context, shopify, postgres, "hub") as hub:
        found = recent_hub_orders(hub, oldest - _MARGIN)
    return [o for o in found if retailer_tag(retailer) in (o.get("tags") or [])]


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(
            "hub_orders_are_unique",
            asset=hub_orders,
            blocking=True,
            description="No retailer order has two hub orders in the hub store (read index-free).",
        ),
        dg.AssetCheckSpec(
            "hub_orders_have_a_source",
            asset=hub_orders,
            blocking=True,
            description="Every hub order tagged for the retailer names a retailer order we landed.",
        ),
    ],
)
def hub_orders_match_the_hub_store(
    context: dg.AssetCheckExecutionContext, shopify: ShopifyResource, postgres: PostgresResource
):
    """Both checks judge the same index-free read of the hub's newest orders: one read."""
    unique, sourced = [], []
    with postgres.get_connection() as conn:
        for retailer, (since, until) in check_scope(context, lookback="orders").items():
            found = _hub_orders_of(context, shopify, postgres, conn, retailer, since, until)
            landed = {
                source_key(retailer, gid)
                for (gid,) in conn.execute(
                    "SELECT order_gid FROM shopsync.retailer_orders WHERE retailer = %s",
                    (retailer,),
                )
            }
            by_source = hub_orders_by_source(found)
            for key, gids in by_source.items():
                unique += [{"retailer": retailer, "source_key": key, "hub_order": g} for g in gids]
                sourced += [{"hub_order": g, "has_source": key in landed} for g in gids]
            keyed = {g for gids in by_source.values() for g in gids}
            sourced += [{"hub_order": o["id"], "has_source": False} for o in found
                        if o["id"] not in keyed]  # fmt: skip
    yield _uniqueness_result(pd.DataFrame(unique, columns=["retailer", "source_key", "hub_order"]))
    frame = pd.DataFrame(sourced, columns=["hub_order", "has_source"])
    verdict = validate(
        frame,
        "hub_orders_have_a_source",
        [expectations().ExpectColumnValuesToBeInSet(column="has_source", value_set=[True])],
    )
    yield dg.AssetCheckResult(
        check_name="hub_orders_have_a_source",
        passed=verdict.success,
        metadata={"hub_orders_seen": len(frame), **verdict.metadata()},
    )


def _uniqueness_result(frame: pd.DataFrame) -> dg.AssetCheckResult:
    verdict = validate(
        frame,
        "hub_orders_are_unique",
        [expectations().ExpectColumnValuesToBeUnique(column="source_key")],
    )
    duplicates = frame[frame.duplicated("source_key", keep=False)] if not frame.empty else frame
    extra = len(duplicates) - duplicates["source_key"].nunique() if len(duplicates) else 0
    return dg.AssetCheckResult(
        check_name="hub_orders_are_unique",
        passed=verdict.success,
        metadata={
            "hub_orders_seen": len(frame),
            "duplicate_hub_orders": int(extra),
            "duplicates": dg.MetadataValue.json(duplicates.to_dict("records")),
            **verdict.metadata(),
        },
    )


@dg.asset_check(asset=hub_orders, blocking=True)
def eligible_orders_have_one_hub_order(
    context: dg.AssetCheckExecutionContext, postgres: PostgresResource
) -> dg.AssetCheckResult:
    """Every retailer order eligible in the run's windows is linked to exactly one hub
    order (FAULTS A2: the failure lists the order IDs)."""
    frames = []
    with postgres.get_connection() as conn:
        for retailer, (since, until) in check_scope(context, lookback="orders").items():
            frames.append(
                pd.DataFrame(
                    conn.execute(
                        """
                SELECT o.retailer, o.order_gid, o.name, l.state, l.hub_order_gid
                  FROM shopsync.retailer_orders o
                  LEFT JOIN shopsync.order_links l
                    ON l.retailer = o.retailer AND l.retailer_order_gid = o.order_gid
                 WHERE o.retailer = %s AND o.status = 'eligible'
                   AND o.updated_at >= %s AND o.updated_at < %s
                """,
                        (retailer, since, until),
                    ).fetchall(),
                    columns=["retailer", "order_gid", "name", "state", "hub_order_gid"],
                )
            )
    frame = pd.concat(frames) if frames else pd.DataFrame()
    gx = expectations()
    verdict = validate(
        frame,
        "eligible_orders_have_one_hub_order",
        [
            gx.ExpectColumnValuesToNotBeNull(column="hub_order_gid"),
            gx.ExpectColumnValuesToBeInSet(column="state", value_set=["created", "confirmed"]),
            gx.ExpectColumnValuesToBeUnique(column="order_gid"),
        ],
    )
    missing = frame[frame["hub_order_gid"].isna()] if not frame.empty else frame
    return dg.AssetCheckResult(
        passed=verdict.success,
        metadata={
            "eligible_orders": len(frame),
            "without_hub_order": len(missing),
            "missing_order_ids": dg.MetadataValue.json(
                missing.get("order_gid", pd.Series()).tolist()
            ),
            **verdict.metadata(),
        },
    )


@dg.asset_check(asset=hub_orders)
def hub_order_quantities_match_hub_location(
    context: dg.AssetCheckExecutionContext, registry: RegistryResource, postgres: PostgresResource
) -> dg.AssetCheckResult:
    """Hub order lines equal the units that remained at the retailer's hub location at
    import: never "everything ordered", never a line from another location."""
    rows = []
    with postgres.get_connection() as conn:
        for retailer_key in check_scope(context):
            location = registry.get().retailer(retailer_key).hub_location_id
            for gid, snapshot, lines in conn.execute(
                "SELECT retailer_order_gid, source_snapshot, hub_lines FROM shopsync.order_links"
                " WHERE retailer = %s AND hub_lines IS NOT NULL AND source_snapshot IS NOT NULL",
                (retailer_key,),
            ):
                wanted = _by_sku(hub_lines(RetailerOrder.from_graphql(snapshot), location))
                made = _by_sku(lines)
                rows.append(
                    {
                        "order_gid": gid,
                        "matches": wanted == made,
                        "wanted": str(wanted),
                        "made": str(made),
                    }
                )
    frame = pd.DataFrame(rows, columns=["order_gid", "matches", "wanted", "made"])
    verdict = validate(
        frame,
        "hub_order_quantities",
        [expectations().ExpectColumnValuesToBeInSet(column="matches", value_set=[True])],
    )
    return dg.AssetCheckResult(
        passed=verdict.success, metadata={"hub_orders_compared": len(frame), **verdict.metadata()}
    )


def _by_sku(lines) -> dict[str, int]:
    totals: dict[str, int] = {}
    for line in lines:
        sku = line["sku"] if isinstance(line, dict) else line.sku
        qty = line["quantity"] if isinstance(line, dict) else line.quantity
        totals[sku] = totals.get(sku, 0) + qty
    return totals


@dg.asset_check(asset=retailer_orders)
def retailer_orders_need_no_attention(
    context: dg.AssetCheckExecutionContext, postgres: PostgresResource
) -> dg.AssetCheckResult:
    """Quarantined orders and orders changed after import, by reason (waiting is normal and
    only counted). Fails (WARN) while any need an operator."""
    counts: dict[str, int] = {}
    flags: list[str] = []
    with postgres.get_connection() as conn:
        for retailer, (since, until) in check_scope(context, lookback="orders").items():
            for status, reason, n in conn.execute(
                "SELECT status, reason, count(*) FROM shopsync.retailer_orders WHERE retailer = %s"
                " AND updated_at >= %s AND updated_at < %s GROUP BY 1, 2",
                (retailer, since, until),
            ):
                counts[f"{status}:{reason}"] = counts.get(f"{status}:{reason}", 0) + n
            flags += [
                d
                for (d,) in conn.execute(
                    "SELECT detail FROM shopsync.order_flags WHERE retailer = %s"
                    " AND resolved_at IS NULL ORDER BY flagged_at",
                    (retailer,),
                )
            ]
    quarantined = sum(n for k, n in counts.items() if k.startswith("quarantined:"))
    return dg.AssetCheckResult(
        passed=quarantined == 0 and not flags,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "by_status_and_reason": dg.MetadataValue.json(counts),
            "quarantined": quarantined,
            "waiting": sum(n for k, n in counts.items() if k.startswith("waiting:")),
            "changed_after_import": dg.MetadataValue.json(flags),
        },
    )
