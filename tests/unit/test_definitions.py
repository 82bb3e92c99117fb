"""The Dagster definitions load, and their shape is reviewed on every change."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg

from assets.runtime import BACKFILL_POLICY
from pipelines.definitions import defs
from pipelines.instance import dagster_config, sqlalchemy_psycopg2_url
from pipelines.partitions import retailer_windows
from pipelines.schedules import recent_partition_keys
from pipelines.sensors import registry_partition_changes

EXPECTED = {
    "assets": ["hub_fulfillments", "hub_orders", "retailer_fulfillments", "retailer_orders"],
    "checks": [
        "eligible_orders_have_one_hub_order",
        "hub_order_quantities_match_hub_location",
        "hub_orders_are_unique",
        "hub_orders_have_a_source",
        "hub_shipments_are_pushed",
        "retailer_fulfillments_are_unique",
        "retailer_orders_need_no_attention",
    ],
    "blocking": [
        "eligible_orders_have_one_hub_order",
        "hub_orders_are_unique",
        "hub_orders_have_a_source",
        "hub_shipments_are_pushed",
        "retailer_fulfillments_are_unique",
    ],
    "jobs": ["daily_summary_job", "fulfillments_job", "orders_job"],
    "schedules": ["daily_summary_schedule", "fulfillments_schedule", "orders_schedule"],
}


def test_definitions_load():
    dg.Definitions.validate_loadable(defs)


def test_definitions_snapshot():
    graph = defs.resolve_asset_graph()
    assert sorted(k.to_user_string() for k in graph.get_all_asset_keys()) == EXPECTED["assets"]
    checks = {spec.name: spec for c in defs.asset_checks for spec in c.check_specs}
    assert sorted(checks) == EXPECTED["checks"]
    assert sorted(n for n, s in checks.items() if s.blocking) == EXPECTED["blocking"]
    jobs = sorted(j.name for j in defs.resolve_all_job_defs() if not j.name.startswith("__"))
    assert [j for j in jobs if j in EXPECTED["jobs"]] == EXPECTED["jobs"]
    assert sorted(s.name for s in defs.schedules) == EXPECTED["schedules"]
    assert sorted(s.name for s in defs.sensors) == [
        "email_outbox_delivery_sensor",
        "failed_blocking_check_sensor",
        "retailer_registry_sensor",
        "run_failure_alert_sensor",
    ]


def test_flow_assets_are_partitioned_and_batch_backfills():
    for key in EXPECTED["assets"]:
        asset = defs.resolve_assets_def(key)
        assert isinstance(asset.partitions_def, dg.MultiPartitionsDefinition)
        assert asset.backfill_policy == BACKFILL_POLICY
    assert BACKFILL_POLICY.max_partitions_per_run == 24


def test_schedule_targets_current_and_previous_hour_of_each_retailer():
    keys = recent_partition_keys(datetime(2026, 11, 2, 10, 7, tzinfo=UTC), ["a", "b"])
    assert [str(k) for k in keys] == [
        "2026-11-02-09:00|a",
        "2026-11-02-10:00|a",
        "2026-11-02-09:00|b",
        "2026-11-02-10:00|b",
    ]


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
