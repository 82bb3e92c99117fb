"""The flows' checks as Dagster asset checks, partitioned like the assets they judge.

The scheduled and backfill runs evaluate these checks inside the flow's step
(`assets/flow_asset.py`), on every partition they cover. These definitions make
the same checks visible in the UI and runnable on their own for one partition
("Execute" on the check): they run the same functions from `flows/`, for that
partition's retailer and hour, through the same resources.
"""

import warnings
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import dagster as dg

from assets.partitions import retailer_windows
from flows.runner import FlowPlan, run_flow
from flows.verdicts import CheckVerdict
from resources.postgres import PostgresResource
from resources.registry import RegistryResource
from resources.shopify import PostgresCallRecorder, ShopifyResource


def build_flow_checks(
    flow: str,
    flow_asset: dg.AssetsDefinition,
    checks: Sequence[tuple[str, str, bool, str]],  # (name, asset, blocking, description)
    verify: Callable,
) -> dg.AssetChecksDefinition:
    """One multi-asset check per flow: a single store read serves all its checks."""
    with warnings.catch_warnings():  # partitioned checks are a Dagster preview: we opt in
        warnings.simplefilter("ignore")
        specs = [
            dg.AssetCheckSpec(
                name,
                asset=asset,
                blocking=blocking,
                description=description,
                partitions_def=flow_asset.partitions_def,
            )
            for name, asset, blocking, description in checks
        ]

    @dg.multi_asset_check(name=f"{flow}_checks", specs=specs, can_subset=False)
    def _checks(
        context: dg.AssetCheckExecutionContext,
        registry: RegistryResource,
        shopify: ShopifyResource,
        postgres: PostgresResource,
    ):
        keys = [context.op_execution_context.partition_key]
        recorder = PostgresCallRecorder(postgres.get_connection)
        plan = FlowPlan(
            flow=flow, steps=[], windows=retailer_windows(keys), registry=registry.get(),
            shopify=shopify, postgres=postgres, recorder=recorder, run_id=context.run.run_id,
            now=datetime.now(UTC), log=context.log, verify=verify,
        )  # fmt: skip
        try:
            (outcome,) = run_flow(plan)
        finally:
            recorder.close()
        if outcome.failed:
            raise outcome.error
        for verdict in outcome.verified or []:
            yield _result(verdict)

    return _checks


def _result(verdict: CheckVerdict) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        asset_key=verdict.asset,
        check_name=verdict.check,
        passed=verdict.passed,
        severity=dg.AssetCheckSeverity.WARN if verdict.warn_only else dg.AssetCheckSeverity.ERROR,
        metadata=verdict.metadata,
    )
