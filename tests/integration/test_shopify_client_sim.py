"""The Shopify client against the simulator over real HTTP (issue 4 "done when")."""

from __future__ import annotations

import pytest
from shopify_sim_support import HUB, RETAILER, resource_for, write_registry

from resources.shopify import (
    MemoryCallRecorder,
    ScaledClock,
    ShopifyAmbiguousWriteError,
    ShopifyAuthError,
    ShopifyBulkOperationError,
    ShopifyCostExceeded,
    ShopifyNotFound,
    ShopifyQueryError,
    ShopifySearchWarning,
)

pytestmark = pytest.mark.integration

SCALE = 100.0
CATALOGUE = {
    "settings": {"seed": 3},
    "catalog": {"generate": {"plants": 200, "seeds": 200}},  # 600 + 400 = 1,000 variants
    "stores": [
        {"domain": HUB, "role": "hub", "plan": "Advanced", "token": "shpat_hub",
         "token_env": "SHOPSYNC_TOKEN_HUB", "locations": [{"id": "gid://shopify/Location/1001"}]},
        {"domain": RETAILER, "plan": "Standard", "token": "shpat_retailer",
         "token_env": "SHOPSYNC_TOKEN_RETAILER_A",
         "locations": [{"id": "gid://shopify/Location/2001"}]},
    ],
}  # fmt: skip


@pytest.fixture
def tokens(monkeypatch):
    monkeypatch.setenv("SHOPSYNC_TOKEN_HUB", "shpat_hub")
    monkeypatch.setenv("SHOPSYNC_TOKEN_RETAILER_A", "shpat_retailer")


@pytest.fixture
def catalogue_sim(sim_factory, tokens):
    return sim_factory(CATALOGUE, time_scale=SCALE)


@pytest.fixture
def small_sim(simulator, monkeypatch):
    monkeypatch.setenv("SHOPSYNC_TOKEN_HUB", simulator.store(HUB).token)
    monkeypatch.setenv("SHOPSYNC_TOKEN_RETAILER_A", simulator.store(RETAILER).token)
    return simulator


def test_pagination_reads_every_variant_across_many_pages(catalogue_sim, tmp_path) -> None:
    recorder = MemoryCallRecorder()
    resource = resource_for(catalogue_sim.base_url, write_registry(tmp_path))
    with resource.get_client("retailer-a", recorder=recorder, clock=ScaledClock(SCALE)) as client:
        nodes = list(
            client.paginate(
                "catalogue_variants_inventory",
                {"locationId": "gid://shopify/Location/2001"},
                ("productVariants",),
            )
        )
    expected = {v.id for v in catalogue_sim.store(RETAILER).variants.values()}
    assert len(nodes) == len(expected) == 1000
    assert {n["id"] for n in nodes} == expected
    assert len(recorder.calls) == 5  # 240 per page
    levels = [n["inventoryItem"]["inventoryLevel"] for n in nodes]
    assert all(lv is None or lv["quantities"][0]["name"] == "available" for lv in levels)


def test_steady_run_at_standard_plan_sees_no_throttled(catalogue_sim, tmp_path) -> None:
    """Three catalogue reads back to back (~14,000 points) from a nearly empty 2,000 bucket.

    The bucket starts at 10 points, so pacing is certain whatever the machine's speed: the
    first (2-point) call tells the client the level, and every later call must wait for it.
    """
    catalogue_sim.store(RETAILER).bucket.reset(10)
    recorder = MemoryCallRecorder()
    resource = resource_for(catalogue_sim.base_url, write_registry(tmp_path))
    with resource.get_client("retailer-a", recorder=recorder, clock=ScaledClock(SCALE)) as client:
        client.execute("shop_info")
        for _ in range(3):
            for _node in client.paginate(
                "catalogue_variants_inventory",
                {"locationId": "gid://shopify/Location/2001"},
                ("productVariants",),
            ):
                pass
        waited = client.throttle.total_wait_seconds
    counters = catalogue_sim.counters(RETAILER)
    assert counters["throttled"] == 0
    assert not any(c.throttled for c in recorder.calls) and len(recorder.calls) == 16
    assert waited >= 9.5  # simulated seconds: the first page alone needed 952 points at 100/s


