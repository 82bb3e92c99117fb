"""The authorization-code install of `shopsync serve` (FAULTS A4): the pure rules (HMAC,
signed state, timestamp, authorize URL) and the routes, through Starlette's TestClient
with in-memory storage and an httpx MockTransport standing in for Shopify's token
endpoint. The Postgres storage and the simulator are exercised in
tests/integration/test_service_callback.py."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
import yaml
from starlette.testclient import TestClient

from resources.shopify.oauth import TokenGrant
from service import ServiceSettings, build_app
from service.install import (
    CallbackRefused,
    authorize_url,
    check_timestamp,
    new_state,
    sign_params,
    state_key,
    verify_callback_hmac,
    verify_state,
)

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
SHOP = "retailer-a.myshopify.com"
OTHER = "retailer-b.myshopify.com"
LEGACY = "retailer-c.myshopify.com"
SECRET = "app-secret-xyz"  # noqa: S105
TOKEN = "shpat_minted_token_123"  # noqa: S105


# --- pure rules -----------------------------------------------------------------------


def test_hmac_matches_shopifys_documented_example():
    """Shopify's own example (secret 'hush'): the message is the sorted k=v pairs without
    `hmac`, joined with '&', and the digest is hex."""
    params = [
        ("hmac", "700e2dadb827fcc8609e9d5ce208b2e9cdaab9df07390d2cbca10d7c328fc4bf"),
        ("state", "0.6784241404160823"),
        ("code", "0907a61c0c8d55e99db179b68161bc00"),
        ("timestamp", "1337178173"),
        ("shop", "some-shop.myshopify.com"),
    ]
    verify_callback_hmac(params, "hush")


@pytest.mark.parametrize(
    ("change", "status"),
    [
        (lambda p: [(k, "other" if k == "code" else v) for k, v in p], 401),
        (lambda p: [(k, v) for k, v in p if k != "hmac"], 400),
        (lambda p: [*p, ("code", "second")], 400),
        (lambda p: [(k, "0" * 64 if k == "hmac" else v) for k, v in p], 401),
    ],
    ids=["tampered-code", "no-hmac", "repeated-param", "forged-hmac"],
)
def test_hmac_refuses_tampered_or_forged_callbacks(change, status):
    """FAULTS A4: a forged callback is refused."""
    params = [("code", "abc"), ("shop", SHOP), ("state", "s"), ("timestamp", "1")]
    signed = [*params, ("hmac", sign_params(params, SECRET))]
    verify_callback_hmac(signed, SECRET)
    with pytest.raises(CallbackRefused) as refused:
        verify_callback_hmac(change(signed), SECRET)
    assert refused.value.status == status
    with pytest.raises(CallbackRefused):
        verify_callback_hmac(signed, "another-secret")


def test_state_round_trip_and_refusals():
    """FAULTS A4: a state this service did not sign, or one past its expiry, is refused."""
    key = state_key("k1")
    state, payload = new_state(SHOP, key, NOW)
    assert verify_state(state, key, NOW + timedelta(minutes=5), timedelta(minutes=10)) == payload
    assert payload.shop == SHOP and payload.nonce not in repr(payload)
    body, _, signature = state.partition(".")
    forged_body = json.dumps({"shop": OTHER, "nonce": payload.nonce, "iat": payload.iat})
    import base64

    forged = base64.urlsafe_b64encode(forged_body.encode()).decode().rstrip("=")
    cases = {
        "expired": (state, key, NOW + timedelta(minutes=11), 403),
        "other key": (state, state_key("k2"), NOW, 403),
        "other shop": (f"{forged}.{signature}", key, NOW, 403),
        "garbage": ("not-a-state", key, NOW, 400),
        "missing": (None, key, NOW, 400),
    }
    for name, (value, k, now, status) in cases.items():
        with pytest.raises(CallbackRefused) as refused:
            verify_state(value, k, now, timedelta(minutes=10))
        assert refused.value.status == status, name


def test_timestamp_must_be_fresh():
    age = timedelta(minutes=10)
    check_timestamp(str(int(NOW.timestamp()) - 60), NOW, age)
    for stale in (str(int(NOW.timestamp()) - 3600), str(int(NOW.timestamp()) + 3600), "x", None):
        with pytest.raises(CallbackRefused):
            check_timestamp(stale, NOW, age)


def test_authorize_url_for_shopify_and_for_the_simulator():
    real = urlsplit(
        authorize_url(SHOP, "cid", ["read_orders", "write_orders"], "https://x/cb", "st")
    )
    assert (real.scheme, real.netloc, real.path) == ("https", SHOP, "/admin/oauth/authorize")
    assert parse_qs(real.query) == {
        "client_id": ["cid"],
        "scope": ["read_orders,write_orders"],
        "redirect_uri": ["https://x/cb"],
        "state": ["st"],
    }
    sim = authorize_url(SHOP, "cid", ["read_orders"], "https://x/cb", "st", "http://127.0.0.1:9/")
    assert sim.startswith(f"http://127.0.0.1:9/{SHOP}/admin/oauth/authorize?client_id=cid&")
    with pytest.raises(ValueError):
        authorize_url("evil.example.com/x", "cid", ["read_orders"], "https://x/cb", "st")


# --- the routes -----------------------------------------------------------------------


@dataclass
class MemoryStorage:
    """In-memory `InstallStorage` with the same one-use rule as the Postgres one."""

    now: datetime = NOW
    states: dict[str, dict] = field(default_factory=dict)
    grants: list[tuple[str, str, TokenGrant]] = field(default_factory=list)

    def issue_state(self, nonce, store_key, shop_domain, expires_at) -> None:
        self.states[nonce] = {"store": store_key, "shop": shop_domain, "exp": expires_at}

    def consume_state(self, nonce, shop_domain):
        row = self.states.get(nonce)
        if not row or row.get("used") or row["shop"] != shop_domain or row["exp"] <= self.now:
            return None
        row["used"] = True
        return row["store"]

    def state_was_used(self, nonce) -> bool:
        return bool(self.states.get(nonce, {}).get("used"))

    def save_grant(self, store_key, shop_domain, grant) -> None:
        self.grants.append((store_key, shop_domain, grant))

    def pending_store(self, shop_domain):
        return None

    def ping(self) -> None:
        return None

    def close(self) -> None:
        return None


def write_registry(path: Path) -> Path:
    address = {"company": "C", "address1": "1 St", "city": "X", "country_code": "US", "zip": "1"}

    def retailer(key: str, domain: str, auth: dict) -> dict:
        location = "gid://shopify/Location/1"
        return {"key": key, "name": key, "shop_domain": domain, **auth,
                "hub_location_id": location, "billing_address": address}  # fmt: skip

    code_auth = {"kind": "authorization_code", "client_id_env": "T_APP_ID",
                 "client_secret_env": "T_APP_SECRET", "scopes": ["read_orders"]}  # fmt: skip
    raw = {
        "hub": {
            "key": "hub",
            "name": "Hub",
            "shop_domain": "hub.myshopify.com",
            "token_env": "T_TOKEN_HUB",
            "location_id": "gid://shopify/Location/9",
        },  # fmt: skip
        "retailers": [
            retailer("retailer-a", SHOP, {"auth": code_auth}),
            retailer("retailer-b", OTHER, {"auth": {**code_auth, "expiring": True}}),
            retailer("retailer-c", LEGACY, {"token_env": "T_TOKEN_C"}),
        ],
    }
    path.write_text(yaml.safe_dump(raw))
    return path


@dataclass
class Harness:
    client: TestClient
    storage: MemoryStorage
    exchanges: list[dict]

    def install(self, shop: str = SHOP) -> str:
        """The state /install hands out for `shop` (asserting the redirect)."""
        response = self.client.get("/install", params={"shop": shop}, follow_redirects=False)
        assert response.status_code == 302, response.text
        return parse_qs(urlsplit(response.headers["location"]).query)["state"][0]

    def callback(self, state: str, shop: str = SHOP, secret: str = SECRET, **extra: str):
        params = {"code": "the-code", "shop": shop, "state": state,
                  "timestamp": str(int(NOW.timestamp())), **extra}  # fmt: skip
        params["hmac"] = sign_params(params.items(), secret)
        return self.client.get("/auth/callback?" + urlencode(params))


@pytest.fixture
def harness(tmp_path, monkeypatch) -> Harness:
    monkeypatch.setenv("T_APP_ID", "client-id-1")
    monkeypatch.setenv("T_APP_SECRET", SECRET)
    exchanges: list[dict] = []

    def token_endpoint(request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        exchanges.append({"url": str(request.url), **form})
        if form.get("code") != "the-code":
            return httpx.Response(400, json={"error": "invalid_grant"})
        return httpx.Response(200, json={"access_token": TOKEN, "scope": "read_orders"})

    settings = ServiceSettings(
        public_url="https://install.example",
        secret_key="service-key",  # noqa: S106
        registry_path=str(write_registry(tmp_path / "registry.yaml")),
    )
    storage = MemoryStorage()
    app = build_app(
        settings, storage=storage, http_transport=httpx.MockTransport(token_endpoint),
        clock=lambda: NOW,
    )  # fmt: skip
    with TestClient(app) as client:
        yield Harness(client, storage, exchanges)


def test_healthz(harness):
    assert harness.client.get("/healthz").json() == {"status": "ok"}


def test_install_redirects_to_the_shops_authorize_page(harness):
    response = harness.client.get("/install", params={"shop": SHOP}, follow_redirects=False)
    assert response.status_code == 302
    target = urlsplit(response.headers["location"])
    assert (target.netloc, target.path) == (SHOP, "/admin/oauth/authorize")
    query = parse_qs(target.query)
    assert query["client_id"] == ["client-id-1"] and query["scope"] == ["read_orders"]
    assert query["redirect_uri"] == ["https://install.example/auth/callback"]
    (row,) = harness.storage.states.values()
    assert row["store"] == "retailer-a" and row["shop"] == SHOP


@pytest.mark.parametrize("shop", ["unknown.myshopify.com", LEGACY, "<script>x</script>", ""])
def test_install_of_a_shop_not_installable_is_404(harness, shop):
    """Only authorization-code stores of the registry get an install link."""
    response = harness.client.get("/install", params={"shop": shop}, follow_redirects=False)
    assert response.status_code == 404
    assert "<script>" not in response.text
    assert harness.storage.states == {}


def test_callback_exchanges_the_code_and_stores_the_token(harness):
    response = harness.callback(harness.install())
    assert response.status_code == 200, response.text
    assert "shopsync doctor --retailer retailer-a" in response.text
    assert TOKEN not in response.text
    ((key, shop, grant),) = harness.storage.grants
    assert (key, shop, grant.access_token) == ("retailer-a", SHOP, TOKEN)
    (call,) = harness.exchanges
    assert call["url"] == f"https://{SHOP}/admin/oauth/access_token"
    assert (call["client_id"], call["client_secret"], call["code"]) == (
        "client-id-1", SECRET, "the-code",
    )  # fmt: skip
    assert "expiring" not in call


def test_expiring_store_asks_for_an_expiring_token(harness):
    assert harness.callback(harness.install(OTHER), shop=OTHER).status_code == 200
    assert harness.exchanges[0]["expiring"] == "1"


def test_refused_callbacks_store_nothing_and_log_no_secret(harness, caplog):
    """FAULTS A4: forged (bad hmac), wrong state, replayed state, state of another shop,
    unknown shop, stale timestamp: each is a 4xx, nothing is stored, and the log names
    the reason without the code, HMAC, state, secret or token."""
    caplog.set_level(logging.INFO)
    state_a, state_b = harness.install(SHOP), harness.install(OTHER)
    old = str(int((NOW - timedelta(hours=2)).timestamp()))
    foreign_state, _ = new_state(SHOP, state_key("someone-else"), NOW)
    cases = [
        ("forged hmac", harness.callback(state_a, secret="guessed"), 401),  # noqa: S106
        ("foreign state", harness.callback(foreign_state), 403),
        ("other shop's state", harness.callback(state_b), 403),
        ("unknown shop", harness.callback(state_a, shop="unknown.myshopify.com"), 404),
        ("legacy shop", harness.callback(state_a, shop=LEGACY), 404),
        ("stale timestamp", harness.callback(state_a, timestamp=old), 400),
    ]
    for name, response, status in cases:
        assert response.status_code == status, (name, response.text)
    assert harness.storage.grants == [] and harness.exchanges == []

    assert harness.callback(state_a).status_code == 200
    replay = harness.callback(state_a)
    assert replay.status_code == 403 and "already used" in replay.text
    assert len(harness.storage.grants) == 1 and len(harness.exchanges) == 1

    # Our loggers and the access log (the test client's own httpx log shows the URL it sent).
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name != "httpx")
    assert "refused" in logged and "GET /auth/callback 403" in logged
    for secret in (SECRET, TOKEN, "the-code", state_a, foreign_state):
        assert secret not in logged


def test_refused_code_exchange_stores_nothing(harness):
    response = harness.callback(harness.install(), code="expired-code")
    assert response.status_code == 400
    assert harness.storage.grants == []


def test_serve_without_secret_key_exits_2_naming_the_variable(tmp_path, monkeypatch, capsys):
    import argparse

    from service.cli import add_serve_arguments, run_serve

    monkeypatch.delenv("SHOPSYNC_SECRET_KEY", raising=False)
    parser = argparse.ArgumentParser()
    parser.add_argument("--registry")
    add_serve_arguments(parser)
    args = parser.parse_args(["--registry", str(write_registry(tmp_path / "r.yaml"))])
    assert run_serve(args) == 2
    assert "SHOPSYNC_SECRET_KEY is not set" in capsys.readouterr().err
