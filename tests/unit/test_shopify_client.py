"""The send loop: typed errors, retries, ambiguity of writes, throttling, recording.

Shopify is scripted with httpx.MockTransport and time is a fake clock; the client is real.
FACTS.md sections named in each test are the behaviour modelled.
"""

from __future__ import annotations

import logging

import httpx
import pytest
from shopify_fakes import (
    TOKEN_ENV,
    URL,
    FakeClock,
    ScriptedShopify,
    cost_ext,
    gql_error,
    make_client,
    ok,
)

from resources.shopify import errors as e
from resources.shopify.recorder import MemoryCallRecorder
from resources.shopify.versions import VersionWatch

SHOP = {"shop": {"id": "gid://shopify/Shop/1", "name": "Unit"}}


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(TOKEN_ENV, "shpat_unit_token")
    return "shpat_unit_token"


def test_execute_posts_document_with_token_header_and_returns_data() -> None:
    server = ScriptedShopify([ok(SHOP)])
    client = make_client(server)
    assert client.execute("shop_info") == SHOP
    request = server.requests[0]
    assert str(request.url) == URL
    assert request.headers["X-Shopify-Access-Token"] == "shpat_unit_token"
    body = server.bodies()[0]
    assert body["operationName"] == "ShopInfo" and "shop {" in body["query"]
    assert client.throttle_status.currently_available == 1990.0


def test_unknown_operation_is_refused_before_any_request() -> None:
    server = ScriptedShopify()
    with pytest.raises(KeyError, match="no_such_operation"):
        make_client(server).execute("no_such_operation")
    assert server.requests == []


@pytest.mark.parametrize(
    ("response", "error", "text"),
    [
        (httpx.Response(401, json={"errors": "Invalid API key"}), e.ShopifyAuthError, TOKEN_ENV),
        (httpx.Response(403, json={}), e.ShopifyAccessDenied, "scopes"),
        (httpx.Response(404, text="Not Found"), e.ShopifyNotFound, "unit-store.myshopify.com"),
        (gql_error(None, "Field 'nope' doesn't exist on type 'Shop'"), e.ShopifyQueryError, "nope"),
        (
            gql_error("ACCESS_DENIED", "Access denied for orders field."),
            e.ShopifyAccessDenied,
            "scope",
        ),
        (gql_error("MAX_COST_EXCEEDED", "Query cost is 1723"), e.ShopifyCostExceeded, "bulk"),
        (httpx.Response(423, json={}), e.ShopifyShopUnavailable, "locked"),
    ],
)
def test_permanent_failures_raise_typed_errors_without_retrying(response, error, text) -> None:
    server = ScriptedShopify([response])
    with pytest.raises(error, match=text) as raised:
        make_client(server).execute("shop_info")
    assert len(server.requests) == 1
    assert raised.value.store == "unit-store" and raised.value.operation == "shop_info"


def test_missing_token_names_the_env_var_and_sends_nothing(monkeypatch) -> None:
    monkeypatch.delenv(TOKEN_ENV)
    server = ScriptedShopify()
    with pytest.raises(e.ShopifyAuthError, match=f"env var {TOKEN_ENV} for store 'unit-store'"):
        make_client(server).execute("shop_info")
    assert server.requests == []


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(500, text="oops"),
        httpx.Response(502, text="bad gateway"),
        httpx.Response(503, text="unavailable"),
        gql_error("INTERNAL_SERVER_ERROR", "Internal error. Request ID: x"),
        httpx.ReadTimeout("read timed out"),
        httpx.RemoteProtocolError("peer closed connection"),
        httpx.ConnectError("refused"),
    ],
    ids=["500", "502", "503", "internal", "timeout", "reset", "connect"],
)
def test_queries_recover_from_transient_failures(failure) -> None:
    clock, recorder = FakeClock(), MemoryCallRecorder()
    server = ScriptedShopify([failure, failure, ok(SHOP)])
    assert make_client(server, clock, recorder=recorder).execute("shop_info") == SHOP
    assert len(server.requests) == 3
    assert len(clock.sleeps) == 2
    assert clock.sleeps[0] <= 0.5 and clock.sleeps[1] <= 1.0  # full jitter under the ceiling
    [call] = recorder.calls
    assert call.retries == 2 and call.http_status == 200 and call.error_code is None


