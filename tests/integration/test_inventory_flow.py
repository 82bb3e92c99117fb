"""Inventory sync against real Postgres and the simulator (issue 9; FAULTS I1–I10).

The demo stores: the hub stocks every SKU at its warehouse, each retailer a sample at its
hub location (and some at its other locations). Each test changes exactly what it is
about (a hub level, a sale, a hand change at a retailer) and judges by the stores' own
levels. Most run in both API dialects: 2025-01 (`compareQuantity`, no idempotency key)
and 2026-10, the newest stable (`changeFromQuantity` + `@idempotent`, inactive levels
kept, no `ITEM_NOT_STOCKED_AT_LOCATION`).
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest
from flow_builders import HUB, Line, RetailerShop, calls

from flows.inventory import plan_inventory, read_retailer_inventory, refresh_hub
from flows.inventory_writes import BatchWriter
from resources.ledgers import inventory as ledger
from resources.registry import RegistryResource
from resources.shopify import ShopifyResource
from simulator.actors import commit_order_inventory
from tests.fixtures.flows import RETAILERS, check_evaluations

pytestmark = pytest.mark.integration

SYNCED = RETAILERS[:3]
NATIONWIDE, BOTANICAL, EPIC, DISABLED = RETAILERS
WAREHOUSE = "gid://shopify/Location/1001"
DIALECTS = ["2025-01", "2026-10"]


@pytest.fixture(params=DIALECTS)
def inv(request, flow):
    """The flow harness speaking one API dialect."""
    flow.shopify = ShopifyResource(
        api_version=request.param, retry_base_delay_seconds=0.05, read_timeout_seconds=5.0
    )
    flow.api_version = request.param
    return flow


def settings(flow, **changes):
    """Change the registry's inventory settings (or a retailer's fields) for this test."""
    flow.registry = flow.registry.model_copy(
        update={"inventory": flow.registry.inventory.model_copy(update=changes)}
    )


def retailer_update(flow, key, **changes):
    retailers = [
        r.model_copy(update=changes) if r.key == key else r for r in flow.registry.retailers
    ]
    flow.registry = flow.registry.model_copy(update={"retailers": retailers})


def hub_available(flow, sku):
    return level(flow, "hub", sku, WAREHOUSE)["available"]


def level(flow, key, sku, location=None):
    """The level of the (single) item with `sku` at a location, as the store has it."""
    store = flow.sim.store(flow.registry.store(key).shop_domain)
    location = location or flow.registry.retailer(key).hub_location_id
    (item,) = [i for i in store.inventory_items.values() if i.sku == sku]
    return item.levels[location].quantities_map


def shared_sku(flow, *keys):
    """A SKU the hub and every one of `keys` carry once, stocked at their hub locations."""
    common = None
    for key in keys:
        skus = set(RetailerShop(flow, key).skus(40))
        common = skus if common is None else common & skus
    return sorted(common)[0]


def cycle(flow, keys=SYNCED, run_id="c1", **options):
    """One inventory cycle as the job runs it: the hub read once, then each retailer read
    and pushed (the flow's freshness rule finds the hub just read)."""
    return {
        key: flow.sync_inventory(key, run_id=run_id, hub=i == 0, **options)
        for i, key in enumerate(keys)
    }


def targets_hold(flow, key):
    """Every paired SKU of `key` shows its target in the retailer store."""
    step = flow.step(key)
    plan = plan_inventory(step)
    wrong = []
    for row in plan.targets.itertuples():
        shown = level(flow, key, row.sku)["available"]
        if shown != row.target:
            wrong.append((row.sku, shown, row.target))
    return wrong


def test_first_cycle_converges_and_a_second_writes_nothing(inv):
    first = cycle(inv, run_id="c1")
    for key in SYNCED:
        assert targets_hold(inv, key) == [], key
        assert first[key][1].counts["writes_needed"] > 0
    second = cycle(inv, run_id="c2")
    for key in SYNCED:
        read, push = second[key]
        assert read.counts["full_read"] == 0  # a delta read, not a catalogue walk
        assert push.counts["writes_needed"] == 0 and push.counts["inventory_write_calls"] == 0


def test_a_hub_change_reaches_every_retailer_in_one_cycle_and_only_it_is_written(inv):
    cycle(inv, run_id="c1")
    sku = shared_sku(inv, *SYNCED)
    inv.sim.set_inventory(inv.registry.hub.shop_domain, sku, WAREHOUSE,
                          available=hub_available(inv, sku) + 7)  # fmt: skip
    before = len(inv.recorder.calls)
    second = cycle(inv, run_id="c2")
    assert second[NATIONWIDE][0].counts["hub_full_read"] == 0
    for key in SYNCED:
        read, push = second[key]
        assert push.counts["writes_needed"] == 1 and push.counts["inventory_pushed"] == 1, key
        assert level(inv, key, sku)["available"] == hub_available(inv, sku) - _safety(inv, key)
    hub_reads = [c for c in inv.recorder.calls[before:] if c.store == "hub"]
    assert {c.operation for c in hub_reads} <= {
        "inventory_levels_at_location", "inventory_levels_at_location_2026_04"
    }  # fmt: skip
    # one delta read of the hub (its pages) served all three retailers
    assert 1 <= len(hub_reads) < len(SYNCED)
    assert [second[k][0].counts["hub_levels_read"] for k in SYNCED] == [0, 0, 0]


def _safety(flow, key):
    return flow.registry.retailer(key).safety_stock


def test_writes_go_in_batches_of_the_configured_size(inv):
    settings(inv, batch_size=50)
    read, push = inv.sync_inventory(NATIONWIDE)
    needed = push.counts["writes_needed"]
    assert needed > 100
    assert push.counts["inventory_batches"] == -(-needed // 50)
    assert push.counts["inventory_write_calls"] == push.counts["inventory_batches"]
    assert targets_hold(inv, NATIONWIDE) == []


def test_a_sale_between_read_and_write_is_not_overwritten(inv):
    """FAULTS I1: a shopper buys one unit after our read, before our write. The compare
    fails, the item is re-read and written again; the sale's unit stays committed."""
    cycle(inv, [NATIONWIDE], run_id="c1")
    sku = shared_sku(inv, NATIONWIDE)
    inv.sim.set_inventory(inv.registry.hub.shop_domain, sku, WAREHOUSE, available=25)
    inv.sim.set_faults(inv.registry.retailer(NATIONWIDE).shop_domain,
                       sell_before_inventory_write=1)  # fmt: skip
    _, push = inv.sync_inventory(NATIONWIDE, run_id="c2")
    assert push.counts["inventory_write_calls"] == 2 and push.counts["inventory_pushed"] == 1
    quantities = level(inv, NATIONWIDE, sku)
    assert quantities["available"] == 25  # never inflated above the target
    assert quantities["committed"] >= 1  # the sale is still there
    assert quantities["on_hand"] == quantities["available"] + quantities["committed"]


def test_a_lost_write_response_applies_once(inv):
    """FAULTS I2: the write commits and its response is lost; the retry (same key from
    2026-04, a re-read and compare-and-set in 2025-01) never applies it twice."""
    cycle(inv, [NATIONWIDE], run_id="c1")
    sku = shared_sku(inv, NATIONWIDE)
    inv.sim.set_inventory(inv.registry.hub.shop_domain, sku, WAREHOUSE, available=31)
    domain = inv.registry.retailer(NATIONWIDE).shop_domain
    inv.sim.set_faults(domain, lose_response_after_commit=1.0, max_faults=1,
                       only_fields=["inventorySetQuantities"])  # fmt: skip
    _, push = inv.sync_inventory(NATIONWIDE, run_id="c2")
    assert level(inv, NATIONWIDE, sku)["available"] == 31
    assert push.counts["inventory_pushed"] + push.counts["inventory_found_applied"] == 1
    states = _push_states(inv, NATIONWIDE, "c2")
    assert states.get("applied") == 1 and "claimed" not in states
    if inv.api_version >= "2026-04":
        assert inv.sim.counters(domain).get("idempotent_replays") == 1
    _, again = inv.sync_inventory(NATIONWIDE, run_id="c3")
    assert again.counts["writes_needed"] == 0


def _push_states(flow, key, run_id):
    rows = flow.connect().execute(
        "SELECT state, count(*) FROM shopsync.inventory_pushes"
        " WHERE retailer = %s AND run_id = %s GROUP BY 1",
        (key, run_id),
    )
    return dict(rows.fetchall())


def test_a_crash_between_claim_and_settle_is_settled_by_the_next_run(flow):
    """FAULTS P-kill between two steps: the write applied but the process died before the
    ledger said so. The next run finds the open claim, sees the value, settles it."""
    cycle(flow, [NATIONWIDE], run_id="c1")
    sku = shared_sku(flow, NATIONWIDE)
    flow.sim.set_inventory(flow.registry.hub.shop_domain, sku, WAREHOUSE, available=12)
    step = flow.step(NATIONWIDE, run_id="crashed")
    refresh_hub(step.hub, step.conn, flow.registry, now=step.now)
    read_retailer_inventory(step)
    plan = plan_inventory(step)
    writer = BatchWriter(step, plan.allowed, 250)
    original = ledger.settle

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("killed after the write, before settling")

    ledger.settle = crash
    try:
        with pytest.raises(KeyboardInterrupt):
            writer.write(plan.targets[plan.targets["available"] != plan.targets["target"]])
    finally:
        ledger.settle = original
    assert level(flow, NATIONWIDE, sku)["available"] == 12
    assert _push_states(flow, NATIONWIDE, "crashed") == {"claimed": 1}
    _, push = flow.sync_inventory(NATIONWIDE, run_id="after")
    assert _push_states(flow, NATIONWIDE, "crashed") == {"applied": 1}
    assert push.counts["writes_needed"] == 0


def test_safety_stock_and_per_sku_overrides(inv):
    sku, other = RetailerShop(inv, EPIC).skus(2)
    retailer_update(inv, EPIC, safety_stock=3, safety_stock_overrides={sku: 0})
    for s, available in ((sku, 10), (other, 10)):
        inv.sim.set_inventory(inv.registry.hub.shop_domain, s, WAREHOUSE, available=available)
    inv.sync_inventory(EPIC)
    assert level(inv, EPIC, sku)["available"] == 10  # override: no safety stock
    assert level(inv, EPIC, other)["available"] == 7  # the retailer's default of 3
    inv.sim.set_inventory(inv.registry.hub.shop_domain, other, WAREHOUSE, available=2)
    inv.sync_inventory(EPIC, run_id="c2")
    assert level(inv, EPIC, other)["available"] == 0  # never negative (FAULTS I3)


def test_a_sale_at_one_retailer_lowers_the_others_before_import(flow):
    """FAULTS I10 then I8: retailer A sells 4 units; within the next inventory cycle (the
    orders flow has not run: the order is not even landed, let alone imported) every
    retailer shows 4 fewer. Once the hub order exists, the hub's own stock carries the
    units: no double cut."""
    sku = shared_sku(flow, NATIONWIDE, BOTANICAL)
    flow.sim.set_inventory(flow.registry.hub.shop_domain, sku, WAREHOUSE, available=20)
    cycle(flow, [NATIONWIDE, BOTANICAL], run_id="c1")
    assert level(flow, BOTANICAL, sku)["available"] == 20 - _safety(flow, BOTANICAL)
    shop = RetailerShop(flow, NATIONWIDE)
    order = shop.order(Line(sku, 4, HUB), age=timedelta(seconds=5))
    commit_order_inventory(shop.store, order)
    second = cycle(flow, [NATIONWIDE, BOTANICAL], run_id="c2")
    assert second[NATIONWIDE][0].counts["orders_landed"] == 1  # landed, not imported
    assert level(flow, BOTANICAL, sku)["available"] == 16 - _safety(flow, BOTANICAL)
    assert level(flow, NATIONWIDE, sku)["available"] == 16 - _safety(flow, NATIONWIDE)
    _, creation = flow.import_orders(NATIONWIDE, hold_window=timedelta(0))
    assert creation.created == 1
    assert hub_available(flow, sku) == 16  # the hub order committed its units
    cycle(flow, [NATIONWIDE, BOTANICAL], run_id="c3")
    assert level(flow, BOTANICAL, sku)["available"] == 16 - _safety(flow, BOTANICAL)


def test_only_the_retailers_hub_location_is_touched(inv):
    """FAULTS I6: Epic Gardening has three locations; the other two keep their stock."""
    store = inv.sim.store(inv.registry.retailer(EPIC).shop_domain)
    hub_location = inv.registry.retailer(EPIC).hub_location_id
    before = {
        (item.id, loc): dict(lv.quantities_map)
        for item in store.inventory_items.values()
        for loc, lv in item.levels.items()
        if loc != hub_location
    }
    assert before
    _, push = inv.sync_inventory(EPIC)
    assert push.counts["inventory_pushed"] > 0
    after = {
        (item.id, loc): dict(lv.quantities_map)
        for item in store.inventory_items.values()
        for loc, lv in item.levels.items()
        if loc != hub_location
    }
    assert after == before


def test_writes_only_to_pairs_read_at_the_hub_location(inv):
    """FAULTS I9: an item not read at the hub location, or inactive there, is never sent,
    even where Shopify (2026-10) would accept the write and stock it silently."""
    inv.sync_inventory(BOTANICAL)
    step = inv.step(BOTANICAL, run_id="guard")
    plan = plan_inventory(step)
    stranger = inv.sim.store(inv.registry.hub.shop_domain)  # a hub item: never read here
    foreign = next(iter(stranger.inventory_items.values()))
    writes = pd.DataFrame(
        [{"item_id": foreign.id, "sku": foreign.sku, "available": 0, "target": 5}]
    )
    tally = BatchWriter(step, plan.allowed, 250).write(writes)
    assert tally.not_allowed == [foreign.sku] and tally.calls == 0
    domain = inv.registry.retailer(BOTANICAL).shop_domain
    assert inv.sim.counters(domain).get("unstocked_pairs_written", 0) == 0


def test_a_disabled_retailer_is_skipped_and_says_so(flow, monkeypatch):
    flows = flow.registry.retailer(DISABLED).flows.model_copy(update={"inventory": False})
    retailer_update(flow, DISABLED, flows=flows)
    # The code location's registry resource, as if its file had the flow off.
    monkeypatch.setattr(RegistryResource, "get", lambda self: flow.registry)
    result = flow.run_job("inventory_job", RETAILERS[0], _now(), last_retailer=DISABLED)
    assert result.success, result
    logs = [e.user_message for e in result.shopsync_instance.all_logs(result.run_id)]
    assert any("inventory flow is disabled for 'test-retail-store'" in m for m in logs)
    materialized = {
        (e.asset_key.path[-1], e.partition) for e in result.get_asset_materialization_events()
    }
    assert ("inventory_pushes", DISABLED) not in materialized
    assert {("inventory_pushes", k) for k in SYNCED} <= materialized
    assert ("hub_inventory", None) in materialized


def _now():
    from datetime import UTC, datetime

    return datetime.now(UTC)


def test_the_job_records_checks_and_oversell_exposure_is_zero(flow):
    result = flow.run_job("inventory_job", RETAILERS[0], _now(), last_retailer=EPIC)
    assert result.success, result
    checks = check_evaluations(result)
    for name in ("pushed_stock_matches_target", "inventory_quantities_not_negative",
                 "oversell_exposure_is_zero"):  # fmt: skip
        assert checks[name].passed, name
    exposure = checks["oversell_exposure_is_zero"].metadata["oversell_exposure"].value
    assert exposure == 0


def test_drift_report_after_a_retailer_side_hand_change(inv):
    """FAULTS I7: someone sets a retailer's stock by hand; the next full reconciliation
    puts it back and records the SKU with what shopsync knew and why it was off."""
    cycle(inv, [BOTANICAL], run_id="c1")
    sku = shared_sku(inv, BOTANICAL)
    right = level(inv, BOTANICAL, sku)["available"]
    domain = inv.registry.retailer(BOTANICAL).shop_domain
    inv.sim.set_inventory(domain, sku, inv.registry.retailer(BOTANICAL).hub_location_id,
                          available=right + 9)  # fmt: skip
    _, push = inv.sync_inventory(BOTANICAL, run_id="full", full_reconciliation=True)
    assert level(inv, BOTANICAL, sku)["available"] == right
    assert push.counts["drift_corrected"] == 1
    (row,) = (
        inv.connect()
        .execute(
            "SELECT sku, known, found, target, cause FROM shopsync.inventory_drift"
            " WHERE retailer = %s AND run_id = 'full'",
            (BOTANICAL,),
        )
        .fetchall()
    )
    assert row == (sku, right, right + 9, right, "retailer_changed")


def test_every_mismatch_kind_is_reported_and_not_retried(inv):
    """FAULTS I3–I5, I9: each kind of SKU that cannot be synced is listed with its kind,
    nothing is written for it, and the next cycle does not try again."""
    from flow_builders import add_variant

    from simulator.scenario import set_level
    from simulator.store import utcnow

    shop, hub_shop = RetailerShop(inv, NATIONWIDE), inv.sim.store(inv.registry.hub.shop_domain)
    location, warehouse = shop.hub_location, hub_shop.locations[WAREHOUSE]
    dup_hub, inactive, negative = shop.skus(3)
    twin = add_variant(hub_shop, dup_hub, title="Hub twin")
    set_level(hub_shop, twin.inventory_item, warehouse, 5, utcnow())
    dup_retailer = shop.skus(1, skip=3)[0]
    set_level(shop.store, add_variant(shop.store, dup_retailer, title="Twin").inventory_item,
              location, 2, utcnow())  # fmt: skip
    carried = {v.sku for v in shop.store.variants.values()}
    not_stocked = next(v.sku for v in hub_shop.variants.values() if v.sku not in carried)
    add_variant(shop.store, not_stocked, title="Listed, not stocked at the hub location")
    set_level(shop.store, add_variant(shop.store, "", title="No SKU").inventory_item,
              location, 1, utcnow())  # fmt: skip
    inv.sim.set_inventory(shop.store.domain, inactive, location.id, active=False)
    inv.sim.set_inventory(hub_shop.domain, negative, WAREHOUSE, available=-3)
    _, push = inv.sync_inventory(NATIONWIDE)
    kinds = {
        (sku, kind)
        for sku, kind in inv.connect().execute(
            "SELECT sku, kind FROM shopsync.inventory_mismatches WHERE retailer = %s",
            (NATIONWIDE,),
        )
    }
    gone = "inactive" if inv.api_version >= "2026-04" else "not_stocked"  # deleted before
    expected = {
        (dup_hub, "duplicate_at_hub"), (dup_retailer, "duplicate_at_retailer"),
        (not_stocked, "not_stocked"), (inactive, gone), (negative, "negative_at_hub"),
        ("RET-NW-SLEEVE", "only_at_retailer"),
    }  # fmt: skip
    assert expected <= kinds
    assert any(kind == "no_sku" for _, kind in kinds)
    assert level(inv, NATIONWIDE, negative)["available"] == 0  # negative at the hub: 0
    written = {
        sku
        for (sku,) in inv.connect().execute(
            "SELECT sku FROM shopsync.inventory_pushes WHERE retailer = %s", (NATIONWIDE,)
        )
    }
    assert not written & {dup_hub, dup_retailer, not_stocked, inactive}
    assert push.counts["mismatches_needing_attention"] >= 4
    assert {i.reason for i in push.issues} >= {"duplicate_at_hub", "duplicate_at_retailer"}
    _, again = inv.sync_inventory(NATIONWIDE, run_id="c2")
    assert again.counts["writes_needed"] == 0 and again.counts["inventory_refused"] == 0


@pytest.mark.parametrize("fault", ["idempotency_concurrent_request",
                                   "idempotency_previous_attempt_failed"])  # fmt: skip
def test_idempotency_codes_of_2026(flow, fault):
    """A key still in flight is retried later with the same key; a dead key is replaced by
    a new one; either way the write lands once."""
    flow.shopify = ShopifyResource(api_version="2026-10", retry_base_delay_seconds=0.05)
    cycle(flow, [EPIC], run_id="c1", reconcile_delay=0.01)
    sku = shared_sku(flow, EPIC)
    flow.sim.set_inventory(flow.registry.hub.shop_domain, sku, WAREHOUSE, available=17)
    flow.sim.set_faults(flow.registry.retailer(EPIC).shop_domain, **{fault: 1})
    _, push = flow.sync_inventory(EPIC, run_id="c2", reconcile_delay=0.01)
    assert push.counts["inventory_write_calls"] == 2 and push.counts["inventory_pushed"] == 1
    assert level(flow, EPIC, sku)["available"] == 17 - _safety(flow, EPIC)
    dead = flow.sim.store(flow.registry.retailer(EPIC).shop_domain).failed_keys
    rows = flow.connect().execute(
        "SELECT batch_key FROM shopsync.inventory_pushes WHERE run_id = 'c2'"
    )
    (settled,) = rows.fetchall()
    assert len(dead) == (1 if fault == "idempotency_previous_attempt_failed" else 0)
    assert settled[0] not in dead  # the write that landed used a live key


def test_a_full_read_above_the_threshold_runs_as_a_bulk_query(flow):
    settings(flow, bulk_threshold=100)
    flow.sync_inventory(NATIONWIDE, run_id="c1")  # the first read pages: nothing landed yet
    _, push = flow.sync_inventory(NATIONWIDE, run_id="c2", full_reconciliation=True)
    assert calls(flow, "bulk_operation_run_query") == 2  # hub and retailer, both > 100 levels
    assert push.counts["writes_needed"] == 0 and targets_hold(flow, NATIONWIDE) == []


def test_a_store_whose_updated_at_does_not_move_is_read_in_full(flow_harness_factory):
    """FACTS §10.2 unverified: if our own applied writes are missing from the next delta
    read, the store's deltas are blind and every later cycle reads it in full."""
    from tests.fixtures.flows import demo_scenario

    scenario = demo_scenario()
    scenario["stores"][1]["inventory_updated_at_moves"] = False  # nationwide-plants
    flow = flow_harness_factory(scenario)
    store = flow.sim.store(flow.registry.retailer(NATIONWIDE).shop_domain)
    with store.lock:  # levels last changed yesterday, not just now at scenario load
        for item in store.inventory_items.values():
            for lv in item.levels.values():
                store.touch(lv, "level", lv.updated_at - timedelta(days=1))
    cycle(flow, [NATIONWIDE], run_id="c1")
    flow.connect().execute(  # as if our writes were a minute old: search has caught up
        "UPDATE shopsync.inventory_pushes SET settled_at = settled_at - interval '1 minute'"
    )
    read, _ = flow.sync_inventory(NATIONWIDE, run_id="c2")
    assert read.counts["full_read"] == 0
    assert any("updatedAt did not move" in m for m in read.pending)
    read, _ = flow.sync_inventory(NATIONWIDE, run_id="c3")
    assert read.counts["full_read"] == 1


def test_one_job_run_counts_a_sale_at_one_retailer_at_every_other(flow):
    """The runner's phase barrier: every retailer's new orders are landed before any
    retailer's stock is written, so B's push sees A's sale in the same run (I10)."""
    sku = shared_sku(flow, NATIONWIDE, BOTANICAL, EPIC)
    flow.sim.set_inventory(flow.registry.hub.shop_domain, sku, WAREHOUSE, available=30)
    assert flow.run_job("inventory_job", NATIONWIDE, _now(), last_retailer=EPIC).success
    shop = RetailerShop(flow, EPIC)  # the last retailer of the run sells
    commit_order_inventory(shop.store, shop.order(Line(sku, 5, HUB), age=timedelta(seconds=5)))
    assert flow.run_job("inventory_job", NATIONWIDE, _now(), last_retailer=EPIC).success
    for key in (NATIONWIDE, BOTANICAL, EPIC):
        assert level(flow, key, sku)["available"] == 25 - _safety(flow, key), key
