"""One Dagster step per flow: every retailer of the run through the flow's steps.

The flow's assets (`retailer_orders` → `hub_orders`, `hub_fulfillments` →
`retailer_fulfillments`) are one multi-asset, so a run is one step in one process
whatever it covers: a scheduled tick over every retailer, a backfill range, or one
partition from the asset page (which therefore always brings its upstream asset).
`flows.runner` does the work per retailer in isolation; this module says in
Dagster's terms what happened:

- each finished step of each retailer is a materialization of that asset on each of
  the retailer's partitions in the run, with that retailer's figures (labelled: the
  figures cover the retailer's whole span in the run, not one hour alone);
- each check verdict is an evaluation on each of those partitions;
- a retailer that failed gets no materialization from the failed step on; the run
  then fails, so Dagster shows exactly those partitions failed (it marks a planned
  partition failed when its run fails without materializing it), and one alert
  names the retailer.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import dagster as dg
from pydantic import Field

from assets.partitions import describe_keys, keys_by_retailer, retailer_windows
from assets.run_partitions import targeted_partition_keys
from flows.alerts import alert_issues, alert_retailer_failure, flow_failed_everywhere
from flows.runner import (
    FlowPlan,
    FlowStep,
    RetailerOutcome,
    RetailersFailedError,
    StepFunction,
    run_flow,
)
from flows.steps import FlowOptions
from flows.verdicts import CheckVerdict
from resources.email import EmailResource, known_secret_values
from resources.ledgers.api_calls import step_costs
from resources.postgres import PostgresResource
from resources.registry import Registry, RegistryResource
from resources.shopify import PostgresCallRecorder, ShopifyResource

_NO_COST = {"api_calls": 0, "api_cost_points": 0, "api_throttled": 0}


class FlowConfig(dg.Config):
    """Run config of a flow (the defaults are what the schedules use)."""

    #: Override every retailer's registry `hold_window_minutes` for this run (unset: theirs).
    hold_window_minutes: float | None = None
    notify_customer: bool = True
    #: Inventory: read both stores in full this run (the hourly reconciliation sets it).
    full_reconciliation: bool = False
    #: Retailers worked on at once. Each holds a pooled warehouse connection for its whole
    #: turn and the pool has 8 (the call recorder and alerts need the rest), hence ≤ 6.
    max_parallel_retailers: int = Field(default=4, ge=1, le=6)


class BlockingChecksFailedError(RuntimeError):
    """A blocking check failed for some retailers; the email names check and partition."""


@dataclass(frozen=True)
class FlowAssetStep:
    """One asset of a flow and the step function that materializes it for a retailer."""

    name: str
    description: str
    run: StepFunction
    alert_title: str | None = None  # digest title of the issues it reports


def build_flow_asset(
    flow: str,
    steps: Sequence[FlowAssetStep],
    partitions_def: dg.PartitionsDefinition,
    verify: Callable | None = None,
    upstream: Sequence[str | dg.AssetDep] = (),
    step_by_step: bool = False,
) -> dg.AssetsDefinition:
    """The multi-asset of `flow`: its steps in order, partitioned per retailer (× hour);
    the first step depends on `upstream` (assets of other steps or jobs)."""
    specs, previous = [], list(upstream)
    for step in steps:
        specs.append(
            dg.AssetSpec(
                step.name,
                description=step.description,
                deps=previous,
                group_name=flow,
                kinds={"shopify", "postgres"},
                skippable=True,
            )  # fmt: skip
        )
        previous = [step.name]

    @dg.multi_asset(
        name=f"{flow}_flow",
        specs=specs,
        partitions_def=partitions_def,
        can_subset=False,
        # One run per contiguous range of partitions (never one run per hour).
        backfill_policy=dg.BackfillPolicy.single_run(),
    )
    def _flow(
        context: dg.AssetExecutionContext,
        config: FlowConfig,
        registry: RegistryResource,
        shopify: ShopifyResource,
        postgres: PostgresResource,
        email: EmailResource,
    ):
        reg = registry.get()
        targeted = targeted_partition_keys(context)
        keys = keys_by_retailer(targeted)
        recorder = PostgresCallRecorder(postgres.get_connection)
        plan = FlowPlan(
            flow=flow,
            steps=[FlowStep(s.name, s.run) for s in steps],
            windows=retailer_windows(targeted),
            registry=reg, shopify=shopify, postgres=postgres, recorder=recorder,
            run_id=context.run.run_id, now=datetime.now(UTC),
            options=FlowOptions(hold_window=_minutes(config.hold_window_minutes),
                                notify_customer=config.notify_customer,
                                full_reconciliation=config.full_reconciliation),
            max_parallel=config.max_parallel_retailers, log=context.log, verify=verify,
            step_by_step=step_by_step,
        )  # fmt: skip
        try:
            outcomes = run_flow(plan)
        finally:
            recorder.close()
        blocking_failed = _report(context, flow, steps, reg, email, postgres, outcomes, keys)
        failed = [o for o in outcomes if o.failed]
        if failed:
            raise RetailersFailedError(flow, failed, len(outcomes), known_secret_values(reg))
        if blocking_failed:
            raise BlockingChecksFailedError(
                f"{flow}: blocking checks failed for {', '.join(sorted(blocking_failed))}"
            )
        yield from ()

    return _flow


def _minutes(value: float | None) -> timedelta | None:
    return None if value is None else timedelta(minutes=value)


def _report(context, flow, steps, reg: Registry, email, postgres, outcomes, keys) -> set[str]:
    """Materializations and check evaluations for every retailer of the run, then the
    alerts (each isolated: an outbox error must not cost another retailer its
    materializations); returns the retailers with a failed blocking check."""
    blocking_failed: set[str] = set()
    with postgres.get_connection() as conn:
        costs = step_costs(conn, context.run.run_id)
    for outcome in outcomes:
        partitions = keys[outcome.retailer]
        scope = (
            f"retailer '{outcome.retailer}' over the {len(partitions)} hour(s) of this run"
            if describe_keys(partitions)
            else f"retailer '{outcome.retailer}' as of this run"
        )
        for name, report in outcome.reports.items():
            metadata = {**report.counts, **costs.get((name, outcome.retailer), _NO_COST),
                        "issues": len(report.issues), "figures_cover": scope}  # fmt: skip
            for key in partitions:
                context.log_event(dg.AssetMaterialization(name, partition=key, metadata=metadata))
        for verdict in outcome.verified or []:
            _log_verdict(context, verdict, partitions, scope)
            if verdict.blocking and not verdict.passed:
                blocking_failed.add(outcome.retailer)
    _alert(context, flow, steps, reg, email, postgres, outcomes, keys)
    return blocking_failed


def _alert(context, flow, steps, reg: Registry, email, postgres, outcomes, keys) -> None:
    titles = {s.name: s.alert_title or s.name for s in steps}
    failed = [o for o in outcomes if o.failed]
    hub_failed = [o for o in failed if o.failed_store == "hub"]
    with postgres.get_connection() as conn:
        for outcome in outcomes:
            for name, report in outcome.reports.items():
                for message in report.pending:
                    context.log.warning(message)
                if report.issues:
                    _safely(context, alert_issues, context.log, email, reg, conn,
                            outcome.retailer, report.issues, titles[name])  # fmt: skip
    # A flow failing for every retailer it covers is critical: it skips quiet hours.
    critical = flow_failed_everywhere(
        reg, flow, [o.retailer for o in failed], [o.retailer for o in outcomes]
    )
    for outcome in failed:
        if outcome not in hub_failed:
            _alert_failure(context, flow, reg, email, outcome, keys[outcome.retailer],
                           critical=critical)  # fmt: skip
    if hub_failed:  # one alert for the hub, not one per retailer it failed
        _alert_failure(context, flow, reg, email, hub_failed[0], keys[hub_failed[0].retailer],
                       retailers=[o.retailer for o in hub_failed], critical=critical)  # fmt: skip


def _safely(context, alert, *args) -> None:
    try:
        alert(*args)
    except Exception as exc:  # an alert must never cost the run its report
        context.log.error("could not queue an alert: %s: %s", type(exc).__name__, exc)


def _log_verdict(context, verdict: CheckVerdict, partitions: list[str], scope: str) -> None:
    severity = dg.AssetCheckSeverity.WARN if verdict.warn_only else dg.AssetCheckSeverity.ERROR
    for key in partitions:
        context.log_event(
            dg.AssetCheckEvaluation(
                asset_key=dg.AssetKey(verdict.asset),
                check_name=verdict.check,
                passed=verdict.passed,
                metadata={**verdict.metadata, "judged": scope},
                severity=severity,
                blocking=verdict.blocking,
                partition=key,
            )
        )


def _alert_failure(context, flow, reg, email, outcome: RetailerOutcome, partitions,
                   retailers: list[str] | None = None, critical: bool = False) -> None:  # fmt: skip
    span = describe_keys(partitions)
    where = (
        f"{len(retailers)} retailers ({', '.join(retailers)}){span}"
        if retailers
        else f"retailer '{outcome.retailer}'{span}"
    )
    _safely(
        context, lambda: alert_retailer_failure(
            email, reg, flow=flow, run_id=context.run.run_id,
            retailer=None if retailers else outcome.retailer, partitions=where,
            step=outcome.failed_step or flow, error=outcome.error_head(),
            error_class=type(outcome.error).__name__, critical=critical,
        ),
    )  # fmt: skip
