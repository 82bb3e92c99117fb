"""The simulator's OAuth rules without HTTP (simulator/oauth.py, oauth_grants.py; FACTS §10.1):
which grant each store accepts, single-use codes, refresh rotation, expiry, revocation, scopes.

A fake clock moves time: lifetimes are wall-clock seconds and no test waits for them.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest

from simulator.cli import env_lines
from simulator.oauth import AppCredentials, OAuthSettings
from simulator.oauth_grants import authorize, token_request
from simulator.scenario import build_stores
from simulator.store import IdAllocator, Store

HUB, MERCHANT, LEGACY = "hub.myshopify.com", "merchant.myshopify.com", "legacy.myshopify.com"
SCOPES = ["read_orders", "write_orders", "read_inventory"]
SPEC = {
    "settings": {"seed": 7},
    "app": {"client_id": "cid_test", "client_secret": "shpss_test_secret"},
    "stores": [
        {"domain": HUB, "role": "hub", "token": "shpat_hub", "scopes": SCOPES,
         "oauth": {"grant": "client_credentials"}},
        {"domain": MERCHANT, "token": "shpat_merchant", "scopes": SCOPES,
         "oauth": {"grant": "authorization_code", "accept_static_token": True}},
        {"domain": LEGACY, "token": "shpat_legacy"},
    ],
}  # fmt: skip
DEMO = Path(__file__).resolve().parents[2] / "config" / "demo.yaml"
CLIENT = {"client_id": "cid_test", "client_secret": "shpss_test_secret"}


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def stores() -> dict[str, Store]:
    built = build_stores(SPEC, ids=IdAllocator(), time_scale=1.0, search_lag=0.0, seed=0)
    clock = Clock()
    for store in built.values():
        store.oauth.clock = clock
    return built


def _code(store: Store, scope: str = "read_orders,write_orders") -> str:
    status, _body, query = authorize(
        store.oauth, {**CLIENT, "scope": scope, "redirect_uri": "https://app/cb", "state": "n1"},
        store.granted_scopes,
    )  # fmt: skip
    assert status == 302 and query is not None
    return query["code"]


def test_client_credentials_issue_a_24h_token_the_gateway_accepts(stores):
    hub = stores[HUB]
    status, body = token_request(
        hub.oauth, {"grant_type": "client_credentials", **CLIENT}, hub.granted_scopes
    )
    assert status == 200
    assert body["expires_in"] == 86399 and body["scope"] == ",".join(SCOPES)
    assert body["access_token"].startswith("shpat_")
    assert hub.authenticate(body["access_token"]) == (True, SCOPES)
    assert hub.oauth_status()["counters"]["issued"] == {"client_credentials": 1}


def test_wrong_client_and_wrong_store_are_refused(stores):
    hub, merchant = stores[HUB], stores[MERCHANT]
    status, body = token_request(
        hub.oauth, {"grant_type": "client_credentials", "client_id": "cid_test",
                    "client_secret": "nope"}, hub.granted_scopes)  # fmt: skip
    assert status == 401 and body["error"] == "invalid_client"
    assert "nope" not in body["error_description"]
    status, body = token_request(
        merchant.oauth, {"grant_type": "client_credentials", **CLIENT}, merchant.granted_scopes
    )
    assert status == 400 and body["error"] == "unauthorized_client"
    assert MERCHANT in body["error_description"]


def test_redirect_hmac_verifies_with_the_client_secret_and_scopes_are_intersected(stores):
    merchant = stores[MERCHANT]
    params = {**CLIENT, "scope": "read_orders,read_customers", "redirect_uri": "https://a/cb",
              "state": "nonce-1"}  # fmt: skip
    status, _body, query = authorize(merchant.oauth, params, merchant.granted_scopes)
    assert status == 302 and query is not None
    assert {"code", "hmac", "host", "shop", "state", "timestamp"} == set(query)
    assert query["shop"] == MERCHANT and query["state"] == "nonce-1"
    message = "&".join(f"{k}={query[k]}" for k in sorted(query) if k != "hmac")
    expected = hmac.new(b"shpss_test_secret", message.encode(), hashlib.sha256).hexdigest()
    assert hmac.compare_digest(query["hmac"], expected)
    status, body = token_request(merchant.oauth, {**CLIENT, "code": query["code"]}, [])
    assert status == 200 and body["scope"] == "read_orders"  # read_customers not in the store
    assert "expires_in" not in body and "refresh_token" not in body
    assert merchant.authenticate(body["access_token"]) == (True, ["read_orders"])


def test_authorize_refuses_an_unknown_client_and_a_store_without_the_grant(stores):
    status, body, query = authorize(
        stores[MERCHANT].oauth, {"client_id": "other", "redirect_uri": "https://a"}, SCOPES
    )
    assert (status, query) == (400, None) and body["error"] == "invalid_request"
    status, body, _ = authorize(stores[HUB].oauth, {**CLIENT, "redirect_uri": "https://a"}, SCOPES)
    assert status == 400 and body["error"] == "unauthorized_client"


def test_a_code_is_single_use_and_short_lived(stores):
    merchant = stores[MERCHANT]
    code = _code(merchant)
    assert token_request(merchant.oauth, {**CLIENT, "code": code}, [])[0] == 200
    status, body = token_request(merchant.oauth, {**CLIENT, "code": code}, [])
    assert status == 400 and body["error"] == "invalid_grant"
    late = _code(merchant)
    merchant.oauth.clock.now += 61  # type: ignore[attr-defined]
    assert (
        token_request(merchant.oauth, {**CLIENT, "code": late}, [])[1]["error"] == "invalid_grant"
    )
    assert merchant.oauth_status()["counters"]["exchanges"] == 1


def test_refresh_rotates_the_old_refresh_token_retires_when_its_replacement_is_used(stores):
    """Shopify changelog 2026-08-28: the used refresh token may be retried until its
    replacement is used (a lost refresh response loses nothing); then it is dead."""
    merchant = stores[MERCHANT]
    status, first = token_request(
        merchant.oauth, {**CLIENT, "code": _code(merchant), "expiring": "1"}, []
    )
    assert status == 200 and first["expires_in"] == 3600
    assert first["refresh_token_expires_in"] == 90 * 86400
    refresh = {"grant_type": "refresh_token", **CLIENT, "refresh_token": first["refresh_token"]}
    status, second = token_request(merchant.oauth, refresh, [])
    assert status == 200 and second["refresh_token"] != first["refresh_token"]
    assert second["scope"] == first["scope"]
    status, retried = token_request(merchant.oauth, refresh, [])  # the response was lost
    assert status == 200 and retried["refresh_token"] != second["refresh_token"]
    onward = {"grant_type": "refresh_token", **CLIENT, "refresh_token": retried["refresh_token"]}
    assert token_request(merchant.oauth, onward, [])[0] == 200  # the replacement is used ...
    status, body = token_request(merchant.oauth, refresh, [])  # ... so the first is retired
    assert status == 400 and body["error"] == "invalid_grant"
    assert merchant.authenticate(first["access_token"])[0]  # valid until its own expiry
    merchant.oauth.clock.now += 3600  # type: ignore[attr-defined]
    assert merchant.authenticate(first["access_token"]) == (False, None)
    assert merchant.authenticate(second["access_token"]) == (False, None)
    counters = merchant.oauth_status()["counters"]
    assert counters["refreshes"] == 3 and counters["unauthorized"] == {"expired": 2}
    assert counters["issued"] == {"authorization_code": 1, "refresh_token": 3}


def test_static_token_by_grant_and_revocation(stores):
    hub, merchant, legacy = stores[HUB], stores[MERCHANT], stores[LEGACY]
    assert legacy.authenticate("shpat_legacy") == (True, None)
    assert hub.authenticate("shpat_hub") == (False, None)  # OAuth store, static not accepted
    assert merchant.authenticate("shpat_merchant") == (True, None)  # accept_static_token
    _status, body = token_request(merchant.oauth, {**CLIENT, "code": _code(merchant)}, [])
    assert merchant.revoke_tokens() == 1
    assert merchant.authenticate(body["access_token"]) == (False, None)
    assert merchant.authenticate("shpat_merchant") == (False, None)
    assert merchant.oauth_status()["static_token_revoked"] is True


def test_expire_now_and_ttl_apply_to_the_tokens_they_name(stores):
    hub = stores[HUB]
    cc = {"grant_type": "client_credentials", **CLIENT}
    old = token_request(hub.oauth, cc, hub.granted_scopes)[1]["access_token"]
    assert hub.expire_access_tokens() == 1
    assert hub.authenticate(old) == (False, None)
    hub.set_token_ttl(access_token_ttl_seconds=5)
    short = token_request(hub.oauth, cc, hub.granted_scopes)[1]
    assert short["expires_in"] == 5
    with pytest.raises(ValueError, match="unknown ttl"):
        hub.set_token_ttl(lifetime=3)


def test_token_scopes_override_store_scopes_only_inside_the_request(stores):
    merchant = stores[MERCHANT]
    with merchant.acting_with(["read_orders"]):
        assert merchant.scopes == ["read_orders"]
    with merchant.acting_with(None):
        assert merchant.scopes == SCOPES
    assert merchant.scopes == SCOPES


def test_scenario_app_defaults_from_the_seed_and_settings_are_validated():
    app = AppCredentials.from_spec({"settings": {"seed": 2026}})
    assert app == AppCredentials.from_spec({"settings": {"seed": 2026}})
    assert app.client_secret.startswith("shpss_") and app.client_secret not in repr(app)
    assert app.client_id_env == "SHOPSYNC_APP_CLIENT_ID"
    with pytest.raises(ValueError, match="shop.myshopify.com: oauth.grant 'password'"):
        OAuthSettings.from_spec({"grant": "password"}, "shop.myshopify.com")
    with pytest.raises(ValueError, match="unknown oauth setting"):
        OAuthSettings.from_spec({"expires": True}, "shop.myshopify.com")


def test_print_env_exports_the_app_credentials():
    lines = env_lines(str(DEMO), "127.0.0.1", 8765)
    app = AppCredentials.from_spec({"settings": {"seed": 2026}})
    assert f"export SHOPSYNC_APP_CLIENT_ID={app.client_id}" in lines
    assert f"export SHOPSYNC_APP_CLIENT_SECRET={app.client_secret}" in lines
    assert "export SHOPSYNC_TOKEN_HUB=shpat_demo_hub" in lines
