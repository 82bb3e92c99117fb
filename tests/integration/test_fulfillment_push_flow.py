"""Fulfillment push behaviour against real Postgres and the simulator (issue 5, FAULTS F1–F3,
F6, O8, O9).

Orders are imported first (the push only follows hub orders we made), then the hub ships
exactly the parcels a test is about (`HubShop.ship`), and the retailer side is judged by its
own records: fulfillments, their lines, tracking and customer notifications.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flow_builders import (
    ORDER_CHECKS,
    OTHER,
    HubShop,
    Line,
    RetailerShop,
    calls,
    job_metadata,
    numbers_of,
    order_flags,
    tracking,
    units_of,
)

from sync.fulfillments import hub_orders_query
from sync.windows import lookback_window
from tests.fixtures.flows import RETAILERS, check_evaluations

pytestmark = pytest.mark.integration

SILENT = "test-retail-store"  # pushed with notify_customer=False


def fulfillment_links(flow, retailer: str) -> dict[str, tuple]:
    """hub fulfillment GID -> (state, terminal_reason, attempts, message)."""
    rows = flow.connect().execute(
        "SELECT hub_fulfillment_gid, state, terminal_reason, attempts, message"
        " FROM shopsync.fulfillment_links WHERE retailer = %s",
        (retailer,),
    )
    return {gid: tuple(rest) for gid, *rest in rows}


def fo_remaining(shop: RetailerShop, order, location_id: str) -> tuple[str, dict[str, int]]:
    fos = shop.state_of(order)["fulfillment_orders"]
    fo = next(f for f in fos if f["location_id"] == location_id)
    return fo["status"], {li["sku"]: li["remaining_quantity"] for li in fo["line_items"]}


def test_split_and_partial_shipments_pushed_exactly_across_retailers(flow):
    """F1 + F2 at all four retailers: the hub ships an order in two parcels sets (the first
    with two tracking numbers, one unit of a two-unit line; the second by another carrier)
    and leaves a line unshipped. Each becomes one retailer fulfillment with exactly its lines,
    quantities and tracking, one customer email each (none where the push is configured not
    to notify, `test-retail-store` here); what was not shipped stays open at the
    retailer, lines at other locations are untouched; a re-run pushes nothing."""
    hub = HubShop(flow)
    cases = {}
    for key in RETAILERS:
        shop = RetailerShop(flow, key)
        a, b, c, d = shop.skus(4)
        lines = [Line(a, 2), Line(b, 1), Line(c, 3)]
        if shop.other_locations:
            lines.append(Line(d, 1, at=OTHER))
        order = shop.order(*lines)
        assert flow.import_orders(key)[1].created == 1
        cases[key] = (shop, order, (a, b, c, d))
    for key, (shop, order, (a, b, c, d)) in cases.items():
        made = hub.order_for(shop, order)
        first = hub.ship(made, {a: 1, b: 1}, tracking("UPS", parcels=2))
        second = hub.ship(made, {a: 1}, tracking("FedEx"))
        cases[key] = (shop, order, first, second, (a, b, c, d))

    for key in RETAILERS:
        landed, pushed = flow.push_fulfillments(key, notify_customer=key != SILENT)
        assert landed == 2
        assert (pushed.pushed, pushed.terminal, pushed.pending) == (2, [], [])

    for shop, order, first, second, (a, b, c, d) in cases.values():
        state = shop.state_of(order)
        made = {tuple(sorted(numbers_of(f["tracking"]))): f for f in state["fulfillments"]}
        assert len(made) == 2
        for hub_f, units in ((first, {a: 1, b: 1}), (second, {a: 1})):
            mine = made[tuple(sorted(numbers_of(hub_f.tracking)))]
            assert units_of(mine) == units
            assert {(t["number"], t["url"]) for t in mine["tracking"]} == {
                (t["number"], t["url"]) for t in hub_f.tracking
            }
            assert {t["company"] for t in mine["tracking"]} == {hub_f.tracking[0]["company"]}
            assert mine["notifications"] == (0 if shop.key == SILENT else 1)
        status, left = fo_remaining(shop, order, shop.hub_location.id)
        assert (status, left) == ("IN_PROGRESS", {a: 0, b: 0, c: 3})
        if shop.other_locations:
            assert fo_remaining(shop, order, shop.other_locations[0].id) == ("OPEN", {d: 1})
    audit = flow.audit()
    assert (audit.duplicate_retailer_fulfillments, audit.missing_retailer_fulfillments) == (0, 0)
    assert audit.retailer_fulfillments_pushed == 8

    creates = calls(flow, "fulfillments_create_retailer")
    for key in RETAILERS:
        _, again = flow.push_fulfillments(key, notify_customer=key != SILENT)
        assert (again.pushed, again.healed, again.terminal) == (0, 0, [])
    assert calls(flow, "fulfillments_create_retailer") == creates
    for shop, order, *_ in cases.values():
        state = shop.state_of(order)
        emails = 0 if shop.key == SILENT else 1
        assert [f["notifications"] for f in state["fulfillments"]] == [emails, emails]


def test_closed_cancelled_held_or_moved_fulfillment_order_is_terminal_once(flow):
    """F6: when the retailer's hub-location FO was closed, cancelled, put on hold, moved to
    another location, or already fulfilled by the retailer, the hub shipment is recorded
    terminal with that reason and alerted once; the next run neither retries nor re-alerts."""
    key = "botanical-interests"
    shop, hub = RetailerShop(flow, key), HubShop(flow)
    (sku,) = shop.skus(1)
    reasons = ("fo_closed", "fo_cancelled", "fo_on_hold", "fo_moved", "already_fulfilled")
    orders = {reason: shop.order(Line(sku, 2)) for reason in reasons}
    assert flow.import_orders(key)[1].created == 5
    shipped = {reason: hub.ship(hub.order_for(shop, o), {sku: 2}) for reason, o in orders.items()}
    shop.set_fo_status(orders["fo_closed"], "CLOSED")
    shop.set_fo_status(orders["fo_cancelled"], "CANCELLED")
    shop.hold(orders["fo_on_hold"])
    shop.move_fo(orders["fo_moved"])
    shop.fulfill_here(orders["already_fulfilled"], {sku: 2})

    _, pushed = flow.push_fulfillments(key)
    assert pushed.pushed == 0
    assert sorted(issue.reason for issue in pushed.terminal) == sorted(orders)
    links = fulfillment_links(flow, key)
    for reason, hub_f in shipped.items():
        state, why, attempts, message = links[hub_f.id]
        assert (state, why, attempts) == ("terminal", reason, 1)
        assert f"retailer '{key}'" in message and orders[reason].name in message
    untouched = [o for r, o in orders.items() if r != "already_fulfilled"]
    assert all(shop.state_of(o)["fulfillments"] == [] for o in untouched)

    reads = calls(flow, "fulfillments_retailer_order_fulfillment_orders")
    _, again = flow.push_fulfillments(key)
    assert (again.pushed, again.terminal, again.pending, again.hub_fulfillments) == (0, [], [], 0)
    assert calls(flow, "fulfillments_retailer_order_fulfillment_orders") == reads
    assert {gid: row[:3] for gid, row in fulfillment_links(flow, key).items()} == {
        gid: row[:3] for gid, row in links.items()
    }


def test_cancelled_or_edited_after_import_never_ships_what_the_retailer_removed(flow):
    """O8 + O9 at the fulfillment side: the retailer cancels one imported order and removes a
    line from another; the hub (not stopped yet) ships both in full. The cancelled order gets
    no fulfillment (terminal `order_cancelled`), the edited one only the line it still has;
    both changes are flagged in `shopsync.order_flags` by the next import."""
    key = "epic-gardening"
    shop, hub = RetailerShop(flow, key), HubShop(flow)
    a, b = shop.skus(2)
    cancelled = shop.order(Line(a, 1))
    edited = shop.order(Line(a, 2), Line(b, 1))
    assert flow.import_orders(key)[1].created == 2
    shop.cancel(cancelled)
    shop.edit_quantity(edited, b, 0)
    landing, _ = flow.import_orders(key)
    assert sorted(issue.reason for issue in landing.flagged) == [
        "cancelled_after_import",
        "edited_after_import",
    ]
    assert order_flags(flow, key) == {
        (cancelled.id, "cancelled_after_import"),
        (edited.id, "edited_after_import"),
    }

    to_cancelled = hub.ship(hub.order_for(shop, cancelled), {a: 1})
    hub.ship(hub.order_for(shop, edited), {a: 2, b: 1})
    _, pushed = flow.push_fulfillments(key)
    assert pushed.pushed == 1
    assert [issue.reason for issue in pushed.terminal] == ["order_cancelled"]
    assert fulfillment_links(flow, key)[to_cancelled.id][:2] == ("terminal", "order_cancelled")
    assert shop.state_of(cancelled)["fulfillments"] == []
    (only,) = shop.state_of(edited)["fulfillments"]
    assert units_of(only) == {a: 2}
    _, again = flow.push_fulfillments(key)
    assert (again.pushed, again.terminal) == (0, [])
    assert flow.import_orders(key)[0].flagged == []  # flagged once, alerted once


def test_full_cycle_through_dagster_jobs_pushes_a_late_shipment(flow):
    """The Dagster path: `orders_job` on the current hour imports two orders (blocking checks
    pass) next to one imported three days ago; the hub ships the old one now (F3: only its hub
    order's `updated_at` moved into the current hour), splits one and partly ships the other;
    `fulfillments_job` on the current hour pushes all four shipments, its blocking checks
    pass, and the stores' audit finds no duplicate and nothing missing."""
    key = "test-retail-store"
    shop, hub = RetailerShop(flow, key), HubShop(flow)
    a, b, c = shop.skus(3)
    long_ago = datetime.now(UTC) - timedelta(days=3)
    old = shop.order(Line(a, 1), created_at=long_ago)
    assert flow.import_orders(key, now=long_ago)[1].created == 1  # imported in its own hour
    late = hub.order_for(shop, old)
    hub.backdate(late, long_ago)
    split = shop.order(Line(a, 1), Line(b, 2))
    partial = shop.order(Line(b, 1), Line(c, 2))

    now = datetime.now(UTC)
    orders_run = flow.run_job("orders_job", key, now)
    assert orders_run.success
    checks = check_evaluations(orders_run)
    for name in ORDER_CHECKS:
        assert checks[name].passed, name
    # the old order is read again (tagging it as imported moved its updated_at), not re-made
    assert checks["eligible_orders_have_one_hub_order"].metadata["eligible_orders"].value == 3
    assert checks["hub_orders_are_unique"].metadata["duplicate_hub_orders"].value == 0
    assert job_metadata(orders_run, "hub_orders")["hub_orders_created"] == 2

    assert late.id not in hub_orders_in_window(flow, key, now)  # too old for this hour's run
    hub.ship(late, {a: 1})
    hub.ship(hub.order_for(shop, split), {a: 1})
    hub.ship(hub.order_for(shop, split), {b: 2}, tracking("USPS"))
    hub.ship(hub.order_for(shop, partial), {c: 1})

    push_run = flow.run_job("fulfillments_job", key, datetime.now(UTC))
    assert push_run.success
    checks = check_evaluations(push_run)
    for name in ("hub_shipments_are_pushed", "retailer_fulfillments_are_unique"):
        assert checks[name].passed, name
    assert checks["hub_shipments_are_pushed"].metadata["by_state"].value == {"created": 4}
    unique = checks["retailer_fulfillments_are_unique"].metadata
    assert unique["duplicate_retailer_fulfillments"].value == 0
    assert job_metadata(push_run, "hub_fulfillments")["hub_fulfillments_landed"] == 4
    pushed = job_metadata(push_run, "retailer_fulfillments")
    assert (pushed["fulfillments_pushed"], pushed["terminal_new"]) == (4, 0)

    assert late.id in hub_orders_in_window(flow, key, now)  # the shipment moved updated_at
    assert [units_of(f) for f in shop.state_of(old)["fulfillments"]] == [{a: 1}]
    assert sorted(map(str, (units_of(f) for f in shop.state_of(split)["fulfillments"]))) == sorted(
        [str({a: 1}), str({b: 2})]
    )
    assert fo_remaining(shop, partial, shop.hub_location.id) == ("IN_PROGRESS", {b: 1, c: 1})
    audit = flow.audit()
    assert (audit.hub_orders, audit.duplicate_hub_orders) == (3, 0)
    assert (audit.duplicate_retailer_fulfillments, audit.missing_retailer_fulfillments) == (0, 0)
    assert audit.hub_fulfillments == audit.retailer_fulfillments_pushed == 4


def hub_orders_in_window(flow, retailer: str, now: datetime) -> set[str]:
    """Hub orders the fulfillments run of `now`'s hour reads (its window plus lookback)."""
    lookback = flow.registry.retailer(retailer).lookback_hours.fulfillments
    since, until = lookback_window(*flow.windows(now)[0], lookback)
    pages = flow.client("hub").paginate(
        "fulfillments_updated_hub_orders",
        {"query": hub_orders_query(since, until, retailer)},
        ("orders",),
    )
    return {node["id"] for node in pages}
