"""What Shopify's token endpoint grants (FACTS §10.1), as one value that never shows its
secrets in a repr: kept here, below the ledgers and the HTTP client that both use it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class TokenGrant:
    """What the token endpoint gave: an access token and, for expiring ones, a refresh pair."""

    access_token: str = field(repr=False)
    scope: str = ""
    expires_at: datetime | None = None
    refresh_token: str | None = field(default=None, repr=False)
    refresh_expires_at: datetime | None = None

    @classmethod
    def from_response(cls, body: dict[str, Any], now: datetime) -> TokenGrant:
        def after(seconds: Any) -> datetime | None:
            return now + timedelta(seconds=float(seconds)) if seconds is not None else None

        return cls(
            access_token=str(body["access_token"]),
            scope=str(body.get("scope") or ""),
            expires_at=after(body.get("expires_in")),
            refresh_token=body.get("refresh_token"),
            refresh_expires_at=after(body.get("refresh_token_expires_in")),
        )

    def scopes(self) -> list[str]:
        return [s for s in self.scope.split(",") if s]
