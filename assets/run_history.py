"""The flow runs of a time window, one row per retailer each run covered.

Health judges a retailer × flow, but a Dagster run covers many retailers (a tick: every
enabled retailer × two hours) and one retailer's failure fails the whole run while the
others completed in it (FAULTS P7). So a run is split here into one `RetailerRun` per
retailer it targeted, and `retailer_ok` says whether *that retailer's* work succeeded:
the run succeeded, or in a failed run every planned asset materialized on each of the
retailer's partitions and no blocking check failed on them.

The retailers of a run come from its partition tag (`dagster/partition`: `hour|retailer`
or a retailer) or its range tags, expanded in partition order as the flow step expands
them (`assets.run_partitions`). Its flow comes from the `shopsync/flow` tag the flow jobs
set, else its job name, else its asset selection (a launch from an asset's page).
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import dagster as dg

from assets.fulfillments import FULFILLMENT_STEPS
from assets.inventory import INVENTORY_STEPS
from assets.orders import ORDER_STEPS
from assets.partitions import (
    FLOWS,
    HOURLY_FLOWS,
    describe_keys,
    keys_by_retailer,
    retailer_hourly_partitions,
    retailer_partitions,
)
from assets.run_partitions import RANGE_END, RANGE_START
from resources.registry import Registry

PARTITION_TAG = "dagster/partition"
SCHEDULE_TAG = "dagster/schedule_name"
#: Set by `pipelines.schedules.tick_request`: the tick's scheduled time, UTC, to the minute.
TICK_TAG = "shopsync/tick"
TICK_FORMAT = "%Y-%m-%dT%H:%M"
FLOW_TAG = "shopsync/flow"
FINISHED = frozenset({"success", "failure", "canceled"})

#: Asset name -> flow, for runs launched from an asset's page (job `__ASSET_JOB`).
ASSET_FLOWS = {
    **{s.name: "orders" for s in ORDER_STEPS},
    **{s.name: "fulfillments" for s in FULFILLMENT_STEPS},
    **{s.name: "inventory" for s in INVENTORY_STEPS},
    "hub_inventory": "inventory",
}

_OUTCOME_EVENTS = {
    dg.DagsterEventType.ASSET_MATERIALIZATION,
    dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED,
    dg.DagsterEventType.ASSET_CHECK_EVALUATION,
}


@dataclass(frozen=True)
class RetailerRun:
    """One retailer's share of one flow run."""

    flow: str  # "orders" | "fulfillments" | "inventory" (assets.partitions.FLOWS)
    retailer: str
    run_id: str
    job: str
    status: str  # Dagster run status lowercased: "success", "failure", "canceled", "started"…
    retailer_ok: bool  # this retailer's work in the run succeeded
    started_at: datetime | None
    ended_at: datetime | None
    scheduled_for: datetime | None  # the schedule tick time if a schedule launched it
    partitions: str  # the retailer's partitions in the run, human-readable
    schedule: str | None = None  # the schedule that launched it, if any
    created_at: datetime | None = None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()


def retailer_runs(
    instance: dg.DagsterInstance, registry: Registry, since: datetime, until: datetime
) -> list[RetailerRun]:
    """Every flow run created in [since, until), one `RetailerRun` per retailer it
    covers, oldest first. Runs of other jobs, and runs that target no retailer, are left
    out."""
    records = instance.get_run_records(
        dg.RunsFilter(created_after=since, created_before=until), ascending=True
    )
    found: list[RetailerRun] = []
    for record in records:
        run = record.dagster_run
        flow = flow_of(run.job_name, run.tags, run.asset_selection)
        if flow is None:
            continue
        keys = run_partition_keys(instance, registry, flow, run.tags)
        if not keys:
            continue
        by_retailer = keys_by_retailer(keys)
        status = run.status.value.lower()
        ok = _retailers_ok(instance, run.run_id, by_retailer) if status == "failure" else None
        for retailer, retailer_keys in by_retailer.items():
            found.append(
                RetailerRun(
                    flow=flow,
                    retailer=retailer,
                    run_id=run.run_id,
                    job=run.job_name,
                    status=status,
                    retailer_ok=status == "success" or bool(ok and ok.get(retailer)),
                    started_at=_utc(record.start_time),
                    ended_at=_utc(record.end_time),
                    scheduled_for=tick_time(run.tags),
                    partitions=f"{retailer}{describe_keys(retailer_keys)}",
                    schedule=run.tags.get(SCHEDULE_TAG),
                    created_at=record.create_timestamp,
                )
            )
    return found


