"""The doctor's procedures: what each of the guide's five checks looks at, per store.

`flows.doctor.run_checks` opens the connections and probes each store once; these
functions judge that shared state (`DoctorRun`) procedure by procedure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg

from flows import doctor_db as dbc
from flows import doctor_email as mail
from flows.doctor_store import StoreProbe, location_check, scope_check, sku_check, store_skus
from resources.email import EmailResource
from resources.registry import Registry, RetailerConfig
from resources.shopify import ShopifyError, ShopifyResource
from sync import doctor as d
from sync.doctor import CheckResult, Verdict
from sync.sku_matching import HubSkus

_OUTBOX_FIX = "see the email procedure's SendGrid check and shopsync.email_outbox.last_error"
_FULFILLMENTS_OFF = "flows.fulfillments is off: hub shipments are not pushed"


@dataclass(frozen=True)
class DoctorInputs:
    shopify: ShopifyResource
    email: EmailResource
    database_url: str
    registry_path: str | None = None
    retailer: str | None = None
    now: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class DoctorRun:
    inputs: DoctorInputs
    registry: Registry
    retailers: list[RetailerConfig]
    conn: psycopg.Connection | None
    probes: dict[str, StoreProbe]
    results: list[CheckResult] = field(default_factory=list)

    def add(self, result: CheckResult | None) -> None:
        if result is not None:
            self.results.append(result)

    def guard(
        self, procedure: str, check: str, store: str, fn: Callable[..., CheckResult], *args, **kw
    ) -> bool:
        """Run one Shopify check; an API error becomes its FAIL. True when it passed."""
        try:
            result = fn(*args, **kw)
        except ShopifyError as exc:
            result = CheckResult(
                procedure=procedure,
                check=check,
                verdict=Verdict.FAIL,
                store=store,
                detail=exc.detail,
                fix=f"see the access scopes check of '{store}' and the error",
            )
        self.add(result)
        return result.verdict is not Verdict.FAIL


def _errors(run: DoctorRun, procedure: str, retailer: str, like: str) -> CheckResult | None:
    if run.conn is None:
        return None
    errors = dbc.recent_api_errors(run.conn, retailer, like, run.inputs.now)
    if not errors:
        return CheckResult(
            procedure=procedure,
            check="recent errors",
            verdict=Verdict.PASS,
            detail="no API errors in the last 24 h",
            store=retailer,
        )
    listed = ", ".join(f"{code} ×{n}" for code, n in errors.items())
    return CheckResult(
        procedure=procedure,
        check="recent errors",
        verdict=Verdict.WARN,
        store=retailer,
        detail=f"API errors in the last 24 h: {listed}",
        fix=f"read the failed runs of '{retailer}' in the UI (run ids in shopsync.api_calls)",
    )


def inventory(run: DoctorRun) -> None:
    hub = run.probes[run.registry.hub.key]
    mine = [r for r in run.retailers if r.flows.inventory]
    hub_skus = _hub_skus(run, hub) if hub.ok and mine else None
    if hub.ok and not mine:
        run.add(scope_check("inventory_sync", hub, d.INVENTORY_HUB_SCOPES))
    for r in mine:
        p = run.probes[r.key]
        if p.ok:
            run.add(scope_check("inventory_sync", p, d.INVENTORY_RETAILER_SCOPES))
            found = run.guard(
                "inventory_sync", "location hub_location_id", r.key,
                location_check, "inventory_sync", p, r.hub_location_id, "hub_location_id",
            )  # fmt: skip
            if found and hub_skus is not None:
                run.guard("inventory_sync", "SKU mappings", r.key, sku_check, hub_skus, p, r)
        run.add(_errors(run, "inventory_sync", r.key, "%inventory%"))


def _hub_skus(run: DoctorRun, hub: StoreProbe) -> HubSkus | None:
    """The hub's scopes and location, then its SKUs (None when any of that fails)."""
    scopes = scope_check("inventory_sync", hub, d.INVENTORY_HUB_SCOPES)
    run.add(scopes)
    loc = run.registry.hub.location_id
    found = run.guard(
        "inventory_sync", "location location_id", hub.store.key,
        location_check, "inventory_sync", hub, loc, "location_id",
    )  # fmt: skip
    if not found or scopes.verdict is Verdict.FAIL:
        return None
    try:
        return HubSkus(store_skus(hub, loc))
    except ShopifyError as exc:
        run.add(CheckResult(
            procedure="inventory_sync", check="SKU mappings", verdict=Verdict.FAIL,
            store=hub.store.key, detail=f"reading the hub's SKUs failed: {exc.detail}",
            fix=f"check the hub's access scopes and that {hub.store.shop_domain} is open",
        ))  # fmt: skip
        return None


