"""Run one flow's steps for many retailers inside one Dagster run, each retailer isolated.

A scheduled tick covers every enabled retailer in one run (a Dagster run costs
seconds of CPU before any work, so it must not be paid per retailer-hour). Inside
the run, retailers go through the flow's steps in a bounded thread pool: each store
has its own API budget, the hub's is shared through the process-wide pacing of its
endpoint. Whatever one retailer raises (a revoked token, a location that is gone,
a transient error that outlived its retries) ends that retailer's work and is kept
in its outcome; every other retailer goes on (FAULTS P7). The asset layer turns the
outcomes into per-partition materializations and fails exactly the failed
retailer's partitions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flows.steps import FlowOptions, RetailerStep, RunReads, StepReport, Window
from resources.email import known_secret_values, redact
from resources.postgres import PostgresResource
from resources.registry import Registry
from resources.shopify import CallRecorder, ShopifyResource

StepFunction = Callable[[RetailerStep], StepReport]


@dataclass(frozen=True)
class FlowStep:
    """One step of a flow, named like the asset it materializes."""

    name: str
    run: StepFunction


@dataclass
class FlowPlan:
    """Everything `run_flow` needs: the flow, its steps, who and which windows."""

    flow: str  # "orders" | "fulfillments" | "inventory": the registry switch that enables it
    steps: Sequence[FlowStep]
    windows: dict[str, list[Window]]  # retailer key -> merged windows of the run ([]: none)
    registry: Registry
    shopify: ShopifyResource
    postgres: PostgresResource
    recorder: CallRecorder
    run_id: str
    now: datetime
    options: FlowOptions = field(default_factory=FlowOptions)
    max_parallel: int = 4
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("shopsync.flows"))
    #: Run after the steps, for the retailers whose steps all succeeded (the checks).
    verify: Callable[[RetailerStep], object] | None = None
    #: Each step for every retailer before the next step starts: a later step then sees
    #: what an earlier one landed for all of them (inventory: every retailer's new sales
    #: are pending demand before any retailer's stock is written).
    step_by_step: bool = False


@dataclass
class RetailerOutcome:
    """What happened to one retailer: reports of the steps that finished, or the error
    that stopped it and at which step."""

    retailer: str
    reports: dict[str, StepReport] = field(default_factory=dict)
    error: BaseException | None = None
    failed_step: str | None = None
    skipped: str | None = None  # why nothing ran (flow disabled)
    verified: object = None

    @property
    def failed(self) -> bool:
        return self.error is not None

    @property
    def failed_store(self) -> str | None:
        """The store whose error stopped the retailer ('hub' when the hub failed it)."""
        return getattr(self.error, "store", None)

    def error_head(self, secrets: list[str] = ()) -> str:
        """The error's class and first line, with any known secret value redacted."""
        if self.error is None:
            return ""
        text = str(self.error).strip().splitlines()
        return redact(f"{type(self.error).__name__}: {text[0] if text else ''}", secrets)


class RetailersFailedError(RuntimeError):
    """Some retailers of a multi-retailer run failed; the others completed. The message
    names each failed retailer, its step and error head (already alerted by the run)."""

    def __init__(
        self, flow: str, failed: list[RetailerOutcome], total: int, secrets: list[str] = ()
    ):
        lines = [
            f"retailer '{o.retailer}' at {o.failed_step}: {o.error_head(secrets)}" for o in failed
        ]
        super().__init__(
            f"{flow}: {len(failed)} of {total} retailers failed (the others completed):\n  "
            + "\n  ".join(lines)
        )


