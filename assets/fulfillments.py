"""Fulfillment push assets: hub shipments landed, then pushed to the retailer once each."""

import dagster as dg

from assets.alerts import alert_issues
from assets.fulfillment_push import land_hub_fulfillments, push_retailer_fulfillments
from assets.runtime import flow_asset, flow_runtime
from resources.email import EmailResource
from resources.postgres import PostgresResource
from resources.registry import RegistryResource
from resources.shopify import ShopifyResource


class FulfillmentPushConfig(dg.Config):
    notify_customer: bool = True


@flow_asset("fulfillments", "shopify_hub_reads")
def hub_fulfillments(
    context: dg.AssetExecutionContext,
    registry: RegistryResource,
    shopify: ShopifyResource,
    postgres: PostgresResource,
) -> dg.MaterializeResult:
    """Fulfillments of the retailer's hub orders updated in the window (plus lookback): a
    shipment days after the order updates its order, so it is still seen (F3)."""
    landed = 0
    with flow_runtime(context, registry.get(), shopify, postgres, "fulfillments") as run:
        for rt in run.runtimes:
            landed += land_hub_fulfillments(
                retailer=rt.retailer, hub=rt.hub_client, conn=rt.conn, windows=rt.windows
            )
        cost = run.cost()
    return dg.MaterializeResult(metadata={"hub_fulfillments_landed": landed, **cost})


@flow_asset("fulfillments", "shopify_retailer_writes", deps=[hub_fulfillments])
def retailer_fulfillments(
    context: dg.AssetExecutionContext,
    config: FulfillmentPushConfig,
    registry: RegistryResource,
    shopify: ShopifyResource,
    postgres: PostgresResource,
    email: EmailResource,
) -> dg.MaterializeResult:
    """Each hub shipment created once at the retailer, on the fulfillment order at the hub
    location, for exactly the lines and quantities shipped, with every tracking number,
    through the `fulfillment_links` ledger. Terminal cases are recorded and alerted once."""
    totals = {"pushed": 0, "healed": 0, "tracking_updated": 0}
    terminal, pending = 0, []
    reg = registry.get()
    with flow_runtime(context, reg, shopify, postgres, "fulfillments") as run:
        for rt in run.runtimes:
            stats = push_retailer_fulfillments(
                retailer=rt.retailer,
                client=rt.retailer_client,
                conn=rt.conn,
                windows=rt.windows,
                run_id=rt.run_id,
                notify_customer=config.notify_customer,
            )
            for key in totals:
                totals[key] += getattr(stats, key)
            terminal += len(stats.terminal)
            pending += stats.pending
            alert_issues(
                context,
                email,
                reg,
                rt.conn,
                rt.retailer.key,
                stats.terminal,
                "Shipments that cannot be pushed to the retailer",
            )
        cost = run.cost()
    return dg.MaterializeResult(
        metadata={
            "fulfillments_pushed": totals["pushed"],
            "fulfillments_healed": totals["healed"],
            "tracking_updated": totals["tracking_updated"],
            "terminal_new": terminal,
            "left_for_next_run": len(pending),
            **cost,
        }
    )
