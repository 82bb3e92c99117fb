"""One run covers many retailers, each isolated, and the UI's partition status stays true.

A tick runs every retailer × the previous and current hour in one Dagster run. One
retailer's revoked token must not cost the others their import (FAULTS P7): they
complete in the same run, only that retailer's partitions show failed, one alert
names it, and the daemon does not retry a deterministic failure (P10).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import dagster as dg
import psycopg
import pytest
import yaml
from dagster._core.storage.partition_status_cache import (
    get_and_update_asset_status_cache_value,
)
from dagster._daemon.auto_run_reexecution.auto_run_reexecution import should_retry

from assets.partitions import partition_key
from pipelines.alerts import run_failure_alert_sensor
from pipelines.definitions import defs
from pipelines.instance import dagster_config, sqlalchemy_psycopg2_url
from pipelines.resources import build_resources
from sync.order_keys import retailer_tag
from tests.fixtures.db import create_scratch_database, drop_database
from tests.fixtures.flows import RETAILERS, check_evaluations, evaluate_failure_sensor, hour_floor
from tests.integration.fault_worker import start_worker

pytestmark = pytest.mark.integration

REVOKED = "nationwide-plants"
NO_HOLD = {"orders_flow": {"config": {"hold_window_minutes": 0}}}
CLEAN = {"unpaid": 0, "cancelled": 0, "hubless_sku": 0, "other_location": 0,
         "no_shipping_address": 0}  # fmt: skip


def partition_status(instance, asset: str) -> tuple[set[str], set[str]]:
    """(materialized, failed) partitions of `asset`, as the UI computes them."""
    pdef = defs.resolve_assets_def(asset).partitions_def
    value = get_and_update_asset_status_cache_value(instance, dg.AssetKey(asset), pdef)
    done = pdef.deserialize_subset(value.serialized_materialized_partition_subset)
    failed = pdef.deserialize_subset(value.serialized_failed_partition_subset)
    return set(done.get_partition_keys()), set(failed.get_partition_keys())


def _outbox(url: str, kind: str) -> list[tuple[str, str]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT subject, text FROM shopsync.email_outbox WHERE kind = %s", (kind,)
        ).fetchall()


def test_one_retailers_revoked_token_fails_only_its_partitions(flow, monkeypatch):  # FAULTS P7
    domains = [f"{r}.myshopify.com" for r in RETAILERS]
    flow.sim.run_shopper(domains=domains, count=8, seed=21, mix=CLEAN)
    monkeypatch.setenv("SHOPSYNC_TOKEN_NATIONWIDE_PLANTS", "shpat_revoked_0000")  # 401
    time.sleep(0.6)
    now = datetime.now(UTC)
    hours = [hour_floor(now) - timedelta(hours=1), hour_floor(now)]
    retries = dagster_config("x")["run_retries"]
    with dg.instance_for_test(overrides={"run_retries": retries}) as instance:
        result = flow.run_tick("orders_job", now, instance, ops=NO_HOLD)
        assert not result.success  # the failed retailer's partitions must show failed
        # Every other retailer was imported in that same run.
        hub_orders = flow.sim.state(flow.registry.hub.shop_domain)["orders"]
        made = {r for r in RETAILERS for o in hub_orders if retailer_tag(r) in o["tags"]}
        expected = {r for r in RETAILERS if r != REVOKED}
        assert made == expected
        assert flow.audit().duplicate_hub_orders == 0
        for asset in ("retailer_orders", "hub_orders"):
            done, failed = partition_status(instance, asset)
            assert failed == {str(partition_key(REVOKED, h)) for h in hours}
            assert done == {str(partition_key(r, h)) for r in expected for h in hours}
        # Per-partition metadata is that retailer's, labelled with what it covers.
        for entry in instance.all_logs(
            result.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
        ):
            m = entry.dagster_event.event_specific_data.materialization
            retailer = str(m.partition).split("|")[1]
            assert retailer in m.metadata["figures_cover"].value
        # Every call is recorded with its step and retailer: a partition's cost is its own.
        with psycopg.connect(flow.db_url) as conn:
            steps = conn.execute(
                "SELECT DISTINCT step, retailer FROM shopsync.api_calls WHERE run_id = %s",
                (result.run_id,),
            ).fetchall()
        assert {s for s, _ in steps} == {"retailer_orders", "hub_orders", "checks"}
        assert {r for _, r in steps} == set(RETAILERS)
        assert ("hub_orders", REVOKED) not in steps  # it never got that far
        # Checks judged the retailers that completed, per partition.
        assert check_evaluations(result)["hub_orders_are_unique"].passed
        # One alert, naming the retailer; the run-failure sensor does not add another.
        evaluate_failure_sensor(run_failure_alert_sensor, instance, result, build_resources())
        [(subject, text)] = _outbox(flow.db_url, "run_failure")
        assert REVOKED in text and "ShopifyAuthError" in text
        assert "shpat_revoked" not in subject + text
        # A revoked token is deterministic: the daemon does not retry the run (P10).
        assert not should_retry(instance.get_run_by_id(result.run_id), instance)


def test_fresh_instance_takes_two_concurrent_untagged_runs_of_one_retailer(
    flow_harness_factory, tmp_path, monkeypatch
):  # FAULTS O3, P8
    """Two range runs of the same retailer (no retailer tag, as a Catalog backfill launches
    them) start together on a brand-new Postgres-backed instance: no pool-row race, both
    succeed, and the ledgers' per-store lock serialises their writes (no duplicate)."""
    flow = flow_harness_factory()
    retailer = "test-retail-store"
    placed = flow.sim.run_shopper(
        domains=[f"{retailer}.myshopify.com"], count=10, seed=31, mix=CLEAN
    )["orders"]
    time.sleep(0.6)
    storage, admin = create_scratch_database("shopsync_dagster")
    try:
        home = tmp_path / "dagster_home"
        home.mkdir()
        config = dagster_config(sqlalchemy_psycopg2_url(storage))
        (home / "dagster.yaml").write_text(yaml.safe_dump(config))
        monkeypatch.setenv("DAGSTER_HOME", str(home))
        # Create Dagster's tables once, as the webserver or daemon does before any run:
        # two processes creating them at once race inside dagster-postgres itself
        # (DuplicateObject "secondary_indexes"), which no shopsync deployment does.
        dg.DagsterInstance.get().dispose()
        workers = [
            start_worker("--retailer", retailer, "--mode", "job", "--slow", "0.05")
            for _ in range(2)
        ]
        outcomes = [_outcome(w) for w in workers]
        assert all(o["success"] for o in outcomes), outcomes
        with dg.DagsterInstance.get() as instance:
            runs = instance.get_runs()
            assert len(runs) == 2
            assert all("dagster/partition/retailer" not in r.tags for r in runs)
        audit = flow.audit()
        assert audit.duplicate_hub_orders == 0
        assert audit.hub_orders == len(placed)
    finally:
        drop_database(admin, storage)