def run_flow(plan: FlowPlan) -> list[RetailerOutcome]:
    """Each retailer of the plan through every step, at most `max_parallel` at a time;
    then, once every retailer's writes are done, the checks of those that completed
    (so a store read the checks share, like the hub's newest orders, is read once per
    run and sees every write of the run)."""
    keys = sorted(plan.windows)
    if not keys:
        return []
    workers = max(1, min(plan.max_parallel, len(keys)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"{plan.flow}") as pool:
        if plan.step_by_step:
            outcomes = [RetailerOutcome(key) for key in keys]
            for flow_step in plan.steps:  # each phase shares reads made after the last one
                going = [o for o in outcomes if not o.failed and not o.skipped]
                phase, reads = _one_step(flow_step), RunReads(floor=_earliest_read(plan))
                list(pool.map(lambda o, p=phase, r=reads: _run_retailer(plan, o.retailer, p, o, r),
                              going))  # fmt: skip
        else:
            outcomes = list(pool.map(lambda key: _run_retailer(plan, key, _steps), keys))
        if plan.verify is not None:
            shared = RunReads(floor=_earliest_read(plan))
            done = [o for o in outcomes if not o.failed and not o.skipped]
            list(pool.map(lambda o: _run_retailer(plan, o.retailer, _verify, o, shared), done))
    return outcomes


def _earliest_read(plan: FlowPlan) -> datetime:
    """The earliest `updated_at` the run's retailers read: window start less lookback
    (the run's start for a flow without windows)."""
    starts = [s for w in plan.windows.values() for s, _ in w]
    if not starts:
        return plan.now
    lookback = max(
        (r.lookback_hours.orders for r in plan.registry.retailers if r.key in plan.windows),
        default=0,
    )
    return min(starts) - timedelta(hours=lookback)


def _steps(plan: FlowPlan, step: RetailerStep, outcome: RetailerOutcome) -> None:
    for flow_step in plan.steps:
        _one_step(flow_step)(plan, step, outcome)


def _one_step(flow_step: FlowStep):
    def phase(plan: FlowPlan, step: RetailerStep, outcome: RetailerOutcome) -> None:
        outcome.failed_step = flow_step.name
        outcome.reports[flow_step.name] = flow_step.run(step.at_step(flow_step.name))
        outcome.failed_step = None

    return phase


def _verify(plan: FlowPlan, step: RetailerStep, outcome: RetailerOutcome) -> None:
    outcome.failed_step = "checks"
    outcome.verified = plan.verify(step.at_step("checks"))
    outcome.failed_step = None


def _run_retailer(
    plan: FlowPlan,
    key: str,
    phase: Callable[[FlowPlan, RetailerStep, RetailerOutcome], None],
    outcome: RetailerOutcome | None = None,
    shared: RunReads | None = None,
) -> RetailerOutcome:
    """One phase (the steps, or the checks) for one retailer, with its own connection
    and clients; whatever it raises is kept in the outcome, never raised."""
    outcome = outcome or RetailerOutcome(key)
    try:
        retailer = plan.registry.retailer(key)
    except KeyError:
        outcome.error = LookupError(
            f"retailer '{key}' is not in the registry (known: {plan.registry.store_keys()[1:]}); "
            "its partition was added by hand and the registry sensor will remove it. "
            "Add the retailer to the registry to sync it."
        )
        outcome.failed_step = plan.steps[0].name if plan.steps else "checks"
        return outcome
    if not getattr(retailer.flows, plan.flow):
        outcome.skipped = f"the {plan.flow} flow is disabled for '{key}' in the registry"
        plan.log.info(outcome.skipped)
        return outcome
    with ExitStack() as stack:
        try:
            opened = dict(run_id=plan.run_id, recorder=plan.recorder)
            step = RetailerStep(
                retailer=retailer,
                client=stack.enter_context(plan.shopify.get_client(key, **opened)),
                hub=stack.enter_context(plan.shopify.get_client("hub", **opened)),
                conn=stack.enter_context(plan.postgres.get_connection()),
                windows=plan.windows[key],
                run_id=plan.run_id,
                now=plan.now,
                options=plan.options,
                log=plan.log,
                shared=shared,
                registry=plan.registry,
            )
            phase(plan, step, outcome)
        except Exception as exc:  # isolation: this retailer stops, the others go on
            outcome.error = exc
            head = outcome.error_head(known_secret_values(plan.registry))
            plan.log.error("retailer '%s' failed at %s: %s", key, outcome.failed_step, head)
    return outcome
