"""Schedules and the registry sensor, evaluated against a real Dagster instance."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
import pytest
import yaml

from assets.partitions import retailers_partitions_name
from assets.run_partitions import RANGE_END, RANGE_START
from pipelines.demo_cycle import apply_sensor_result
from pipelines.schedules import (
    FULL_RECONCILIATION,
    fulfillments_schedule,
    inventory_reconciliation_schedule,
    inventory_schedule,
    orders_schedule,
)
from pipelines.sensors import retailer_registry_sensor
from resources.registry import DEFAULT_REGISTRY_PATH, RegistryResource

pytestmark = pytest.mark.integration

TICK = datetime(2026, 11, 26, 10, 15, tzinfo=UTC)


def _tick_sensor(instance: dg.DagsterInstance) -> dg.SensorResult:
    context = dg.build_sensor_context(instance=instance, resources={"registry": RegistryResource()})
    result = retailer_registry_sensor(context)
    apply_sensor_result(instance, result)
    return result


def test_onboarded_retailer_becomes_a_partition_without_restart(tmp_path, monkeypatch):
    raw = yaml.safe_load(DEFAULT_REGISTRY_PATH.read_text())
    path = tmp_path / "retailers.yaml"
    path.write_text(yaml.safe_dump(raw))
    monkeypatch.setenv("SHOPSYNC_REGISTRY", str(path))
    with dg.instance_for_test() as instance:
        _tick_sensor(instance)
        for flow in ("orders", "fulfillments"):
            assert instance.get_dynamic_partitions(retailers_partitions_name(flow)) == [
                r["key"] for r in raw["retailers"]
            ]
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
        keys = instance.get_dynamic_partitions(retailers_partitions_name("orders"))
        assert "fern-and-co" in keys
        assert "test-retail-store" not in keys


def _registry_with_flows(monkeypatch, tmp_path, index: int, flows: dict) -> None:
    """Point SHOPSYNC_REGISTRY at the example registry with one retailer's flows changed."""
    raw = yaml.safe_load(DEFAULT_REGISTRY_PATH.read_text())
    raw["retailers"][index]["flows"] = flows
    path = tmp_path / "retailers.yaml"
    path.write_text(yaml.safe_dump(raw))
    monkeypatch.setenv("SHOPSYNC_REGISTRY", str(path))


def _requests(schedule, instance) -> list[dg.RunRequest]:
    context = dg.build_schedule_context(
        instance=instance,
        scheduled_execution_time=TICK,
        resources={"registry": RegistryResource()},
    )
    result = schedule(context)
    return [result] if isinstance(result, dg.RunRequest) else []


def _keys(instance, request: dg.RunRequest) -> list[str]:
    from pipelines.definitions import defs

    flow = request.tags["shopsync/flow"]
    pdef = defs.resolve_assets_def("hub_orders" if flow == "orders" else "hub_fulfillments")
    return sorted(
        str(k)
        for k in pdef.partitions_def.get_partition_keys_in_range(
            request.partition_key_range, dynamic_partitions_store=instance
        )
    )


def test_one_run_per_flow_covers_every_enabled_retailer_previous_and_current_hour(
    monkeypatch, tmp_path
):
    _registry_with_flows(
        monkeypatch, tmp_path, 0, {"orders": False, "fulfillments": True, "inventory": True}
    )
    with dg.instance_for_test() as instance:
        _tick_sensor(instance)
        [orders] = _requests(orders_schedule, instance)
        [fulfillments] = _requests(fulfillments_schedule, instance)
        order_keys = _keys(instance, orders)
        fulfillment_keys = _keys(instance, fulfillments)
    # nationwide-plants has its orders flow off: it is not even a partition of that flow.
    assert order_keys == sorted(
        f"2026-11-26-{h}:00|{r}"
        for r in ("botanical-interests", "epic-gardening", "test-retail-store")
        for h in ("09", "10")
    )
    assert len(fulfillment_keys) == 8  # nationwide-plants' fulfillments flow is still on
    assert orders.tags["shopsync/flow"] == "orders"
    assert orders.run_key != fulfillments.run_key


def test_inventory_ticks_cover_the_enabled_retailers_and_the_hourly_one_reads_in_full(
    monkeypatch, tmp_path
):
    """Inventory partitions are retailers (no hours); a retailer with the flow off is not
    one; the reconciliation tick is the same job with both assets set to read in full."""
    _registry_with_flows(
        monkeypatch, tmp_path, 3, {"orders": True, "fulfillments": True, "inventory": False}
    )
    with dg.instance_for_test() as instance:
        _tick_sensor(instance)
        known = instance.get_dynamic_partitions(retailers_partitions_name("inventory"))
        [tick] = _requests(inventory_schedule, instance)
        [full] = _requests(inventory_reconciliation_schedule, instance)
    assert "test-retail-store" not in known and len(known) == 3
    assert (tick.tags[RANGE_START], tick.tags[RANGE_END]) == (known[0], known[-1])
    assert tick.run_config == {} and tick.tags["shopsync/flow"] == "inventory"
    assert full.run_config == FULL_RECONCILIATION and full.run_key != tick.run_key