def test_429_is_retried_after_retry_after() -> None:
    clock = FakeClock()
    limited = httpx.Response(429, headers={"Retry-After": "2.0"}, text="Too Many Requests")
    server = ScriptedShopify([limited, ok(SHOP)])
    assert make_client(server, clock).execute("shop_info") == SHOP
    assert clock.sleeps == [2.0]


def test_retries_stop_at_the_bound_with_a_transient_error() -> None:
    server = ScriptedShopify(default=httpx.Response(502, text="bad gateway"))
    with pytest.raises(e.ShopifyTransientError, match="gave up after 3 retries"):
        make_client(server).execute("shop_info")
    assert len(server.requests) == 4


def test_retries_stop_at_the_total_deadline() -> None:
    from resources.shopify.transport import RetryPolicy

    policy = RetryPolicy(max_retries=100, base_delay=10, max_delay=10, deadline_seconds=15)
    server = ScriptedShopify(default=httpx.Response(503, text="x"))
    client = make_client(server, retry=policy, rng=_MaxRandom())
    with pytest.raises(e.ShopifyTransientError, match="deadline"):
        client.execute("shop_info")
    assert len(server.requests) == 2  # waited 10 s once; a second 10 s would pass 15 s


class _MaxRandom:
    def uniform(self, low: float, high: float) -> float:
        return high


ORDER_VARS = {"order": {"lineItems": []}, "options": None}


@pytest.mark.parametrize(
    "failure",
    [httpx.ReadTimeout("lost"), httpx.RemoteProtocolError("reset"), httpx.Response(502, text="x")],
    ids=["timeout", "reset", "502"],
)
def test_non_idempotent_mutation_is_not_resent_after_an_ambiguous_failure(failure) -> None:
    recorder = MemoryCallRecorder()
    server = ScriptedShopify([failure])
    client = make_client(server, recorder=recorder)
    with pytest.raises(e.ShopifyAmbiguousWriteError, match="may have been applied") as raised:
        client.mutate("orders_create_hub", ORDER_VARS)
    assert len(server.requests) == 1
    assert raised.value.operation == "orders_create_hub"
    assert recorder.calls[0].error_code in {"timeout", "reset", "HTTP_502"}


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ConnectError("refused"),
        httpx.Response(429, text="slow down"),
        gql_error("THROTTLED", "Throttled"),
    ],
    ids=["connect", "429", "throttled"],
)
def test_non_idempotent_mutation_is_resent_when_it_cannot_have_run(failure) -> None:
    created = {"orderCreate": {"order": {"id": "gid://shopify/Order/1"}, "userErrors": []}}
    server = ScriptedShopify([failure, ok(created)])
    result = make_client(server).mutate("orders_create_hub", ORDER_VARS)
    assert result.ok and result.payload["order"]["id"] == "gid://shopify/Order/1"
    assert len(server.requests) == 2


def test_idempotent_inventory_write_is_resent_with_the_same_key() -> None:
    done = {"inventorySetQuantities": {"inventoryAdjustmentGroup": {"id": "g"}, "userErrors": []}}
    server = ScriptedShopify([httpx.ReadTimeout("lost"), ok(done)])
    client = make_client(server, api_version="2026-07")
    variables = {"input": {"name": "available", "reason": "correction", "quantities": []}}
    variables["key"] = "shopsync-abc"
    result = client.mutate("inventory_set_quantities_2026_04", variables)
    assert result.ok
    keys = [b["variables"]["key"] for b in server.bodies()]
    assert keys == ["shopsync-abc", "shopsync-abc"]


