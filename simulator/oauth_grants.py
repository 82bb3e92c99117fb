"""The grants of Shopify's OAuth for one store (FACTS §10.1): ``POST /admin/oauth/access_token``
(client credentials, code exchange, refresh) and ``GET /admin/oauth/authorize``.

Kept apart from ``oauth.py`` (tokens, settings, the gateway check) so each stays readable;
every function runs on one store's ``OAuthState`` and returns (HTTP status, JSON body).
"""

from __future__ import annotations

import base64
import hmac
import secrets
from typing import Any

from simulator.oauth import (
    CLIENT_CREDENTIALS_TTL,
    EXPIRING_ACCESS_TTL,
    Answer,
    OAuthState,
    Token,
    redirect_hmac,
)

# -- POST /admin/oauth/access_token ------------------------------------------------------


def token_request(state: OAuthState, params: dict[str, str], store_scopes: list[str]) -> Answer:
    grant_type = params.get("grant_type", "")
    client_id, secret = params.get("client_id", ""), params.get("client_secret", "")
    if not client_id or not secret:
        return state.refuse(400, "invalid_request", "client_id and client_secret are required")
    if not state.app.matches(client_id, secret):
        return state.refuse(401, "invalid_client", "unknown client_id or wrong client_secret")
    with state.lock:
        if grant_type == "client_credentials":
            return _client_credentials(state, store_scopes)
        if grant_type == "refresh_token":
            return _refresh(state, params.get("refresh_token", ""))
        if grant_type in ("", "authorization_code") and params.get("code"):
            return _exchange(state, params["code"], params.get("expiring", "") in ("1", "true"))
    if grant_type:
        return state.refuse(400, "unsupported_grant_type", f"grant_type {grant_type!r}")
    return state.refuse(400, "invalid_request", "give a code or a grant_type")


def _client_credentials(state: OAuthState, store_scopes: list[str]) -> Answer:
    if state.settings.grant != "client_credentials":
        return state.refuse(
            400,
            "unauthorized_client",
            f"the client credentials grant works only in stores the app's organization "
            f"owns; {state.domain} installs the app with {state.settings.grant}",
        )
    ttl = _access_ttl(state, CLIENT_CREDENTIALS_TTL)
    value = state.issue("access", "client_credentials", tuple(store_scopes), ttl)
    return 200, {"access_token": value, "scope": ",".join(store_scopes), "expires_in": int(ttl)}


def _exchange(state: OAuthState, code_value: str, expiring: bool) -> Answer:
    code = state.codes.get(code_value)
    if code is None or code.status(state.clock()) != "live":
        return state.refuse(
            400, "invalid_grant", "The authorization code was not found or was already used"
        )
    code.dead = True
    state.counters["exchanges"] += 1
    if expiring or state.settings.expiring:
        return 200, _pair(state, "authorization_code", code.scopes)
    value = state.issue("access", "authorization_code", code.scopes, None)
    return 200, {"access_token": value, "scope": ",".join(code.scopes)}


def _refresh(state: OAuthState, refresh_value: str) -> Answer:
    token = state.tokens.get(refresh_value)
    if token is None or token.kind != "refresh" or token.status(state.clock()) != "live":
        return state.refuse(400, "invalid_grant", "refresh token unknown, used or expired")
    # Shopify changelog 2026-08-28: a used refresh token stays usable until the app first
    # uses its replacement (a lost or unsaved refresh response can be retried); using the
    # replacement retires its predecessor. The access token it came with lives on.
    if token.predecessor is not None and token.predecessor in state.tokens:
        state.tokens[token.predecessor].dead = True
    state.counters["refreshes"] += 1
    answer = _pair(state, "refresh_token", token.scopes)
    state.tokens[answer["refresh_token"]].predecessor = refresh_value
    return 200, answer


def _pair(state: OAuthState, grant: str, scopes: tuple[str, ...]) -> dict[str, Any]:
    ttl = _access_ttl(state, EXPIRING_ACCESS_TTL)
    refresh_ttl = state.settings.refresh_token_ttl_seconds
    return {
        "access_token": state.issue("access", grant, scopes, ttl),
        "scope": ",".join(scopes),
        "expires_in": int(ttl),
        "refresh_token": state.issue("refresh", grant, scopes, refresh_ttl, count=False),
        "refresh_token_expires_in": int(refresh_ttl),
    }


def _access_ttl(state: OAuthState, default: float) -> float:
    configured = state.settings.access_token_ttl_seconds
    return default if configured is None else configured


# -- GET /admin/oauth/authorize ----------------------------------------------------------


def authorize(
    state: OAuthState, params: dict[str, str], store_scopes: list[str]
) -> tuple[int, dict[str, Any], dict[str, str] | None]:
    """(status, error body, redirect query) — the merchant approves at once when
    ``auto_approve`` is on; granted scopes = requested ∩ the store's scopes."""
    if not hmac.compare_digest(params.get("client_id", ""), state.app.client_id):
        return (*state.refuse(400, "invalid_request", "unknown client_id"), None)
    if not params.get("redirect_uri"):
        return (*state.refuse(400, "invalid_request", "redirect_uri is required"), None)
    if state.settings.grant != "authorization_code":
        why = f"no authorization code grant here: the store uses {state.settings.grant}"
        return (*state.refuse(400, "unauthorized_client", why), None)
    if not state.settings.auto_approve:
        return (*state.refuse(403, "access_denied", "the merchant has not approved"), None)
    wanted = [s for s in params.get("scope", "").replace(" ", ",").split(",") if s]
    granted = tuple(s for s in dict.fromkeys(wanted) if s in store_scopes)
    code = secrets.token_hex(16)
    with state.lock:
        expires = state.clock() + state.settings.code_ttl_seconds
        state.codes[code] = Token("code", "authorization_code", granted, expires)
        state.counters["authorizations"] += 1
    name = state.domain.split(".")[0]
    host = base64.urlsafe_b64encode(f"admin.shopify.com/store/{name}".encode()).decode()
    query = {"code": code, "host": host.rstrip("="), "shop": state.domain}
    query["timestamp"] = str(int(state.clock()))
    if "state" in params:
        query["state"] = params["state"]
    query["hmac"] = redirect_hmac(query, state.app.client_secret)
    return 302, {}, query
