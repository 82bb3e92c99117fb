"""Cost, throttling, API versions and search lag (FACTS.md §1, §2.5, §6.4)."""

from __future__ import annotations

import time

import httpx

from tests.fixtures.sim import HUB, RETAILER_A, wait_for

PAGE = "{ productVariants(first: 250) { nodes { id } } }"


def test_requested_vs_actual_cost_and_refund(simulator, gql):
    body = gql(simulator, HUB)(PAGE)
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 252
    assert cost["actualQueryCost"] == 2 + len(body["data"]["productVariants"]["nodes"])
    assert cost["throttleStatus"]["currentlyAvailable"] >= 4000 - cost["actualQueryCost"] - 1
    assert simulator.counters(HUB)["cost_points"] == cost["actualQueryCost"]


def test_max_cost_exceeded_is_refused_before_running(simulator, gql):
    body = gql(simulator, HUB)(
        "{ orders(first: 250) { nodes { lineItems(first: 50) { nodes { id } } } } }"
    )
    error = body["errors"][0]
    assert error["extensions"]["code"] == "MAX_COST_EXCEEDED"
    assert error["message"].startswith(
        "Query cost is 13252, which exceeds the single query max cost limit (1000)."
    )
    assert "data" not in body


def test_throttled_is_http_200_and_executes_nothing(simulator, gql):
    call = gql(simulator, RETAILER_A)
    simulator.store(RETAILER_A).bucket.reset(available=100)
    response = call.raw(PAGE)
    assert response.status_code == 200
    body = response.json()
    assert body["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert body["extensions"]["cost"]["actualQueryCost"] is None
    assert body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] < 252
    order = next(iter(simulator.store(RETAILER_A).orders.values()))
    simulator.store(RETAILER_A).bucket.reset(available=5)
    mutation = 'mutation($id: ID!) { tagsAdd(id: $id, tags: ["x"]) { userErrors { message } } }'
    throttled = call(mutation, {"id": order.id})
    assert throttled["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert "x" not in order.tags  # a throttled mutation did not run
    assert simulator.counters(RETAILER_A)["throttled"] == 2


def test_time_scale_speeds_up_restore(sim_factory, gql):
    fast = sim_factory(time_scale=100.0)
    fast.store(RETAILER_A).bucket.reset(available=0)
    time.sleep(0.05)  # >= 0.05 s x 100 pts/s x 100 = 500 points (at scale 1: only 5)
    body = gql(fast, RETAILER_A)(PAGE)
    assert "data" in body, body
    assert body["extensions"]["cost"]["throttleStatus"]["restoreRate"] == 100.0  # arithmetic kept


def test_versions_header_and_fall_forward(simulator):
    token = {"X-Shopify-Access-Token": simulator.store(HUB).token}
    served = {}
    for version in ("2025-01", "2024-10", "2025-07", "2025-10", "2026-07", "unstable"):
        r = httpx.post(
            simulator.url(HUB, version), json={"query": "{ shop { id } }"}, headers=token
        )
        served[version] = r.headers["X-Shopify-API-Version"]
    assert served == {
        "2025-01": "2025-01",
        "2024-10": "2025-10",
        "2025-07": "2025-10",
        "2025-10": "2025-10",
        "2026-07": "2026-07",
        "unstable": "unstable",
    }


def test_search_lag_hides_new_writes_from_query_but_not_from_id(sim_factory, gql):
    sim = sim_factory(search_lag_seconds=0.6)
    call = gql(sim, RETAILER_A)
    order = next(o for o in sim.store(RETAILER_A).orders.values() if o.name == "#1002")
    search = '{ orders(first: 10, query: "tag:late") { nodes { id } } }'
    call(
        'mutation($id: ID!) { tagsAdd(id: $id, tags: ["late"]) { userErrors { message } } }',
        {"id": order.id},
    )
    assert call(search)["data"]["orders"]["nodes"] == []  # the index has not caught up
    assert (
        "late"
        in call("query($id: ID!) { order(id: $id) { tags } }", {"id": order.id})["data"]["order"][
            "tags"
        ]
    )
    assert call('{ orders(first: 10, query: "tag:vip") { nodes { id } } }')["data"]["orders"][
        "nodes"
    ]  # seeded
    wait_for(lambda: call(search)["data"]["orders"]["nodes"], timeout=5)
    sim.run_shopper(domains=[RETAILER_A], count=1, seed=3)
    newest = call("{ orders(first: 1, sortKey: CREATED_AT, reverse: true) { nodes { id } } }")
    new_id = newest["data"]["orders"]["nodes"][0]["id"]
    listed = call("{ orders(first: 50, query: \"created_at:>'2000-01-01'\") { nodes { id } } }")
    assert new_id not in [n["id"] for n in listed["data"]["orders"]["nodes"]]