def flow_of(job: str, tags: dict, asset_selection: Iterable[dg.AssetKey] | None) -> str | None:
    """The flow a run belongs to, or None for a run of another job."""
    if tags.get(FLOW_TAG) in FLOWS:
        return tags[FLOW_TAG]
    if job.removesuffix("_job") in FLOWS:
        return job.removesuffix("_job")
    flows = {ASSET_FLOWS.get(key.to_user_string()) for key in asset_selection or ()}
    flows.discard(None)
    return flows.pop() if len(flows) == 1 else None


def run_partition_keys(
    instance: dg.DagsterInstance, registry: Registry, flow: str, tags: dict
) -> list[str]:
    """The partition keys a flow run targets: its range, else its one partition."""
    start, end = tags.get(RANGE_START), tags.get(RANGE_END)
    if start and end:
        return _keys_in_range(instance, registry, flow, start, end)
    single = tags.get(PARTITION_TAG)
    return [single] if single else []


def _keys_in_range(
    instance: dg.DagsterInstance, registry: Registry, flow: str, start: str, end: str
) -> list[str]:
    """Keys from `start` to `end` in partition order, as the flow step expands them. A
    retailer removed since the run leaves the dynamic order unknown: then the range's two
    corners are all it can be said to have covered."""
    if flow in HOURLY_FLOWS:
        pdef = retailer_hourly_partitions(flow, registry.partitions_start)
        try:
            return [
                str(k)
                for k in pdef.get_partition_keys_in_range(
                    dg.PartitionKeyRange(start, end), dynamic_partitions_store=instance
                )
            ]
        except Exception:  # noqa: BLE001 - a corner no longer a partition
            return list(dict.fromkeys([start, end]))
    keys = list(instance.get_dynamic_partitions(retailer_partitions(flow).name))
    if start in keys and end in keys and keys.index(start) <= keys.index(end):
        return keys[keys.index(start) : keys.index(end) + 1]
    return list(dict.fromkeys([start, end]))


def _retailers_ok(
    instance: dg.DagsterInstance, run_id: str, by_retailer: dict[str, list[str]]
) -> dict[str, bool]:
    """Per retailer of a failed run: every planned asset materialized on each of its
    partitions (an unpartitioned one, like the hub snapshot, at all), and no blocking
    check failed on them."""
    planned_partitioned: set[str] = set()
    planned_whole: set[str] = set()
    done: set[tuple[str, str | None]] = set()
    failed_partitions: set[str] = set()
    for entry in instance.all_logs(run_id, of_type=_OUTCOME_EVENTS):
        event = entry.dagster_event
        data = event.event_specific_data
        if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED:
            name = data.asset_key.to_user_string()
            partitioned = data.partition is not None or data.partitions_subset is not None
            (planned_partitioned if partitioned else planned_whole).add(name)
        elif event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            m = data.materialization
            done.add(
                (m.asset_key.to_user_string(), None if m.partition is None else str(m.partition))
            )
        elif data.blocking and not data.passed and data.partition is not None:
            failed_partitions.add(str(data.partition))
    whole_ok = all((name, None) in done for name in planned_whole)
    return {
        retailer: whole_ok
        and not failed_partitions.intersection(keys)
        and all((name, key) in done for name in planned_partitioned for key in keys)
        for retailer, keys in by_retailer.items()
    }


def tick_time(tags: dict) -> datetime | None:
    """The schedule tick a run was launched for (its `shopsync/tick` tag), if any."""
    value = tags.get(TICK_TAG)
    if not value:
        return None
    try:
        return datetime.strptime(value, TICK_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def _utc(timestamp: float | None) -> datetime | None:
    return None if timestamp is None else datetime.fromtimestamp(timestamp, UTC)


__all__ = [
    "SCHEDULE_TAG",
    "TICK_TAG",
    "RetailerRun",
    "flow_of",
    "retailer_runs",
    "run_partition_keys",
]
