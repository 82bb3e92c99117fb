"""Schedules and the registry sensor, evaluated against a real Dagster instance."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
import pytest
import yaml

from pipelines.demo_cycle import apply_sensor_result
from pipelines.schedules import fulfillments_schedule, orders_schedule
from pipelines.sensors import retailer_registry_sensor
from resources.registry import DEFAULT_REGISTRY_PATH

pytestmark = pytest.mark.integration

TICK = datetime(2026, 11, 26, 10, 15, tzinfo=UTC)


def _tick_sensor(instance: dg.DagsterInstance) -> dg.SensorResult:
    result = retailer_registry_sensor(dg.build_sensor_context(instance=instance))
    apply_sensor_result(instance, result)
    return result


def test_onboarded_retailer_becomes_a_partition_without_restart(tmp_path, monkeypatch):
    raw = yaml.safe_load(DEFAULT_REGISTRY_PATH.read_text())
    path = tmp_path / "retailers.yaml"
    path.write_text(yaml.safe_dump(raw))
    monkeypatch.setenv("SHOPSYNC_REGISTRY", str(path))
    with dg.instance_for_test() as instance:
        _tick_sensor(instance)
        assert instance.get_dynamic_partitions("retailers") == [r["key"] for r in raw["retailers"]]
        assert _tick_sensor(instance).skip_reason is not None  # nothing changed: no request

        new = {
            **raw["retailers"][0],
            "key": "fern-and-co",
            "name": "Fern & Co",
            "shop_domain": "fern-and-co.myshopify.com",
            "token_env": "SHOPSYNC_TOKEN_FERN",
        }
        raw["retailers"].append(new)
        raw["retailers"] = [r for r in raw["retailers"] if r["key"] != "test-retail-store"]
        path.write_text(yaml.safe_dump(raw))
        _tick_sensor(instance)
        keys = instance.get_dynamic_partitions("retailers")
        assert "fern-and-co" in keys
        assert "test-retail-store" not in keys


def _requests(schedule, instance) -> list[dg.RunRequest]:
    context = dg.build_schedule_context(instance=instance, scheduled_execution_time=TICK)
    result = schedule(context)
    return list(result) if isinstance(result, list) else []


def test_schedules_run_current_and_previous_hour_of_enabled_retailers(monkeypatch, tmp_path):
    raw = yaml.safe_load(DEFAULT_REGISTRY_PATH.read_text())
    raw["retailers"][0]["flows"] = {"orders": False, "fulfillments": True, "inventory": True}
    path = tmp_path / "retailers.yaml"
    path.write_text(yaml.safe_dump(raw))
    monkeypatch.setenv("SHOPSYNC_REGISTRY", str(path))
    with dg.instance_for_test() as instance:
        _tick_sensor(instance)
        orders = _requests(orders_schedule, instance)
        fulfillments = _requests(fulfillments_schedule, instance)
    order_keys = sorted(str(r.partition_key) for r in orders)
    assert order_keys == sorted(
        f"2026-11-26-{h}:00|{r}"
        for r in ("botanical-interests", "epic-gardening", "test-retail-store")
        for h in ("09", "10")
    )
    assert len(fulfillments) == 8  # nationwide-plants' fulfillments flow is still on
    assert all(r.tags["shopsync/flow"] == "orders" for r in orders)
    assert len({r.run_key for r in orders}) == len(orders)
