"""FAULTS O15 with `on_hub_cancel: cancel_at_retailer`: a hub order the hub cancelled
itself, or whose rest it gave up on (its fulfillment orders closed INCOMPLETE, the order
left open), is carried back to the retailer order — cancelled (restocked, refunded) when nothing
else of it ships, else the hub's units removed by an order edit — exactly once, under a
lost response after commit and a process killed between two steps. Judged by the stores'
own state: the retailer order waits for nothing the hub will not ship, each write ran once,
and the orders flow does not take our change for the retailer's."""

from __future__ import annotations

import contextlib
import time
from dataclasses import replace
from datetime import UTC, datetime

import pytest
import yaml
from flow_builders import OTHER, HubShop, Line, RetailerShop, order_flags

from flows.fulfillments import land_hub_fulfillments, push_stats
from flows.hub_cancellations import carry_stats
from flows.order_writes import read_order
from flows.steps import RetailerStep
from resources.registry import DEFAULT_REGISTRY_PATH, load_registry
from resources.shopify.errors import ShopifyTransientError
from sync.hub_cancel_plan import waiting_at
from tests.integration.fault_worker import start_worker
from tests.integration.test_exactly_once_faults import executed, finished
from tests.integration.test_order_follow_ups import follow_up, imported, states

pytestmark = pytest.mark.integration

KEY = "epic-gardening"


@pytest.fixture
def carry(flow, monkeypatch, tmp_path):
    """The demo stores, with KEY opted into carrying hub cancels back (the registry file
    every run reads, so a worker process sees it too)."""
    raw = yaml.safe_load(DEFAULT_REGISTRY_PATH.read_text())
    next(r for r in raw["retailers"] if r["key"] == KEY)["on_hub_cancel"] = "cancel_at_retailer"
    path = tmp_path / "retailers.yaml"
    path.write_text(yaml.safe_dump(raw))
    monkeypatch.setenv("SHOPSYNC_REGISTRY", str(path))
    flow.registry = load_registry(path)
    return flow


def cycle(flow, key: str = KEY):
    """One fulfillments run's three steps (land, push, carry back) on one step per test."""
    steps: dict[str, RetailerStep] = flow.__dict__.setdefault("carry_steps", {})
    base = steps.get(key) or steps.setdefault(key, flow.step(key))
    now = datetime.now(UTC)
    step = replace(base, now=now, windows=flow.windows(now))
    land_hub_fulfillments(step)
    push_stats(step)
    return carry_stats(step)


def until_done(flow, order, key: str = KEY, seconds: float = 40.0) -> list:
    """Fulfillments cycles until the carry-back of `order` is finished; every report."""
    reports, deadline = [], time.monotonic() + seconds
    while True:
        reports.append(cycle(flow, key))
        state = states(flow).get(order.id)
        if state in {"cancelled_at_retailer", "edited_at_retailer", "failed"}:
            return reports
        assert time.monotonic() < deadline, (state, [r.pending for r in reports])
        time.sleep(0.2)


def retailer_state(flow, order, key: str = KEY):
    return read_order(flow.client(key), order.id, "retailer")


def landed_cancelled(flow, order) -> bool:
    row = (
        flow.connect()
        .execute(
            "SELECT cancelled_at FROM shopsync.retailer_orders WHERE order_gid = %s", (order.id,)
        )
        .fetchone()
    )
    return row is not None and row[0] is not None


def hub_cancels(flow, shop: RetailerShop, order, how: str = "cancel") -> None:
    """The hub will not ship (the rest of) `order`: it cancels its hub order, or (`close`)
    its fulfillment service closes what is left INCOMPLETE without cancelling."""
    hub_order = HubShop(flow).order_for(shop, order).id
    if how == "close":
        flow.sim.warehouse_close_incomplete(order_id=hub_order)
    else:
        flow.sim.warehouse_cancel(order_id=hub_order)


ENDINGS = pytest.mark.parametrize("how", ["cancel", "close"])


@ENDINGS
def test_o15_nothing_shipped_the_retailer_order_is_cancelled_refunded_once(carry, how):
    flow = carry
    a, b = RetailerShop(flow, KEY).skus(2)
    shop, order = imported(flow, KEY, Line(a, 2), Line(b, 1))
    hub_cancels(flow, shop, order, how)
    reports = until_done(flow, order)
    assert states(flow) == {order.id: "cancelled_at_retailer"}
    [issue] = [i for r in reports for i in r.issues]
    assert issue.order_name == order.name and "cancelled at the retailer" in issue.reason
    assert f"{a} x2" in issue.fix and f"{b} x1" in issue.fix
    now = retailer_state(flow, order)
    assert now.cancelled and not waiting_at(now, shop.hub_location.id)
    assert order.financial_status == "REFUNDED"  # the store's own order object
    assert executed(flow, KEY, "orderCancel") == 1
    assert executed(flow, KEY, "orderEditCommit") == 0

    assert cycle(flow).by_state == {}  # the next run: nothing more, nothing told twice
    deadline = time.monotonic() + 20
    while not landed_cancelled(flow, order):  # orders runs until one lands the cancel
        assert time.monotonic() < deadline
        landing = follow_up(flow, KEY)
        assert landing.by_state == {} and landing.issues == []
        time.sleep(0.2)
    assert order_flags(flow, KEY) == set()  # ours, not a retailer change to flag
    assert executed(flow, "hub", "orderCancel") == 0  # nothing sent to the hub