@pytest.mark.parametrize(
    "kind", ["http_500", "http_502", "http_503", "http_429", "timeout", "reset"]
)
def test_queries_recover_from_each_fault_kind(small_sim, tmp_path, kind) -> None:
    small_sim.set_faults(RETAILER, **{kind: 1.0}, max_faults=2, timeout_seconds=3)
    recorder = MemoryCallRecorder()
    resource = resource_for(small_sim.base_url, write_registry(tmp_path), read_timeout_seconds=0.5)
    with resource.get_client("retailer-a", recorder=recorder) as client:
        data = client.execute("shop_info")
    assert data["shop"]["myshopifyDomain"] == RETAILER
    assert small_sim.counters(RETAILER)["faults"] == {kind: 2}
    assert recorder.calls[0].retries == 2 and recorder.calls[0].http_status == 200


def _order_variables(sim) -> dict:
    variant = next(v for v in sim.store(HUB).variants.values() if v.sku == "PLT-MONS-04")
    return {
        "order": {
            "lineItems": [{"variantId": variant.id, "quantity": 1}],
            "sourceIdentifier": "retailer-a:gid://shopify/Order/1",
            "tags": ["src:retailer-a:1"],
        }
    }


def test_lost_response_after_order_create_raises_ambiguous_write(small_sim, tmp_path) -> None:
    """FAULTS O2: the order was created, the answer lost; the client must not resend it."""
    small_sim.set_faults(HUB, lose_response_after_commit=1.0, max_faults=1)
    before = len(small_sim.store(HUB).orders)
    resource = resource_for(small_sim.base_url, write_registry(tmp_path))
    client = resource.get_client("hub")
    with client, pytest.raises(ShopifyAmbiguousWriteError, match="may have been applied"):
        client.mutate("orders_create_hub", _order_variables(small_sim))
    assert len(small_sim.store(HUB).orders) == before + 1  # committed exactly once
    assert small_sim.counters(HUB)["faults"] == {"lose_response_after_commit": 1}


def test_idempotent_tags_add_is_resent_after_a_lost_response(small_sim, tmp_path) -> None:
    resource = resource_for(small_sim.base_url, write_registry(tmp_path))
    with resource.get_client("hub") as client:
        order_id = client.mutate("orders_create_hub", _order_variables(small_sim)).payload["order"][
            "id"
        ]
        small_sim.set_faults(HUB, lose_response_after_commit=1.0, max_faults=1)
        result = client.mutate("tags_add", {"id": order_id, "tags": ["synced"]})
    assert result.ok and result.payload["node"]["id"] == order_id
    assert small_sim.counters(HUB)["faults"] == {"lose_response_after_commit": 1}
    assert small_sim.store(HUB).orders[order_id].tags.count("synced") == 1


def test_typed_errors_for_401_404_validation_and_cost(small_sim, tmp_path, monkeypatch) -> None:
    registry = write_registry(tmp_path)
    resource = resource_for(small_sim.base_url, registry)
    monkeypatch.setenv("SHOPSYNC_TOKEN_RETAILER_A", "shpat_wrong")
    with (
        resource.get_client("retailer-a") as client,
        pytest.raises(ShopifyAuthError, match="retailer-a'.*SHOPSYNC_TOKEN_RETAILER_A"),
    ):
        client.execute("shop_info")
    monkeypatch.setenv("SHOPSYNC_TOKEN_GHOST", "shpat_ghost")
    ghost = resource.get_client("ghost")
    with ghost, pytest.raises(ShopifyNotFound, match="ghost.myshopify.com"):
        ghost.execute("shop_info")
    with resource.get_client("hub") as client:
        with pytest.raises(ShopifyQueryError) as raised:
            client.execute("location_by_id", {"id": {"not": "an id"}})
        assert raised.value.request_id
        with pytest.raises(ShopifyCostExceeded, match="1002"):
            client.execute(
                "catalogue_variants_inventory",
                {"first": 250, "locationId": "gid://shopify/Location/1001"},
            )
    assert small_sim.counters(RETAILER)["unauthorized"] == 1


def test_dropped_search_filter_is_an_error(small_sim, tmp_path) -> None:
    resource = resource_for(small_sim.base_url, write_registry(tmp_path))
    client = resource.get_client("hub")
    with client, pytest.raises(ShopifySearchWarning, match="skew"):
        client.execute("products_variants_by_sku", {"query": "skew:PLT-MONS-04"})


