"""Alert digests and failure alerts from the flow steps: each problem emailed once, to ops
and the retailer, naming the flow, retailer, partitions, error head and the run's link.

The outbox applies the alert policy (grouping, quiet hours, critical mail at once);
this module only says what each alert is: its dedupe key (the event), its alert key
(the kind of trouble, whose repeats group) and whether it is critical.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import psycopg

from resources.email import (
    EmailResource,
    OutboxMessage,
    enqueue_order_issues,
    known_secret_values,
    recipients_for,
    redact,
    run_link,
)
from resources.email_templates import OrderIssue, run_failure_email
from resources.registry import Registry
from resources.shopify.auth import ShopifyReauthorizationRequired


def alert_issues(
    log: logging.Logger,
    email: EmailResource,
    registry: Registry,
    conn: psycopg.Connection,
    retailer: str,
    issues: list[OrderIssue],
    title: str,
) -> int:
    """Log every issue and queue one digest of those never alerted before; returns that count.

    Queuing goes to the outbox in Postgres; delivery is a sensor's job, so a provider
    outage never fails the sync run (FAULTS A1).
    """
    for issue in issues:
        log.warning(issue.fix)
    fresh = enqueue_order_issues(
        conn,
        issues,
        recipients_for(registry, retailer),
        email.resolved_sender(),
        title,
        policy=email.policy(),
    )
    return len(fresh)


def retailer_failure_alert_key(flow: str, retailer: str | None, error_class: str) -> str:
    """The kind of trouble: the same flow failing the same way for the same store."""
    return f"retailer_failure:{flow}:{retailer or 'hub'}:{error_class}"


def _failure_alert_key(flow: str, retailer: str | None, error_class: str) -> str:
    """A store whose grant is dead fails every flow the same way: one alert for the store
    (the others group on it), saying how to re-authorize (FAULTS A3)."""
    if error_class == ShopifyReauthorizationRequired.__name__:
        return f"reauthorize:{retailer or 'hub'}"
    return retailer_failure_alert_key(flow, retailer, error_class)


def flow_failed_everywhere(
    registry: Registry, flow: str, failed: Iterable[str], covered: Iterable[str]
) -> bool:
    """Whether a run's failure is the whole flow down (a critical alert): every retailer it
    covered failed, and it covered every retailer with the flow enabled in the registry.
    One retailer's partition failing in a run of that retailer alone is not."""
    failed, covered = set(failed), set(covered)
    enabled = {r.key for r in registry.enabled_retailers(flow)}
    return bool(failed) and failed == covered and enabled <= covered


def alert_retailer_failure(
    email: EmailResource,
    registry: Registry,
    *,
    flow: str,
    run_id: str,
    retailer: str | None,
    partitions: str,
    step: str,
    error: str,
    error_class: str,
    critical: bool = False,
    alert_key: str | None = None,
) -> bool:
    """One email naming the retailer (None: the hub, for every retailer of the run), the
    flow, its partitions, the error head and the run's link, to ops and that retailer's
    recipients. The event is this run's failure of that store; repeats of the same flow,
    store and error class group on one email (FAULTS P5). `critical` (the flow failed for
    every retailer: `flow_failed_everywhere`) goes at once, whatever the hour.
    True when a new email was queued."""
    secrets = known_secret_values(registry, [email.sendgrid_api_key_env])
    who = f"retailer '{retailer}'" if retailer else "the hub store"
    body = run_failure_email(
        f"{flow} flow",
        run_id,
        partitions,
        redact(f"{who} at {step}: {error}", secrets),
        flow=flow,
        retailer=retailer or "the hub store (it stopped every retailer named in the partition)",
        run_url=run_link(registry, run_id),
        critical=critical,
    )
    recipients = recipients_for(registry, retailer)
    if not recipients:
        return False
    message = OutboxMessage.of(
        "run_failure",
        f"retailer_failure:{run_id}:{retailer or 'hub'}",
        recipients,
        body,
        alert_key=alert_key or _failure_alert_key(flow, retailer, error_class),
        critical=critical,
    )
    return email.enqueue(message)
