"""Reading and writing levels the way the inventory flow does: ``Location.inventoryLevels``
with its ``query:`` filters and search lag, inactive levels by version, the 2026-04+
idempotency codes, 2026-10's silent writes to unstocked pairs, and sales that move stock."""

from __future__ import annotations

import time

import yaml

from simulator.admin import handle_admin
from tests.fixtures.sim import HUB, RETAILER_A, SMALL_SCENARIO, variant_by_sku
from tests.unit.test_sim_inventory import HUB_LOC, NEW, OLD, _available, _input, _item

LEVELS = """query($loc: ID!, $q: String, $after: String) { location(id: $loc) {
  inventoryLevels(first: 2, after: $after, query: $q) {
    nodes { id createdAt updatedAt item { id sku } quantities(names: ["available"]) { quantity } }
    pageInfo { hasNextPage endCursor } } } }"""
LEVELS_2026 = """query($loc: ID!, $all: Boolean) { location(id: $loc) {
  inventoryLevels(first: 50, includeInactive: $all) { nodes { isActive item { sku } } } } }"""
WAREHOUSE = "gid://shopify/Location/1001"


def _skus(sim, gql, query=None, location=HUB_LOC, domain=RETAILER_A):
    call, skus, after = gql(sim, domain), [], None
    while True:
        page = call(LEVELS, {"loc": location, "q": query, "after": after})
        conn = page["data"]["location"]["inventoryLevels"]
        skus += [n["item"]["sku"] for n in conn["nodes"]]
        if not conn["pageInfo"]["hasNextPage"]:
            return skus
        after = conn["pageInfo"]["endCursor"]


def _a_second_after_load() -> str:
    """A lower bound after the scenario's own level timestamps (whole seconds)."""
    time.sleep(1.05)
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def test_levels_of_one_location_page_by_id(simulator, gql):
    assert sorted(_skus(simulator, gql)) == sorted(
        ["PLT-MONS-04", "PLT-SNAK-04", "SEED-BASIL-PK", "SEED-BASIL-PK"]
    )
    assert sorted(_skus(simulator, gql, location="gid://shopify/Location/2002")) == [
        "PLT-MONS-04",
        "RET-POT-01",
    ]


def test_updated_at_filter_sees_a_quantity_change_once_indexed(sim_factory, gql):
    sim = sim_factory(search_lag_seconds=0.3)
    query = f"updated_at:>='{_a_second_after_load()}'"
    assert _skus(sim, gql, query, WAREHOUSE, HUB) == []
    sim.set_inventory(HUB, "PLT-MONS-06", WAREHOUSE, available=3)
    assert _skus(sim, gql, query, WAREHOUSE, HUB) == []  # search lags behind the write
    time.sleep(0.4)
    assert _skus(sim, gql, query, WAREHOUSE, HUB) == ["PLT-MONS-06"]
    item_id = variant_by_sku(sim, HUB, "PLT-SNAK-04").inventory_item.legacy_resource_id
    assert _skus(sim, gql, f"inventory_item_id:{item_id}", WAREHOUSE, HUB) == ["PLT-SNAK-04"]


def test_a_store_whose_updated_at_does_not_move(sim_factory, gql):
    spec = yaml.safe_load(SMALL_SCENARIO.read_text())
    spec["stores"][0]["inventory_updated_at_moves"] = False
    sim = sim_factory(spec, search_lag_seconds=0)
    since = _a_second_after_load()
    sim.set_inventory(HUB, "PLT-MONS-06", WAREHOUSE, available=3)
    assert _skus(sim, gql, f"updated_at:>='{since}'", WAREHOUSE, HUB) == []


def test_inactive_levels_by_version(simulator, gql):
    simulator.set_inventory(RETAILER_A, "PLT-SNAK-04", HUB_LOC, active=False)
    assert "PLT-SNAK-04" not in _skus(simulator, gql)  # 2025-01: deleted, in effect
    call = gql(simulator, RETAILER_A, "2026-04")
    default = call(LEVELS_2026, {"loc": HUB_LOC})["data"]["location"]["inventoryLevels"]
    every = call(LEVELS_2026, {"loc": HUB_LOC, "all": True})["data"]["location"]["inventoryLevels"]
    assert "PLT-SNAK-04" not in [n["item"]["sku"] for n in default["nodes"]]
    assert {"isActive": False, "item": {"sku": "PLT-SNAK-04"}} in every["nodes"]


def test_write_to_an_inactive_level(simulator, gql):
    item = _item(simulator, "PLT-SNAK-04")
    simulator.set_inventory(RETAILER_A, "PLT-SNAK-04", HUB_LOC, active=False)
    refused = gql(simulator, RETAILER_A)(OLD, {"input": _input(item.id, 1, compareQuantity=3)})
    codes = [e["code"] for e in refused["data"]["inventorySetQuantities"]["userErrors"]]
    assert codes == ["ITEM_NOT_STOCKED_AT_LOCATION"]
    kept = gql(simulator, RETAILER_A, "2026-04")(
        NEW, {"input": _input(item.id, 1, changeFromQuantity=3), "key": "inactive"}
    )
    assert kept["data"]["inventorySetQuantities"]["userErrors"] == []
    assert _available(item) == 1  # 2026-04: a deactivated level keeps and takes quantities


