"""Every auth kind against the simulator's OAuth endpoints (FACTS §10.1, FAULTS A3):
tokens minted, stored encrypted, shared between processes, refreshed ahead of expiry and
after an early 401, a refresh interrupted by a kill recovered, a dead grant quarantining
its store only."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import psycopg
import pytest
import yaml

from resources.ledgers.tokens import TokenStore
from resources.registry import RegistryResource
from resources.secrets import SECRET_KEY_ENV, Cipher
from resources.shopify import ShopifyAuthError, ShopifyResource, ShopifyTransientError
from resources.shopify.auth import ShopifyReauthorizationRequired
from resources.shopify.oauth import AppCredentials, OAuthClient
from tests.fixtures.sim import HUB, RETAILER_A, SMALL_SCENARIO

pytestmark = pytest.mark.integration
APP_ENV = {
    "client_id_env": "SHOPSYNC_APP_CLIENT_ID",
    "client_secret_env": "SHOPSYNC_APP_CLIENT_SECRET",
}
BILLING = {
    "company": "A",
    "address1": "1 St",
    "city": "Denver",
    "country_code": "US",
    "zip": "80202",
}


@pytest.fixture
def oauth_sim(sim_factory):
    spec = yaml.safe_load(SMALL_SCENARIO.read_text())
    grants = {HUB: {"grant": "client_credentials"},
              RETAILER_A: {"grant": "authorization_code", "expiring": True}}  # fmt: skip
    for store in spec["stores"]:
        if store["domain"] in grants:
            store["oauth"] = grants[store["domain"]]
    return sim_factory(spec)


@pytest.fixture
def oauth_env(oauth_sim, db_url, tmp_path, monkeypatch):
    app = oauth_sim.store(HUB).oauth.app
    monkeypatch.setenv("SHOPSYNC_APP_CLIENT_ID", app.client_id)
    monkeypatch.setenv("SHOPSYNC_APP_CLIENT_SECRET", app.client_secret)
    monkeypatch.setenv(SECRET_KEY_ENV, Cipher.generate_key())
    monkeypatch.setenv("SHOPSYNC_DATABASE_URL", db_url)
    registry = {
        "hub": {"key": "hub", "name": "Hub", "shop_domain": HUB, "plan": "Advanced",
                "auth": {"kind": "client_credentials", **APP_ENV},
                "location_id": "gid://shopify/Location/1001"},
        "retailers": [{"key": "retailer-a", "name": "Retailer A", "shop_domain": RETAILER_A,
                       "auth": {"kind": "authorization_code", "expiring": True, **APP_ENV},
                       "hub_location_id": "gid://shopify/Location/2001",
                       "billing_address": BILLING}],
    }  # fmt: skip
    path = tmp_path / "registry.yaml"
    path.write_text(yaml.safe_dump(registry))
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("DELETE FROM shopsync.store_tokens")
    return path


def resource(sim, registry: Path, db_url: str) -> ShopifyResource:
    base = sim.url(HUB).split(f"/{HUB}/")[0]
    return ShopifyResource(
        registry=RegistryResource(path=str(registry)), base_url=base, database_url=db_url,
        retry_base_delay_seconds=0.01, retry_max_delay_seconds=0.05,
    )  # fmt: skip


def base_url(sim) -> str:
    return sim.url(HUB).split(f"/{HUB}/")[0]


def install(sim, db_url: str, shop: str = RETAILER_A) -> None:
    """What `shopsync serve` does on a merchant's approval: authorize, exchange, store."""
    app = AppCredentials(
        os.environ["SHOPSYNC_APP_CLIENT_ID"], os.environ["SHOPSYNC_APP_CLIENT_SECRET"]
    )
    query = urlencode({"client_id": app.client_id, "scope": "read_orders,write_orders",
                       "redirect_uri": "http://127.0.0.1:9/cb", "state": "s1"})  # fmt: skip
    answer = httpx.get(f"{base_url(sim)}/{shop}/admin/oauth/authorize?{query}")
    assert answer.status_code == 302, answer.text
    code = dict(parse_qsl(urlsplit(answer.headers["location"]).query))["code"]
    grant = OAuthClient(base_url(sim)).exchange_code(shop, app, code, expiring=True)
    with psycopg.connect(db_url, autocommit=True) as conn:
        TokenStore(conn).save_grant("retailer-a", shop, grant)


