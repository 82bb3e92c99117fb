"""Shared pieces of the simulator's order-change tests (test_sim_order_changes, test_sim_holds,
test_sim_order_edits, test_sim_order_actors): a fast scenario, a hub order placed the way the
import flow places it, inventory reads, and the check that every document those tests send
is valid against Shopify's real schema (plus the version patch for later versions)."""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

import httpx
from graphql import GraphQLSchema, parse, validate

from simulator.engine import _patch_sections
from simulator.scenario import load_spec
from tests.fixtures.sim import HUB, SMALL_SCENARIO, variant_by_sku, wait_for
from tests.shopify_schema import real_schema_with_patch, require_real_schema

HUB_LOC = "gid://shopify/Location/1001"
ORDER_CREATE = """mutation($o: OrderCreateOrderInput!, $opt: OrderCreateOptionsInput) {
  orderCreate(order: $o, options: $opt) { order { id name } userErrors { code field message } } }"""
JOB = "query($id: ID!) { job(id: $id) { id done } }"


@cache
def _schema(version: str) -> GraphQLSchema:
    real = require_real_schema()
    if version <= "2025-01":
        return real
    patch = "\n".join(body for since, body in _patch_sections() if since <= version)
    return real_schema_with_patch(patch)


def schema_errors(document: str, version: str = "2025-01") -> list[str]:
    """What Shopify's schema of ``version`` finds wrong with ``document`` (empty when valid)."""
    return [e.message for e in validate(_schema(version), parse(document))]


def fast_spec(**settings: Any) -> dict[str, Any]:
    """The small test scenario with FOs visible at once and a 0.2 s cancel job."""
    spec = copy.deepcopy(load_spec(SMALL_SCENARIO))
    spec["settings"].update(
        {"fulfillment_order_delay_seconds": 0, "cancel_job_seconds": 0.2, **settings}
    )
    return spec


def hub_order(
    sim: Any,
    call: Any,
    lines: tuple[tuple[str, int], ...] = (("PLT-MONS-04", 2), ("PLT-SNAK-04", 1)),
    *,
    financial_status: str = "PAID",
    behaviour: str = "DECREMENT_IGNORING_POLICY",
) -> Any:
    """A hub order through ``orderCreate`` (committing inventory); returns its record."""
    order_input = {
        "lineItems": [
            {"variantId": variant_by_sku(sim, HUB, sku).id, "quantity": qty} for sku, qty in lines
        ],
        "financialStatus": financial_status,
    }
    body = call(ORDER_CREATE, {"o": order_input, "opt": {"inventoryBehaviour": behaviour}})
    made = body["data"]["orderCreate"]
    assert made["userErrors"] == [], made
    return sim.store(HUB).nodes[made["order"]["id"]]


def quantities(sim: Any, sku: str, domain: str = HUB, location: str = HUB_LOC) -> dict[str, int]:
    item = variant_by_sku(sim, domain, sku).inventory_item
    q = item.levels[location].quantities_map
    return {k: q.get(k, 0) for k in ("available", "committed", "on_hand")}


def wait_job_done(call: Any, job_id: str, timeout: float = 5.0) -> None:
    wait_for(lambda: call(JOB, {"id": job_id})["data"]["job"]["done"], timeout=timeout)


def order_named(sim: Any, domain: str, name: str) -> Any:
    return next(o for o in sim.store(domain).orders.values() if o.name == name)


def send_losing_the_answer(call: Any, document: str, variables: dict[str, Any]) -> None:
    """Send while ``lose_response_after_commit`` is armed: the answer must be lost, as a 502
    or as a dropped connection (the simulator's seeded coin picks which)."""
    try:
        status = call.raw(document, variables).status_code
    except httpx.TransportError:
        return
    assert status == 502
