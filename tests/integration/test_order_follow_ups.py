"""Imported orders followed to the end (FAULTS O12–O14), judged by the stores' own state
read back through the Admin API: no hub order left open for a cancelled retailer order,
nothing shipped or pushed after a cancel, hub quantities equal to the edited retailer
order, every held order in the exception queue — each also under a lost response, a
process killed between hold and cancel, and 5xx/timeouts."""

from __future__ import annotations

import contextlib
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from flow_builders import HubShop, Line, RetailerShop

from flows.follow_ups import follow_up_stats
from flows.orders import landing_stats
from flows.steps import RetailerStep
from resources.ledgers.exceptions import exception_rows
from resources.shopify.errors import ShopifyTransientError
from simulator.context import fo_visible
from sync.follow_up_plan import HubOrder
from tests.integration.fault_worker import start_worker
from tests.integration.test_exactly_once_faults import executed, finished

pytestmark = pytest.mark.integration

RETAILERS = ("epic-gardening", "test-retail-store")


def hub_state(flow, shop: RetailerShop, order) -> HubOrder:
    """The hub order as the hub's Admin API shows it now."""
    gid = HubShop(flow).order_for(shop, order).id
    return HubOrder.from_graphql(
        flow.client("hub").execute("follow_ups_hub_order", {"id": gid})["order"]
    )


def imported(flow, key: str, *lines: Line):
    shop = RetailerShop(flow, key)
    order = shop.order(*lines)
    _, created = flow.import_orders(key)
    assert created.created == 1
    hub_order = HubShop(flow).order_for(shop, order)
    deadline = time.monotonic() + 5
    while not fo_visible(hub_order):  # the hub routes a new order's FOs after a delay
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return shop, order


def changed_order(flow, key: str, change: str):
    """An imported order of two lines, then edited (one line's quantity down) or, after the
    hub shipped one unit, cancelled at the retailer."""
    a, b = RetailerShop(flow, key).skus(2)
    shop, order = imported(flow, key, Line(a, 2), Line(b, 1))
    if change == "edit":
        shop.edit_quantity(order, a, 1)
    else:
        HubShop(flow).ship(HubShop(flow).order_for(shop, order), {a: 1})
        shop.cancel(order)
    return order


def follow_up(flow, key: str):
    """One orders cycle's landing, then its follow-up step (same run), on one connection
    and one pair of clients per test and retailer (a loop must not pile up connections)."""
    steps: dict[str, RetailerStep] = flow.__dict__.setdefault("follow_up_steps", {})
    base = steps.get(key) or steps.setdefault(key, flow.step(key))
    now = datetime.now(UTC)
    step = replace(base, now=now, windows=flow.windows(now))
    landing_stats(step)
    return follow_up_stats(step)


def states(flow) -> dict[str, str]:
    with psycopg.connect(flow.db_url) as conn:
        rows = conn.execute("SELECT retailer_order_gid, state FROM shopsync.order_follow_ups")
        return dict(rows.fetchall())


@pytest.mark.parametrize("key", RETAILERS)
def test_o12_cancel_before_shipping_holds_and_cancels_the_hub_order_once(flow, key):
    shop, order = imported(flow, key, *(Line(s, 2) for s in RetailerShop(flow, key).skus(2)))
    shop.cancel(order)
    stats = follow_up(flow, key)
    assert stats.by_state == {"cancelled": 1}
    [issue] = stats.issues
    assert issue.order_name == order.name and "cancelled at the hub" in issue.reason
    hub = hub_state(flow, shop, order)
    assert hub.cancelled and not any(fo.live for fo in hub.fulfillment_orders)
    assert (
        executed(flow, "hub", "fulfillmentOrderHold"),
        executed(flow, "hub", "orderCancel"),
    ) == (1, 1)

    again = follow_up(flow, key)  # the next cycle: nothing more to do, nothing told twice
    assert (again.by_state, again.issues) == ({}, [])
    assert executed(flow, "hub", "orderCancel") == 1
    flow.sim.run_warehouse(seed=1)
    _, pushed = flow.push_fulfillments(key)
    assert pushed.pushed == 0  # nothing shipped, nothing pushed after the cancel
    with flow.connect() as conn:
        assert [r for r in exception_rows(conn) if r.subject == order.id] == []


