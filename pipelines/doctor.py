"""`shopsync doctor` and `doctor_job`: the same checks from a terminal and from the UI.

The job logs one asset observation per procedure (`doctor/<procedure>`), whose metadata
is a table of its checks, so the UI shows the last verdicts next to the flows' assets;
the run fails when any check FAILs, which is what a run-failure alert keys on.
"""

import argparse
import sys

import dagster as dg

from flows.doctor import DoctorInputs, run_checks
from pipelines.resources import build_resources
from resources.email import EmailResource
from resources.postgres import PostgresResource
from resources.registry import RegistryResource
from resources.shopify import ShopifyResource
from sync.doctor import (
    PROCEDURES,
    CheckResult,
    Verdict,
    exit_status,
    grouped,
    render_json,
    render_text,
    worst,
)


class DoctorConfig(dg.Config):
    retailer: str | None = None


def _table(results: list[CheckResult]) -> str:
    rows = ["| verdict | check | store | detail | fix |", "|---|---|---|---|---|"]
    for r in results:
        cells = [r.verdict, r.check, r.store or "", r.detail, r.fix or ""]
        rows.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    return "\n".join(rows)


@dg.op(name="doctor", description="Run the operations guide's troubleshooting checks.")
def doctor_op(
    context: dg.OpExecutionContext,
    config: DoctorConfig,
    shopify: ShopifyResource,
    email: EmailResource,
    postgres: PostgresResource,
    registry: RegistryResource,
) -> None:
    results = run_checks(
        DoctorInputs(
            shopify=shopify,
            email=email,
            database_url=postgres.resolved_url(),
            registry_path=registry.path,
            retailer=config.retailer,
        )
    )
    for procedure, mine in grouped(results).items():
        context.log_event(
            dg.AssetObservation(
                asset_key=dg.AssetKey(["doctor", procedure]),
                description=f"{PROCEDURES[procedure]}: {worst(mine)}",
                metadata={
                    "verdict": str(worst(mine)),
                    "checks": dg.MetadataValue.md(_table(mine)),
                    **{
                        f"{r.check}{f' [{r.store}]' if r.store else ''}": f"{r.verdict}: {r.detail}"
                        for r in mine
                    },
                },
            )
        )
    failed = [r for r in results if r.verdict is Verdict.FAIL]
    if failed:
        raise dg.Failure(
            description=f"{len(failed)} doctor check(s) failed: "
            + "; ".join(f"{r.check} [{r.store or '-'}]: {r.fix}" for r in failed),
            metadata={"report": dg.MetadataValue.md(_table(failed))},
        )


@dg.job(description="Check the stores, the database and email as the operations guide does.")
def doctor_job() -> None:
    doctor_op()


def add_doctor_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--retailer", metavar="KEY", help="check only this retailer (and the hub)")
    parser.add_argument("--json", action="store_true", help="print the verdicts as JSON")


def run_doctor(args: argparse.Namespace) -> int:
    """Run the checks; print text or JSON; 0 when nothing FAILed."""
    path = getattr(args, "registry", None)
    resources = build_resources(str(path) if path else None)
    postgres = resources["postgres"]
    try:
        results = run_checks(
            DoctorInputs(
                shopify=resources["shopify"],
                email=resources["email"],
                database_url=postgres.resolved_url(),
                registry_path=str(path) if path else None,
                retailer=args.retailer,
            )
        )
    finally:
        postgres.close()
    sys.stdout.write((render_json(results) if args.json else render_text(results)) + "\n")
    return exit_status(results)