@ENDINGS
def test_o15_part_shipped_only_the_unshipped_units_are_removed_at_the_retailer(carry, how):
    """The hub shipped one unit, then cancelled (or closed incomplete) the rest: the
    shipment reaches the retailer first, then an order edit removes exactly what will not
    come."""
    flow = carry
    a, b = RetailerShop(flow, KEY).skus(2)
    shop, order = imported(flow, KEY, Line(a, 2), Line(b, 1))
    HubShop(flow).ship(HubShop(flow).order_for(shop, order), {a: 1})
    hub_cancels(flow, shop, order, how)
    reports = until_done(flow, order)
    assert states(flow) == {order.id: "edited_at_retailer"}
    assert sum(len(r.issues) for r in reports) == 1
    now = retailer_state(flow, order)
    assert not now.cancelled and not waiting_at(now, shop.hub_location.id)
    assert {x.sku: x.current_quantity for x in now.lines} == {a: 1, b: 0}
    assert len(order.fulfillments_list) == 1  # the pushed shipment, before the edit
    assert (executed(flow, KEY, "orderEditCommit"), executed(flow, KEY, "orderCancel")) == (1, 0)

    # Our edit is not flagged as the retailer's; a return the shopper opens next still is.
    flow.sim.set_order(shop.store.domain, order.id, return_status="RETURN_REQUESTED")
    deadline = time.monotonic() + 20
    while (order.id, "returned_after_import") not in order_flags(flow, KEY):
        assert time.monotonic() < deadline
        assert follow_up(flow, KEY).by_state == {}
        time.sleep(0.2)
    assert order_flags(flow, KEY) == {(order.id, "returned_after_import")}


def test_o15_lines_from_another_location_stand_only_the_hubs_are_removed(carry):
    flow = carry
    a, c = RetailerShop(flow, KEY).skus(2)
    shop, order = imported(flow, KEY, Line(a, 2), Line(c, 1, at=OTHER))
    hub_cancels(flow, shop, order)
    until_done(flow, order)
    now = retailer_state(flow, order)
    assert {x.sku: x.current_quantity for x in now.lines} == {a: 0, c: 1}
    assert not now.cancelled and states(flow) == {order.id: "edited_at_retailer"}


def test_o15_by_default_the_hub_cancel_is_reported_and_nothing_is_written(flow):
    a = RetailerShop(flow, KEY).skus(1)[0]
    shop, order = imported(flow, KEY, Line(a, 1))
    hub_cancels(flow, shop, order)
    deadline, issues = time.monotonic() + 20, []
    while not issues:  # until the hub's search index shows the cancelled order
        assert time.monotonic() < deadline
        issues = land_hub_fulfillments(flow.step(KEY)).issues
        time.sleep(0.2)
    assert issues[0].key == f"hub_cancelled:order:{KEY}:{order.id}"
    assert cycle(flow).by_state == {} and states(flow) == {}
    assert (executed(flow, KEY, "orderCancel"), executed(flow, KEY, "orderEditBegin")) == (0, 0)


def test_o15_by_default_a_hub_that_gives_up_on_the_rest_is_reported_with_those_units(flow):
    """Not cancelled, but the hub's fulfillment service closed what was left INCOMPLETE
    after one unit shipped: the retailer is told exactly which units will never come."""
    a, b = RetailerShop(flow, KEY).skus(2)
    shop, order = imported(flow, KEY, Line(a, 2), Line(b, 1))
    HubShop(flow).ship(HubShop(flow).order_for(shop, order), {a: 1})
    hub_cancels(flow, shop, order, "close")
    deadline, issues = time.monotonic() + 20, []
    while not issues:  # until the hub's search index shows the closed order
        assert time.monotonic() < deadline
        issues = land_hub_fulfillments(flow.step(KEY)).issues
        time.sleep(0.2)
    [issue] = issues
    assert issue.key == f"hub_gave_up:order:{KEY}:{order.id}"
    assert issue.reason == "not shipped by the hub"
    assert f"{a} x1, {b} x1 will not ship" in issue.fix and "stays open" in issue.fix
    assert cycle(flow).by_state == {} and states(flow) == {}
    assert (executed(flow, KEY, "orderCancel"), executed(flow, KEY, "orderEditBegin")) == (0, 0)
    assert not retailer_state(flow, order).cancelled


