"""Inventory sync: the hub snapshot once per cycle, then per retailer its levels at the
hub location landed and the differences written (`flows/inventory.py`)."""

from datetime import UTC, datetime

import dagster as dg

from assets.flow_asset import FlowAssetStep, build_flow_asset
from assets.partitions import retailer_partitions
from flows.inventory import push_inventory, read_retailer_inventory, refresh_hub
from flows.inventory_checks import verify_inventory
from resources.postgres import PostgresResource
from resources.registry import RegistryResource
from resources.shopify import PostgresCallRecorder, ShopifyResource

INVENTORY_STEPS = (
    FlowAssetStep(
        "retailer_inventory",
        "The retailer's stock at its hub location (never its other locations): what changed "
        "since the last cycle, or every item when the hourly full reconciliation is due, "
        "landed in shopsync.retailer_inventory.",
        read_retailer_inventory,
    ),
    FlowAssetStep(
        "inventory_pushes",
        "The retailer's hub location set to max(0, hub available − safety stock − units "
        "every retailer has sold that the hub has not received yet), for each SKU both "
        "stores carry exactly once: only the differences, in batches, compare-and-set, "
        "through the inventory_pushes ledger. SKUs that cannot be synced are listed with "
        "the fix.",
        push_inventory,
        "SKUs whose stock cannot be synced",
    ),
)


class HubInventoryConfig(dg.Config):
    #: Read every hub level (the hourly reconciliation sets it), not only what changed.
    full_reconciliation: bool = False


@dg.asset(
    group_name="inventory",
    kinds={"shopify", "postgres"},
    description="The hub's available stock at its warehouse location, read once per cycle "
    "for every retailer (what changed since the last read, or everything at the hourly "
    "reconciliation), landed in shopsync.hub_inventory.",
)
def hub_inventory(
    context: dg.AssetExecutionContext,
    config: HubInventoryConfig,
    registry: RegistryResource,
    shopify: ShopifyResource,
    postgres: PostgresResource,
) -> dg.MaterializeResult:
    recorder = PostgresCallRecorder(postgres.get_connection)
    try:
        with (
            shopify.get_client("hub", run_id=context.run.run_id, recorder=recorder) as hub,
            postgres.get_connection() as conn,
        ):
            hub.step, hub.on_behalf_of = "hub_inventory", "hub"
            report = refresh_hub(
                hub, conn, registry.get(), full=config.full_reconciliation, now=datetime.now(UTC)
            )
    finally:
        recorder.close()
    return dg.MaterializeResult(metadata=report.counts)


def build_inventory_flow() -> dg.AssetsDefinition:
    return build_flow_asset(
        "inventory",
        INVENTORY_STEPS,
        retailer_partitions("inventory"),
        verify=verify_inventory,
        upstream=["hub_inventory"],
        # Every retailer's new sales are landed before any retailer's stock is written.
        step_by_step=True,
    )
