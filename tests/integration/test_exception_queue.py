"""The exception queue against real Postgres and the simulator (issue 10).

Each test makes the exceptions it is about through the flows themselves (an order with a
SKU the hub does not sell, a hold, a refusal by the hub, a shipment the retailer cannot
take), reads the queue as the asset does, fixes the cause in the simulated stores as an
operator would, re-runs, and judges by the queue and by the stores' own records.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import psycopg
import pytest
from flow_builders import HubShop, Line, RetailerShop, add_variant, calls

from flows.exceptions import escalate, open_queue
from pipelines.exceptions import EXCEPTION_ASSETS, EXCEPTION_JOBS
from pipelines.resources import build_resources
from resources.email import EmailResource
from resources.ledgers.exceptions import exception_counts
from resources.postgres import PostgresResource
from resources.registry import registry_path
from simulator.store import utcnow
from sync.exceptions import hour_of, hour_partition_key
from tests.fixtures.flows import check_evaluations

pytestmark = pytest.mark.integration

KEY = "botanical-interests"
HOSTILE = "<script>alert('queue')</script>"
PIPED_SKU = "EVIL|SKU-7"


def queue(flow, now: datetime | None = None) -> dict[str, object]:
    """Item key -> item, as the asset reads the queue."""
    with psycopg.connect(flow.db_url, autocommit=True) as conn:
        items = open_queue(conn, flow.registry, now or datetime.now(UTC))
    return {i.key: i for i in items}


def run_queue_job(flow, job: str = "exception_queue_job", **config) -> dict[str, object]:
    """One Dagster run of an exception job; the queue's materialization metadata."""
    defs = dg.Definitions(
        assets=EXCEPTION_ASSETS, jobs=EXCEPTION_JOBS,
        resources=build_resources(str(registry_path())),
    )  # fmt: skip
    run_config = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
    if config or job == "retry_exceptions_job":
        config.setdefault("retry", job == "retry_exceptions_job")
        run_config["ops"] = {"exception_queue": {"config": config}}
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def(job).execute_in_process(
            instance=instance, run_config=run_config, raise_on_error=False
        )
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    (event,) = result.get_asset_materialization_events()
    return {k: v.value for k, v in event.materialization.metadata.items()}


def refusing_variant(hub: HubShop, sku: str):
    """Make the hub refuse orders of `sku`: its variant deleted while the search index
    still lists it (`orderCreate` answers "Variant does not exist."); returns the undo."""
    variant = next(v for v in hub.store.variants.values() if v.sku == sku)
    with hub.store.lock:
        del hub.store.nodes[variant.id]

    def restore() -> None:
        with hub.store.lock:
            hub.store.nodes[variant.id] = variant

    return restore


def rename(shop: RetailerShop, order, name: str) -> None:
    with shop.store.lock:
        order.name = name
        shop.store.touch(order, "order", utcnow())


def partition_of(flow, order) -> str:
    """The `hour|retailer` key of the order's landed `updated_at`."""
    with psycopg.connect(flow.db_url, autocommit=True) as conn:
        (updated,) = conn.execute(
            "SELECT updated_at FROM shopsync.retailer_orders WHERE order_gid = %s", (order.id,)
        ).fetchone()
    return hour_partition_key(KEY, hour_of(updated.astimezone(UTC)))


def link_state(flow, order) -> str:
    with psycopg.connect(flow.db_url, autocommit=True) as conn:
        return conn.execute(
            "SELECT state FROM shopsync.order_links WHERE retailer_order_gid = %s", (order.id,)
        ).fetchone()[0]