def stored(db_url: str, key: str):
    with psycopg.connect(db_url, autocommit=True) as conn:
        return TokenStore(conn).load(key)


def counters(sim, shop: str) -> dict:
    return sim.store(shop).oauth_status()["counters"]


def test_client_credentials_token_is_minted_once_stored_encrypted_and_shared(
    oauth_sim, oauth_env, db_url
):
    with resource(oauth_sim, oauth_env, db_url).get_client("hub") as client:
        assert client.execute("shop_info")["shop"]
    with resource(oauth_sim, oauth_env, db_url).get_client("hub") as client:  # another run
        client.execute("shop_info")
    assert counters(oauth_sim, HUB)["issued"] == {"client_credentials": 1}
    row = stored(db_url, "hub")
    assert row.grant_kind == "client_credentials" and row.grant.expires_at is not None
    with psycopg.connect(db_url) as conn:
        raw = conn.execute("SELECT access_token_enc FROM shopsync.store_tokens").fetchone()[0]
    assert row.grant.access_token.encode() not in bytes(raw)


def test_install_then_calls_then_refresh_ahead_of_expiry_without_failing(
    oauth_sim, oauth_env, db_url
):
    oauth_sim.store(RETAILER_A).set_token_ttl(access_token_ttl_seconds=300)  # < 10 min ahead
    install(oauth_sim, db_url)
    first = stored(db_url, "retailer-a")
    with resource(oauth_sim, oauth_env, db_url).get_client("retailer-a") as client:
        assert client.execute("shop_info")["shop"]
    after = stored(db_url, "retailer-a")
    assert after.generation == first.generation + 1  # refreshed and saved before the call
    assert after.grant.refresh_token != first.grant.refresh_token
    assert counters(oauth_sim, RETAILER_A)["refreshes"] == 1


def test_an_early_401_renews_once_and_the_call_succeeds(oauth_sim, oauth_env, db_url):
    install(oauth_sim, db_url)
    shopify = resource(oauth_sim, oauth_env, db_url)
    with shopify.get_client("retailer-a") as client:
        client.execute("shop_info")
        oauth_sim.store(RETAILER_A).expire_access_tokens()
        assert client.execute("shop_info")["shop"]
    assert counters(oauth_sim, RETAILER_A)["refreshes"] == 1


