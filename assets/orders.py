"""Order import assets: retailer orders landed and classified, then hub orders created."""

from datetime import UTC, datetime, timedelta

import dagster as dg

from assets.alerts import alert_issues
from assets.hub_order_creation import create_hub_orders
from assets.order_import import land_retailer_orders
from assets.runtime import FlowRuntime, flow_asset, flow_runtime
from resources.email import EmailResource
from resources.postgres import PostgresResource
from resources.registry import RegistryResource
from resources.shopify import ShopifyResource


class OrderImportConfig(dg.Config):
    hold_window_minutes: float = 2.0


def _step_args(rt: FlowRuntime, config: OrderImportConfig, now: datetime) -> dict:
    """What both order steps take: one retailer's clients, windows and the hold window."""
    return {
        "retailer": rt.retailer,
        "client": rt.retailer_client,
        "hub": rt.hub_client,
        "conn": rt.conn,
        "windows": rt.windows,
        "now": now,
        "run_id": rt.run_id,
        "hold_window": timedelta(minutes=config.hold_window_minutes),
    }


def _merge(total: dict[str, int], part: dict[str, int]) -> None:
    for key, value in part.items():
        total[key] = total.get(key, 0) + value


@flow_asset("orders", "shopify_retailer_reads")
def retailer_orders(
    context: dg.AssetExecutionContext,
    config: OrderImportConfig,
    registry: RegistryResource,
    shopify: ShopifyResource,
    postgres: PostgresResource,
    email: EmailResource,
) -> dg.MaterializeResult:
    """Retailer orders updated in the window (plus lookback), every page and line, landed in
    `shopsync.retailer_orders` with raw JSON and classified eligible, waiting or
    quarantined (with a reason that names the fix). Imported orders cancelled or edited
    since are flagged in `shopsync.order_flags`."""
    now = datetime.now(UTC)
    by_status: dict[str, int] = {}
    by_reason: dict[str, int] = {}
    quarantined, flagged, read, alerted = 0, 0, 0, 0
    reg = registry.get()
    with flow_runtime(context, reg, shopify, postgres, "orders") as run:
        for rt in run.runtimes:
            stats = land_retailer_orders(**_step_args(rt, config, now))
            read += stats.read
            _merge(by_status, stats.by_status)
            _merge(by_reason, stats.by_reason)
            quarantined += len(stats.quarantined)
            flagged += len(stats.flagged)
            alerted += alert_issues(
                context,
                email,
                reg,
                rt.conn,
                rt.retailer.key,
                stats.quarantined + stats.flagged,
                "Retailer orders that need attention",
            )
        cost = run.cost()
    return dg.MaterializeResult(
        metadata={
            "orders_read": read,
            **{f"status_{k}": v for k, v in sorted(by_status.items())},
            "reasons": dg.MetadataValue.json(by_reason),
            "quarantined": quarantined,
            "flagged_after_import": flagged,
            "alerts_queued": alerted,
            **cost,
        }
    )


@flow_asset("orders", "shopify_hub_writes", deps=[retailer_orders])
def hub_orders(
    context: dg.AssetExecutionContext,
    config: OrderImportConfig,
    registry: RegistryResource,
    shopify: ShopifyResource,
    postgres: PostgresResource,
    email: EmailResource,
) -> dg.MaterializeResult:
    """One hub order per eligible retailer order, exactly once, through the `order_links`
    ledger (claimed before `orderCreate`, reconciled index-free after a crash or a lost
    response); the retailer order is then tagged as imported."""
    now = datetime.now(UTC)
    totals = {"created": 0, "healed": 0, "confirmed": 0}
    failed, pending = 0, []
    reg = registry.get()
    with flow_runtime(context, reg, shopify, postgres, "orders") as run:
        for rt in run.runtimes:
            stats = create_hub_orders(**_step_args(rt, config, now))
            _merge(totals, {k: getattr(stats, k) for k in totals})
            failed += len(stats.failed)
            pending += stats.pending
            alert_issues(
                context,
                email,
                reg,
                rt.conn,
                rt.retailer.key,
                stats.failed,
                "Hub orders Shopify refused",
            )
        for message in pending:
            context.log.warning(message)
        cost = run.cost()
    return dg.MaterializeResult(
        metadata={
            "hub_orders_created": totals["created"],
            "hub_orders_healed": totals["healed"],
            "retailer_orders_tagged": totals["confirmed"],
            "hub_orders_refused": failed,
            "left_for_next_run": len(pending),
            **cost,
        }
    )
