"""`shopsync doctor` against the simulator, the real Postgres and a loopback SendGrid.

The demo registry on the demo stores must pass; each broken thing an operator meets
(a wrong location GID, a revoked token, a missing scope, a database that is down, a
SendGrid key that is rejected) must FAIL in the right check with its one-line fix.
"""

from __future__ import annotations

import argparse
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg
import pytest
import yaml

from flows.doctor import DoctorInputs, run_checks
from pipelines.doctor import doctor_job, run_doctor
from pipelines.resources import build_resources
from resources.email import EmailResource
from resources.postgres import PostgresResource
from resources.registry import registry_path
from sync.doctor import CheckResult, Verdict, exit_status

pytestmark = pytest.mark.integration

SG_ENV = "SHOPSYNC_TEST_DOCTOR_SENDGRID_KEY"
GOOD_KEY = "doctor-good-sendgrid-key-1a2b"


class KeyCheckingSendGrid(ThreadingHTTPServer):
    """`/v3/mail/send` accepting only GOOD_KEY, as SendGrid answers a bad key (401)."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.bodies: list[dict] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: KeyCheckingSendGrid

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.server.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        ok = self.headers["Authorization"] == f"Bearer {GOOD_KEY}"
        self.send_response(200 if ok else 401)
        self.end_headers()
        self.wfile.write(
            b"" if ok else b'{"errors":[{"message":"The provided authorization grant is invalid"}]}'
        )

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def sendgrid() -> Iterator[KeyCheckingSendGrid]:
    server = KeyCheckingSendGrid()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def warehouse(flow) -> Iterator[PostgresResource]:
    resource = PostgresResource(url=flow.db_url)
    yield resource
    resource.close()


def doctor(
    flow, warehouse, *, database_url: str | None = None, **email: object
) -> list[CheckResult]:
    return run_checks(
        DoctorInputs(
            shopify=flow.shopify,
            email=EmailResource(postgres=warehouse, **email),
            database_url=database_url or flow.db_url,
        )
    )


def fails(results: list[CheckResult]) -> dict[tuple[str, str | None], CheckResult]:
    return {(r.check, r.store): r for r in results if r.verdict is Verdict.FAIL}


def test_passes_on_the_demo_registry_and_stores(flow, warehouse):
    results = doctor(flow, warehouse)
    assert fails(results) == {}
    assert exit_status(results) == 0
    assert {r.procedure for r in results} == {
        "inventory_sync", "order_import", "fulfillment_push", "database", "email",
    }  # fmt: skip
    by_check = {(r.check, r.store): r for r in results}
    # No SendGrid key configured: outbox-only mode warns, it does not fail.
    assert by_check[("SendGrid key", None)].verdict is Verdict.WARN
    assert by_check[("migrations applied", None)].verdict is Verdict.PASS
    assert by_check[("test send to outbox", None)].verdict is Verdict.PASS
    with warehouse.get_connection() as conn:  # the outbox test send was rolled back
        assert conn.execute("SELECT count(*) FROM shopsync.email_outbox").fetchone()[0] == 0


def test_wrong_location_gid_fails_with_the_registry_fix(flow, warehouse, tmp_path, monkeypatch):
    raw = yaml.safe_load(registry_path().read_text())
    raw["retailers"][0]["hub_location_id"] = "gid://shopify/Location/999999"
    key = raw["retailers"][0]["key"]
    path = tmp_path / "registry.yaml"
    path.write_text(yaml.safe_dump(raw))
    monkeypatch.setenv("SHOPSYNC_REGISTRY", str(path))
    failed = fails(doctor(flow, warehouse))
    result = failed[("location hub_location_id", key)]
    assert "gid://shopify/Location/999999" in result.detail
    assert "gid://shopify/Location/2001" in result.detail  # the active locations, to pick from
    assert (
        result.fix
        == f"set hub_location_id of '{key}' in the registry to one of its active locations"
    )


def test_revoked_token_fails_with_reauthorize(flow, warehouse, monkeypatch):
    """FAULTS P5 diagnosed: a revoked token is one FAIL, with how to re-authorize."""
    monkeypatch.setenv("SHOPSYNC_TOKEN_NATIONWIDE_PLANTS", "shpat_revoked_0000")
    results = doctor(flow, warehouse)
    failed = fails(results)
    result = failed[("token valid", "nationwide-plants")]
    assert "401" in result.detail
    assert result.fix.startswith("re-authorize the app on nationwide-plants.myshopify.com")
    assert "SHOPSYNC_TOKEN_NATIONWIDE_PLANTS" in result.fix
    assert "shpat_revoked_0000" not in json.dumps([r.model_dump() for r in results])
    assert set(failed) == {("token valid", "nationwide-plants")}  # the store's other checks skip


def test_missing_scope_fails_naming_the_scope(flow, warehouse):
    store = flow.sim.store("epic-gardening.myshopify.com")
    store.scopes = [s for s in store.scopes if s != "write_inventory"]
    result = fails(doctor(flow, warehouse))[("access scopes", "epic-gardening")]
    assert result.procedure == "inventory_sync"
    assert "write_inventory" in result.detail
    assert result.fix.startswith("grant write_inventory to the app on epic-gardening.myshopify.com")


def test_unreachable_database_fails_with_the_url_fix(flow, warehouse):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    url = f"postgresql://postgres:hunter2-secret@127.0.0.1:{port}/postgres"
    results = doctor(flow, warehouse, database_url=url)
    result = fails(results)[("connectivity", None)]
    assert f"127.0.0.1:{port}" in result.detail
    assert result.fix == f"start Postgres at 127.0.0.1:{port}/postgres or fix SHOPSYNC_DATABASE_URL"
    assert "hunter2-secret" not in json.dumps([r.model_dump() for r in results])
    assert ("test send to outbox", None) in fails(results)


def test_bad_sendgrid_key_fails_and_a_good_one_passes(flow, warehouse, sendgrid, monkeypatch):
    """A key SendGrid rejects (401) FAILs; the sandbox-mode probe never delivers mail."""
    settings = {"sendgrid_host": sendgrid.url, "sendgrid_api_key_env": SG_ENV, "outbox_only": False}
    monkeypatch.setenv(SG_ENV, "doctor-bad-key")
    result = fails(doctor(flow, warehouse, **settings))[("SendGrid key", None)]
    assert "HTTP 401" in result.detail
    assert (
        result.fix == f"create a SendGrid key with Mail Send permission and export it in {SG_ENV}"
    )
    monkeypatch.setenv(SG_ENV, GOOD_KEY)
    passed = {r.check: r for r in doctor(flow, warehouse, **settings)}["SendGrid key"]
    assert passed.verdict is Verdict.PASS
    assert all(b["mail_settings"]["sandbox_mode"]["enable"] for b in sendgrid.bodies)  # no mail


def test_cli_exit_status_and_json_shape(flow, capsys, monkeypatch):
    args = argparse.Namespace(retailer="epic-gardening", json=True, registry=None)
    assert run_doctor(args) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["verdict"] in ("PASS", "WARN") and doc["exit_status"] == 0
    assert list(doc["procedures"]) == [
        "inventory_sync", "order_import", "fulfillment_push", "database", "email",
    ]  # fmt: skip
    check = doc["procedures"]["order_import"]["checks"][0]
    assert set(check) == {"procedure", "check", "verdict", "detail", "fix", "store"}
    stores = {c["store"] for p in doc["procedures"].values() for c in p["checks"]} - {None}
    assert stores == {"hub", "epic-gardening"}

    monkeypatch.setenv("SHOPSYNC_TOKEN_EPIC_GARDENING", "shpat_revoked_0000")
    assert run_doctor(argparse.Namespace(retailer="epic-gardening", json=False, registry=None)) == 1
    text = capsys.readouterr().out
    assert "FAIL token valid [epic-gardening]" in text
    assert "fix: re-authorize the app on epic-gardening.myshopify.com" in text


def test_doctor_job_observes_each_procedure_and_fails_on_a_fail(flow, monkeypatch):
    with dg.instance_for_test() as instance:
        result = doctor_job.execute_in_process(
            instance=instance, resources=build_resources(None), raise_on_error=False,
            run_config={"ops": {"doctor": {"config": {"retailer": "epic-gardening"}}}},
        )  # fmt: skip
        assert result.success
        observed = {o.asset_key.path[-1]: o for o in result.asset_observations_for_node("doctor")}
        assert set(observed) == {
            "inventory_sync", "order_import", "fulfillment_push", "database", "email",
        }  # fmt: skip
        assert observed["database"].metadata["verdict"].value == "PASS"

        monkeypatch.setenv("SHOPSYNC_TOKEN_EPIC_GARDENING", "shpat_revoked_0000")
        failed = doctor_job.execute_in_process(
            instance=instance, resources=build_resources(None), raise_on_error=False,
            run_config={"ops": {"doctor": {"config": {"retailer": "epic-gardening"}}}},
        )  # fmt: skip
        assert not failed.success
        assert "re-authorize" in str(failed.failure_data_for_node("doctor").error)


def test_recent_inventory_errors_warn_and_name_the_retailer(flow, warehouse):
    with warehouse.get_connection() as conn:
        conn.execute(
            "INSERT INTO shopsync.api_calls (store, operation, duration_ms, http_status,"
            " error_code, run_id, step, retailer) VALUES"
            " ('epic-gardening', 'inventory_set_quantities_2025_01', 12, 200, 'THROTTLED',"
            " 'run-1', 'inventory_pushes', 'epic-gardening')"
        )
    by_check = {(r.procedure, r.check, r.store): r for r in doctor(flow, warehouse)}
    result = by_check[("inventory_sync", "recent errors", "epic-gardening")]
    assert result.verdict is Verdict.WARN
    assert "THROTTLED ×1" in result.detail
    assert by_check[("fulfillment_push", "recent errors", "epic-gardening")].verdict is Verdict.PASS


def test_a_sku_on_two_retailer_variants_warns(sim_factory, tmp_path, monkeypatch):
    """The small scenario gives retailer A two variants with SKU SEED-BASIL-PK."""
    from flows.doctor_store import probe, sku_check, store_skus
    from resources.registry import load_registry
    from sync.sku_matching import HubSkus
    from tests.integration.shopify_sim_support import resource_for, write_registry

    sim = sim_factory()
    path = write_registry(tmp_path)
    monkeypatch.setenv("SHOPSYNC_TOKEN_HUB", "shpat_test_hub")
    monkeypatch.setenv("SHOPSYNC_TOKEN_RETAILER_A", "shpat_test_a")
    registry, shopify = load_registry(path), resource_for(sim.base_url, path)
    hub, retailer = (
        probe(shopify, registry.hub, "order_import"),
        probe(shopify, registry.retailer("retailer-a"), "order_import"),
    )
    try:
        skus = HubSkus(store_skus(hub, registry.hub.location_id))
        result = sku_check(skus, retailer, registry.retailer("retailer-a"))
    finally:
        hub.client.close()
        retailer.client.close()
    assert result.verdict is Verdict.WARN
    assert "3 of 6 hub SKUs found" in result.detail
    assert "SEED-BASIL-PK" in result.detail and "SEED-BASIL-PK" in result.fix


def test_oauth_stores_pass_and_a_dead_grant_fails_with_the_install_link(
    flow, warehouse, tmp_path, monkeypatch
):
    """The demo's auth kinds (a client-credentials hub, an installed authorization-code
    retailer) pass; once the merchant uninstalls, the doctor says how to re-install."""
    from pipelines.demo_auth import (
        export_app_credentials,
        install_authorization_code_stores,
        write_oauth_registry,
    )
    from resources.registry import DEFAULT_REGISTRY_PATH, load_registry
    from resources.secrets import SECRET_KEY_ENV, Cipher
    from tests.fixtures.flows import demo_scenario

    path = write_oauth_registry(demo_scenario(), tmp_path / "registry.yaml", DEFAULT_REGISTRY_PATH)
    monkeypatch.setenv("SHOPSYNC_REGISTRY", str(path))
    monkeypatch.setenv(SECRET_KEY_ENV, Cipher.generate_key())
    for name in ("SHOPSYNC_APP_CLIENT_ID", "SHOPSYNC_APP_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)  # restored (unset) after the test
    export_app_credentials(flow.sim)
    assert install_authorization_code_stores(load_registry(), lambda _: None) == 1
    assert fails(doctor(flow, warehouse)) == {}

    flow.sim.store("epic-gardening.myshopify.com").revoke_tokens()
    flow.sim.store("epic-gardening.myshopify.com").expire_access_tokens()
    failed = fails(doctor(flow, warehouse))
    result = failed[("token valid", "epic-gardening")]
    assert "authorization_code" in result.detail
    assert "/install?shop=epic-gardening.myshopify.com" in result.fix
    assert set(failed) == {("token valid", "epic-gardening")}
