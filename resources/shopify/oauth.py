"""Shopify's token endpoint (FACTS §10.1): the client-credentials grant, the code exchange
of an install and the refresh of an expiring offline token.

Only the HTTP exchange lives here; which token a store uses, when it is refreshed and
where it is kept is `resources.shopify.auth`. No token or secret ever reaches a message,
a log line or a repr: errors carry Shopify's error code and the store, nothing else.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from resources.registry import AuthorizationCodeAuth, ClientCredentialsAuth
from sync.token_grant import TokenGrant

logger = logging.getLogger(__name__)
__all__ = ["AppCredentials", "OAuthClient", "OAuthError", "TokenGrant", "app_credentials"]

#: Shopify's answers that no retry can change: the grant itself is dead or wrong.
_ERROR_CODE = re.compile(r"^[a-z_]{1,40}$")
PERMANENT_ERRORS = {"invalid_grant", "invalid_client", "unauthorized_client", "invalid_request"}


@dataclass(frozen=True)
class AppCredentials:
    """The Dev Dashboard app's client id and secret (the secret never shown)."""

    client_id: str
    client_secret: str = field(repr=False)


def app_credentials(auth: ClientCredentialsAuth | AuthorizationCodeAuth) -> AppCredentials:
    """Read the app's credentials from the env vars the registry names."""
    missing = [n for n in (auth.client_id_env, auth.client_secret_env) if not os.environ.get(n)]
    if missing:
        raise OAuthError(
            f"environment variable(s) {', '.join(missing)} not set: export the app's client "
            "id and secret from the Shopify Dev Dashboard there",
            code="CREDENTIALS_MISSING",
            permanent=True,
        )
    return AppCredentials(os.environ[auth.client_id_env], os.environ[auth.client_secret_env])


class OAuthError(RuntimeError):
    """The token endpoint refused or could not be reached. `permanent`: retrying is useless
    (a dead refresh token, a wrong secret): the store must be authorized again."""

    def __init__(self, message: str, *, code: str, permanent: bool, store: str | None = None):
        self.code, self.permanent, self.store = code, permanent, store
        super().__init__(f"store '{store}': {message}" if store else message)


class OAuthClient:
    """POSTs to `https://{shop}/admin/oauth/access_token` (or the simulator's base URL)."""

    def __init__(
        self,
        base_url: str | None = None,
        *,
        http_transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.base_url = base_url
        self._http = httpx.Client(timeout=timeout, transport=http_transport)

    def __repr__(self) -> str:
        return f"OAuthClient(base_url={self.base_url!r})"

    def close(self) -> None:
        self._http.close()

    def token_url(self, shop_domain: str) -> str:
        if self.base_url:
            return f"{self.base_url.rstrip('/')}/{shop_domain}/admin/oauth/access_token"
        return f"https://{shop_domain}/admin/oauth/access_token"

    def client_credentials(self, shop_domain: str, app: AppCredentials) -> TokenGrant:
        form = {"grant_type": "client_credentials"}
        return self._post(shop_domain, app, form, "client credentials grant")

    def exchange_code(
        self, shop_domain: str, app: AppCredentials, code: str, *, expiring: bool = False
    ) -> TokenGrant:
        form = {"code": code, **({"expiring": "1"} if expiring else {})}
        return self._post(shop_domain, app, form, "code exchange")

    def refresh(self, shop_domain: str, app: AppCredentials, refresh_token: str) -> TokenGrant:
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        return self._post(shop_domain, app, form, "token refresh")

    def _post(self, shop: str, app: AppCredentials, form: dict, what: str) -> TokenGrant:
        data = {"client_id": app.client_id, "client_secret": app.client_secret, **form}
        now = datetime.now(UTC)
        try:
            response = self._http.post(
                self.token_url(shop), data=data, headers={"Accept": "application/json"}
            )
        except httpx.TransportError as exc:
            raise OAuthError(
                f"{what} at {shop} failed: {type(exc).__name__}", code="UNREACHABLE",
                permanent=False,
            ) from None  # fmt: skip
        body = _json(response)
        if response.status_code == 200 and body.get("access_token"):
            logger.info("oauth %s at %s: granted scope %s", what, shop, body.get("scope"))
            return TokenGrant.from_response(body, now)
        # Only Shopify's error code is kept, and only if it looks like one: the description
        # and anything else in the body are remote text, never echoed into logs.
        error = str(body.get("error") or "")
        code = error if _ERROR_CODE.match(error) else f"HTTP_{response.status_code}"
        permanent = code in PERMANENT_ERRORS or response.status_code in (400, 401, 403)
        raise OAuthError(
            f"{what} at {shop} refused: {code} (HTTP {response.status_code})",
            code=code,
            permanent=permanent and response.status_code < 500,
        )


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
