"""Fault injection, each kind over real HTTP, and commit-then-lose-response (FAULTS.md P2, O2)."""

from __future__ import annotations

import httpx
import pytest

from tests.fixtures.sim import HUB, variant_by_sku

SHOP = "{ shop { id } }"


@pytest.mark.parametrize(
    ("kind", "status"), [("http_500", 500), ("http_502", 502), ("http_503", 503), ("http_429", 429)]
)
def test_http_faults(simulator, gql, kind, status):
    simulator.set_faults(HUB, **{kind: 1.0})
    response = gql(simulator, HUB).raw(SHOP)
    assert response.status_code == status
    assert response.headers["X-Request-Id"]
    if status == 429:
        assert response.headers["Retry-After"]
    assert simulator.counters(HUB)["faults"] == {kind: 1}
    simulator.clear_faults(HUB)
    assert gql(simulator, HUB).raw(SHOP).status_code == 200


def test_timeout_outlasts_the_client(simulator, gql):
    simulator.set_faults(HUB, timeout=1.0, timeout_seconds=2.0)
    with pytest.raises(httpx.ReadTimeout):
        gql(simulator, HUB).raw(SHOP, timeout=0.3)
    assert simulator.counters(HUB)["faults"] == {"timeout": 1}


def test_reset_drops_the_connection(simulator, gql):
    simulator.set_faults(HUB, reset=1.0)
    with pytest.raises(httpx.TransportError):
        gql(simulator, HUB).raw(SHOP)
    assert simulator.counters(HUB)["faults"] == {"reset": 1}


def test_lose_response_after_commit_applies_the_mutation(simulator, gql):
    simulator.set_faults(HUB, lose_response_after_commit=1.0)
    assert gql(simulator, HUB).raw(SHOP).status_code == 200  # queries are never affected
    variant = variant_by_sku(simulator, HUB, "PLT-MONS-04")
    mutation = (
        "mutation($o: OrderCreateOrderInput!) { orderCreate(order: $o) { order { id } "
        "userErrors { message } } }"
    )
    for _ in range(4):  # both flavours (502 and dropped connection) are seeded coin flips
        try:
            response = gql(simulator, HUB).raw(
                mutation, {"o": {"lineItems": [{"variantId": variant.id, "quantity": 1}]}}
            )
            assert response.status_code == 502
        except httpx.TransportError:
            pass
    assert len(simulator.store(HUB).orders) == 4  # every one committed
    assert simulator.counters(HUB)["faults"] == {"lose_response_after_commit": 4}


def test_only_fields_and_max_faults(simulator, gql):
    simulator.set_faults(HUB, http_503=1.0, only_fields=["orders"], max_faults=1)
    call = gql(simulator, HUB)
    assert call.raw(SHOP).status_code == 200
    assert call.raw("{ orders(first: 1) { nodes { id } } }").status_code == 503
    assert call.raw("{ orders(first: 1) { nodes { id } } }").status_code == 200


def test_rates_are_seeded_and_reproducible(sim_factory, gql):
    outcomes = []
    for _ in range(2):
        sim = sim_factory()
        sim.set_faults(HUB, http_500=0.3, seed=42)
        call = gql(sim, HUB)
        outcomes.append([call.raw(SHOP).status_code for _ in range(20)])
    assert outcomes[0] == outcomes[1]
    assert 500 in outcomes[0] and 200 in outcomes[0]


def test_faults_from_the_scenario(sim_factory, gql):
    from simulator.scenario import load_spec
    from tests.fixtures.sim import SMALL_SCENARIO

    spec = load_spec(SMALL_SCENARIO)
    spec["stores"][0]["faults"] = {"http_502": 1.0}
    sim = sim_factory(spec)
    assert gql(sim, HUB).raw(SHOP).status_code == 502


def test_unknown_fault_name_is_rejected(simulator):
    with pytest.raises(ValueError, match="unknown fault setting"):
        simulator.set_faults(HUB, http_418=1.0)