def test_a_kill_between_refresh_and_save_loses_nothing(oauth_sim, oauth_env, db_url):
    """FAULTS A3: the process dies after Shopify rotated the pair and before it was saved.
    Shopify keeps the stored refresh token usable until its replacement is used, so the
    next process refreshes with it again."""
    install(oauth_sim, db_url)
    oauth_sim.store(RETAILER_A).expire_access_tokens()
    before = stored(db_url, "retailer-a")
    script = textwrap.dedent(f"""
        import os, signal
        from resources.ledgers import tokens
        from resources.registry import RegistryResource
        from resources.shopify import ShopifyResource
        tokens.TokenStore.save_grant = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
        shopify = ShopifyResource(registry=RegistryResource(path={str(oauth_env)!r}),
                                  base_url={base_url(oauth_sim)!r}, database_url={db_url!r})
        shopify.get_client("retailer-a").execute("shop_info")
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).parents[2],
                          env=dict(os.environ), capture_output=True, timeout=120)  # fmt: skip
    assert done.returncode == -9, done.stderr.decode()[-2000:]
    assert counters(oauth_sim, RETAILER_A)["refreshes"] == 1  # Shopify did rotate
    assert stored(db_url, "retailer-a").generation == before.generation  # nothing saved
    with resource(oauth_sim, oauth_env, db_url).get_client("retailer-a") as client:
        assert client.execute("shop_info")["shop"]
    assert stored(db_url, "retailer-a").generation == before.generation + 1


def test_a_refused_refresh_quarantines_that_store_only(oauth_sim, oauth_env, db_url):
    """FAULTS A3: the merchant uninstalled the app; the hub goes on."""
    install(oauth_sim, db_url)
    oauth_sim.store(RETAILER_A).revoke_tokens()
    oauth_sim.store(RETAILER_A).expire_access_tokens()
    shopify = resource(oauth_sim, oauth_env, db_url)
    with pytest.raises(ShopifyReauthorizationRequired) as exc:
        shopify.get_client("retailer-a").execute("shop_info")
    assert "re-authorize" in str(exc.value) and f"/install?shop={RETAILER_A}" in str(exc.value)
    row = stored(db_url, "retailer-a")
    assert row.needs_reauth_at is not None and "invalid_grant" in row.needs_reauth_reason
    calls = dict(counters(oauth_sim, RETAILER_A))
    with pytest.raises(ShopifyReauthorizationRequired):  # quarantined: Shopify not asked again
        shopify.get_client("retailer-a").execute("shop_info")
    assert counters(oauth_sim, RETAILER_A) == calls
    with shopify.get_client("hub") as hub:
        assert hub.execute("shop_info")["shop"]
    install(oauth_sim, db_url)  # a new install lifts the quarantine
    assert stored(db_url, "retailer-a").needs_reauth_at is None


def test_a_wrong_app_secret_is_the_operators_to_fix_not_a_quarantine(
    oauth_sim, oauth_env, db_url, monkeypatch
):
    """Shopify refusing the app's credentials (invalid_client) says so, quarantines no
    store (only a dead grant does), and the fixed secret works at once."""
    install(oauth_sim, db_url)
    oauth_sim.store(RETAILER_A).expire_access_tokens()
    secret = os.environ["SHOPSYNC_APP_CLIENT_SECRET"]
    monkeypatch.setenv("SHOPSYNC_APP_CLIENT_SECRET", "shpss_typo")
    shopify = resource(oauth_sim, oauth_env, db_url)
    with pytest.raises(ShopifyAuthError) as exc:
        shopify.get_client("retailer-a").execute("shop_info")
    assert not isinstance(exc.value, ShopifyReauthorizationRequired)
    assert "invalid_client" in str(exc.value) and "shpss_typo" not in str(exc.value)
    assert stored(db_url, "retailer-a").needs_reauth_at is None
    monkeypatch.setenv("SHOPSYNC_APP_CLIENT_SECRET", secret)
    with shopify.get_client("retailer-a") as client:
        assert client.execute("shop_info")["shop"]


def test_refused_client_credentials_are_not_sent_again_until_they_change(
    oauth_sim, oauth_env, db_url, monkeypatch
):
    monkeypatch.setenv("SHOPSYNC_APP_CLIENT_SECRET", "shpss_wrong_secret")
    shopify = resource(oauth_sim, oauth_env, db_url)
    for _ in range(3):
        with pytest.raises(ShopifyAuthError):
            shopify.get_client("hub").execute("shop_info")
    assert counters(oauth_sim, HUB)["refused"] == {"invalid_client": 1}  # asked once
    monkeypatch.setenv("SHOPSYNC_APP_CLIENT_SECRET", oauth_sim.store(HUB).oauth.app.client_secret)
    with shopify.get_client("hub") as hub:  # new credentials: asked again at once
        assert hub.execute("shop_info")["shop"]


def test_a_token_endpoint_outage_keeps_a_still_valid_token_and_quarantines_nothing(
    oauth_sim, oauth_env, db_url
):
    """The token endpoint answers 503 while a refresh ahead of expiry is due: the call
    goes on with the token that is still valid. Once that token has expired, the outage
    is a transient error (retried by the run's policy), never a quarantine."""
    oauth_sim.store(RETAILER_A).set_token_ttl(access_token_ttl_seconds=300)  # refresh due
    install(oauth_sim, db_url)
    oauth_sim.set_faults(RETAILER_A, http_503=1.0, only_fields=["oauth_access_token"])
    shopify = resource(oauth_sim, oauth_env, db_url)
    with shopify.get_client("retailer-a") as client:
        assert client.execute("shop_info")["shop"]
    assert counters(oauth_sim, RETAILER_A)["refreshes"] == 0
    oauth_sim.store(RETAILER_A).expire_access_tokens()
    with pytest.raises(ShopifyTransientError):
        shopify.get_client("retailer-a").execute("shop_info")
    assert stored(db_url, "retailer-a").needs_reauth_at is None
    oauth_sim.clear_faults(RETAILER_A)
    with shopify.get_client("retailer-a") as client:
        assert client.execute("shop_info")["shop"]
    assert counters(oauth_sim, RETAILER_A)["refreshes"] == 1