def test_variants_by_sku_on_the_simulator(small_sim, tmp_path) -> None:
    resource = resource_for(small_sim.base_url, write_registry(tmp_path))
    with resource.get_client("retailer-a") as client:
        found = client.variants_by_sku(["PLT-MONS-04", "SEED-BASIL-PK", "NOPE-1"])
    assert len(found["PLT-MONS-04"]) == 1
    assert len(found["SEED-BASIL-PK"]) == 2  # the scenario's duplicate SKU: both returned
    assert found["NOPE-1"] == []


BULK_ORDERS = (
    "{ orders { edges { node { id name lineItems { edges { node { id sku quantity } } } } } } }"
)


def test_bulk_query_end_to_end(small_sim, tmp_path) -> None:
    resource = resource_for(small_sim.base_url, write_registry(tmp_path), bulk_poll_max_seconds=0.2)
    with resource.get_client("retailer-a") as client:
        client.bulk_settings = client.bulk_settings.__class__(poll_initial=0.1, poll_max=0.2)
        orders = list(client.bulk_query(BULK_ORDERS, {"LineItem": "lineItems"}))
    store_orders = small_sim.store(RETAILER).orders
    assert {o["id"] for o in orders} == set(store_orders)
    first = next(o for o in orders if o["name"] == "#1001")
    assert sorted(li["sku"] for li in first["lineItems"]) == ["PLT-MONS-04", "SEED-BASIL-PK"]


@pytest.mark.parametrize("outcome", ["FAILED", "TIMEOUT", "NO_URL"])
def test_bulk_failures_are_never_an_empty_success(small_sim, tmp_path, outcome) -> None:
    small_sim.set_faults(RETAILER, bulk_outcome=outcome)
    resource = resource_for(small_sim.base_url, write_registry(tmp_path))
    with resource.get_client("retailer-a") as client:
        client.bulk_settings = client.bulk_settings.__class__(
            poll_initial=0.1, poll_max=0.2, run_attempts=2
        )
        with pytest.raises(ShopifyBulkOperationError):
            list(client.bulk_query(BULK_ORDERS))


def test_version_fall_forward_is_reported(small_sim, tmp_path, caplog) -> None:
    resource = resource_for(small_sim.base_url, write_registry(tmp_path), api_version="2025-04")
    with resource.get_client("hub") as client:
        client.execute("shop_info")
    assert "asked for Admin API 2025-04 but Shopify served 2025-10" in caplog.text


def _level(sim, domain: str, sku: str, location: str) -> tuple[str, int]:
    item = next(i for i in sim.store(domain).inventory_items.values() if i.sku == sku)
    return item.id, item.levels[location].quantities_map["available"]


@pytest.mark.parametrize("version", ["2025-01", "2026-07"])
def test_inventory_set_survives_a_lost_response_and_detects_stale_values(
    small_sim, tmp_path, version
) -> None:
    """FAULTS I1/I2 at the client level: a lost response is resent and applied once; a stale
    compare-and-set comes back as a typed user error for the caller to re-read."""
    from resources.shopify import InventorySet, stable_key

    location = "gid://shopify/Location/2001"
    item_id, current = _level(small_sim, RETAILER, "PLT-MONS-04", location)
    resource = resource_for(small_sim.base_url, write_registry(tmp_path), api_version=version)
    small_sim.set_faults(RETAILER, lose_response_after_commit=1.0, max_faults=1)
    with resource.get_client("retailer-a") as client:
        entry = InventorySet(item_id, location, current + 7, expected=current)
        result = client.set_inventory([entry], idempotency_key=stable_key("t", version, current))
        if version == "2025-01":  # no key: the resend meets its own write and reports it stale
            assert result.codes() == {"COMPARE_QUANTITY_STALE"}
        else:  # same @idempotent key: Shopify returns the original result
            assert result.ok, result.user_errors
        assert _level(small_sim, RETAILER, "PLT-MONS-04", location)[1] == current + 7
        stale = InventorySet(item_id, location, 1, expected=current)  # the value moved on
        result = client.set_inventory([stale], idempotency_key=stable_key("t2", version))
    assert result.codes() & {"COMPARE_QUANTITY_STALE", "CHANGE_FROM_QUANTITY_STALE"}
    assert _level(small_sim, RETAILER, "PLT-MONS-04", location)[1] == current + 7
    assert small_sim.counters(RETAILER)["faults"] == {"lose_response_after_commit": 1}