def orders(run: DoctorRun) -> None:
    reg = run.registry
    run.add(
        CheckResult(
            procedure="order_import",
            check="registry entry valid",
            verdict=Verdict.PASS,
            detail=f"hub and {len(reg.retailers)} retailers valid",
        )
    )
    for p in run.probes.values():
        run.add(p.token)
    hub = run.probes[reg.hub.key]
    if hub.ok:
        run.add(scope_check("order_import", hub, d.ORDER_HUB_SCOPES))
    for r in (r for r in run.retailers if r.flows.orders):
        p = run.probes[r.key]
        if p.ok:
            run.add(scope_check("order_import", p, d.ORDER_RETAILER_SCOPES))
        problem = d.lookback_problem("orders", r.lookback_hours.orders, r.hold_window_minutes)
        run.add(
            CheckResult(
                procedure="order_import",
                check="lookback hours",
                store=r.key,
                verdict=Verdict.WARN if problem else Verdict.PASS,
                detail=problem
                or f"{r.lookback_hours.orders} h, hold window {r.hold_window_minutes:g} min",
                fix=f"set lookback_hours.orders of '{r.key}' between 1 and "
                f"{d.MAX_SANE_LOOKBACK_HOURS}, above the hold window"
                if problem
                else None,
            )
        )
    if run.conn is None:
        run.add(
            CheckResult(
                procedure="order_import",
                check="database reachable",
                verdict=Verdict.FAIL,
                detail=f"cannot connect to {dbc.where(run.inputs.database_url)}",
                fix="see the database procedure's connectivity fix",
            )
        )
        return
    run.add(
        CheckResult(
            procedure="order_import",
            check="database reachable",
            verdict=Verdict.PASS,
            detail=dbc.where(run.inputs.database_url),
        )
    )
    failed, waiting = mail.outbox_backlog(run.conn, run.inputs.now)
    bad = failed or waiting
    run.add(
        CheckResult(
            procedure="order_import",
            check="email outbox deliverable",
            verdict=Verdict.WARN if bad else Verdict.PASS,
            detail=f"{failed} given up on in 24 h, {waiting} due for over an hour",
            fix=_OUTBOX_FIX if bad else None,
        )
    )


def fulfillments(run: DoctorRun) -> None:
    hub = run.probes[run.registry.hub.key]
    mine = [r for r in run.retailers if r.flows.fulfillments]
    if hub.ok and mine:
        run.add(scope_check("fulfillment_push", hub, d.FULFILLMENT_HUB_SCOPES))
    for r in run.retailers:
        if not r.flows.fulfillments:
            run.add(
                CheckResult(
                    procedure="fulfillment_push",
                    check="flow enabled",
                    store=r.key,
                    verdict=Verdict.WARN,
                    detail=_FULFILLMENTS_OFF,
                    fix=f"set flows.fulfillments: true for '{r.key}' if the hub ships its orders",
                )
            )
            continue
        problem = d.lookback_problem("fulfillments", r.lookback_hours.fulfillments)
        run.add(
            CheckResult(
                procedure="fulfillment_push",
                check="flow settings",
                store=r.key,
                verdict=Verdict.WARN if problem else Verdict.PASS,
                detail=problem or f"enabled, lookback {r.lookback_hours.fulfillments} h",
                fix=f"set lookback_hours.fulfillments of '{r.key}' between 1 and "
                f"{d.MAX_SANE_LOOKBACK_HOURS}"
                if problem
                else None,
            )
        )
        p = run.probes[r.key]
        if p.ok:
            run.add(scope_check("fulfillment_push", p, d.FULFILLMENT_RETAILER_SCOPES))
            run.guard(
                "fulfillment_push",
                "location hub_location_id",
                r.key,
                location_check,
                "fulfillment_push",
                p,
                r.hub_location_id,
                "hub_location_id",
                fulfils=True,
            )
        if run.conn is not None:
            run.add(_backlog(run.conn, r.key, run.inputs.now))
        run.add(_errors(run, "fulfillment_push", r.key, "%fulfillment%"))


def _backlog(conn: psycopg.Connection, retailer: str, now: datetime) -> CheckResult:
    b = dbc.fulfillment_backlog(conn, retailer, now)
    detail = (
        f"{b['stuck']} claimed over 1 h ago, {b['given_up']} given up on in 24 h, "
        f"{b['unclaimed']} hub shipments not yet pushed after 1 h"
    )
    if not any(b.values()):
        return CheckResult(
            procedure="fulfillment_push",
            check="pending fulfillments",
            store=retailer,
            verdict=Verdict.PASS,
            detail="none pending",
        )
    return CheckResult(
        procedure="fulfillment_push",
        check="pending fulfillments",
        store=retailer,
        verdict=Verdict.WARN,
        detail=detail,
        fix=f"run fulfillments_job for '{retailer}'; fulfillment_links.last_error says why",
    )


def email_checks(run: DoctorRun) -> None:
    run.add(mail.sendgrid_check(run.inputs.email, run.registry))
    run.add(mail.template_check())
    run.add(mail.recipients_check(run.registry))
    if run.conn is None:
        run.add(
            CheckResult(
                procedure="email",
                check="test send to outbox",
                verdict=Verdict.FAIL,
                detail="the outbox is in the database, which is unreachable",
                fix="see the database procedure's connectivity fix",
            )
        )
        return
    run.add(mail.outbox_check(run.conn, run.registry))
