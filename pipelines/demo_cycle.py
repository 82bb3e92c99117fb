"""The steps of one demo cycle, each a real Dagster run on a Postgres-backed instance."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import psycopg

from assets.partitions import partition_key, retailers_partitions_name
from resources.ledgers import summary
from resources.registry import RegistryResource
from sync.audit import audit_stores

QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


def apply_sensor_result(instance: dg.DagsterInstance, result: dg.SensorResult) -> None:
    """Do what the daemon does with a sensor's dynamic partition requests."""
    for request in result.dynamic_partitions_requests or []:
        if isinstance(request, dg.AddDynamicPartitionsRequest):
            instance.add_dynamic_partitions(request.partitions_def_name, request.partition_keys)
        else:
            for key in request.partition_keys:
                instance.delete_dynamic_partition(request.partitions_def_name, key)


class DemoCycle:
    def __init__(self, sim: Any, say: Callable[[str], None]) -> None:
        from pipelines.definitions import defs
        from pipelines.demo import fresh_database
        from pipelines.instance import (
            DEMO_DAGSTER_DATABASE,
            demo_dagster_home,
            prepare_dagster_home,
        )

        # The demo's own instance, new with its warehouse: `./dev ui --demo` then shows
        # exactly the runs and partitions whose rows the demo warehouse holds.
        fresh_database(DEMO_DAGSTER_DATABASE, migrate=False)
        prepare_dagster_home(demo_dagster_home(), DEMO_DAGSTER_DATABASE)
        self.sim, self.say, self.defs = sim, say, defs
        self.instance = dg.DagsterInstance.get()
        self.registry_resource = RegistryResource()
        self.registry = self.registry_resource.get()
        self.checks_run = self.checks_failed = 0

    def run(self, since: datetime, now: datetime) -> dict[str, Any]:
        from pipelines.sensors import retailer_registry_sensor

        context = dg.build_sensor_context(
            instance=self.instance, resources={"registry": self.registry_resource}
        )
        apply_sensor_result(self.instance, retailer_registry_sensor(context))
        self.say(
            "registry sensor: retailer partitions "
            f"{self.instance.get_dynamic_partitions(retailers_partitions_name('orders'))}"
        )
        first = since.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        last = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        by_retailer = self._run("orders", first, last)
        for retailer, meta in sorted(by_retailer.items()):
            self.say(
                f"orders   {retailer:<22} read {meta.get('orders_read', 0):>4}, "
                f"hub orders created {meta.get('hub_orders_created', 0):>3}"
            )
        time.sleep(1.0)  # hub fulfillment orders appear shortly after orderCreate
        shipped = self.sim.run_warehouse(seed=7)
        self.say(
            f"warehouse shipped {len(shipped['fulfillments'])} parcels "
            f"for {shipped['orders']} hub orders"
        )
        by_retailer = self._run("fulfillments", last, last)
        for retailer, meta in sorted(by_retailer.items()):
            self.say(
                f"shipping {retailer:<22} "
                f"hub shipments {meta.get('hub_fulfillments_landed', 0):>3}, "
                f"pushed {meta.get('fulfillments_pushed', 0):>3}"
            )
        return self.summary()

    def _run(self, flow: str, first: datetime, last: datetime) -> dict[str, dict[str, Any]]:
        """One run of the flow's job over every retailer × hours first..last, as one tick
        or one backfill range launches it; returns each retailer's step figures."""
        retailers = self.instance.get_dynamic_partitions(retailers_partitions_name(flow))
        if not retailers:
            return {}
        tags = {
            "dagster/asset_partition_range_start": str(partition_key(retailers[0], first)),
            "dagster/asset_partition_range_end": str(partition_key(retailers[-1], last)),
            "shopsync/demo": "true",
        }
        job = f"{flow}_job"
        result = self.defs.resolve_job_def(job).execute_in_process(
            instance=self.instance, tags=tags, run_config=QUIET_LOGS, raise_on_error=False
        )
        if not result.success:
            self.say(f"{job} FAILED (run {result.run_id}); see `./dev ui --demo`")
        # The stored log: a failed step's result does not list what it logged before failing.
        evaluations = [
            entry.dagster_event.event_specific_data
            for entry in self.instance.all_logs(
                result.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
            )
        ]
        judged = {
            (e.check_name, e.partition.split("|")[1] if e.partition else ""): e for e in evaluations
        }
        self.checks_run += len(judged)
        for (name, retailer), evaluation in sorted(judged.items()):
            if not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR:
                self.checks_failed += 1
                self.say(f"check {name} FAILED for {retailer}")
        meta: dict[str, dict[str, Any]] = {}
        for entry in self.instance.all_logs(
            result.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
        ):
            materialization = entry.dagster_event.event_specific_data.materialization
            retailer = str(materialization.partition).split("|")[1]
            meta.setdefault(retailer, {}).update(
                {k: v.value for k, v in materialization.metadata.items()}
            )
        return meta

    def summary(self) -> dict[str, Any]:
        import os

        hub_state = self.sim.state(self.registry.hub.shop_domain)
        retailer_states = {r.key: self.sim.state(r.shop_domain) for r in self.registry.retailers}
        audit = audit_stores(hub_state, retailer_states)
        with psycopg.connect(os.environ["SHOPSYNC_DATABASE_URL"]) as conn:
            totals = summary.warehouse_totals(conn)
        by_retailer = totals["by_retailer"]
        counts = {
            s: sum(c.get(s, 0) for c in by_retailer.values())
            for s in ("eligible", "waiting", "quarantined")
        }
        return {
            "orders_eligible": counts["eligible"],
            "orders_waiting": counts["waiting"],
            "orders_quarantined": counts["quarantined"],
            "hub_orders_created": totals["hub_orders_created"],
            "duplicate_hub_orders": audit.duplicate_hub_orders,
            "hub_fulfillments": audit.hub_fulfillments,
            "fulfillments_pushed": totals["fulfillments_pushed"],
            "duplicate_retailer_fulfillments": audit.duplicate_retailer_fulfillments,
            "missing_retailer_fulfillments": audit.missing_retailer_fulfillments,
            "checks_run": self.checks_run,
            "checks_failed": self.checks_failed,
            "api_calls": totals["api_calls"],
            "api_cost_points": totals["api_cost_points"],
            "by_retailer": by_retailer,
        }