def test_every_kind_is_listed_with_reason_fix_wait_and_partition(flow):
    """Quarantined (SKU unknown, no address), held, cancelled and edited after import,
    refused by the hub, a terminal shipment and a SKU only the retailer stocks all
    show with their reason, a fix, the wait and the partition; an order cancelled before
    import needs nobody and is not listed. The asset's metadata counts them by kind and
    by retailer, and its table escapes a hostile order name and a `|` in a SKU."""
    shop, hub = RetailerShop(flow, KEY), HubShop(flow)
    a, b, c = shop.skus(3)
    will_cancel, will_edit = shop.order(Line(a, 1)), shop.order(Line(a, 2), Line(b, 1))
    shipped = shop.order(Line(b, 1))
    assert flow.import_orders(KEY)[1].created == 3
    shop.cancel(will_cancel)
    shop.edit_quantity(will_edit, a, 1)
    hub.ship(hub.order_for(shop, shipped), {b: 1})
    shop.hold(shipped)
    assert [i.reason for i in flow.push_fulfillments(KEY)[1].terminal] == ["fo_on_hold"]

    add_variant(shop.store, PIPED_SKU, title="Piped")
    unknown = shop.order(Line(a, 1), Line(PIPED_SKU, 1))
    rename(shop, unknown, HOSTILE)
    no_address = shop.order(Line(a, 1), shipping=False)
    settled = shop.order(Line(a, 1), cancelled=True)
    held = shop.order(Line(a, 1))
    shop.hold(held)
    refused = shop.order(Line(c, 2))
    refusing_variant(hub, c)
    _, created = flow.import_orders(KEY)
    assert [i.reason for i in created.failed] == ["hub_refused"]
    flow.sync_inventory(KEY)  # the scenario's retailer stocks a SKU the hub does not sell

    later = datetime.now(UTC) + timedelta(hours=2)
    items = queue(flow, later)
    by_order = {(i.kind, i.order): i for i in items.values()}
    expected = {
        ("quarantined", HOSTILE): ("sku_unknown", PIPED_SKU, unknown),
        ("quarantined", no_address.name): ("no_shipping_address", "add one at the retailer",
                                           no_address),
        ("held", held.name): ("on_hold", "Release the hold", held),
        ("cancelled_after_import", will_cancel.name): ("cancelled_after_import",
                                                       "Cancel or hold hub order", will_cancel),
        ("edited_after_import", will_edit.name): ("edited_after_import", "changed to 1",
                                                  will_edit),
        ("refused", refused.name): ("hub_refused", "Variant does not exist", refused),
        ("terminal_shipment", shipped.name): ("fo_on_hold", "Release the hold", None),
    }  # fmt: skip
    for (kind, name), (reason, fix, order) in expected.items():
        item = by_order[(kind, name)]
        assert item.reason == reason and fix in item.fix, item
        assert 1.9 < item.wait_hours < 2.2, item
        if order is not None:
            assert item.partition == partition_of(flow, order), item
    assert by_order[("terminal_shipment", shipped.name)].flow == "fulfillments"
    (mismatch,) = [i for i in items.values() if i.kind == "inventory_mismatch"]
    assert (mismatch.reason, mismatch.partition) == ("only_at_retailer", KEY)
    assert mismatch.order.startswith("SKU ") and "the hub has no item" in mismatch.fix.lower()
    assert settled.name not in {i.order for i in items.values()}
    assert len(items) == len(expected) + 1

    with psycopg.connect(flow.db_url, autocommit=True) as conn:
        figures = exception_counts(conn, later, [KEY, "epic-gardening"])
    assert figures["total"] == len(items) and figures["by_retailer"]["epic-gardening"] == 0
    assert figures["by_kind"]["held"] == 1 and 1.9 < figures["oldest_wait_hours"] < 2.2

    metadata = run_queue_job(flow)
    assert metadata["exceptions"] == len(items)
    assert metadata[f"retailer_{KEY}"] == len(items) and metadata["retailer_epic-gardening"] == 0
    assert (metadata["kind_quarantined"], metadata["kind_refused"]) == (2, 1)
    assert metadata["kind_inventory_mismatch"] == 1 and metadata["escalated_now"] == 0
    table = metadata["queue"]
    assert "<script>" not in table and "&lt;script&gt;" in table
    assert "EVIL\\|SKU-7" in table and "EVIL|SKU" not in table


def test_fixing_the_cause_and_rerunning_the_partition_imports_it_and_the_queue_shrinks(flow):
    """The operator adds the unknown SKU to the hub and re-runs the order's partition
    (orders_job on that one `hour|retailer`): the order is imported once, and the next
    materialization of the queue no longer lists it."""
    shop, hub = RetailerShop(flow, KEY), HubShop(flow)
    good, missing = shop.skus(1)[0], shop.hubless_sku()
    order = shop.order(Line(good, 1), Line(missing, 2))
    flow.import_orders(KEY)
    (item,) = queue(flow).values()
    assert (item.kind, item.reason, item.order) == ("quarantined", "sku_unknown", order.name)
    assert run_queue_job(flow)["exceptions"] == 1

    hub.add_variant(missing, retailer_cost="3.10")
    hour = datetime.strptime(item.partition.split("|")[0], "%Y-%m-%d-%H:%M").replace(tzinfo=UTC)
    assert flow.run_job("orders_job", KEY, hour).success
    made = hub.order_for(shop, order)
    assert {li.sku: li.quantity for li in made.line_items_list} == {good: 1, missing: 2}
    assert queue(flow) == {}
    metadata = run_queue_job(flow)
    assert metadata["exceptions"] == 0 and metadata["kind_quarantined"] == 0
    assert metadata["queue"].startswith("No exceptions")


