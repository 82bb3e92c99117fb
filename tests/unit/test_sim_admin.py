"""The /_sim admin API, the actors, reset, determinism, the demo scenario and the CLI."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

from simulator import Simulator
from tests.fixtures.sim import HUB, RETAILER_A, RETAILER_B, variant_by_sku

ROOT = Path(__file__).resolve().parents[2]


def test_admin_stores_state_counters(simulator, gql):
    base = simulator.base_url
    stores = httpx.get(f"{base}/_sim/stores").json()["stores"]
    by_domain = {s["domain"]: s for s in stores}
    assert by_domain[RETAILER_A]["location_ids"] == [
        "gid://shopify/Location/2001",
        "gid://shopify/Location/2002",
    ]
    assert by_domain[HUB]["plan"] == "Advanced"
    gql(simulator, RETAILER_A)("{ shop { id } }")
    counters = httpx.get(f"{base}/_sim/stores/{RETAILER_A}/counters").json()
    assert counters["requests"] == 1 and counters["cost_points"] == 1  # shop { id }: one object
    state = httpx.get(f"{base}/_sim/stores/{RETAILER_A}/state").json()
    assert [o["name"] for o in state["orders"]] == ["#1001", "#1002", "#1003", "#1004"]
    assert {"sku", "location_id", "available", "on_hand"} <= set(state["inventory"][0])
    assert httpx.get(f"{base}/_sim/stores/nope/state").status_code == 404


def test_admin_faults_and_bucket(simulator, gql):
    base = simulator.base_url
    plan = httpx.post(f"{base}/_sim/stores/{HUB}/faults", json={"http_500": 1.0}).json()
    assert plan["rates"]["http_500"] == 1.0
    assert gql(simulator, HUB).raw("{ shop { id } }").status_code == 500
    httpx.post(f"{base}/_sim/stores/{HUB}/faults", json={"clear": True})
    assert (
        httpx.post(f"{base}/_sim/stores/{HUB}/bucket", json={"available": 0}).json()[
            "currentlyAvailable"
        ]
        == 0
    )
    assert httpx.post(f"{base}/_sim/stores/{HUB}/faults", json={"bogus": 1}).status_code == 400


def _place_hub_order(sim, gql, skus):
    lines = [{"variantId": variant_by_sku(sim, HUB, s).id, "quantity": 2} for s in skus]
    gql(sim, HUB)(
        "mutation($o: OrderCreateOrderInput!) { orderCreate(order: $o) { order { id } } }",
        {"o": {"lineItems": lines}},
    )


def test_warehouse_actor_over_http_fulfils_with_tracking(simulator, gql):
    _place_hub_order(simulator, gql, ["PLT-MONS-04", "SEED-BASIL-PK"])
    assert (
        httpx.post(f"{simulator.base_url}/_sim/actors/warehouse", json={}).json()["orders"] == 0
    )  # FOs not routed yet
    time.sleep(0.25)
    result = httpx.post(
        f"{simulator.base_url}/_sim/actors/warehouse",
        json={"seed": 1, "partial_rate": 0, "split_rate": 1.0},
    ).json()
    assert result["orders"] == 1 and len(result["fulfillments"]) == 2  # two shipments
    for shipment in result["fulfillments"]:
        assert shipment["tracking"][0]["number"] and shipment["tracking"][0]["url"].startswith(
            "https://"
        )
    state = simulator.state(HUB)
    assert state["orders"][0]["fulfillment_status"] == "FULFILLED"
    assert state["notifications"] == 2
    again = simulator.run_warehouse(seed=1)
    assert again["fulfillments"] == []  # nothing left to ship


def test_warehouse_partial(simulator, gql):
    _place_hub_order(simulator, gql, ["PLT-MONS-04", "SEED-BASIL-PK", "PLT-SNAK-04"])
    time.sleep(0.25)
    simulator.run_warehouse(seed=3, partial_rate=1.0, split_rate=0)
    assert simulator.state(HUB)["orders"][0]["fulfillment_status"] == "PARTIALLY_FULFILLED"


def test_shopper_actor_mix_is_seeded(simulator):
    first = simulator.run_shopper(
        domains=[RETAILER_A], count=30, seed=5, mix={"unpaid": 0.3, "cancelled": 0.2}
    )
    statuses = {o["financial_status"] for o in first["orders"]}
    assert len(first["orders"]) == 30 and "PAID" in statuses and len(statuses) > 1
    assert any(o["cancelled"] for o in first["orders"])
    names = [o["name"] for o in first["orders"]]
    assert names[0] == "#1005" and len(set(names)) == 30
    simulator.reset()
    again = simulator.run_shopper(
        domains=[RETAILER_A], count=30, seed=5, mix={"unpaid": 0.3, "cancelled": 0.2}
    )
    assert again == first  # same seed, same scenario: same orders and GIDs
    assert httpx.post(f"{simulator.base_url}/_sim/actors/shopper", json={"count": 1}).json()[
        "orders"
    ]


def test_reset_restores_the_scenario(simulator):
    simulator.run_shopper(domains=[RETAILER_B], count=2)
    assert len(simulator.store(RETAILER_B).orders) == 2
    assert httpx.post(f"{simulator.base_url}/_sim/reset").json() == {"ok": True}
    assert len(simulator.store(RETAILER_B).orders) == 0


def test_gids_are_unique_across_stores(simulator):
    ids = [
        gid for store in simulator.stores.values() for gid in store.nodes if "/Location/" not in gid
    ]
    assert len(ids) == len(set(ids))


def test_demo_scenario_matches_the_registry():
    import yaml

    sim = Simulator(ROOT / "config" / "demo.yaml")
    registry = yaml.safe_load((ROOT / "config" / "retailers.example.yaml").read_text())
    hub = sim.store(registry["hub"]["shop_domain"])
    assert (
        hub.token_env == registry["hub"]["token_env"]
        and registry["hub"]["location_id"] in hub.locations
    )
    for retailer in registry["retailers"]:
        store = sim.store(retailer["shop_domain"])
        assert store.token_env == retailer["token_env"]
        assert retailer["hub_location_id"] in store.locations
        assert store.orders
    assert len(hub.variants) >= 200 and not hub.orders
    assert len(sim.store("epic-gardening.myshopify.com").locations) == 3


def test_cli_print_env():
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "simulator",
            "--scenario",
            "config/demo.yaml",
            "--port",
            "8765",
            "--print-env",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert out[0] == "export SHOPSYNC_SHOPIFY_BASE_URL=http://127.0.0.1:8765"
    assert "export SHOPSYNC_TOKEN_EPIC_GARDENING=shpat_demo_epic" in out
    assert len(out) == 8
