"""Bulk queries: the state machine and the JSONL tree (FACTS.md §3, FAULTS.md P3)."""

from __future__ import annotations

import json

import httpx
import pytest
from shopify_fakes import TOKEN_ENV, FakeClock, make_client, ok

from resources.shopify.bulk import BulkSettings, gid_type, nest_records
from resources.shopify.errors import ShopifyBulkOperationError, ShopifyQueryError

FILE_URL = "http://storage.test/bulk/1.jsonl"
JSONL = "\n".join(
    json.dumps(x)
    for x in [
        {"id": "gid://shopify/Order/1", "name": "#1001"},
        {"id": "gid://shopify/Order/2", "name": "#1002"},
        {"id": "gid://shopify/LineItem/11", "sku": "A", "__parentId": "gid://shopify/Order/1"},
        {"id": "gid://shopify/LineItem/21", "sku": "B", "__parentId": "gid://shopify/Order/2"},
        {"id": "gid://shopify/LineItem/12", "sku": "C", "__parentId": "gid://shopify/Order/1"},
    ]
)


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, "shpat_unit_bulk")


def test_children_are_nested_under_parents_even_when_not_adjacent() -> None:
    roots = nest_records(iter(JSONL.splitlines()), {"LineItem": "lineItems"})
    assert [r["name"] for r in roots] == ["#1001", "#1002"]
    assert [li["sku"] for li in roots[0]["lineItems"]] == ["A", "C"]
    assert [li["sku"] for li in roots[1]["lineItems"]] == ["B"]
    assert "__parentId" not in roots[0]["lineItems"][0]


def test_gid_type_handles_inventory_level_query_strings() -> None:
    assert gid_type("gid://shopify/InventoryLevel/5?inventory_item_id=9") == "InventoryLevel"


class BulkShopify:
    """Scripted statuses for the polled operation; serves the file (checking no token)."""

    def __init__(self, statuses: list[dict], start_errors: list[list[dict]] | None = None):
        self.statuses = statuses
        self.start_errors = list(start_errors or [])
        self.starts = 0
        self.downloads: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "storage.test":
            self.downloads.append(request)
            return httpx.Response(200, text=JSONL)
        body = json.loads(request.content)
        if body["operationName"] == "BulkOperationRunQuery":
            self.starts += 1
            errors = self.start_errors.pop(0) if self.start_errors else []
            op = None if errors else {"id": "gid://shopify/BulkOperation/1", "status": "CREATED"}
            return ok({"bulkOperationRunQuery": {"bulkOperation": op, "userErrors": errors}})
        if body["operationName"] == "CurrentBulkOperation":
            return ok(
                {
                    "currentBulkOperation": {
                        "id": "gid://shopify/BulkOperation/0",
                        "status": "COMPLETED",
                    }
                }
            )
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        if body["variables"]["id"].endswith("/0"):
            status = {"status": "COMPLETED", "url": None, "objectCount": "0"}
        return ok({"node": {"id": body["variables"]["id"], "errorCode": None, **status}})


DONE = {"status": "COMPLETED", "url": FILE_URL, "objectCount": "5"}


def test_bulk_query_polls_with_backoff_then_streams_the_file_without_the_token() -> None:
    clock = FakeClock()
    server = BulkShopify(
        [{"status": "CREATED"}, {"status": "RUNNING"}, {"status": "RUNNING"}, DONE]
    )
    client = make_client(server, clock, bulk_settings=BulkSettings(poll_initial=1, poll_factor=2))
    roots = list(
        client.bulk_query("{ orders { edges { node { id } } } }", {"LineItem": "lineItems"})
    )
    assert [len(r["lineItems"]) for r in roots] == [2, 1]
    assert clock.sleeps == [1, 2, 4]
    assert "X-Shopify-Access-Token" not in server.downloads[0].headers


@pytest.mark.parametrize(
    "bad",
    [
        {"status": "FAILED", "errorCode": "INTERNAL_SERVER_ERROR"},
        {"status": "COMPLETED", "errorCode": "TIMEOUT", "partialDataUrl": FILE_URL},
        {"status": "COMPLETED", "url": None, "objectCount": "5"},
        {"status": "CANCELED"},
    ],
    ids=["failed", "timeout", "no-url", "canceled"],
)
def test_a_failed_operation_is_restarted_and_never_an_empty_success(bad: dict) -> None:
    server = BulkShopify([bad])
    client = make_client(server, bulk_settings=BulkSettings(run_attempts=3))
    with pytest.raises(ShopifyBulkOperationError, match="partial data is not used"):
        list(client.bulk_query("{ orders { edges { node { id } } } }"))
    assert server.starts == 3


def test_a_failed_operation_then_a_good_one_succeeds() -> None:
    server = BulkShopify([{"status": "FAILED", "errorCode": "INTERNAL_SERVER_ERROR"}, DONE])
    roots = list(make_client(server).bulk_query("{ orders { edges { node { id } } } }"))
    assert len(roots) == 2 and server.starts == 2


def test_operation_in_progress_is_waited_out_then_started() -> None:
    busy = [{"code": "OPERATION_IN_PROGRESS", "field": None, "message": "already running"}]
    server = BulkShopify([DONE], start_errors=[busy])
    roots = list(make_client(server).bulk_query("{ orders { edges { node { id } } } }"))
    assert len(roots) == 2 and server.starts == 2


def test_an_invalid_bulk_query_is_a_query_error() -> None:
    invalid = [
        {"code": "INVALID", "field": ["query"], "message": "Bulk queries cannot contain node"}
    ]
    server = BulkShopify([DONE], start_errors=[invalid])
    with pytest.raises(ShopifyQueryError, match="cannot contain node"):
        list(make_client(server).bulk_query("{ node(id: 1) { id } }"))
