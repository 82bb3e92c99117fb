"""Shopify's OAuth endpoints over real HTTP (FACTS §10.1): a client credentials token and an
authorization-code install (redirect, HMAC, exchange, refresh) drive GraphQL; expiry and
revocation through the loopback admin API turn them into the Shopify 401.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

HUB, MERCHANT = "hub.myshopify.com", "merchant.myshopify.com"
SECRET = "shpss_http_secret"  # noqa: S105 (a test fixture value)
CLIENT = {"client_id": "cid_http", "client_secret": SECRET}
SCOPES = ["read_orders", "write_orders", "read_inventory"]
SCENARIO = {
    "settings": {"seed": 3},
    "app": {"client_id": "cid_http", "client_secret": SECRET},
    "stores": [
        {"domain": HUB, "role": "hub", "token": "shpat_http_hub", "scopes": SCOPES,
         "oauth": {"grant": "client_credentials", "accept_static_token": True}},
        {"domain": MERCHANT, "token": "shpat_http_merchant", "scopes": SCOPES,
         "oauth": {"grant": "authorization_code", "expiring": True}},
    ],
}  # fmt: skip
SCOPES_QUERY = "{ currentAppInstallation { accessScopes { handle } } }"


@pytest.fixture
def sim(sim_factory):
    return sim_factory(SCENARIO)


@pytest.fixture
def http():
    with httpx.Client(timeout=10) as client:
        yield client


def _graphql(sim, http: httpx.Client, domain: str, token: str) -> httpx.Response:
    return http.post(
        sim.url(domain, "2026-01"),
        json={"query": SCOPES_QUERY},
        headers={"X-Shopify-Access-Token": token},
    )


def _install(sim, http: httpx.Client, scope: str) -> dict[str, str]:
    """The merchant approves (auto): the redirect's query, HMAC checked as an app checks it."""
    response = http.get(
        f"{sim.base_url}/{MERCHANT}/admin/oauth/authorize",
        params={"client_id": "cid_http", "scope": scope, "state": "s-42",
                "redirect_uri": "https://app.example/callback?from=sim"},
    )  # fmt: skip
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.netloc == "app.example" and location.path == "/callback"
    query = dict(parse_qsl(location.query))
    assert query.pop("from") == "sim"
    message = "&".join(f"{k}={v}" for k, v in sorted(query.items()) if k != "hmac")
    expected = hmac.new(SECRET.encode(), message.encode(), hashlib.sha256).hexdigest()
    assert hmac.compare_digest(query["hmac"], expected) and query["state"] == "s-42"
    return query


def test_client_credentials_token_form_encoded_serves_graphql_with_its_scopes(sim, http):
    response = http.post(
        f"{sim.base_url}/{HUB}/admin/oauth/access_token",
        data={"grant_type": "client_credentials", **CLIENT},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["expires_in"] == 86399 and body["scope"] == ",".join(SCOPES)
    answer = _graphql(sim, http, HUB, body["access_token"])
    assert answer.status_code == 200
    handles = [s["handle"] for s in answer.json()["data"]["currentAppInstallation"]["accessScopes"]]
    assert handles == SCOPES
    assert _graphql(sim, http, HUB, "shpat_http_hub").status_code == 200  # accept_static_token


def test_wrong_secret_and_wrong_store_refused_with_oauth_errors(sim, http):
    url = f"{sim.base_url}/{HUB}/admin/oauth/access_token"
    bad = http.post(url, data={"grant_type": "client_credentials", "client_id": "cid_http",
                               "client_secret": "wrong"})  # fmt: skip
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
    other = http.post(
        f"{sim.base_url}/{MERCHANT}/admin/oauth/access_token",
        json={"grant_type": "client_credentials", **CLIENT},
    )
    assert other.status_code == 400 and other.json()["error"] == "unauthorized_client"
    unknown = http.get(
        f"{sim.base_url}/{MERCHANT}/admin/oauth/authorize",
        params={"client_id": "nobody", "redirect_uri": "https://app.example/cb"},
    )
    assert unknown.status_code == 400


def test_authorization_code_install_refresh_rotation_and_scopes(sim, http):
    query = _install(sim, http, "read_orders,read_customers")
    assert query["shop"] == MERCHANT
    token_url = f"{sim.base_url}/{MERCHANT}/admin/oauth/access_token"
    first = http.post(token_url, json={**CLIENT, "code": query["code"]})
    assert first.status_code == 200
    pair = first.json()
    assert pair["scope"] == "read_orders" and pair["expires_in"] == 3600
    reuse = http.post(token_url, json={**CLIENT, "code": query["code"]})
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"

    answer = _graphql(sim, http, MERCHANT, pair["access_token"]).json()
    assert answer["data"]["currentAppInstallation"]["accessScopes"] == [{"handle": "read_orders"}]
    assert _graphql(sim, http, MERCHANT, "shpat_http_merchant").status_code == 401  # no static

    refresh = {"grant_type": "refresh_token", **CLIENT, "refresh_token": pair["refresh_token"]}
    rotated = http.post(token_url, data=refresh)
    assert rotated.status_code == 200 and rotated.json()["refresh_token"] != pair["refresh_token"]
    onward = {**refresh, "refresh_token": rotated.json()["refresh_token"]}
    assert http.post(token_url, data=onward).status_code == 200  # retires the first
    dead = http.post(token_url, data=refresh)
    assert dead.status_code == 400 and dead.json()["error"] == "invalid_grant"
    assert _graphql(sim, http, MERCHANT, pair["access_token"]).status_code == 200
    assert _graphql(sim, http, MERCHANT, rotated.json()["access_token"]).status_code == 200

    counters = http.get(f"{sim.base_url}/_sim/stores/{MERCHANT}/oauth").json()["counters"]
    assert counters["exchanges"] == 1 and counters["refreshes"] == 2
    assert counters["issued"] == {"authorization_code": 1, "refresh_token": 2}


def test_expired_then_revoked_tokens_get_shopify_401(sim, http):
    token = http.post(
        f"{sim.base_url}/{HUB}/admin/oauth/access_token",
        data={"grant_type": "client_credentials", **CLIENT},
    ).json()["access_token"]
    admin = f"{sim.base_url}/_sim/stores/{HUB}/oauth"
    assert http.post(f"{admin}/expire", json={}).json() == {"expired": 1}
    expired = _graphql(sim, http, HUB, token)
    assert expired.status_code == 401 and "Invalid API key" in expired.json()["errors"]
    assert _graphql(sim, http, HUB, "shpat_http_hub").status_code == 200
    fresh = http.post(
        f"{sim.base_url}/{HUB}/admin/oauth/access_token",
        data={"grant_type": "client_credentials", **CLIENT},
    ).json()["access_token"]
    assert http.post(f"{admin}/revoke", json={}).json() == {"revoked": 1}
    assert _graphql(sim, http, HUB, fresh).status_code == 401
    assert _graphql(sim, http, HUB, "shpat_http_hub").status_code == 401  # static revoked too
    status = http.get(admin).json()
    assert status["counters"]["unauthorized"] == {"expired": 1, "revoked": 2}
    assert status["unauthorized_total"] == 3 == sim.counters(HUB)["unauthorized"]
    ttl = http.post(f"{admin}/ttl", json={"access_token_ttl_seconds": 120}).json()
    assert ttl["access_token_ttl_seconds"] == 120
    short = http.post(
        f"{sim.base_url}/{HUB}/admin/oauth/access_token",
        data={"grant_type": "client_credentials", **CLIENT},
    ).json()
    assert short["expires_in"] == 120