def test_o13_cancel_after_part_shipped_holds_the_rest_and_queues_it_for_a_person(flow):
    key = "epic-gardening"
    a, b = RetailerShop(flow, key).skus(2)
    shop, order = imported(flow, key, Line(a, 2), Line(b, 1))
    HubShop(flow).ship(HubShop(flow).order_for(shop, order), {a: 1})
    shop.cancel(order)
    stats = follow_up(flow, key)
    assert stats.by_state == {"held_for_review": 1}
    hub = hub_state(flow, shop, order)
    assert not hub.cancelled and executed(flow, "hub", "orderCancel") == 0
    live = [fo for fo in hub.fulfillment_orders if fo.live]
    assert live and all(fo.held_by_us and fo.status == "ON_HOLD" for fo in live)
    assert f"{a} shipped 1, unshipped 1" in stats.issues[0].fix
    with flow.connect() as conn:
        [row] = [r for r in exception_rows(conn) if r.subject == order.id]
    assert row.kind == "held_for_review" and "refund or return the shipped lines" in row.detail
    flow.sim.run_warehouse(seed=2)  # the warehouse ships nothing held
    assert hub_state(flow, shop, order).unshipped(hub.lines[0].id) + hub_state(
        flow, shop, order).unshipped(hub.lines[1].id) == 2  # fmt: skip


def test_o14_edit_before_shipping_is_mirrored_and_a_removed_line_never_ships(flow):
    key = "test-retail-store"
    a, b = RetailerShop(flow, key).skus(2)
    shop, order = imported(flow, key, Line(a, 3), Line(b, 1))
    shop.edit_quantity(order, a, 1)
    shop.edit_quantity(order, b, 0)
    stats = follow_up(flow, key)
    assert stats.by_state == {"edited": 1}
    hub = hub_state(flow, shop, order)
    assert {line.sku: line.current_quantity for line in hub.lines if line.current_quantity} == {
        a: 1
    }
    assert executed(flow, "hub", "orderEditCommit") == 1
    flow.sim.run_warehouse(seed=3)
    _, pushed = flow.push_fulfillments(key)
    with flow.connect() as conn:
        shipped = conn.execute(
            "SELECT lines FROM shopsync.fulfillment_links WHERE retailer = %s", (key,)
        ).fetchall()
    assert pushed.pushed == len(shipped) >= 1
    assert b not in str(shipped)  # the removed line was never shipped nor pushed
    assert follow_up(flow, key).by_state == {}  # mirrored once


def test_o14_edit_after_shipping_started_is_held_not_guessed(flow):
    key = "epic-gardening"
    a, b = RetailerShop(flow, key).skus(2)
    shop, order = imported(flow, key, Line(a, 2), Line(b, 2))
    HubShop(flow).ship(HubShop(flow).order_for(shop, order), {a: 1})
    shop.edit_quantity(order, b, 1)
    stats = follow_up(flow, key)
    assert stats.by_state == {"held_for_review": 1}
    assert executed(flow, "hub", "orderEditCommit") == 0
    assert all(fo.held_by_us for fo in hub_state(flow, shop, order).fulfillment_orders if fo.live)


def test_o12_cancelled_before_the_hub_routed_its_order_waits_then_cancels(flow):
    """Cancelled at the retailer before the hub order has its fulfillment orders (Shopify
    makes them shortly after the order): nothing is decided from an order that seems all
    shipped for want of them; once routed, the next run holds and cancels it."""
    key = "epic-gardening"
    shop = RetailerShop(flow, key)
    order = shop.order(Line(shop.skus(1)[0], 1))
    assert flow.import_orders(key)[1].created == 1
    hub_order = HubShop(flow).order_for(shop, order)
    hub_order.fo_visible_at = time.time() + 3600  # the hub is slow to route it
    shop.cancel(order)
    waiting = follow_up(flow, key)
    assert waiting.by_state == {} and states(flow) == {}
    assert any("not routed at the hub yet" in p for p in waiting.pending)
    writes = ("fulfillmentOrderHold", "orderCancel")
    assert [executed(flow, "hub", field) for field in writes] == [0, 0]
    hub_order.fo_visible_at = 0.0  # routed now
    done = follow_up(flow, key)
    assert done.by_state == {"cancelled": 1}, (done.seen, done.pending)
    assert hub_state(flow, shop, order).cancelled


