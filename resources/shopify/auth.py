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

import hashlib
import logging
import os
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Protocol

import psycopg

from resources.ledgers.tokens import TOKEN_LOCK, StoredToken, TokenStore
from resources.registry import (
    AccessTokenAuth,
    AuthorizationCodeAuth,
    ClientCredentialsAuth,
    StoreConfig,
)
from resources.shopify import errors as e
from resources.shopify.oauth import (
    AppCredentials,
    OAuthClient,
    OAuthError,
    TokenGrant,
    app_credentials,
)

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
    """The store's grant cannot give a token any more (refresh refused, token revoked)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


class TokenSource(Protocol):
    def token(self) -> str: ...

    def renew_after_rejection(self, rejected: str) -> bool:
        """After a 401 on `rejected`: whether a different token is now available."""
        ...

    def close(self) -> None: ...


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

    def close(self) -> None:
        return None


class StoredTokenSource:
    """The OAuth kinds: the row in `store_tokens`, renewed by grant or refresh."""

    def __init__(self, store: StoreConfig, oauth: OAuthClient, connect: Connect) -> None:
        self.store, self.oauth, self.connect = store, oauth, connect
        self.kind = store.auth.kind
        self._current: StoredToken | None = None

    def close(self) -> None:
        self.oauth.close()

    def _fail(self, message: str, code: str, cls=e.ShopifyAuthError) -> e.ShopifyError:
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
        outcome = self._renew_locked(force=force, rejected=rejected)
        if isinstance(outcome, _DeadGrant):
            raise self._fail(
                f"quarantined ({outcome.reason}); {reauthorize_hint(self.store)}",
                "REAUTHORIZE",
                ShopifyReauthorizationRequired,
            )
        _remember(outcome.grant)
        self._current = outcome
        return outcome

    def _renew_locked(self, *, force: bool, rejected: str | None) -> StoredToken | _DeadGrant:
        """Under the store's lock: re-read, mint or refresh only if still needed; a dead
        grant is quarantined in the same transaction (so it commits, and only for the
        generation found dead: an install saved meanwhile is not quarantined)."""
        with self.connect() as conn, conn.transaction():
            conn.execute(TOKEN_LOCK, (self.store.key,))
            tokens = TokenStore(conn)
            row = tokens.load(self.store.key)
            if row is not None and (row.shop_domain, row.grant_kind) != (
                self.store.shop_domain, self.kind,
            ):  # fmt: skip
                row = None  # the store moved to another shop or kind: that row is not its
            if row is not None and row.needs_reauth_at is not None:
                raise self._fail(
                    f"quarantined since {row.needs_reauth_at:%Y-%m-%d %H:%M} UTC "
                    f"({row.needs_reauth_reason}); {reauthorize_hint(self.store)}",
                    "REAUTHORIZE",
                    ShopifyReauthorizationRequired,
                )
            ahead = REFRESH_AHEAD[self.kind].total_seconds()
            if force:  # a 401: renew unless another process already replaced that token
                stale = row is None or row.grant.access_token == rejected
            else:
                stale = row is None or row.expires_within(ahead)
            if not stale:
                return row
            try:
                return self._mint(tokens, row, force=force)
            except _DeadGrant as dead:
                if tokens.quarantine(self.store.key, dead.reason, row.generation if row else None):
                    logger.error("store %s quarantined: %s", self.store.key, dead.reason)
                return dead

    def _mint(self, tokens: TokenStore, row: StoredToken | None, *, force: bool) -> StoredToken:
        app = self._app()
        try:
            grant = self._grant(app, row, force=force)
        except OAuthError as exc:
            return self._refused(exc, row, force=force)
        if grant is None:
            return row
        _remember(grant)
        tokens.save_grant(self.store.key, self.store.shop_domain, grant, self.kind)
        logger.info("store %s: new %s token saved", self.store.key, self.kind)
        return tokens.load(self.store.key)

    def _grant(self, app: AppCredentials, row: StoredToken | None, *, force: bool):
        """The new grant, or None to keep `row` (a non-expiring token nothing can renew)."""
        if isinstance(self.store.auth, ClientCredentialsAuth):
            _check_not_refused(self.store, app)
            return self.oauth.client_credentials(self.store.shop_domain, app)
        if row is None:
            raise self._fail(
                f"not installed yet: no token stored for {self.store.shop_domain}; "
                f"{reauthorize_hint(self.store)}",
                "NOT_INSTALLED",
            )
        if not row.grant.refresh_token:
            if force:
                raise _DeadGrant("Shopify rejected the stored token (uninstalled or revoked)")
            if row.grant.expires_at is None:
                return None
            raise _DeadGrant("the token expired and has no refresh token")
        return self.oauth.refresh(self.store.shop_domain, app, row.grant.refresh_token)

    def _refused(self, exc: OAuthError, row: StoredToken | None, *, force: bool) -> StoredToken:
        """What a refusal means. Only `invalid_grant` is the grant's death; a wrong client
        secret is the operator's to fix (not a reason to quarantine every store); a blip of
        the token endpoint keeps a token that is still valid."""
        if exc.code == "invalid_grant" and self.kind == "authorization_code":
            raise _DeadGrant("refresh refused: invalid_grant") from None
        if not exc.permanent:
            if row is not None and not force and not row.expires_within(0):
                logger.warning("store %s: token renewal postponed (%s)", self.store.key, exc.code)
                return row
            raise self._fail(
                f"the token endpoint failed ({exc.code}); retried later",
                f"TOKEN_{exc.code}",
                e.ShopifyTransientError,
            ) from None
        if isinstance(self.store.auth, ClientCredentialsAuth):
            _remember_refusal(self.store, self._app())
        raise self._fail(
            f"Shopify refused the app's credentials ({exc.code}); {reauthorize_hint(self.store)}",
            f"TOKEN_{exc.code.upper()}",
        ) from None

    def _app(self) -> AppCredentials:
        try:
            return app_credentials(self.store.auth)
        except OAuthError as exc:
            raise self._fail(str(exc), "CREDENTIALS_MISSING") from None


#: A client-credentials store whose app credentials Shopify refused is not asked again
#: with the same credentials for this long (every call would otherwise hit the endpoint).
REFUSAL_BACKOFF = timedelta(minutes=5)
_REFUSED: dict[tuple[str, str], datetime] = {}


def _credentials_key(store: StoreConfig, app: AppCredentials) -> tuple[str, str]:
    digest = hashlib.sha256(f"{app.client_id}:{app.client_secret}".encode()).hexdigest()
    return store.key, digest


def _remember_refusal(store: StoreConfig, app: AppCredentials) -> None:
    _REFUSED[_credentials_key(store, app)] = datetime.now(UTC) + REFUSAL_BACKOFF


def _check_not_refused(store: StoreConfig, app: AppCredentials) -> None:
    until = _REFUSED.get(_credentials_key(store, app))
    if until is not None and datetime.now(UTC) < until:
        raise e.ShopifyAuthError(
            f"Shopify refused these app credentials; not asked again before {until:%H:%M} "
            f"UTC unless they change; {reauthorize_hint(store)}",
            store=store.key,
            operation="auth",
            code="TOKEN_REFUSED",
        )


def token_source(store: StoreConfig, oauth: OAuthClient, connect: Connect) -> TokenSource:
    if isinstance(store.auth, AccessTokenAuth):
        return EnvTokenSource(store.key, store.auth.token_env)
    return StoredTokenSource(store, oauth, connect)