def _outcome(proc) -> dict:
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def test_partition_of_a_retailer_not_in_the_registry_fails_alone_with_the_fix(flow):
    """The materialize dialog's "Add partition" can create any retailer key: its partition
    fails with an error saying what to do, and the registry's retailers still sync."""
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("orders_retailers", list(RETAILERS) + ["typo-store"])
        now = hour_floor(datetime.now(UTC))
        result = flow.run_job(
            "orders_job", RETAILERS[0], now, now, instance, NO_HOLD, last_retailer="typo-store"
        )
        assert not result.success
        done, failed = partition_status(instance, "hub_orders")
        assert failed == {str(partition_key("typo-store", now))}
        assert done == {str(partition_key(r, now)) for r in RETAILERS}
        failure = result.get_run_failure_event().message or ""
        errors = [e.event_specific_data.error for e in result.all_events if e.is_step_failure]
        text = failure + "".join(str(e.cause or e) for e in errors)
        assert "retailer 'typo-store' is not in the registry" in text
        assert "registry sensor will remove it" in text


def test_a_revoked_hub_token_is_one_alert_not_one_per_retailer(flow, monkeypatch):  # P5
    domains = [f"{r}.myshopify.com" for r in RETAILERS]
    flow.sim.run_shopper(domains=domains, count=2, seed=22, mix=CLEAN)
    monkeypatch.setenv("SHOPSYNC_TOKEN_HUB", "shpat_revoked_hub_0000")  # 401 at the hub
    time.sleep(0.6)
    with dg.instance_for_test() as instance:
        result = flow.run_tick("orders_job", None, instance, ops=NO_HOLD)
        assert not result.success
        assert partition_status(instance, "hub_orders")[1]  # the failed partitions show
    [(subject, text)] = _outbox(flow.db_url, "run_failure")
    assert "the hub store" in text and all(r in text for r in RETAILERS)
    assert "shpat_revoked_hub" not in subject + text
