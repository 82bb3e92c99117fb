"""Bulk query operations: run, poll, JSONL with __parentId, in-progress, failures (FACTS.md §3)."""

from __future__ import annotations

import json

import httpx

from tests.fixtures.sim import RETAILER_A, wait_for

RUN = """mutation($q: String!) { bulkOperationRunQuery(query: $q) {
  bulkOperation { id status } userErrors { field message code } } }"""
ORDERS = (
    "{ orders { edges { node { id name lineItems { edges { node { id sku quantity } } } } } } }"
)
POLL = (
    "query($id: ID!) { node(id: $id) { ... on BulkOperation {"
    " status errorCode url partialDataUrl objectCount rootObjectCount } } }"
)


def _finished(call, op_id):
    def check():
        op = call(POLL, {"id": op_id})["data"]["node"]
        return op if op["status"] != "RUNNING" else None

    return wait_for(check)


def test_bulk_query_jsonl_with_parent_ids(simulator, gql):
    call = gql(simulator, RETAILER_A)
    started = call(RUN, {"q": ORDERS})["data"]["bulkOperationRunQuery"]
    assert started["userErrors"] == [] and started["bulkOperation"]["status"] == "RUNNING"
    busy = call(RUN, {"q": ORDERS})["data"]["bulkOperationRunQuery"]  # one at a time in 2025-01
    assert busy["userErrors"][0]["code"] == "OPERATION_IN_PROGRESS"
    op = _finished(call, started["bulkOperation"]["id"])
    assert op["status"] == "COMPLETED" and op["rootObjectCount"] == "4"
    rows = [json.loads(line) for line in httpx.get(op["url"]).text.splitlines()]
    assert len(rows) == int(op["objectCount"])
    orders = {r["id"] for r in rows if "__parentId" not in r}
    lines = [r for r in rows if "__parentId" in r]
    assert len(orders) == 4 and lines and all(r["__parentId"] in orders for r in lines)
    assert "lineItems" not in rows[0]
    current = call("{ currentBulkOperation { id status } }")["data"]["currentBulkOperation"]
    assert current == {"id": started["bulkOperation"]["id"], "status": "COMPLETED"}


def test_invalid_bulk_queries(simulator, gql):
    call = gql(simulator, RETAILER_A)
    for query in (
        "{ orders { edges { node { nope } } } }",
        "{ shop { id } }",
        '{ node(id: "x") { id } }',
        "{",
    ):
        errors = call(RUN, {"q": query})["data"]["bulkOperationRunQuery"]["userErrors"]
        assert errors[0]["code"] == "INVALID", query


def test_forced_failure_and_missing_url(simulator, gql):
    call = gql(simulator, RETAILER_A)
    for outcome, status in (("FAILED", "FAILED"), ("TIMEOUT", "FAILED"), ("NO_URL", "COMPLETED")):
        simulator.set_faults(RETAILER_A, bulk_outcome=outcome)
        op_id = call(RUN, {"q": ORDERS})["data"]["bulkOperationRunQuery"]["bulkOperation"]["id"]
        op = _finished(call, op_id)
        assert op["status"] == status and op["url"] is None
        if outcome == "TIMEOUT":
            assert op["errorCode"] == "TIMEOUT" and op["partialDataUrl"]
