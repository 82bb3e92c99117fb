"""The exception queue as an asset: what needs a person, visible in the Dagster UI.

Each materialization lists the open exceptions (retailer, order, reason, the fix, how
long it has waited, the partition to re-run) as a markdown table, with counts by kind
and by retailer and the oldest wait as numbers the UI plots over time. With `retry`
(the `retry_exceptions_job`) it first re-runs what a re-run can fix; with `resolve` it
first marks items an operator handled outside shopsync. Exceptions waiting longer than
the registry's `exception_escalate_hours` are emailed once (`flows.exceptions.escalate`).
"""

from dataclasses import replace
from datetime import UTC, datetime

import dagster as dg

from flows.exceptions import RetryPlan, escalate, open_queue, resolve, retry_exceptions
from flows.runner import RetailersFailedError
from resources.email import EmailResource, known_secret_values
from resources.postgres import PostgresResource
from resources.registry import RegistryResource
from resources.shopify import PostgresCallRecorder, ShopifyResource
from sync.exceptions import TABLE_COLUMNS, ExceptionItem, counts, table_rows
from sync.markdown import md_table, md_text

#: Rows shown in the table (oldest first); the counts always cover every item.
TABLE_LIMIT = 200


class ExceptionQueueConfig(dg.Config):
    """`retry`: re-run what a re-run can fix first (quarantined, held, refused, terminal
    shipments). `resolve`: item keys (the table's Key column) handled outside shopsync,
    with an optional `note`."""

    retry: bool = False
    resolve: list[str] = []
    note: str = ""


@dg.asset(
    group_name="operations",
    kinds={"postgres", "shopify"},
    deps=[
        "retailer_orders",
        "hub_orders",
        "hub_order_follow_ups",
        "retailer_fulfillments",
        "retailer_order_follow_ups",
        "inventory_pushes",
    ],
    description="Orders that need a person: quarantined or held retailer orders, orders "
    "cancelled or edited after import, follow-ups held or refused, hub orders Shopify "
    "refused, shipments that cannot be pushed, and SKUs whose stock cannot be synced. "
    "Each row says the fix, how long it has waited and which partition to re-run; "
    "exceptions waiting longer than the registry's escalation time are emailed to the "
    "operators once.",
)
def exception_queue(
    context: dg.AssetExecutionContext,
    config: ExceptionQueueConfig,
    registry: RegistryResource,
    postgres: PostgresResource,
    email: EmailResource,
    shopify: ShopifyResource,
):
    reg = registry.get()
    now = datetime.now(UTC)
    extra: dict[str, object] = {}
    retry = None
    with postgres.get_connection() as conn:
        items = open_queue(conn, reg, now)
        if config.resolve:
            done, unknown = resolve(conn, items, config.resolve, context.run.run_id, config.note)
            extra["resolved_now"] = len(done)
            if unknown:
                context.log.warning("not in the queue (already gone?): %s", ", ".join(unknown))
            items = open_queue(conn, reg, now)
    if config.retry:
        retry = _retry(context, reg, shopify, postgres, email, now, items)
        extra.update(retry.metadata())
    with postgres.get_connection() as conn:
        items = open_queue(conn, reg, datetime.now(UTC))
        escalated_now = _escalate(context, conn, email, reg, items)
    items = [replace(i, escalated=True) if i.key in escalated_now else i for i in items]
    yield dg.MaterializeResult(metadata={**queue_metadata(items, [r.key for r in reg.retailers]),
                                         "escalated_now": len(escalated_now), **extra})  # fmt: skip
    if retry and retry.failed:
        secrets = known_secret_values(reg)
        raise RetailersFailedError("retry", retry.failed, retry.retailers, secrets)


def _retry(context, reg, shopify, postgres, email, now, items):
    recorder = PostgresCallRecorder(postgres.get_connection)
    try:
        plan = RetryPlan(reg, shopify, postgres, email, recorder, context.run.run_id, now,
                         context.log)  # fmt: skip
        return retry_exceptions(plan, items)
    finally:
        recorder.close()


def _escalate(context, conn, email, reg, items) -> set[str]:
    try:
        return {i.key for i in escalate(conn, email, reg, items, datetime.now(UTC), context.log)}
    except Exception as exc:  # the queue must show even when the outbox cannot take mail
        context.log.error("could not queue the escalation: %s: %s", type(exc).__name__, exc)
        return set()


def queue_metadata(items: list[ExceptionItem], retailers: list[str]) -> dict[str, object]:
    """Numbers the UI plots (total, per kind, per retailer, oldest wait) and the table."""
    figures = counts(items, retailers)
    metadata: dict[str, object] = {
        "exceptions": figures["total"],
        "oldest_wait_hours": float(figures["oldest_wait_hours"]),
        "escalated": figures["escalated"],
    }
    metadata.update({f"kind_{k}": n for k, n in figures["by_kind"].items()})
    metadata.update({f"retailer_{r}": n for r, n in figures["by_retailer"].items()})
    metadata["queue"] = dg.MetadataValue.md(queue_markdown(items))
    return metadata


def queue_markdown(items: list[ExceptionItem]) -> str:
    if not items:
        return "No exceptions: nothing waits for a person."
    shown = items[:TABLE_LIMIT]
    text = md_table(TABLE_COLUMNS, table_rows(shown))
    if len(items) > len(shown):
        text += "\n\n" + md_text(f"… and {len(items) - len(shown)} more, newer ones.")
    return text
