"""The Dagster definitions load, and their shape is reviewed on every change (snapshot)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from assets.partitions import retailer_windows, tick_range
from pipelines.definitions import defs
from pipelines.instance import dagster_config, sqlalchemy_psycopg2_url
from pipelines.sensors import registry_partition_changes
from resources.registry import DEFAULT_PARTITIONS_START as START

ROOT = Path(__file__).resolve().parents[2]


def test_definitions_load():
    dg.Definitions.validate_loadable(defs)


def _partitions(pdef) -> object:
    if pdef is None:
        return None
    if isinstance(pdef, dg.MultiPartitionsDefinition):
        return {d.name: _partitions(d.partitions_def) for d in pdef.partitions_defs}
    if isinstance(pdef, dg.DynamicPartitionsDefinition):
        return f"dynamic:{pdef.name}"
    if isinstance(pdef, dg.TimeWindowPartitionsDefinition):
        return f"{pdef.cron_schedule} from {pdef.start:%Y-%m-%d} end_offset={pdef.end_offset}"
    return type(pdef).__name__


def definitions_shape() -> dict:
    """Asset keys, deps, groups, kinds, partitions, backfill policy, checks, jobs,
    schedules, sensors and the executor: what a rename or re-plumbing changes."""
    graph = defs.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets_def = defs.resolve_assets_def(key)
        assets[key.to_user_string()] = {
            "node": assets_def.node_def.name,
            "deps": sorted(p.to_user_string() for p in node.parent_keys),
            "group": node.group_name,
            "kinds": sorted(node.kinds),
            "partitions": _partitions(node.partitions_def),
            "backfill_policy": str(assets_def.backfill_policy),
            "pools": sorted(assets_def.node_def.pools),
        }
    checks = {
        spec.name: {
            "asset": spec.asset_key.to_user_string(),
            "blocking": spec.blocking,
            "partitioned": spec.partitions_def is not None,
        }
        for c in defs.asset_checks
        for spec in c.check_specs
    }
    jobs = {
        j.name: {"tags": dict(j.tags), "executor": j.executor_def.name}
        for j in defs.resolve_all_job_defs()
        if not j.name.startswith("__")
    }
    return {
        "assets": assets,
        "checks": dict(sorted(checks.items())),
        "jobs": dict(sorted(jobs.items())),
        "schedules": {
            s.name: {"job": s.job_name, "cron": s.cron_schedule, "described": bool(s.description)}
            for s in sorted(defs.schedules, key=lambda s: s.name)
        },
        "sensors": {
            s.name: {"described": bool(s.description)}
            for s in sorted(defs.sensors, key=lambda s: s.name)
        },
    }


def test_definitions_snapshot(snapshot):
    assert definitions_shape() == snapshot


def test_runs_execute_in_process_and_pay_no_step_processes():
    for job in defs.resolve_all_job_defs():
        assert job.executor_def.name == "in_process", job.name


def test_tick_covers_every_retailer_for_the_previous_and_current_hour():
    key_range = tick_range(["a", "b", "c"], datetime(2026, 11, 26, 10, 7, tzinfo=UTC), START)
    assert (key_range.start, key_range.end) == ("2026-11-26-09:00|a", "2026-11-26-10:00|c")
    pdef = defs.resolve_assets_def("hub_orders").partitions_def
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("orders_retailers", ["a", "b", "c"])
        keys = pdef.get_partition_keys_in_range(key_range, dynamic_partitions_store=instance)
    assert len(keys) == 6 and {k.keys_by_dimension["retailer"] for k in keys} == {"a", "b", "c"}


def test_tick_in_the_first_hour_of_the_partitions_covers_only_that_hour():
    key_range = tick_range(["a"], datetime(2026, 11, 24, 0, 7, tzinfo=UTC), START)
    assert (key_range.start, key_range.end) == ("2026-11-24-00:00|a", "2026-11-24-00:00|a")


def test_run_partitions_merge_into_windows_per_retailer():
    windows = retailer_windows(
        ["2026-11-01-00:00|a", "2026-11-01-01:00|a", "2026-11-01-03:00|a", "2026-11-01-03:00|b"]
    )
    hour = lambda h: datetime(2026, 11, 1, h, tzinfo=UTC)  # noqa: E731
    assert windows == {"a": [(hour(0), hour(2)), (hour(3), hour(4))], "b": [(hour(3), hour(4))]}


def test_registry_sensor_adds_new_and_removes_disabled_retailers():
    to_add, to_delete = registry_partition_changes(["a", "b", "c"], ["b", "old"])
    assert (to_add, to_delete) == (["a", "c"], ["old"])
    assert registry_partition_changes(["a"], ["a"]) == ([], [])


def test_retries_only_for_run_failures_not_for_failed_steps_and_no_pools():
    config = dagster_config("postgresql+psycopg2://x@/dagster")
    assert config["run_retries"]["retry_on_asset_or_op_failure"] is False  # FAULTS P10
    assert "pools" not in config["concurrency"]  # no pool rows to race on (fresh instance)
    limits = {limit["key"] for limit in config["concurrency"]["runs"]["tag_concurrency_limits"]}
    assert limits == {"shopsync/flow", "dagster/partition/retailer"}


def test_dagster_storage_url_names_psycopg2():
    assert (
        sqlalchemy_psycopg2_url("postgresql://postgres:@/dagster?host=/tmp/pg")
        == "postgresql+psycopg2://postgres@/dagster?host=/tmp/pg"
    )
    assert (
        sqlalchemy_psycopg2_url("postgresql://u:p%40ss@127.0.0.1:5432/dagster")
        == "postgresql+psycopg2://u:p%40ss@127.0.0.1:5432/dagster"
    )
    storage = dagster_config("postgresql+psycopg2://x@/dagster")["storage"]["postgres"]
    assert storage["postgres_url"].startswith("postgresql+psycopg2://")


def test_layer_contract_holds():
    """import-linter: pipelines > checks > assets > flows > resources > sync."""
    linter = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(linter), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout
