"""Typed Shopify errors and mutation results.

Every error carries the store key, the operation name and Shopify's request id, and
nothing else that came from the request: a token can never reach a message, a repr or
a log line through an exception. The message says what to check, because the person
reading it is an operator at 3 a.m., not the author of the call.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ShopifyError(Exception):
    """Base of every error the Shopify client raises."""

    def __init__(
        self,
        message: str,
        *,
        store: str,
        operation: str,
        request_id: str | None = None,
        http_status: int | None = None,
        code: str | None = None,
    ) -> None:
        self.store = store
        self.operation = operation
        self.request_id = request_id
        self.http_status = http_status
        self.code = code
        self.detail = message
        super().__init__(self._format())

    def _format(self) -> str:
        rid = f", request id {self.request_id}" if self.request_id else ""
        return f"store '{self.store}', operation '{self.operation}'{rid}: {self.detail}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._format()!r})"

    def __reduce__(self):  # keep exceptions picklable across Dagster processes
        kwargs = {
            "store": self.store,
            "operation": self.operation,
            "request_id": self.request_id,
            "http_status": self.http_status,
            "code": self.code,
        }
        return (_rebuild, (type(self), self.detail, kwargs))


def _rebuild(cls: type[ShopifyError], message: str, kwargs: dict[str, Any]) -> ShopifyError:
    return cls(message, **kwargs)


class ShopifyAuthError(ShopifyError):
    """401 or a missing token: the token in the named env var is wrong, revoked or unset."""


class ShopifyAccessDenied(ShopifyError):
    """403 or ACCESS_DENIED: the app lacks a scope for this operation."""


class ShopifyNotFound(ShopifyError):
    """404: wrong shop domain, API path or version (a missing object is `null`, not 404)."""


class ShopifyQueryError(ShopifyError):
    """The document or its variables were rejected (validation, BAD_REQUEST, 400)."""


class ShopifyCostExceeded(ShopifyError):
    """MAX_COST_EXCEEDED: the requested cost is over 1,000; shrink `first` or use bulk."""


class ShopifyTransientError(ShopifyError):
    """429/5xx/timeouts/connection errors persisted past the retry count or deadline."""


class ShopifyAmbiguousWriteError(ShopifyError):
    """A non-idempotent mutation may or may not have been applied (response lost).

    The caller must reconcile (look the object up by its deterministic key) before
    writing again; the client never retries these on its own.
    """


class ShopifySearchWarning(ShopifyError):
    """Shopify dropped part of a `query:` filter; the data would be unfiltered."""


class ShopifyShopUnavailable(ShopifyError):
    """402 (frozen), 423 (locked) or SHOP_INACTIVE: nothing the client can retry."""


class ShopifyBulkOperationError(ShopifyError):
    """A bulk operation FAILED, was CANCELED/EXPIRED, timed out, or completed without data."""


class UserError(BaseModel):
    """One entry of a mutation payload's `userErrors` (generic or typed with a code)."""

    model_config = ConfigDict(extra="ignore")

    field: list[str] | None = None
    message: str
    code: str | None = None


class MutationResult(BaseModel):
    """A mutation's outcome: `userErrors` are data for the caller to judge, never raised."""

    operation: str
    data: dict[str, Any] = Field(default_factory=dict)
    user_errors: list[UserError] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.user_errors

    @property
    def payload(self) -> dict[str, Any]:
        """The payload of the (single) root mutation field, e.g. `data['orderCreate']`."""
        values = [v for v in self.data.values() if isinstance(v, dict)]
        return values[0] if len(values) == 1 else {}

    def codes(self) -> set[str]:
        return {e.code for e in self.user_errors if e.code}

    @classmethod
    def from_data(cls, operation: str, data: dict[str, Any] | None) -> MutationResult:
        data = data or {}
        errors: list[UserError] = []
        for payload in data.values():
            if not isinstance(payload, dict):
                continue
            # `userErrors`, and typed lists such as orderCancel's `orderCancelUserErrors`.
            for key, found in payload.items():
                if key == "userErrors" or key.endswith("UserErrors"):
                    errors.extend(UserError.model_validate(e) for e in found or [])
        return cls(operation=operation, data=data, user_errors=errors)
