"""Sensors that keep Dagster in step with the outside world."""

from __future__ import annotations

import dagster as dg

from assets.partitions import FLOWS, retailers_partitions_name
from resources.registry import RegistryResource


def registry_partition_changes(
    enabled: list[str], existing: list[str]
) -> tuple[list[str], list[str]]:
    """What to add and delete so the retailer partitions equal the enabled retailers."""
    return (
        [key for key in enabled if key not in existing],
        [key for key in existing if key not in enabled],
    )


@dg.sensor(
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Keeps each flow's retailer partitions equal to the registry's retailers "
    "with that flow enabled: onboarding is a registry change, and a partition added by hand "
    "for a retailer that is not in the registry is removed.",
)
def retailer_registry_sensor(
    context: dg.SensorEvaluationContext, registry: RegistryResource
) -> dg.SensorResult:
    """Each flow's `<flow>_retailers` partitions = the registry's retailers with it enabled."""
    reg = registry.get()
    requests, changes = [], []
    for flow in FLOWS:
        name = retailers_partitions_name(flow)
        enabled = [r.key for r in reg.enabled_retailers(flow)]
        to_add, to_delete = registry_partition_changes(
            enabled, context.instance.get_dynamic_partitions(name)
        )
        if to_add:
            requests.append(dg.AddDynamicPartitionsRequest(name, to_add))
        if to_delete:
            requests.append(dg.DeleteDynamicPartitionsRequest(name, to_delete))
        if to_add or to_delete:
            changes.append(f"{name}: +{to_add} -{to_delete}")
    if not requests:
        return dg.SensorResult(skip_reason="retailer partitions already match the registry")
    context.log.info("; ".join(changes))
    return dg.SensorResult(dynamic_partitions_requests=requests)
