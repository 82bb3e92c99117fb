"""No OAuth secret reaches logs, errors, emails, clear-text rows or Dagster metadata: the
app's client secret, the token key, every access and refresh token the stores issued.

The demo's stores with the demo's auth kinds (a client-credentials hub, an installed
authorization-code retailer whose 5-minute tokens are refreshed ahead of expiry inside a
run that succeeds) and one authorization-code retailer
whose grant dies mid-way, so its runs fail, quarantine it and alert."""

from __future__ import annotations

import logging
import os

import dagster as dg
import psycopg
import pytest

from pipelines.alerts import run_failure_alert_sensor
from pipelines.demo_auth import (
    export_app_credentials,
    install_authorization_code_stores,
    write_oauth_registry,
)
from pipelines.resources import build_resources
from resources.registry import DEFAULT_REGISTRY_PATH, load_registry
from resources.secrets import SECRET_KEY_ENV, Cipher
from tests.fixtures.flows import demo_scenario, evaluate_failure_sensor
from tests.integration.test_token_leak_pipeline import _dump_dagster, _dump_database

pytestmark = pytest.mark.integration
EPIC = "epic-gardening.myshopify.com"
BOTANICAL = "botanical-interests.myshopify.com"


def _scenario() -> dict:
    scenario = demo_scenario()
    for store in scenario["stores"]:
        if store["domain"] in (EPIC, BOTANICAL):
            store["oauth"] = {"grant": "authorization_code", "expiring": True}
        elif store.get("role") == "hub":
            store["oauth"] = {"grant": "client_credentials"}
    return scenario


def test_oauth_secrets_never_leak_anywhere(
    flow_harness_factory, monkeypatch, tmp_path, caplog, capfd
):
    scenario = _scenario()
    monkeypatch.setenv(SECRET_KEY_ENV, Cipher.generate_key())
    registry_file = write_oauth_registry(
        scenario, tmp_path / "registry.yaml", DEFAULT_REGISTRY_PATH
    )
    monkeypatch.setenv("SHOPSYNC_REGISTRY", str(registry_file))
    flow = flow_harness_factory(scenario)
    for name in ("SHOPSYNC_APP_CLIENT_ID", "SHOPSYNC_APP_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)  # restored (unset) after the test
    export_app_credentials(flow.sim)
    caplog.set_level(logging.DEBUG)
    # epic's tokens live 5 minutes: every run refreshes ahead of expiry (FAULTS A3)
    flow.sim.store(EPIC).set_token_ttl(access_token_ttl_seconds=300)
    assert install_authorization_code_stores(load_registry(), lambda _: None) == 2
    flow.sim.run_shopper(domains=[EPIC, BOTANICAL], count=3, seed=5)
    flow.sim.store(BOTANICAL).revoke_tokens()  # the merchant uninstalled the app
    flow.sim.store(BOTANICAL).expire_access_tokens()
    now = flow.windows()[0][0]
    with dg.instance_for_test() as instance:
        ok = flow.run_job("orders_job", "epic-gardening", now, instance=instance)
        failed = flow.run_job("orders_job", "botanical-interests", now, instance=instance)
        stock = flow.run_job("inventory_job", "botanical-interests", now, instance=instance)
        assert ok.success and not failed.success and not stock.success
        assert flow.sim.store(EPIC).oauth_status()["counters"]["refreshes"] >= 1
        for run in (failed, stock):
            evaluate_failure_sensor(run_failure_alert_sensor, instance, run, build_resources())
        dagster_text = _dump_dagster(instance)
    with psycopg.connect(flow.db_url) as conn:  # FAULTS A3: one alert for the store
        alerts = conn.execute(
            "SELECT repeats, text FROM shopsync.email_outbox WHERE alert_key = %s",
            ("reauthorize:botanical-interests",),
        ).fetchall()
    assert len(alerts) == 1 and alerts[0][0] == 1, alerts
    assert f"/install?shop={BOTANICAL}" in alerts[0][1]
    database_text = _dump_database(flow.db_url)
    assert "quarantined" in dagster_text and "re-authorize" in database_text  # explained
    secrets = [flow.sim.store(EPIC).oauth.app.client_secret, *_issued_tokens(flow.sim)]
    secrets.append(os.environ[SECRET_KEY_ENV])
    assert len(secrets) >= 5, "the stores issued too few tokens for the search to prove much"
    captured = capfd.readouterr()
    places = {
        "logs": "\n".join(r.getMessage() for r in caplog.records),
        "stdout/stderr": captured.out + captured.err,
        "dagster events and metadata": dagster_text,
        "database (incl. email outbox and token rows)": database_text,
    }
    for place, text in places.items():
        for secret in secrets:
            assert secret not in text, f"a secret leaked into {place}"


def _issued_tokens(sim) -> list[str]:
    return [value for store in sim.stores.values() for value in store.oauth.tokens]