@pytest.mark.parametrize(
    ("other_location", "field", "state", "how"),
    [(False, "orderCancel", "cancelled_at_retailer", "cancel"),
     (True, "orderEditCommit", "edited_at_retailer", "cancel"),
     (False, "orderCancel", "cancelled_at_retailer", "close")],
)  # fmt: skip
def test_o15_under_a_lost_response_the_retailer_write_is_not_repeated(
    carry, other_location, field, state, how
):
    """The retailer's cancel, or the edit's commit, commits and its answer is lost (FAULTS:
    lost response after commit): the next cycle re-reads the retailer order and stops."""
    flow = carry
    a, c = RetailerShop(flow, KEY).skus(2)
    lines = [Line(a, 1)] + ([Line(c, 1, at=OTHER)] if other_location else [])
    shop, order = imported(flow, KEY, *lines)
    hub_cancels(flow, shop, order, how)
    flow.sim.set_faults(shop.store.domain, lose_response_after_commit=1.0, only_fields=[field],
                        max_faults=1)  # fmt: skip
    reports = until_done(flow, order)
    assert any("response lost" in p for r in reports for p in r.pending)
    assert states(flow) == {order.id: state}
    assert executed(flow, KEY, field) == 1
    assert not waiting_at(retailer_state(flow, order), shop.hub_location.id)


@pytest.mark.parametrize(
    ("other_location", "kill_after", "field"),
    [(True, "follow_ups_edit_begin:1", "orderEditCommit"),
     (True, "follow_ups_edit_commit:1", "orderEditCommit"),
     (False, "follow_ups_cancel:1", "orderCancel")],
)  # fmt: skip
def test_o15_killed_between_two_steps_the_rerun_writes_once(
    carry, other_location, kill_after, field
):
    """The real fulfillments_job in a worker, SIGKILLed right after the edit began (before
    its commit), after the commit (before the ledger's record), or after the retailer's
    cancel was accepted (FAULTS: a process killed between two steps): the next run leaves
    the retailer order as asked with one write in all."""
    flow = carry
    a, c = RetailerShop(flow, KEY).skus(2)
    lines = [Line(a, 2)] + ([Line(c, 1, at=OTHER)] if other_location else [])
    shop, order = imported(flow, KEY, *lines)
    hub_cancels(flow, shop, order)
    deadline = time.monotonic() + 20
    while order.id not in states(flow):  # the hub's index shows the cancel: the row waits
        assert time.monotonic() < deadline
        land_hub_fulfillments(flow.step(KEY))
        time.sleep(0.2)
    proc = start_worker("--retailer", KEY, "--flow", "fulfillments", "--mode", "job",
                        "--kill-after", kill_after)  # fmt: skip
    assert finished(proc) < 0
    assert states(flow)[order.id] not in {"cancelled_at_retailer", "edited_at_retailer"}
    until_done(flow, order)
    assert executed(flow, KEY, field) == 1
    now = retailer_state(flow, order)
    assert not waiting_at(now, shop.hub_location.id)
    assert now.cancelled is not other_location


def test_o15_through_5xx_timeouts_and_throttling_each_carry_back_lands_once(carry):
    """5xx, 429, timeouts and lost responses at random on the retailer (FAULTS): every run
    that fails is retried by the next; each retailer order ends as asked, one write each."""
    flow = carry
    a, b, c = RetailerShop(flow, KEY).skus(3)
    shop, whole = imported(flow, KEY, Line(a, 1))
    _, mixed = imported(flow, KEY, Line(b, 2), Line(c, 1, at=OTHER))
    hub_cancels(flow, shop, whole)
    hub_cancels(flow, shop, mixed)
    flow.sim.set_faults(shop.store.domain, http_503=0.2, http_429=0.2, timeout=0.05,
                        lose_response_after_commit=0.2, timeout_seconds=6.0, seed=3)  # fmt: skip
    wanted = {whole.id: "cancelled_at_retailer", mixed.id: "edited_at_retailer"}
    deadline = time.monotonic() + 150
    while states(flow) != wanted:
        assert time.monotonic() < deadline, states(flow)
        with contextlib.suppress(ShopifyTransientError):  # that run fails; the next retries
            cycle(flow)
        time.sleep(0.2)
    faults = {k for k, n in flow.sim.counters(shop.store.domain)["faults"].items() if n}
    flow.sim.clear_faults(shop.store.domain)
    assert len(faults) >= 2, faults  # the faults did strike
    assert retailer_state(flow, whole).cancelled
    assert {x.sku: x.current_quantity for x in retailer_state(flow, mixed).lines} == {b: 0, c: 1}
    assert (executed(flow, KEY, "orderCancel"), executed(flow, KEY, "orderEditCommit")) == (1, 1)
