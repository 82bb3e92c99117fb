"""Test doubles for the Shopify client's unit tests: a fake clock and a scripted server.

These stand in for time and for Shopify, never for our own code: the client under test runs
for real over `httpx.MockTransport`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from resources.shopify.client import ShopifyClient
from resources.shopify.recorder import MemoryCallRecorder
from resources.shopify.responses import StoreContext
from resources.shopify.transport import RetryPolicy

TOKEN_ENV = "SHOPSYNC_TOKEN_UNIT_STORE"  # noqa: S105 (a variable name)
STORE = StoreContext(key="unit-store", shop_domain="unit-store.myshopify.com", token_env=TOKEN_ENV)
URL = "http://sim.test/unit-store.myshopify.com/admin/api/2025-01/graphql.json"


class FakeClock:
    """Time that only moves when the client sleeps: tests assert waits, never timings."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(0.0, seconds)


def cost_ext(requested: int = 10, actual: int | None = 10, available: float = 1990.0) -> dict:
    return {
        "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": {
                "maximumAvailable": 2000.0,
                "currentlyAvailable": available,
                "restoreRate": 100.0,
            },
        }
    }


def ok(data: dict, **headers: str) -> httpx.Response:
    return httpx.Response(
        200,
        json={"data": data, "extensions": cost_ext()},
        headers={"X-Request-Id": "rid-ok", **headers},
    )


def gql_error(code: str | None, message: str = "boom", status: int = 200) -> httpx.Response:
    err: dict[str, Any] = {"message": message}
    if code:
        err["extensions"] = {"code": code}
    return httpx.Response(
        status,
        json={"errors": [err], "extensions": cost_ext(actual=None)},
        headers={"X-Request-Id": f"rid-{code or 'validation'}"},
    )


Step = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


@dataclass
class ScriptedShopify:
    """Answers requests from a script, then repeats `default`; remembers every request."""

    script: list[Step] = field(default_factory=list)
    default: Step | None = None
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.script.pop(0) if self.script else self.default
        if step is None:
            raise AssertionError("unexpected request")
        if isinstance(step, Exception):
            raise step
        if callable(step) and not isinstance(step, httpx.Response):
            return step(request)
        return step

    def bodies(self) -> list[dict]:
        return [json.loads(r.content) for r in self.requests]


def make_client(
    server: Callable[[httpx.Request], httpx.Response],
    clock: FakeClock | None = None,
    *,
    retry: RetryPolicy | None = None,
    recorder: MemoryCallRecorder | None = None,
    api_version: str = "2025-01",
    **kwargs: Any,
) -> ShopifyClient:
    return ShopifyClient(
        STORE,
        url=URL,
        api_version=api_version,
        retry=retry or RetryPolicy(max_retries=3, base_delay=0.5, max_delay=4, deadline_seconds=60),
        clock=clock or FakeClock(),
        http_transport=httpx.MockTransport(server),
        recorder=recorder,
        **kwargs,
    )
