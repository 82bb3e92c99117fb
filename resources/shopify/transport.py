"""HTTP transport for one store: URL, headers, timeouts, and how a failure is classified.

The token is handed to `post` on every request (never kept on an object that gets logged
or pickled) and is only ever placed in the request header.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

logger = logging.getLogger(__name__)

TOKEN_HEADER = "X-Shopify-Access-Token"  # noqa: S105 (a header name, not a secret)


def graphql_url(shop_domain: str, api_version: str, base_url: str | None) -> str:
    """`{base}/{domain}/admin/api/{v}/graphql.json` for the simulator, else Shopify itself."""
    if base_url:
        return f"{base_url.rstrip('/')}/{shop_domain}/admin/api/{api_version}/graphql.json"
    return f"https://{shop_domain}/admin/api/{api_version}/graphql.json"


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, a bounded attempt count and a total deadline."""

    max_retries: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    deadline_seconds: float = 120.0
    max_throttled_retries: int = 20

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Full jitter: uniform(0, min(max_delay, base × 2^attempt))."""
        ceiling = min(self.max_delay, self.base_delay * (2**attempt))
        return (rng or random).uniform(0, ceiling)


@dataclass
class HttpResult:
    """One HTTP exchange, reduced to what the client needs (no request headers kept)."""

    status: int
    body: dict[str, Any] | None
    request_id: str | None
    api_version: str | None
    retry_after: float | None
    duration_ms: float


@dataclass
class TransportFailure(Exception):
    """The request failed below HTTP. `maybe_sent` means the server may have acted on it."""

    kind: str  # "timeout" | "connect" | "reset" | "protocol"
    maybe_sent: bool
    duration_ms: float = field(default=0.0)

    def __str__(self) -> str:
        return f"{self.kind} ({'after' if self.maybe_sent else 'before'} the request was sent)"


def classify_exception(exc: httpx.TransportError) -> tuple[str, bool]:
    """Map an httpx error to (kind, maybe_sent): connect failures never reached the server."""
    if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
        return "timeout", False
    if isinstance(exc, httpx.ConnectError):
        return "connect", False
    if isinstance(exc, httpx.TimeoutException):
        return "timeout", True
    if isinstance(exc, httpx.ReadError | httpx.WriteError | httpx.RemoteProtocolError):
        return "reset", True
    return "protocol", True


class Transport:
    """POSTs GraphQL documents to one store's endpoint over a reused httpx client."""

    def __init__(
        self,
        url: str,
        *,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        http_transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url
        timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
        self._http = httpx.Client(timeout=timeout, transport=http_transport)

    def __repr__(self) -> str:
        return f"Transport(url={self.url!r})"

    def post(
        self, document: str, variables: dict[str, Any], operation_name: str | None, token: str
    ) -> HttpResult:
        """One POST. The token is passed per call so no object ever holds it."""
        body: dict[str, Any] = {"query": document, "variables": variables}
        if operation_name:
            body["operationName"] = operation_name
        headers = {TOKEN_HEADER: token, "Accept": "application/json"}
        started = time.perf_counter()
        try:
            response = self._http.post(self.url, json=body, headers=headers)
        except httpx.TransportError as exc:
            kind, maybe_sent = classify_exception(exc)
            elapsed = (time.perf_counter() - started) * 1000
            raise TransportFailure(kind, maybe_sent, elapsed) from None
        elapsed = (time.perf_counter() - started) * 1000
        return HttpResult(
            status=response.status_code,
            body=_json_or_none(response),
            request_id=response.headers.get("x-request-id"),
            api_version=response.headers.get("x-shopify-api-version"),
            retry_after=_float_or_none(response.headers.get("retry-after")),
            duration_ms=elapsed,
        )

    def stream_lines(self, url: str):
        """Stream a bulk result file line by line. No token: the URL is pre-signed storage."""
        with self._http.stream("GET", url) as response:
            response.raise_for_status()
            yield from response.iter_lines()

    def close(self) -> None:
        self._http.close()


def _json_or_none(response: httpx.Response) -> dict[str, Any] | None:
    try:
        data = response.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _float_or_none(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