def test_retry_job_imports_a_refused_order_pushes_a_terminal_shipment_and_resolves(flow):
    """A refused hub order and a terminal shipment are not retried by re-running their
    partition (the refused order's partition keeps failing its blocking check). After the
    fix (the hub variant back, the hold released) one launch of retry_exceptions_job
    imports the order once and pushes the shipment once; the order cancelled after import
    leaves the queue once the orders run carried the cancel to the hub. A second launch
    changes nothing."""
    shop, hub = RetailerShop(flow, KEY), HubShop(flow)
    a, c = shop.skus(2)
    shipped, will_cancel = shop.order(Line(a, 1)), shop.order(Line(a, 1))
    assert flow.import_orders(KEY)[1].created == 2
    hub.ship(hub.order_for(shop, shipped), {a: 1})
    shop.hold(shipped)
    shop.cancel(will_cancel)
    restore = refusing_variant(hub, c)
    refused = shop.order(Line(c, 3))
    flow.import_orders(KEY)
    flow.push_fulfillments(KEY)
    kinds = {i.kind: i for i in queue(flow).values()}
    assert set(kinds) == {"refused", "terminal_shipment", "cancelled_after_import"}

    restore()
    shop.release(shipped)
    # Through the current hour too: the cancel moved will_cancel's updated_at there.
    rerun = flow.run_job("orders_job", KEY, kinds["refused"].hour, datetime.now(UTC))
    assert not check_evaluations(rerun)["eligible_orders_have_one_hub_order"].passed
    assert link_state(flow, refused) == "failed" and hub.orders_for(shop, refused) == []

    assert hub.order_for(shop, will_cancel).cancelled_at is not None  # the follow-up step's
    metadata = run_queue_job(flow, "retry_exceptions_job")
    assert hub.order_for(shop, refused).line_items_list[0].quantity == 3
    assert link_state(flow, refused) == "confirmed"
    (pushed,) = shop.state_of(shipped)["fulfillments"]
    assert {li["sku"]: li["quantity"] for li in pushed["line_items"]} == {a: 1}
    assert metadata["retry_reopened_refused_orders"] == 1
    assert metadata["retry_reopened_terminal_shipments"] == 1
    assert (metadata["retry_hub_orders_created"], metadata["retry_fulfillments_pushed"]) == (1, 1)
    assert metadata["exceptions"] == 0
    assert queue(flow) == {}

    creates = calls(flow, "orders_create_hub")
    again = run_queue_job(flow, "retry_exceptions_job")
    assert (again["exceptions"], again["retry_reopened_refused_orders"]) == (0, 0)
    assert calls(flow, "orders_create_hub") == creates
    audit = flow.audit()
    assert (audit.duplicate_hub_orders, audit.duplicate_retailer_fulfillments) == (0, 0)


def outbox(flow) -> list[tuple]:
    with psycopg.connect(flow.db_url, autocommit=True) as conn:
        return conn.execute(
            "SELECT id, dedupe_key, recipients, subject, html, text FROM shopsync.email_outbox"
            " WHERE kind = 'exception_escalation' ORDER BY id"
        ).fetchall()


def test_an_exception_escalates_once_after_the_threshold(flow):
    """Waiting up to `exception_escalate_hours` (4 h): no email. Longer: one email to the
    operators listing it, its fix and its wait, with the hostile name escaped. Later
    materializations never escalate it again; a newer exception escalates in its own email
    when its own time comes."""
    shop = RetailerShop(flow, KEY)
    (good,) = shop.skus(1)
    first = shop.order(Line(good, 1), shipping=False)
    rename(shop, first, HOSTILE)
    flow.import_orders(KEY)
    email = EmailResource(postgres=PostgresResource(url=flow.db_url), outbox_only=True)
    (item,) = queue(flow).values()
    start = item.waiting_since

    def escalate_at(moment: datetime) -> list:
        with psycopg.connect(flow.db_url, autocommit=True) as conn:
            items = open_queue(conn, flow.registry, moment)
            return escalate(conn, email, flow.registry, items, moment)

    assert escalate_at(start + timedelta(hours=4)) == []
    assert outbox(flow) == []
    assert [i.key for i in escalate_at(start + timedelta(hours=4, seconds=1))] == [item.key]
    (mail,) = outbox(flow)
    _, dedupe, recipients, subject, html, text = mail
    assert recipients == flow.registry.notifications.recipients
    assert subject == "[shopsync] 1 exception waiting over 4 h"
    assert "<script>" not in html and "&lt;script&gt;" in html and HOSTILE in text
    assert "add one at the retailer" in text and "4 h 0 min" in text and item.key in text
    assert escalate_at(start + timedelta(hours=9)) == []
    assert queue(flow, start + timedelta(hours=9))[item.key].escalated

    second = shop.order(Line(good, 1), shipping=False)
    flow.import_orders(KEY)
    newer = next(i for i in queue(flow).values() if i.order == second.name)
    assert escalate_at(newer.waiting_since + timedelta(hours=3)) == []
    assert [i.order for i in escalate_at(newer.waiting_since + timedelta(hours=5))] == [second.name]
    assert len(outbox(flow)) == 2 and HOSTILE not in outbox(flow)[1][5]
    with psycopg.connect(flow.db_url, autocommit=True) as conn:
        linked = conn.execute(
            "SELECT count(*) FROM shopsync.email_alerted a JOIN shopsync.email_outbox o"
            " ON o.id = a.outbox_id WHERE a.alert_key LIKE 'escalated:%%'"
        ).fetchone()[0]
    assert linked == 2