def test_2026_10_writes_an_unstocked_pair_silently(simulator, gql):
    item = _item(simulator, "PLT-MONS-04")
    shop = "gid://shopify/Location/2002"
    other = _item(simulator, "RET-POT-01")
    body = gql(simulator, RETAILER_A, "2026-10")(
        NEW, {"input": _input(other.id, 4, changeFromQuantity=None), "key": "u1"}
    )
    assert body["data"]["inventorySetQuantities"]["userErrors"] == []
    assert _available(other) == 4 and HUB_LOC in other.levels  # stocked there, no error
    older = gql(simulator, RETAILER_A, "2026-07")(
        NEW, {"input": _input(item.id, 1, shop, changeFromQuantity=2), "key": "u2"}
    )
    assert older["data"]["inventorySetQuantities"]["userErrors"] == []  # stocked: fine
    assert simulator.counters(RETAILER_A)["unstocked_pairs_written"] == 1


def _codes(body):
    return [e["code"] for e in body["data"]["inventorySetQuantities"]["userErrors"]]


def test_idempotency_concurrent_and_previous_attempt_failed(simulator, gql):
    call, item = gql(simulator, RETAILER_A, "2026-10"), _item(simulator)
    simulator.set_faults(RETAILER_A, idempotency_concurrent_request=1)
    write = {"input": _input(item.id, 7, changeFromQuantity=5), "key": "c1"}
    assert _codes(call(NEW, write)) == ["IDEMPOTENCY_CONCURRENT_REQUEST"]
    assert _available(item) == 5
    assert _codes(call(NEW, write)) == [] and _available(item) == 7  # same key, later
    simulator.set_faults(RETAILER_A, idempotency_previous_attempt_failed=1)
    again = {"input": _input(item.id, 6, changeFromQuantity=7), "key": "p1"}
    assert _codes(call(NEW, again)) == ["IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED"]
    assert _codes(call(NEW, again)) == ["IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED"]  # key is dead
    assert _codes(call(NEW, {**again, "key": "p2"})) == [] and _available(item) == 6


def test_a_sale_before_the_write_makes_the_compare_stale(simulator, gql):
    call, item = gql(simulator, RETAILER_A, "2026-10"), _item(simulator)
    simulator.set_faults(RETAILER_A, sell_before_inventory_write=1)
    body = call(NEW, {"input": _input(item.id, 9, changeFromQuantity=5), "key": "s1"})
    assert _codes(body) == ["CHANGE_FROM_QUANTITY_STALE"]
    level = item.levels[HUB_LOC].quantities_map
    assert (level["available"], level["committed"]) == (4, 1)


def test_a_shopper_order_commits_retailer_stock(simulator):
    before = {
        lv.id: dict(lv.quantities_map)
        for item in simulator.store(RETAILER_A).inventory_items.values()
        for lv in item.levels.values()
    }
    placed = simulator.run_shopper(domains=[RETAILER_A], count=3, seed=4)["orders"]
    assert placed
    store = simulator.store(RETAILER_A)
    moved = 0
    for item in store.inventory_items.values():
        for lv in item.levels.values():
            was = before[lv.id]
            drop = was["available"] - lv.quantities_map["available"]
            assert drop == lv.quantities_map["committed"] - was.get("committed", 0) >= 0
            moved += drop
    ordered = sum(
        foli.total_quantity
        for o in store.orders.values()
        if o.id in {p["order_id"] for p in placed}
        for fo in o.fulfillment_orders_list
        for foli in fo.line_items_list
        if foli.variant and fo.location and fo.location.id in foli.variant.inventory_item.levels
    )
    assert moved == ordered > 0


def test_admin_route_sets_a_level(simulator):
    path = f"/_sim/stores/{HUB}/inventory"
    wanted = {"sku": "PLT-MONS-04", "location": "Hub Warehouse", "available": 12}
    status, body = handle_admin(simulator, "POST", path, wanted)
    assert status == 200 and body["levels"][0]["available"] == 12
    status, _ = handle_admin(simulator, "POST", path, {**wanted, "sku": "NOPE"})
    assert status == 404


def test_admin_route_sets_many_levels_at_once(simulator):
    path = f"/_sim/stores/{HUB}/inventory"
    many = [
        {"sku": sku, "location": WAREHOUSE, "available": 9}
        for sku in ("PLT-MONS-04", "PLT-SNAK-04", "NOPE")
    ]
    status, body = handle_admin(simulator, "POST", path, {"levels": many})
    assert status == 200 and body == {"changed": 2}
    assert _available(variant_by_sku(simulator, HUB, "PLT-SNAK-04").inventory_item, WAREHOUSE) == 9
