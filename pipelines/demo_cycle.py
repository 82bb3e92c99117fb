"""The steps of one demo cycle, each a real Dagster run on a Postgres-backed instance."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import psycopg

from assets.partitions import HOURLY_FLOWS, partition_key, retailer_of, retailers_partitions_name
from resources.ledgers import inventory as inventory_ledger
from resources.ledgers import summary
from resources.ledgers.exceptions import exception_counts
from resources.ledgers.follow_ups import follow_up_counts
from resources.registry import RegistryResource
from sync.audit import audit_inventory, audit_stores, store_levels
from sync.inventory import SafetyStock
from sync.reports import summary_key_at, week_key_at

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
        self.inventory_pushed = 0
        self.console_failures = 0
        self.job_outcomes: dict[str, str] = {}

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
        self._change_imported_orders(last)
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
        self._inventory_cycle("first cycle: every level read in full")
        sold = self.sim.run_shopper(count=2, seed=11)["orders"]
        self.say(f"shoppers placed {len(sold)} new orders at the retailers (stock committed)")
        self._inventory_cycle("next cycle: only what changed")
        # The operator's console as its schedules run it: health, the exception queue, and
        # the day's summary and the week's report of the windows still open, emailed (a
        # copy under the run's own key: the schedules' emails are still to come).
        for job in ("health_job", "exception_queue_job"):
            self._run_console_job(job)
        now, notifications = datetime.now(UTC), self.registry.notifications
        day = summary_key_at(now, notifications.time_zone, notifications.daily_summary_hour)
        week = week_key_at(
            now, notifications.time_zone, self.registry.operations.weekly_report_weekday
        )
        self._run_console_job("daily_summary_job", f"{day:%Y-%m-%d}", "daily_summary")
        self._run_console_job("weekly_report_job", f"{week:%Y-%m-%d}", "weekly_report")
        # The operator's safety net: every troubleshooting procedure passes on the demo, and
        # the warehouse is backed up and that backup restored and checked (FAULTS B1).
        for job in ("doctor_job", "warehouse_backup_job", "restore_drill_job"):
            self._run_console_job(job)
        return self.summary()

    def _change_imported_orders(self, hour: datetime) -> None:
        """Retailers cancel and edit a few orders already imported (FAULTS O12, O14); the
        next orders tick carries each change to the hub before the warehouse ships."""
        import os

        with psycopg.connect(os.environ["SHOPSYNC_DATABASE_URL"]) as conn:
            imported = conn.execute(
                "SELECT retailer, retailer_order_gid, hub_order_gid FROM shopsync.order_links"
                " WHERE state = 'confirmed' ORDER BY retailer, retailer_order_gid"
            ).fetchall()
        by_retailer: dict[str, list[str]] = {}
        hub_orders: dict[str, list[str]] = {}
        for retailer, gid, hub_gid in imported:
            by_retailer.setdefault(retailer, []).append(gid)
            hub_orders.setdefault(retailer, []).append(hub_gid)
        changes = {"cancel": 0, "quantity": 0, "remove": 0}
        for i, (retailer, gids) in enumerate(sorted(by_retailer.items())[:2]):
            domain = self.registry.retailer(retailer).shop_domain
            self.sim.shopper_cancel(domain=domain, order_id=gids[0], seed=i)
            changes["cancel"] += 1
            for action, gid in zip(("quantity", "remove"), gids[1:3], strict=False):
                try:
                    self.sim.shopper_edit(domain=domain, order_id=gid, action=action, seed=i)
                    changes[action] += 1
                except ValueError as exc:  # a one-line order cannot lose its only line
                    self.say(f"edit skipped: {exc}")
        self.say(f"retailers cancelled {changes['cancel']} imported orders and edited "
                 f"{changes['quantity'] + changes['remove']}")  # fmt: skip
        changed = {r for r, _ in sorted(by_retailer.items())[:2]}
        for retailer in self.carry_back_retailers():
            if retailer in hub_orders and retailer not in changed:  # the hub cannot ship one
                self.sim.warehouse_cancel(order_id=hub_orders[retailer][0])
                self.say(f"the hub cancelled one of {retailer}'s orders (carried back to it)")
                self._hub_gives_up(retailer, hub_orders[retailer][1:2])
        time.sleep(1.5)  # the retailers' search index catches up
        by_retailer_meta = self._run("orders", hour, hour)
        for retailer, meta in sorted(by_retailer_meta.items()):
            if meta.get("follow_ups_seen"):
                self.say(
                    f"follow   {retailer:<22} cancelled at hub "
                    f"{meta.get('follow_ups_cancelled', 0)}, edited at hub "
                    f"{meta.get('follow_ups_edited', 0)}, held for a person "
                    f"{meta.get('follow_ups_held_for_review', 0)}"
                )

    def _hub_gives_up(self, retailer: str, hub_orders: list[str]) -> None:
        """The hub's fulfillment service closes what is left of an order INCOMPLETE."""
        for gid in hub_orders:
            try:
                done = self.sim.warehouse_close_incomplete(order_id=gid)
            except ValueError as exc:  # all of it shipped already
                self.say(f"hub close skipped: {exc}")
                continue
            self.say(f"the hub gave up on {done['units_not_shipped']} unit(s) of one of "
                     f"{retailer}'s orders without cancelling it (carried back to it)")  # fmt: skip

    def carry_back_retailers(self) -> dict[str, str]:
        """Retailer key -> hub location of those whose registry carries hub cancels back."""
        return {r.key: r.hub_location_id for r in self.registry.retailers
                if r.on_hub_cancel == "cancel_at_retailer"}  # fmt: skip

    def _run_console_job(self, job: str, partition: str | None = None, emails: str = "") -> None:
        config = (
            {**QUIET_LOGS, "ops": {emails: {"config": {"email": True}}}} if emails else QUIET_LOGS
        )
        result = self.defs.resolve_job_def(job).execute_in_process(
            instance=self.instance, tags={"shopsync/demo": "true"}, run_config=config,
            partition_key=partition, raise_on_error=False,
        )  # fmt: skip
        self.say(f"{job} {'done' if result.success else 'FAILED'} (run {result.run_id})")
        self.console_failures += 0 if result.success else 1
        self.job_outcomes[job] = "ok" if result.success else "failed"

    def _inventory_cycle(self, what: str) -> None:
        by_retailer = self._run("inventory", None, None)
        self.say(f"inventory {what}")
        for retailer, meta in sorted(by_retailer.items()):
            self.inventory_pushed += meta.get("inventory_pushed", 0)
            self.say(
                f"stock    {retailer:<22} levels read {meta.get('levels_read', 0):>4}, "
                f"compared {meta.get('skus_compared', 0):>4}, "
                f"written {meta.get('inventory_pushed', 0):>4}"
            )

    def _run(self, flow: str, first: datetime | None, last: datetime | None) -> dict:
        """One run of the flow's job over every retailer (× hours first..last for the
        hourly flows), as one tick or one backfill range launches it; returns each
        retailer's step figures."""
        retailers = self.instance.get_dynamic_partitions(retailers_partitions_name(flow))
        if not retailers:
            return {}
        start, end = retailers[0], retailers[-1]
        if flow in HOURLY_FLOWS:
            start, end = str(partition_key(start, first)), str(partition_key(end, last))
        tags = {
            "dagster/asset_partition_range_start": start,
            "dagster/asset_partition_range_end": end,
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
        judged = {(e.check_name, retailer_of(e.partition or "")): e for e in evaluations}
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
            if materialization.partition is None:  # the hub's snapshot, not a retailer's
                continue
            retailer = retailer_of(materialization.partition)
            meta.setdefault(retailer, {}).update(
                {k: v.value for k, v in materialization.metadata.items()}
            )
        return meta

    def summary(self) -> dict[str, Any]:
        import os

        hub_state = self.sim.state(self.registry.hub.shop_domain)
        retailer_states = {r.key: self.sim.state(r.shop_domain) for r in self.registry.retailers}
        audit = audit_stores(hub_state, retailer_states, self.carry_back_retailers())
        with psycopg.connect(os.environ["SHOPSYNC_DATABASE_URL"]) as conn:
            totals = summary.warehouse_totals(conn)
            stock = self._inventory_audit(conn, hub_state, retailer_states)
            emails = dict(
                conn.execute(
                    "SELECT kind, count(*) FROM shopsync.email_outbox GROUP BY kind ORDER BY kind"
                ).fetchall()
            )
            exceptions = exception_counts(conn, retailers=[r.key for r in self.registry.retailers])
            follow_ups = follow_up_counts(conn)
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
            "orders_cancelled_at_hub": follow_ups.get("cancelled", 0),
            "orders_edited_at_hub": follow_ups.get("edited", 0),
            "held_for_review": follow_ups.get("held_for_review", 0),
            "follow_ups_failed": follow_ups.get("failed", 0),
            "cancelled_at_retailer_after_import": audit.cancelled_at_retailer,
            "cancelled_open_at_hub": audit.cancelled_open_at_hub,
            "pushed_after_cancel": audit.pushed_after_cancel,
            "cancelled_by_the_hub": audit.cancelled_by_the_hub,
            "given_up_by_the_hub": audit.given_up_by_the_hub,
            "hub_cancels_carried_to_retailer": follow_ups.get("cancelled_at_retailer", 0)
            + follow_ups.get("edited_at_retailer", 0),
            "hub_cancelled_waiting_at_retailer": audit.hub_cancelled_waiting_at_retailer,
            "checks_run": self.checks_run,
            "checks_failed": self.checks_failed,
            "inventory_skus_compared": stock.skus_compared,
            "inventory_pushed": self.inventory_pushed,
            "inventory_drift_after": stock.drift,
            "oversell_exposure": stock.oversell_exposure,
            "emails_queued": emails,
            "health_alerts": emails.get("health_alert", 0),
            "exception_queue": exceptions["total"],
            "console_jobs_failed": self.console_failures,
            "doctor": self.job_outcomes.get("doctor_job", "not run"),
            "restore_drill": self.job_outcomes.get("restore_drill_job", "not run"),
            "api_calls": totals["api_calls"],
            "api_cost_points": totals["api_cost_points"],
            "by_retailer": by_retailer,
        }

    def _inventory_audit(self, conn, hub_state, retailer_states):
        """The stores' own stock against the targets, for the retailers syncing it
        (pending demand is the warehouse's: the orders the stores say are open)."""
        hub = self.registry.hub
        as_of = inventory_ledger.read_state(conn, "hub", hub.location_id).last_read_at
        pending = inventory_ledger.pending_units(
            conn,
            include_unpaid=self.registry.inventory.pending_includes_unpaid,
            hub_as_of=as_of,
        )
        synced = self.registry.enabled_retailers("inventory")
        audit = audit_inventory(
            store_levels(hub_state, hub.location_id),
            {r.key: store_levels(retailer_states[r.key], r.hub_location_id) for r in synced},
            pending,
            {r.key: SafetyStock(r.safety_stock, r.safety_stock_overrides) for r in synced},
        )
        for line in audit.off_target[:10]:
            self.say(f"stock off target: {line}")
        return audit
