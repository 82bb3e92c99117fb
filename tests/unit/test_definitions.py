"""The Dagster definitions load, and their shape is reviewed on every change."""

from __future__ import annotations

import dagster as dg

from pipelines.definitions import defs
from pipelines.instance import sqlalchemy_psycopg2_url
from pipelines.sensors import registry_partition_changes


def test_definitions_load():
    dg.Definitions.validate_loadable(defs)


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
