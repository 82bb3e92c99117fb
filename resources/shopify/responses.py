"""Decides what one HTTP response means: success, throttled, worth retrying, or fatal.

Both layers are checked (FACTS.md §6.1): the HTTP status and the top-level `errors[]`
with `extensions.code` (most GraphQL failures arrive as HTTP 200). A search filter that
Shopify dropped (`extensions.search[].warnings`) is fatal too: the data would be unfiltered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from resources.shopify import errors as e

Kind = Literal["ok", "throttled", "transient", "fatal"]


@dataclass(frozen=True)
class StoreContext:
    """What an error message may say about a store: names, never secrets."""

    key: str
    shop_domain: str
    token_env: str | None
    #: How the store authenticates (the registry's auth kind), for the fix a 401 names.
    auth_kind: str = "access_token"

    def token_fix(self) -> str:
        if self.auth_kind == "access_token":
            return f"check the token in env var {self.token_env}"
        return (
            f"its {self.auth_kind} token was refused even after renewal; run "
            f"`shopsync doctor --retailer {self.key}` (re-authorize if it says so)"
        )


@dataclass(frozen=True)
class Outcome:
    kind: Kind
    code: str | None = None
    error: type[e.ShopifyError] | None = None
    message: str = ""


_HTTP_FATAL: dict[int, tuple[type[e.ShopifyError], str]] = {
    400: (e.ShopifyQueryError, "HTTP 400: malformed request"),
    402: (e.ShopifyShopUnavailable, "HTTP 402: the shop is frozen (unpaid bill)"),
    404: (e.ShopifyNotFound, "HTTP 404: check the shop domain {domain} and API version path"),
    423: (e.ShopifyShopUnavailable, "HTTP 423: the shop is locked; contact Shopify support"),
}
_CODE_FATAL: dict[str, tuple[type[e.ShopifyError], str]] = {
    "MAX_COST_EXCEEDED": (e.ShopifyCostExceeded, "lower `first`/nesting or use a bulk query"),
    "ACCESS_DENIED": (e.ShopifyAccessDenied, "grant the app the missing scope on {domain}"),
    "SHOP_INACTIVE": (e.ShopifyShopUnavailable, "the shop {domain} is inactive"),
}


def _messages(errors: list[dict[str, Any]]) -> str:
    return "; ".join(str(err.get("message", "?"))[:300] for err in errors[:5])


def _codes(errors: list[dict[str, Any]]) -> list[str]:
    return [str((err.get("extensions") or {}).get("code") or "") for err in errors]


def search_warnings(body: dict[str, Any]) -> list[str]:
    """Human-readable `field: message` for every warning in `extensions.search`."""
    found = []
    for entry in (body.get("extensions") or {}).get("search") or []:
        for warning in entry.get("warnings") or []:
            found.append(
                f"{warning.get('field')}: {warning.get('message')} (in {entry.get('query')!r})"
            )
    return found


def classify(status: int, body: dict[str, Any] | None, store: StoreContext) -> Outcome:
    domain = store.shop_domain
    if status == 401:
        return Outcome(
            "fatal",
            "HTTP_401",
            e.ShopifyAuthError,
            f"HTTP 401: Shopify rejected the access token of store '{store.key}' ({domain}); "
            f"{store.token_fix()}",
        )
    if status == 403:
        return Outcome(
            "fatal",
            "HTTP_403",
            e.ShopifyAccessDenied,
            f"HTTP 403: access refused on {domain}; check the app's access scopes "
            f"(the store's admin: Apps → the shopsync app → API access)",
        )
    if status == 429:
        return Outcome("throttled", "HTTP_429")
    if status >= 500:
        return Outcome("transient", f"HTTP_{status}", message=f"HTTP {status} from {domain}")
    if status in _HTTP_FATAL:
        cls, text = _HTTP_FATAL[status]
        return Outcome("fatal", f"HTTP_{status}", cls, text.format(domain=domain))
    if status != 200 or body is None:
        return Outcome(
            "fatal", f"HTTP_{status}", e.ShopifyError, f"unexpected HTTP {status} from {domain}"
        )
    errors = body.get("errors") or []
    if isinstance(errors, str):  # some gateways send `{"errors": "..."}`
        errors = [{"message": errors}]
    if errors:
        codes = _codes(errors)
        if "THROTTLED" in codes:
            return Outcome("throttled", "THROTTLED")
        if "INTERNAL_SERVER_ERROR" in codes:
            return Outcome("transient", "INTERNAL_SERVER_ERROR", message=_messages(errors))
        for code in codes:
            if code in _CODE_FATAL:
                cls, hint = _CODE_FATAL[code]
                text = f"{code}: {_messages(errors)}; {hint.format(domain=domain)}"
                return Outcome("fatal", code, cls, text)
        code = next((c for c in codes if c), "GRAPHQL_ERROR")
        return Outcome("fatal", code, e.ShopifyQueryError, f"{code}: {_messages(errors)}")
    warnings = search_warnings(body)
    if warnings:
        text = "Shopify ignored part of the search filter, refusing unfiltered data: "
        return Outcome(
            "fatal", "SEARCH_WARNING", e.ShopifySearchWarning, text + "; ".join(warnings)
        )
    return Outcome("ok")


class CallState:
    """Mutable facts about one logical call across its attempts."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.retries = 0
        self.transient_retries = 0
        self.throttled_retries = 0
        self.throttled = False
        self.http_status: int | None = None
        self.request_id: str | None = None
        self.requested_cost: int | None = None
        self.actual_cost: int | None = None
        self.error_code: str | None = None
        self.first_attempt: float | None = None
        self.token_renewed = False

    def reset_response(self, code: str) -> None:
        self.http_status, self.request_id, self.error_code = None, None, code

    def raise_transient(self, store: str, operation: str, reason: str):
        raise e.ShopifyTransientError(
            f"{reason} (last error {self.error_code}); Shopify or the network is unhealthy",
            store=store,
            operation=operation,
            request_id=self.request_id,
            http_status=self.http_status,
            code=self.error_code,
        )
