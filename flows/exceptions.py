"""The exception queue's steps: read it, resolve what an operator handled by hand, retry
what a re-run can fix, and escalate what waited too long, once.

Retry: re-running an order's partition re-lands it and imports it once the cause is
fixed (a SKU added to the hub, an address added at the retailer). A refused hub order
or a terminal shipment is never retried by a re-run (a refusal is final until someone
fixes it, a terminal push is not retried in a storm), so `retry_exceptions` re-opens
those to `claimed` first, then runs the same flow steps over the hours of every
retryable item, through the same ledgers, locks and alerts as the scheduled runs.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import psycopg

from flows.alerts import alert_issues
from flows.fulfillments import land_hub_fulfillments, push_retailer_fulfillments
from flows.order_creation import create_hub_orders
from flows.orders import land_retailer_orders
from flows.runner import FlowPlan, FlowStep, RetailerOutcome, run_flow
from resources.email import EmailResource, OutboxMessage, known_secret_values, recipients_for
from resources.email import redact as redact_text
from resources.email_templates import RenderedEmail
from resources.ledgers import exceptions as ledger
from resources.mail import render_mail
from resources.postgres import PostgresResource
from resources.registry import Registry
from resources.shopify import CallRecorder, ShopifyResource
from sync.exceptions import (
    TABLE_COLUMNS,
    ExceptionItem,
    ExceptionKind,
    due_for_escalation,
    retry_windows,
    table_rows,
    with_text,
)

log = logging.getLogger(__name__)

#: The flow steps a retry runs, named like the assets (their API cost is labelled so),
#: with the digest title of the issues each reports.
RETRY_STEPS = {
    "orders": (
        (FlowStep("retailer_orders", land_retailer_orders), "Retailer orders that need attention"),
        (FlowStep("hub_orders", create_hub_orders), "Hub orders Shopify refused"),
    ),
    "fulfillments": (
        (FlowStep("hub_fulfillments", land_hub_fulfillments), None),
        (
            FlowStep("retailer_fulfillments", push_retailer_fulfillments),
            "Shipments that cannot be pushed to the retailer",
        ),
    ),
}
#: What a retry adds up from the steps' reports, per flow.
RETRY_FIGURES = {
    "orders": ("hub_orders_created", "hub_orders_healed", "hub_orders_refused"),
    "fulfillments": ("fulfillments_pushed", "fulfillments_healed", "terminal_new"),
}


def open_queue(conn: psycopg.Connection, registry: Registry, now: datetime) -> list[ExceptionItem]:
    """The open exceptions, with every known secret value redacted from their text (a
    refusal or a store error can quote anything)."""
    secrets = known_secret_values(registry)
    items = ledger.open_exceptions(conn, now, registry.partitions_start)
    return [with_text(i, lambda text: redact_text(text, secrets)) for i in items]


def resolve(
    conn: psycopg.Connection,
    items: Sequence[ExceptionItem],
    keys: Sequence[str],
    run_id: str | None,
    note: str = "",
) -> tuple[list[str], list[str]]:
    """Mark the open items with these keys handled; (resolved now, keys not in the queue)."""
    by_key = {i.key: i for i in items}
    unknown = [k for k in keys if k not in by_key]
    chosen = [by_key[k] for k in dict.fromkeys(keys) if k in by_key]
    return ledger.record_resolutions(conn, chosen, run_id, note), unknown


@dataclass
class RetryPlan:
    """What a retry needs to run the flows (the asset passes its resources)."""

    registry: Registry
    shopify: ShopifyResource
    postgres: PostgresResource
    email: EmailResource
    recorder: CallRecorder
    run_id: str
    now: datetime
    log: logging.Logger = field(default_factory=lambda: log)


@dataclass
class RetryReport:
    reopened_orders: int = 0
    reopened_shipments: int = 0
    windows: dict[str, int] = field(default_factory=dict)  # flow -> hour windows re-run
    retailers: int = 0  # retailer runs made (one per flow and retailer)
    figures: dict[str, int] = field(default_factory=dict)
    failed: list[RetailerOutcome] = field(default_factory=list)

    def metadata(self) -> dict[str, int]:
        out = {
            "retry_reopened_refused_orders": self.reopened_orders,
            "retry_reopened_terminal_shipments": self.reopened_shipments,
            "retry_failed_retailers": len(self.failed),
        }
        out.update({f"retry_{flow}_windows": n for flow, n in sorted(self.windows.items())})
        out.update({f"retry_{name}": n for name, n in sorted(self.figures.items())})
        return out


def retry_exceptions(plan: RetryPlan, items: Sequence[ExceptionItem]) -> RetryReport:
    """Re-open refused orders and terminal shipments, then re-run the order and fulfillment
    steps over the hours of every retryable item; each retailer isolated as in any run."""
    report = RetryReport()
    with plan.postgres.get_connection() as conn:
        for retailer, gids in _subjects(items, ExceptionKind.REFUSED).items():
            report.reopened_orders += ledger.reopen_refused_orders(conn, retailer, gids)
        for retailer, gids in _subjects(items, ExceptionKind.TERMINAL_SHIPMENT).items():
            report.reopened_shipments += ledger.reopen_terminal_shipments(conn, retailer, gids)
    for flow, windows in retry_windows(items).items():
        steps = RETRY_STEPS[flow]
        outcomes = run_flow(
            FlowPlan(
                flow=flow,
                steps=[s for s, _ in steps],
                windows=windows,
                registry=plan.registry,
                shopify=plan.shopify,
                postgres=plan.postgres,
                recorder=plan.recorder,
                run_id=plan.run_id,
                now=plan.now,
                log=plan.log,
            )
        )
        report.windows[flow] = sum(len(w) for w in windows.values())
        for name in RETRY_FIGURES[flow]:
            report.figures[name] = sum(
                r.counts.get(name, 0) for o in outcomes for r in o.reports.values()
            )
        report.retailers += len(outcomes)
        report.failed += [o for o in outcomes if o.failed]
        _alert(plan, outcomes, {s.name: title for s, title in steps})
    return report


def _subjects(items: Sequence[ExceptionItem], kind: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for item in items:
        if item.kind == kind:
            found.setdefault(item.retailer, []).append(item.subject)
    return found


def _alert(plan: RetryPlan, outcomes: list[RetailerOutcome], titles: dict) -> None:
    """New issues a retry finds are alerted once, like a scheduled run's (known ones were
    claimed when first alerted and stay quiet); an outbox error is logged, never raised."""
    with plan.postgres.get_connection() as conn:
        for outcome in outcomes:
            for name, report in outcome.reports.items():
                if not report.issues:
                    continue
                try:
                    alert_issues(plan.log, plan.email, plan.registry, conn, outcome.retailer,
                                 report.issues, titles.get(name) or name)  # fmt: skip
                except Exception as exc:  # an alert must never cost the retry its report
                    plan.log.error("could not queue an alert: %s: %s", type(exc).__name__, exc)


def escalation_email(items: Sequence[ExceptionItem], hours: float, ui_url: str) -> RenderedEmail:
    n = len(items)
    subject = f"{n} exception{'s' if n != 1 else ''} waiting over {hours:g} h"
    return render_mail(
        "exception_escalation",
        subject,
        items=list(items),
        hours=f"{hours:g}",
        columns=TABLE_COLUMNS,
        rows=table_rows(items),
        queue_url=f"{ui_url.rstrip('/')}/assets/exception_queue",
    )


def escalate(
    conn: psycopg.Connection,
    email: EmailResource,
    registry: Registry,
    items: Sequence[ExceptionItem],
    now: datetime,
    logger: logging.Logger = log,
) -> list[ExceptionItem]:
    """Queue one email listing the items that waited longer than the registry's
    `exception_escalate_hours` and never escalated; returns them. Each item's claim
    (`escalated:<key>` in `email_alerted`) commits with the email's outbox row, so a
    re-run, or two runs racing, escalate an item once."""
    hours = registry.operations.exception_escalate_hours
    due = due_for_escalation(items, now, timedelta(hours=hours))
    if not due:
        return []
    recipients = recipients_for(registry)
    if not recipients:
        logger.warning("%d exceptions are due to escalate, but notifications.recipients is "
                       "empty: set it to email the operators", len(due))  # fmt: skip
        return []
    with conn.transaction():
        claimed = ledger.claim_escalations(conn, [i.key for i in due])
        fresh = [i for i in due if i.key in claimed]
        if not fresh:
            return []
        digest = hashlib.sha256("\n".join(sorted(claimed)).encode()).hexdigest()[:20]
        dedupe_key = f"exception_escalation:{digest}"
        body = escalation_email(fresh, hours, registry.notifications.ui_url)
        # The alert key names this batch: the outbox groups repeats of one key into one
        # email's counter, and a newer batch lists other orders, so it must be its own email.
        message = OutboxMessage.of("exception_escalation", dedupe_key, recipients, body,
                                   alert_key=dedupe_key, critical=False)  # fmt: skip
        email.enqueue(message, conn=conn)
        ledger.link_escalations(conn, claimed, dedupe_key)
    logger.warning("escalated %d exceptions waiting over %g h", len(fresh), hours)
    return fresh
