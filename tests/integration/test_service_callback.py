"""The install service end to end (FAULTS A4): `shopsync serve`'s app on the real
Postgres (states in shopsync.oauth_states, tokens encrypted in shopsync.store_tokens) and
the simulator's OAuth endpoints (its authorize page approves at once and redirects back
with code, hmac, host, shop, state and timestamp; its token endpoint exchanges the code).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import psycopg
import pytest
import yaml
from cryptography.fernet import Fernet
from starlette.testclient import TestClient

from resources.ledgers.tokens import TokenStore
from service import ServiceSettings, build_app
from service.states import OAuthStateStore, PostgresInstallStorage
from simulator import Simulator
from tests.fixtures.sim import SMALL_SCENARIO
from tests.unit.test_service_install import OTHER, SHOP, write_registry

pytestmark = pytest.mark.integration


@dataclass
class Install:
    client: TestClient
    sim: Simulator
    db: psycopg.Connection

    def shopify_redirect(self, shop: str = SHOP) -> str:
        """Our /install, then the simulator's authorize page: the callback path+query
        Shopify sends the merchant's browser to."""
        ours = self.client.get("/install", params={"shop": shop}, follow_redirects=False)
        assert ours.status_code == 302, ours.text
        approved = httpx.get(ours.headers["location"], follow_redirects=False)
        assert approved.status_code == 302, approved.text
        target = urlsplit(approved.headers["location"])
        assert target.path == "/auth/callback"
        return f"{target.path}?{target.query}"

    def token_rows(self) -> list[tuple]:
        return self.db.execute(
            "SELECT store_key, generation, access_token_enc FROM shopsync.store_tokens"
        ).fetchall()

    def exchanges(self, shop: str = SHOP) -> int:
        return self.sim.stores[shop].oauth.counters["exchanges"]


@pytest.fixture
def install(tmp_path: Path, monkeypatch, sim_factory, db_url) -> Iterator[Install]:
    scenario = copy.deepcopy(yaml.safe_load(SMALL_SCENARIO.read_text()))
    for store in scenario["stores"]:
        if store["domain"] in (SHOP, OTHER):
            store["oauth"] = {"grant": "authorization_code"}
    sim = sim_factory(scenario)
    app_creds = sim.stores[SHOP].oauth.app
    monkeypatch.setenv("T_APP_ID", app_creds.client_id)
    monkeypatch.setenv("T_APP_SECRET", app_creds.client_secret)
    monkeypatch.setenv("SHOPSYNC_SECRET_KEY", Fernet.generate_key().decode())
    settings = ServiceSettings.from_env(
        public_url="http://testserver",
        registry_path=str(write_registry(tmp_path / "registry.yaml")),
        database_url=db_url,
        shopify_base_url=sim.base_url,
    )
    with psycopg.connect(db_url, autocommit=True) as db:
        db.execute("TRUNCATE shopsync.store_tokens, shopsync.oauth_states")
        app = build_app(settings)
        assert isinstance(app.state.ctx.storage, PostgresInstallStorage)
        with TestClient(app) as client:
            yield Install(client, sim, db)


def test_install_stores_a_working_token_once(install, gql):
    """FAULTS A4: the genuine callback stores one encrypted token that the store accepts;
    the same callback replayed is refused and changes nothing."""
    callback = install.shopify_redirect()
    done = install.client.get(callback)
    assert done.status_code == 200, done.text
    assert "shopsync doctor --retailer retailer-a" in done.text

    ((key, generation, encrypted),) = install.token_rows()
    assert (key, generation) == ("retailer-a", 1)
    stored = TokenStore(install.db).load("retailer-a")
    assert stored is not None and stored.shop_domain == SHOP
    assert stored.grant.access_token.encode() not in bytes(encrypted)
    caller = gql(install.sim, SHOP)
    answer = caller.raw("{ shop { name } }", token=stored.grant.access_token)
    assert answer.status_code == 200 and "errors" not in answer.json()

    replay = install.client.get(callback)
    assert replay.status_code == 403 and "already used" in replay.text
    assert [(k, g) for k, g, _ in install.token_rows()] == [("retailer-a", 1)]
    assert install.exchanges() == 1


def test_forged_and_misdirected_callbacks_store_nothing(install):
    """FAULTS A4: a tampered callback (bad hmac), one for an unknown shop, and a genuine
    state presented for another shop are all 4xx; no token row, no code exchange."""
    query = dict(parse_qsl(urlsplit(install.shopify_redirect()).query))
    tampered = {**query, "code": "0" * 32}
    assert install.client.get("/auth/callback?" + urlencode(tampered)).status_code == 401
    unknown = {**query, "shop": "unknown.myshopify.com"}
    assert install.client.get("/auth/callback?" + urlencode(unknown)).status_code == 404

    other = dict(parse_qsl(urlsplit(install.shopify_redirect(OTHER)).query))
    swapped = {**other, "state": query["state"]}  # without the app secret, no valid hmac
    assert install.client.get("/auth/callback?" + urlencode(swapped)).status_code == 401
    assert install.token_rows() == []
    assert install.exchanges(SHOP) == install.exchanges(OTHER) == 0


def test_state_rows_are_one_use_and_expire(db):
    """The table's rule itself: one consumer wins, an expired or foreign nonce never."""
    states = OAuthStateStore(db)
    now = datetime.now(UTC)
    states.issue("n-live", "retailer-a", SHOP, now + timedelta(minutes=5))
    db.execute(
        "INSERT INTO shopsync.oauth_states (nonce, store_key, shop_domain, issued_at, expires_at)"
        " VALUES ('n-old', 'retailer-a', %s, now() - interval '20 minutes',"
        " now() - interval '10 minutes')",
        (SHOP,),
    )
    assert states.consume("n-live", OTHER) is None
    assert states.consume("n-live", SHOP) == "retailer-a"
    assert states.consume("n-live", SHOP) is None and states.was_consumed("n-live")
    assert states.consume("n-old", SHOP) is None and not states.was_consumed("n-old")
    assert states.consume("n-unknown", SHOP) is None
    assert states.prune(now + timedelta(hours=1)) >= 2