@pytest.mark.parametrize("field", ["fulfillmentOrderHold", "orderCancel"])
def test_o12_under_a_lost_response_the_step_is_reconciled_not_repeated(flow, field):
    """The write commits and its answer is lost (FAULTS: lost response after commit): the
    next cycle re-reads the hub, sees it, and goes on without repeating it."""
    key = "epic-gardening"
    shop, order = imported(flow, key, Line(RetailerShop(flow, key).skus(1)[0], 1))
    shop.cancel(order)
    hub_domain = flow.registry.hub.shop_domain
    flow.sim.set_faults(hub_domain, lose_response_after_commit=1.0, only_fields=[field],
                        max_faults=1)  # fmt: skip
    first = follow_up(flow, key)
    assert first.pending and "response lost" in first.pending[0]
    flow.sim.clear_faults(hub_domain)
    deadline = time.monotonic() + 30
    while states(flow).get(order.id) != "cancelled":
        assert time.monotonic() < deadline, states(flow)
        follow_up(flow, key)
        time.sleep(0.2)
    assert hub_state(flow, shop, order).cancelled
    assert executed(flow, "hub", "fulfillmentOrderHold") == 1
    assert executed(flow, "hub", "orderCancel") == 1


def test_o12_killed_between_hold_and_cancel_the_rerun_only_cancels(flow):
    """The real orders_job in a worker, SIGKILLed right after the hold committed (FAULTS:
    a process killed between two steps); the next run cancels and holds nothing again."""
    key = "test-retail-store"
    shop, order = imported(flow, key, Line(RetailerShop(flow, key).skus(1)[0], 2))
    shop.cancel(order)
    proc = start_worker("--retailer", key, "--mode", "job", "--kill-after", "follow_ups_hold:1")
    assert finished(proc) < 0
    assert states(flow) == {order.id: "holding"}
    assert (
        executed(flow, "hub", "fulfillmentOrderHold"),
        executed(flow, "hub", "orderCancel"),
    ) == (1, 0)
    assert follow_up(flow, key).by_state == {"cancelled": 1}
    assert executed(flow, "hub", "fulfillmentOrderHold") == 1
    assert executed(flow, "hub", "orderCancel") == 1


def test_o12_o14_through_5xx_timeouts_and_throttling_each_change_lands_once(flow):
    key = "epic-gardening"
    a, b, c = RetailerShop(flow, key).skus(3)
    shop, cancel = imported(flow, key, Line(a, 1))
    _, edit = imported(flow, key, Line(b, 2), Line(c, 1))
    shop.cancel(cancel)
    shop.edit_quantity(edit, b, 1)
    hub_domain = flow.registry.hub.shop_domain
    flow.sim.set_faults(hub_domain, http_503=0.2, http_429=0.2, timeout=0.05,
                        lose_response_after_commit=0.2, timeout_seconds=6.0, seed=5)  # fmt: skip
    deadline = time.monotonic() + 120
    while set(states(flow).values()) != {"cancelled", "edited"} or len(states(flow)) != 2:
        assert time.monotonic() < deadline, states(flow)
        # A transient failure fails that run (ShopifyTransientError); the next one retries.
        with contextlib.suppress(ShopifyTransientError):
            follow_up(flow, key)
    flow.sim.clear_faults(hub_domain)
    assert hub_state(flow, shop, cancel).cancelled
    assert {x.sku: x.current_quantity for x in hub_state(flow, shop, edit).lines
            if x.current_quantity} == {b: 1, c: 1}  # fmt: skip
    assert executed(flow, "hub", "orderCancel") == 1
    assert executed(flow, "hub", "orderEditCommit") == 1


