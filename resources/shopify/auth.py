"""Where each store's access token comes from, and how it is kept fresh (FACTS §10.1).

- `access_token`: a legacy admin token, read from its env var on every request.
- `client_credentials`: minted from the app's id and secret, kept in Postgres (encrypted)
  so every run process shares it, fetched again ahead of its 24 h expiry or after a 401.
- `authorization_code`: stored by the install (`shopsync serve`); an expiring one is
  refreshed ahead of expiry under a row lock, so two processes never both spend the same
  refresh token, and the new pair is saved in one statement. A refused refresh quarantines
  the store (`needs_reauth_at`): its calls fail at once, naming how to re-authorize, and
  every other store goes on (FAULTS A3).

Token values only ever live in memory here and in the request header; `live_secrets()`
lists them so redaction covers tokens that never were in an environment variable.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import timedelta
from typing import Protocol

import psycopg

from resources.ledgers.tokens import StoredToken, TokenStore
from resources.registry import (
    AccessTokenAuth,
    AuthorizationCodeAuth,
    ClientCredentialsAuth,
    StoreConfig,
)
from resources.shopify import errors as e
from resources.shopify.oauth import OAuthClient, OAuthError, TokenGrant, app_credentials

logger = logging.getLogger(__name__)

#: A token this close to its expiry is renewed before use (a 1 h token: at 50 min).
REFRESH_AHEAD = {
    "client_credentials": timedelta(hours=1),
    "authorization_code": timedelta(minutes=10),
}
Connect = Callable[[], AbstractContextManager[psycopg.Connection]]

_LIVE: set[str] = set()
_LIVE_LOCK = threading.Lock()


def live_secrets() -> list[str]:
    """Every OAuth token value this process has held (for redaction)."""
    with _LIVE_LOCK:
        return list(_LIVE)


def _remember(grant: TokenGrant) -> None:
    with _LIVE_LOCK:
        _LIVE.update(v for v in (grant.access_token, grant.refresh_token) if v)


class ShopifyReauthorizationRequired(e.ShopifyAuthError):
    """The store's grant is dead (refresh refused, app uninstalled): a person must install
    the app again. Not retried; the message says how."""


def reauthorize_hint(store: StoreConfig) -> str:
    if isinstance(store.auth, AuthorizationCodeAuth):
        return (
            f"re-authorize: run `shopsync serve` and have the merchant open "
            f"/install?shop={store.shop_domain}, then `shopsync doctor --retailer {store.key}`"
        )
    if isinstance(store.auth, ClientCredentialsAuth):
        return (
            f"check the app's credentials in {store.auth.client_id_env} / "
            f"{store.auth.client_secret_env} and that the app is installed on "
            f"{store.shop_domain}; then `shopsync doctor --retailer {store.key}`"
        )
    return f"set a valid Admin API token in {store.token_env}"


class _DeadGrant(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason


class TokenSource(Protocol):
    def token(self) -> str: ...

    def renew_after_rejection(self, rejected: str) -> bool:
        """After a 401 on `rejected`: whether a different token is now available."""
        ...


class EnvTokenSource:
    """The legacy kind: the token is read from its env var on every request (so a rotated
    token is picked up without a restart); nothing to renew."""

    def __init__(self, store_key: str, token_env: str | None) -> None:
        self.store_key, self.token_env = store_key, token_env

    def token(self) -> str:
        value = os.environ.get(self.token_env) if self.token_env else None
        if not value:
            raise e.ShopifyAuthError(
                f"no access token: env var {self.token_env} for store "
                f"'{self.store_key}' is not set",
                store=self.store_key,
                operation="auth",
                code="TOKEN_MISSING",
            )
        return value

    def renew_after_rejection(self, rejected: str) -> bool:
        return False


class StoredTokenSource:
    """The OAuth kinds: the row in `store_tokens`, renewed by grant or refresh."""

    def __init__(self, store: StoreConfig, oauth: OAuthClient, connect: Connect) -> None:
        self.store, self.oauth, self.connect = store, oauth, connect
        self.kind = store.auth.kind
        self._current: StoredToken | None = None

    def _fail(self, message: str, code: str, cls=e.ShopifyAuthError) -> e.ShopifyAuthError:
        return cls(message, store=self.store.key, operation="auth", code=code)

    def token(self) -> str:
        current = self._current
        ahead = REFRESH_AHEAD[self.kind].total_seconds()
        if current is None or current.expires_within(ahead):
            current = self._renew(force=False)
        return current.grant.access_token

    def renew_after_rejection(self, rejected: str) -> bool:
        renewed = self._renew(force=True, rejected=rejected)
        return renewed.grant.access_token != rejected

    def _renew(self, *, force: bool, rejected: str | None = None) -> StoredToken:
        """Under the row's lock: re-read, and mint or refresh only if still needed."""
        try:
            row = self._renew_locked(force=force, rejected=rejected)
        except _DeadGrant as dead:
            with self.connect() as conn:  # outside the rolled-back transaction: it must stay
                if TokenStore(conn).quarantine(self.store.key, dead.reason):
                    logger.error("store %s quarantined: %s", self.store.key, dead.reason)
            raise self._fail(
                f"quarantined ({dead.reason}); {reauthorize_hint(self.store)}",
                "REAUTHORIZE",
                ShopifyReauthorizationRequired,
            ) from None
        _remember(row.grant)
        self._current = row
        return row

    def _renew_locked(self, *, force: bool, rejected: str | None) -> StoredToken:
        with self.connect() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('store_tokens:' || %s))",
                         (self.store.key,))  # fmt: skip
            tokens = TokenStore(conn)
            row = tokens.load(self.store.key)
            ahead = REFRESH_AHEAD[self.kind].total_seconds()
            stale = row is None or row.expires_within(ahead)
            if force and row is not None and row.grant.access_token != rejected:
                stale = False  # another process already replaced the rejected token
            elif force:
                stale = True
            if row is not None and row.needs_reauth_at is not None:
                raise self._fail(
                    f"quarantined since {row.needs_reauth_at:%Y-%m-%d %H:%M} UTC "
                    f"({row.needs_reauth_reason}); {reauthorize_hint(self.store)}",
                    "REAUTHORIZE",
                    ShopifyReauthorizationRequired,
                )
            cannot_refresh = row is not None and not row.grant.refresh_token
            if stale and force and cannot_refresh and self.kind == "authorization_code":
                raise _DeadGrant("Shopify rejected the stored token (uninstalled or revoked)")
            if stale:
                row = self._mint(tokens, row)
            return row

    def _mint(self, tokens: TokenStore, row: StoredToken | None) -> StoredToken:
        app = self._app()
        try:
            if isinstance(self.store.auth, ClientCredentialsAuth):
                grant = self.oauth.client_credentials(self.store.shop_domain, app)
            elif row is None:
                raise self._fail(
                    f"not installed yet: no token stored for {self.store.shop_domain}; "
                    f"{reauthorize_hint(self.store)}",
                    "NOT_INSTALLED",
                )
            elif not row.grant.refresh_token:
                if row.grant.expires_at is None:
                    return row  # a non-expiring offline token: a 401 means it was revoked
                raise _DeadGrant("the token expired and has no refresh token")
            else:
                grant = self.oauth.refresh(self.store.shop_domain, app, row.grant.refresh_token)
        except OAuthError as exc:
            if exc.permanent and isinstance(self.store.auth, AuthorizationCodeAuth):
                raise _DeadGrant(f"refresh refused: {exc.code}") from None
            raise self._fail(
                f"could not get a token ({exc.code}); {reauthorize_hint(self.store)}",
                f"TOKEN_{exc.code.upper()}",
                ShopifyReauthorizationRequired if exc.permanent else e.ShopifyAuthError,
            ) from None
        _remember(grant)
        tokens.save_grant(self.store.key, self.store.shop_domain, grant, self.kind)
        logger.info("store %s: new %s token saved", self.store.key, self.kind)
        return tokens.load(self.store.key)

    def _app(self):
        try:
            return app_credentials(self.store.auth)
        except OAuthError as exc:
            raise self._fail(str(exc), "CREDENTIALS_MISSING") from None


def token_source(store: StoreConfig, oauth: OAuthClient, connect: Connect) -> TokenSource:
    if isinstance(store.auth, AccessTokenAuth):
        return EnvTokenSource(store.key, store.auth.token_env)
    return StoredTokenSource(store, oauth, connect)