def test_user_errors_are_typed_results_not_exceptions() -> None:
    payload = {
        "inventorySetQuantities": {
            "inventoryAdjustmentGroup": None,
            "userErrors": [
                {
                    "code": "COMPARE_QUANTITY_STALE",
                    "field": ["input", "quantities", "0"],
                    "message": "stale",
                }
            ],
        }
    }
    result = make_client(ScriptedShopify([ok(payload)])).mutate(
        "inventory_set_quantities_2025_01", {"input": {}}
    )
    assert not result.ok
    assert result.user_errors[0] == e.UserError(
        code="COMPARE_QUANTITY_STALE", field=["input", "quantities", "0"], message="stale"
    )
    assert result.codes() == {"COMPARE_QUANTITY_STALE"}


def test_throttled_waits_exactly_the_restore_time_then_retries() -> None:
    """FACTS §6.3: sleep (requested − available) / restoreRate, never spin."""
    clock, recorder = FakeClock(), MemoryCallRecorder()
    throttled = httpx.Response(
        200,
        json={
            "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
            "extensions": cost_ext(requested=752, actual=None, available=152.0),
        },
    )
    page = {"productVariants": {"nodes": [], "pageInfo": {"hasNextPage": False}}}
    server = ScriptedShopify([throttled, ok(page)])
    client = make_client(server, clock, recorder=recorder)
    client.execute("products_variants_by_sku", {"query": 'sku:"A"'})
    margin = client.throttle.margin_seconds
    assert clock.sleeps == [pytest.approx((752 - 152) / 100.0 + margin)]
    assert recorder.calls[0].throttled and recorder.calls[0].retries == 1


def test_search_warning_is_an_error_not_unfiltered_data() -> None:
    """FACTS §2.3: a dropped filter only shows in extensions.search."""
    body = {
        "data": {"productVariants": {"nodes": [{"id": "v1"}], "pageInfo": {}}},
        "extensions": {
            **cost_ext(),
            "search": [
                {
                    "path": ["productVariants"],
                    "query": "skuu:A",
                    "warnings": [
                        {"field": "skuu", "message": "Invalid search field for this query."}
                    ],
                }
            ],
        },
    }
    server = ScriptedShopify([httpx.Response(200, json=body)])
    with pytest.raises(e.ShopifySearchWarning, match="skuu"):
        make_client(server).execute("products_variants_by_sku", {"query": "skuu:A"})


def test_version_fall_forward_warns_once_per_store(caplog) -> None:
    watch = VersionWatch()
    server = ScriptedShopify(default=ok(SHOP, **{"X-Shopify-API-Version": "2025-04"}))
    client = make_client(server, version_watch=watch)
    with caplog.at_level(logging.WARNING):
        client.execute("shop_info")
        client.execute("shop_info")
    warnings = [r for r in caplog.records if "served 2025-04" in r.getMessage()]
    assert len(warnings) == 1 and "unit-store" in warnings[0].getMessage()


def test_request_id_is_logged_with_every_failure(caplog) -> None:
    server = ScriptedShopify([gql_error("INTERNAL_SERVER_ERROR"), ok(SHOP)])
    with caplog.at_level(logging.WARNING):
        make_client(server).execute("shop_info")
    assert any("request_id=rid-INTERNAL_SERVER_ERROR" in r.getMessage() for r in caplog.records)


def test_every_call_is_recorded_once_with_its_cost() -> None:
    recorder = MemoryCallRecorder()
    server = ScriptedShopify([ok(SHOP), httpx.Response(403, json={})])
    client = make_client(server, recorder=recorder, run_id="run-1")
    client.execute("shop_info")
    with pytest.raises(e.ShopifyAccessDenied):
        client.execute("shop_info")
    ok_call, denied = recorder.calls
    assert (ok_call.requested_cost, ok_call.actual_cost, ok_call.http_status) == (10, 10, 200)
    assert ok_call.request_id == "rid-ok" and ok_call.run_id == "run-1"
    assert denied.http_status == 403 and denied.error_code == "HTTP_403"


def test_repr_and_errors_never_show_the_token(token: str) -> None:
    server = ScriptedShopify([httpx.Response(401, json={"errors": "bad"})])
    client = make_client(server)
    with pytest.raises(e.ShopifyAuthError) as raised:
        client.execute("shop_info")
    for text in (repr(client), repr(client.transport), str(raised.value), repr(raised.value)):
        assert token not in text