def test_o15_a_hub_cancel_is_told_to_the_retailer_with_the_lines_and_ours_is_not(flow):
    from flows.fulfillments import land_hub_fulfillments

    key = "epic-gardening"
    a, b = RetailerShop(flow, key).skus(2)
    shop, by_hub = imported(flow, key, Line(a, 2))
    _, by_us = imported(flow, key, Line(b, 1))
    shop.cancel(by_us)
    assert follow_up(flow, key).by_state == {"cancelled": 1}
    flow.sim.warehouse_cancel(order_id=HubShop(flow).order_for(shop, by_hub).id)
    report = land_hub_fulfillments(flow.step(key))
    [issue] = report.issues  # the hub's own cancel; not the one that answered the retailer
    assert issue.key == f"hub_cancelled:order:{key}:{by_hub.id}"
    assert f"{a} x2" in issue.fix and "will not ship retailer order" in issue.fix
    assert report.counts["cancelled_by_the_hub"] == 1


def test_a_refund_after_shipping_is_recorded_in_the_queue_and_the_summary_not_pushed(flow):
    from resources.ledgers.reports import flow_figures

    key = "test-retail-store"
    a = RetailerShop(flow, key).skus(1)[0]
    shop, order = imported(flow, key, Line(a, 1))
    HubShop(flow).ship(HubShop(flow).order_for(shop, order), {a: 1})
    _, pushed = flow.push_fulfillments(key)
    assert pushed.pushed == 1
    started = datetime.now(UTC) - timedelta(seconds=2)  # store times are whole seconds
    flow.sim.shopper_refund(domain=shop.store.domain, order_id=order.id, amount="5.00")
    deadline = time.monotonic() + 60
    while True:  # until the retailer's search index shows the refunded order
        assert follow_up(flow, key).by_state == {}  # a refund is no change for the hub
        with psycopg.connect(flow.db_url) as conn:
            rows = [r for r in exception_rows(conn) if r.subject == order.id]
            figures = flow_figures(conn, started, datetime.now(UTC))
        if rows or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    if not rows:  # say what the warehouse holds, to tell a missed read from a missed row
        with psycopg.connect(flow.db_url) as conn:
            landed = conn.execute(
                "SELECT o.raw -> 'refunds', o.updated_at, l.created_at FROM"
                " shopsync.retailer_orders o JOIN shopsync.order_links l ON l.retailer ="
                " o.retailer AND l.retailer_order_gid = o.order_gid WHERE o.order_gid = %s",
                (order.id,),
            ).fetchall()
        raise AssertionError(f"no refund row; landed {landed}; store {shop.state_of(order)}")
    [row] = rows
    assert row.kind == "refunded_after_import" and "refunded 5.0" in row.detail
    assert figures[key]["orders"]["refunds at the retailer"] == 1
    assert executed(flow, "hub", "orderCancel") == executed(flow, "hub", "orderEditCommit") == 0


def test_a_return_after_shipping_is_recorded_alerted_once_queued_and_summarised(flow):
    """A return opened at the retailer after the shipment was pushed: one alert, one open
    row in the exception queue naming the hub order, a line in the summary's figures;
    nothing is written to the hub, and a later follow-up does not resolve it."""
    from resources.ledgers.reports import flow_figures

    key = "test-retail-store"
    a = RetailerShop(flow, key).skus(1)[0]
    shop, order = imported(flow, key, Line(a, 1))
    HubShop(flow).ship(HubShop(flow).order_for(shop, order), {a: 1})
    assert flow.push_fulfillments(key)[1].pushed == 1
    started = datetime.now(UTC) - timedelta(seconds=2)
    flow.sim.set_order(shop.store.domain, order.id, return_status="RETURN_REQUESTED")
    steps = flow.__dict__.setdefault("follow_up_steps", {})
    base = steps.setdefault(key, flow.step(key))
    alerts, deadline = [], time.monotonic() + 60
    while not alerts:  # until the retailer's search index shows the changed order
        assert time.monotonic() < deadline
        step = replace(base, now=datetime.now(UTC), windows=flow.windows(datetime.now(UTC)))
        alerts = landing_stats(step).flagged
        assert follow_up_stats(step).by_state == {}  # a return is no change for the hub
        time.sleep(0.3)
    [alert] = alerts
    assert alert.key == f"returned_after_import:order:{key}:{order.id}"
    assert "a return was opened after import (return requested)" in alert.fix
    step = replace(base, now=datetime.now(UTC), windows=flow.windows(datetime.now(UTC)))
    assert landing_stats(step).flagged == []  # alerted once
    with psycopg.connect(flow.db_url) as conn:
        [row] = [r for r in exception_rows(conn) if r.subject == order.id]
        figures = flow_figures(conn, started, datetime.now(UTC))
    assert row.kind == "returned_after_import" and "return requested" in row.detail
    assert figures[key]["orders"]["changed after import: returned_after_import"] == 1
    assert executed(flow, "hub", "orderCancel") == executed(flow, "hub", "orderEditCommit") == 0


