"""Shopify's OAuth endpoints for one simulated store (FACTS §10.1): the client credentials
grant, the authorization code grant (offline tokens, optionally expiring with rotating refresh
tokens) and the check the GraphQL gateway makes on every request.

The rules live here as plain methods on ``OAuthState`` so unit tests drive them without HTTP;
``server.py`` only parses the request and writes the answer. A store accepts the one grant its
scenario names (``oauth.grant``): a registry that names the wrong kind for a store fails the
way Shopify fails it (client credentials work only in the app owner's own stores).

Lifetimes are wall-clock seconds (``clock``, default ``time.time``), never divided by the time
scale: a client's refresh-before-expiry logic must meet real durations. Tests move time by
replacing ``clock`` or through the admin helpers (``expire_access_tokens`` …).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

GRANTS = ("access_token", "client_credentials", "authorization_code")
CLIENT_CREDENTIALS_TTL = 86_399  # 24 h as Shopify reports it (FACTS §10.1)
EXPIRING_ACCESS_TTL = 3_600  # expiring offline token: 1 h
REFRESH_TTL = 90 * 86_400  # a refresh token lives up to 90 days
CODE_TTL = 60  # an authorization code is short-lived (exact figure UNVERIFIED)
Answer = tuple[int, dict[str, Any]]


@dataclass(frozen=True)
class AppCredentials:
    """The one app of a scenario (top-level ``app:``); defaults derive from ``settings.seed``
    so ``--print-env`` and the served simulator agree without configuration."""

    client_id: str
    client_secret: str = field(repr=False)
    client_id_env: str = "SHOPSYNC_APP_CLIENT_ID"
    client_secret_env: str = "SHOPSYNC_APP_CLIENT_SECRET"  # noqa: S105 (a variable name)

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> AppCredentials:
        raw = spec.get("app") or {}
        seed = int((spec.get("settings") or {}).get("seed", 0))
        digest = hashlib.sha256(f"shopsync-sim-app:{seed}".encode()).hexdigest()
        return cls(
            client_id=str(raw.get("client_id") or digest[:32]),
            client_secret=str(raw.get("client_secret") or "shpss_" + digest[32:]),
            client_id_env=str(raw.get("client_id_env") or cls.client_id_env),
            client_secret_env=str(raw.get("client_secret_env") or cls.client_secret_env),
        )

    def matches(self, client_id: str, client_secret: str) -> bool:
        return hmac.compare_digest(client_id, self.client_id) and hmac.compare_digest(
            client_secret, self.client_secret
        )


@dataclass
class OAuthSettings:
    """A store's ``oauth:`` block. ``access_token_ttl_seconds`` None = the grant's default."""

    grant: str = "access_token"
    expiring: bool = False
    access_token_ttl_seconds: float | None = None
    refresh_token_ttl_seconds: float = REFRESH_TTL
    code_ttl_seconds: float = CODE_TTL
    accept_static_token: bool = False
    auto_approve: bool = True

    @classmethod
    def from_spec(cls, raw: dict[str, Any] | None, domain: str) -> OAuthSettings:
        raw = dict(raw or {})
        unknown = sorted(set(raw) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"store {domain}: unknown oauth setting(s) {unknown}")
        settings = cls(**raw)
        if settings.grant not in GRANTS:
            raise ValueError(
                f"store {domain}: oauth.grant {settings.grant!r} is not one of {list(GRANTS)}"
            )
        return settings


@dataclass
class Token:
    kind: str  # "access" | "refresh"
    grant: str  # the grant that issued it
    scopes: tuple[str, ...]
    expires_at: float | None  # None: never expires
    dead: bool = False  # revoked, or a refresh token retired
    #: The refresh token this one replaced: retired when this one is first used.
    predecessor: str | None = None

    def status(self, now: float) -> str:
        if self.dead:
            return "revoked"
        return "expired" if self.expires_at is not None and now >= self.expires_at else "live"


def error(status: int, code: str, description: str) -> Answer:
    return status, {"error": code, "error_description": description}


def redirect_hmac(params: dict[str, str], secret: str) -> str:
    """Hex HMAC-SHA256, keyed with the client secret, of ``k=v`` pairs sorted by key and
    joined with ``&``, ``hmac`` itself left out: what an app verifies on the redirect."""
    message = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "hmac")
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


@dataclass(eq=False)
class OAuthState:
    domain: str
    app: AppCredentials
    settings: OAuthSettings
    clock: Callable[[], float] = time.time
    tokens: dict[str, Token] = field(default_factory=dict, repr=False)
    codes: dict[str, Token] = field(default_factory=dict, repr=False)
    static_revoked: bool = False
    counters: Counter = field(default_factory=Counter)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    # -- GraphQL gateway ---------------------------------------------------------------------

    def authenticate(
        self, presented: str | None, static_token: str
    ) -> tuple[bool, list[str] | None]:
        """(accepted, scopes of the OAuth token or None for the static token)."""
        with self.lock:
            static_ok = self.settings.grant == "access_token" or self.settings.accept_static_token
            if presented and hmac.compare_digest(presented, static_token):
                if static_ok and not self.static_revoked:
                    return True, None
                reason = "revoked" if self.static_revoked else "static_not_accepted"
            else:
                token = self.tokens.get(presented or "")
                if token is not None and token.kind == "access":
                    reason = token.status(self.clock())
                    if reason == "live":
                        return True, list(token.scopes)
                else:
                    reason = "unknown"
            self.counters[f"unauthorized:{reason}"] += 1
            return False, None

    # -- issuing (the grants themselves: simulator/oauth_grants.py) ------------------------

    def issue(
        self, kind: str, grant: str, scopes: tuple[str, ...], ttl: float | None, *, count=True
    ) -> str:
        """A new random token; values never reach a log, a repr or an error message."""
        value = ("shpat_" if kind == "access" else "shprt_") + secrets.token_hex(16)
        expires = None if ttl is None else self.clock() + ttl
        self.tokens[value] = Token(kind, grant, scopes, expires)
        if count:
            self.counters[f"issued:{grant}"] += 1
        return value

    def refuse(self, status: int, code: str, description: str) -> Answer:
        with self.lock:
            self.counters[f"refused:{code}"] += 1
        return error(status, code, f"{self.domain}: {description}")

    # -- test controls -----------------------------------------------------------------------

    def expire_access_tokens(self, *, refresh: bool = False) -> int:
        """Expire every access token (and refresh tokens too with ``refresh``) now."""
        now, n = self.clock(), 0
        with self.lock:
            for token in self.tokens.values():
                if (token.kind == "access" or refresh) and token.status(now) == "live":
                    token.expires_at, n = now, n + 1
        return n

    def revoke_all(self) -> int:
        """Revoke every token, the static one included (the app was uninstalled); returns
        how many were still live."""
        now = self.clock()
        with self.lock:
            live = sum(t.status(now) == "live" for t in self.tokens.values())
            for token in self.tokens.values():
                token.dead = True
            self.static_revoked = True
        return live

    def set_ttl(self, **ttls: float | None) -> dict[str, Any]:
        """Lifetimes of tokens issued from now on (tokens already out keep theirs)."""
        allowed = {"access_token_ttl_seconds", "refresh_token_ttl_seconds", "code_ttl_seconds"}
        unknown = sorted(set(ttls) - allowed)
        if unknown:
            raise ValueError(
                f"store {self.domain}: unknown ttl(s) {unknown}; use {sorted(allowed)}"
            )
        for key, value in ttls.items():
            setattr(self.settings, key, None if value is None else float(value))
        return self.status()

    def status(self) -> dict[str, Any]:
        now = self.clock()
        with self.lock:
            states = Counter(f"{t.kind}:{t.status(now)}" for t in self.tokens.values())
            counters = dict(self.counters)
        grouped: dict[str, Any] = {"issued": {}, "unauthorized": {}, "refused": {}}
        for key, value in counters.items():
            group, _, name = key.partition(":")
            if name:
                grouped[group][name] = value
            else:
                grouped[key] = value
        grouped.setdefault("exchanges", 0)
        grouped.setdefault("refreshes", 0)
        s = self.settings
        return {
            "grant": s.grant,
            "expiring": s.expiring,
            "accept_static_token": s.accept_static_token,
            "static_token_revoked": self.static_revoked,
            "access_token_ttl_seconds": s.access_token_ttl_seconds,
            "refresh_token_ttl_seconds": s.refresh_token_ttl_seconds,
            "code_ttl_seconds": s.code_ttl_seconds,
            "tokens": dict(states),
            "counters": grouped,
        }
