"""`shopsync doctor`: the operations guide's five troubleshooting procedures, run as checks.

The order follows the guide: the registry, then the database (most other checks read
it), then each store probed once (token and scopes), then the procedures. A check
that cannot run because something it depends on failed is left out; the failure it
depends on is reported with its fix, which is the one thing to do first.
"""

from __future__ import annotations

from flows import doctor_db as dbc
from flows.doctor_procedures import (
    DoctorInputs,
    DoctorRun,
    email_checks,
    fulfillments,
    inventory,
    orders,
)
from flows.doctor_store import probe
from resources.registry import RegistryError, load_registry, registry_path
from sync import doctor as d
from sync.doctor import CheckResult, Verdict

__all__ = ["DoctorInputs", "run_checks"]


def run_checks(inputs: DoctorInputs) -> list[CheckResult]:
    """Every check of the five procedures (for one retailer and the hub when `retailer`)."""
    db_results, reachable = dbc.database_checks(inputs.database_url)
    try:
        registry = load_registry(inputs.registry_path)
    except RegistryError as exc:
        return [_registry_fail(exc), *db_results]
    retailers = registry.retailers
    if inputs.retailer:
        retailers = [r for r in retailers if r.key == inputs.retailer]
        if not retailers:
            return [
                CheckResult(
                    procedure="order_import",
                    check="registry entry valid",
                    verdict=Verdict.FAIL,
                    detail=f"no retailer '{inputs.retailer}' in {registry_path_label(inputs)}",
                    fix=f"use one of: {', '.join(r.key for r in registry.retailers)}",
                ),
                *db_results,
            ]
    conn = dbc.connect(inputs.database_url) if reachable else None
    stores = [registry.hub, *retailers]
    probes = {s.key: probe(inputs.shopify, s, "order_import") for s in stores}
    run = DoctorRun(inputs, registry, retailers, conn, probes, db_results)
    try:
        inventory(run)
        orders(run)
        fulfillments(run)
        email_checks(run)
    finally:
        for p in probes.values():
            if p.client is not None:
                p.client.close()
        if conn is not None:
            conn.close()
    order = list(d.PROCEDURES)
    return sorted(run.results, key=lambda r: order.index(r.procedure))


def registry_path_label(inputs: DoctorInputs) -> str:
    return str(registry_path(inputs.registry_path))


def _registry_fail(exc: RegistryError) -> CheckResult:
    return CheckResult(
        procedure="order_import",
        check="registry entry valid",
        verdict=Verdict.FAIL,
        detail="; ".join(exc.problems),
        fix=f"correct {exc.path}: {exc.problems[0]}",
    )
