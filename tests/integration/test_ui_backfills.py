"""Backfills launched the way the UI launches them heal exactly their failed partitions.

The UI's backfill dialogs call the `launchPartitionBackfill` GraphQL mutation; the
daemon then creates and launches the runs (a process each, as in production). From a
job's page the mutation names the job's partition set (FAULTS P8: this path used to
report success after materializing one hour of each range); from the asset page or
the Catalog it names the assets. Both must process exactly the partitions they
target, and leave no partition failed once the cause is fixed.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest
import yaml
from dagster._core.execution.backfill import BulkActionStatus
from dagster._core.storage.dagster_run import DagsterRun, RunsFilter
from dagster._core.test_utils import create_test_daemon_workspace_context
from dagster._core.workspace.load_target import ModuleTarget
from dagster._daemon.backfill import execute_backfill_iteration
from dagster_graphql.test.utils import execute_dagster_graphql

from assets.orders import ORDER_STEPS
from assets.partitions import partition_key
from resources.paths import PROJECT_ROOT
from resources.registry import DEFAULT_REGISTRY_PATH
from sync.order_keys import retailer_tag
from tests.fixtures.flows import hour_floor
from tests.integration.test_execution_shape import CLEAN, partition_status

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LAUNCH = """
mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
  }
}
"""
BROKEN = "nationwide-plants"
ASSETS = [{"path": [step.name]} for step in ORDER_STEPS]  # the whole (non-subsettable) flow


def _launch_and_finish(context, instance, params: dict) -> list[DagsterRun]:
    """Launch a backfill as the UI does; run the daemon until its runs are done."""
    response = execute_dagster_graphql(context.create_request_context(), LAUNCH, {"params": params})
    payload = response.data["launchPartitionBackfill"]
    assert payload["__typename"] == "LaunchBackfillSuccess", payload
    backfill_id = payload["backfillId"]
    deadline = time.monotonic() + float(os.environ.get("BF_WAIT", 240))
    while time.monotonic() < deadline:
        list(execute_backfill_iteration(context, dg.get_dagster_logger()))
        runs = instance.get_runs(RunsFilter(tags=DagsterRun.tags_for_backfill_id(backfill_id)))
        done = instance.get_backfill(backfill_id).status != BulkActionStatus.REQUESTED
        if done and all(r.is_finished for r in runs):
            return runs
        time.sleep(0.5)
    backfill = instance.get_backfill(backfill_id)
    raise AssertionError(
        f"backfill {backfill.status} after 4 minutes; runs "
        f"{[(r.run_id[:8], r.status.value) for r in runs]}; error {backfill.error}"
    )


def _materialized_by(instance, runs: list[DagsterRun], asset: str) -> set[str]:
    found = set()
    for run in runs:
        for entry in instance.all_logs(
            run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
        ):
            materialization = entry.dagster_event.event_specific_data.materialization
            if materialization.asset_key.to_user_string() == asset:
                found.add(str(materialization.partition))
    return found


@pytest.mark.parametrize("path", ["job_page", "asset_page"])
def test_backfill_of_failed_partitions_heals_exactly_those(flow, monkeypatch, tmp_path, path):
    flow.sim.run_shopper(
        domains=[f"{r}.myshopify.com" for r in ("epic-gardening", BROKEN)], count=6, seed=41,
        mix=CLEAN,
    )  # fmt: skip
    good_token = os.environ["SHOPSYNC_TOKEN_NATIONWIDE_PLANTS"]
    # Backfill runs take no run config from the asset page: the registry says "no hold".
    raw = yaml.safe_load(DEFAULT_REGISTRY_PATH.read_text())
    for retailer in raw["retailers"]:
        retailer["hold_window_minutes"] = 0
    (tmp_path / "retailers.yaml").write_text(yaml.safe_dump(raw))
    monkeypatch.setenv("SHOPSYNC_REGISTRY", str(tmp_path / "retailers.yaml"))
    monkeypatch.setenv("SHOPSYNC_TOKEN_NATIONWIDE_PLANTS", "shpat_revoked_0000")  # 401
    time.sleep(0.6)
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    # Runs launch at once (no queue daemon in a test), each in its own process.
    (home / "dagster.yaml").write_text(
        "telemetry:\n  enabled: false\nrun_coordinator:\n"
        "  module: dagster._core.run_coordinator\n  class: DefaultRunCoordinator\n"
    )
    now = datetime.now(UTC)
    hours = [hour_floor(now) - timedelta(hours=1), hour_floor(now)]
    failed_keys = sorted(str(partition_key(BROKEN, h)) for h in hours)
    with dg.DagsterInstance.get() as instance:
        assert not flow.run_tick("orders_job", now, instance).success
        assert partition_status(instance, "hub_orders")[1] == set(failed_keys)
        monkeypatch.setenv("SHOPSYNC_TOKEN_NATIONWIDE_PLANTS", good_token)  # the fix
        target = ModuleTarget(
            module_name="pipelines.definitions",
            attribute="defs",
            working_directory=str(PROJECT_ROOT),
            location_name="shopsync",
        )
        with create_test_daemon_workspace_context(target, instance) as context:
            if path == "job_page":  # Backfill on orders_job's page: its partition set
                params = {
                    "selector": {
                        "partitionSetName": "orders_job_partition_set",
                        "repositorySelector": {"repositoryLocationName": "shopsync",
                                               "repositoryName": "__repository__"},
                    },
                    "partitionNames": failed_keys,
                }  # fmt: skip
            else:  # asset page / Catalog, "failed and missing" of the selection
                params = {"assetSelection": ASSETS, "partitionNames": failed_keys}
            runs = _launch_and_finish(context, instance, params)
        assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
        for asset in ("retailer_orders", "hub_orders"):
            assert _materialized_by(instance, runs, asset) == set(failed_keys)
            assert partition_status(instance, asset)[1] == set()
    hub_orders = flow.sim.state(flow.registry.hub.shop_domain)["orders"]
    assert any(retailer_tag(BROKEN) in o["tags"] for o in hub_orders)
    assert flow.audit().duplicate_hub_orders == 0