@pytest.mark.parametrize(
    ("change", "kill_after", "state", "writes"),
    [
        ("edit", "follow_ups_edit_commit:1", "edited", {"orderEditCommit": 1}),
        ("cancel_after_part_shipped", "follow_ups_hold:1", "held_for_review",
         {"fulfillmentOrderHold": 1, "orderCancel": 0}),
    ],
)  # fmt: skip
def test_o13_o14_killed_after_the_write_before_the_ledger_the_rerun_repeats_nothing(
    flow, change, kill_after, state, writes
):
    """The orders_job worker SIGKILLed right after Shopify committed the step's write (the
    edit's commit; the hold of a part-shipped cancel), before the ledger recorded it."""
    key = "epic-gardening"
    order = changed_order(flow, key, change)
    proc = start_worker("--retailer", key, "--mode", "job", "--kill-after", kill_after)
    assert finished(proc) < 0
    assert states(flow)[order.id] != state  # the kill came before the ledger's record
    assert follow_up(flow, key).by_state == {state: 1}
    assert {field: executed(flow, "hub", field) for field in writes} == writes


def test_o14_a_line_added_at_the_retailer_is_added_at_the_hub_or_held_when_not_sold(flow):
    key = "test-retail-store"
    shop = RetailerShop(flow, key)
    a, b = shop.skus(2)
    _, sold = imported(flow, key, Line(a, 1))
    _, unsold = imported(flow, key, Line(b, 1))
    domain = shop.store.domain
    flow.sim.shopper_edit(domain=domain, order_id=sold.id, action="add", sku=b, quantity=2)
    flow.sim.shopper_edit(domain=domain, order_id=unsold.id, action="add",
                          sku=shop.hubless_sku(), quantity=1)  # fmt: skip
    seen: dict[str, int] = {}
    deadline = time.monotonic() + 15
    while len(states(flow)) < 2:  # until the retailer's search index shows both edits
        assert time.monotonic() < deadline, states(flow)
        for state, n in follow_up(flow, key).by_state.items():
            seen[state] = seen.get(state, 0) + n
        time.sleep(0.2)
    assert seen == {"edited": 1, "held_for_review": 1}
    edited = hub_state(flow, shop, sold)
    assert {x.sku: x.current_quantity for x in edited.lines if x.current_quantity} == {a: 1, b: 2}
    assert states(flow) == {sold.id: "edited", unsold.id: "held_for_review"}
    held = hub_state(flow, shop, unsold)
    assert all(fo.held_by_us for fo in held.fulfillment_orders if fo.live)


@pytest.mark.parametrize(
    ("change", "field", "state", "writes"),
    [
        ("edit", "orderEditCommit", "edited", {"orderEditCommit": 1}),
        ("cancel_after_part_shipped", "fulfillmentOrderHold", "held_for_review",
         {"fulfillmentOrderHold": 1, "orderCancel": 0}),
    ],
)  # fmt: skip
def test_o13_o14_under_a_lost_response_the_write_is_not_repeated(
    flow, change, field, state, writes
):
    """The edit's commit, or the hold of a part-shipped cancel, commits and its answer is
    lost (FAULTS: lost response after commit); the next cycle sees it at the hub."""
    key = "botanical-interests"
    changed_order(flow, key, change)
    hub_domain = flow.registry.hub.shop_domain
    flow.sim.set_faults(hub_domain, lose_response_after_commit=1.0, only_fields=[field],
                        max_faults=1)  # fmt: skip
    first = follow_up(flow, key)
    assert first.pending and "response lost" in first.pending[0]
    flow.sim.clear_faults(hub_domain)
    assert follow_up(flow, key).by_state == {state: 1}
    assert {f: executed(flow, "hub", f) for f in writes} == writes
