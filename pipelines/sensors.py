"""Sensors that keep Dagster in step with the outside world."""

from __future__ import annotations

import dagster as dg

from pipelines.partitions import retailers_partitions
from resources.registry import load_registry


def registry_partition_changes(
    enabled: list[str], existing: list[str]
) -> tuple[list[str], list[str]]:
    """What to add and delete so the retailer partitions equal the enabled retailers."""
    return (
        [key for key in enabled if key not in existing],
        [key for key in existing if key not in enabled],
    )


@dg.sensor(minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING)
def retailer_registry_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    """Keeps the `retailers` partitions equal to the registry's enabled retailers.

    Onboarding a retailer is a registry change: the next tick adds its partition,
    with no code change and no restart. A retailer with every flow disabled is removed.
    """
    registry = load_registry()
    enabled = [r.key for r in registry.retailers if any(dict(r.flows).values())]
    existing = context.instance.get_dynamic_partitions(retailers_partitions.name)
    to_add, to_delete = registry_partition_changes(enabled, existing)
    requests = []
    if to_add:
        requests.append(retailers_partitions.build_add_request(to_add))
    if to_delete:
        requests.append(retailers_partitions.build_delete_request(to_delete))
    if not requests:
        return dg.SensorResult(skip_reason="retailer partitions already match the registry")
    context.log.info("retailer partitions: +%s -%s", to_add, to_delete)
    return dg.SensorResult(dynamic_partitions_requests=requests)
