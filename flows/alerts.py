"""Alert digests from the flow steps: each problem emailed once, to ops and the retailer."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import psycopg

from resources.email import (
    EmailResource,
    OutboxMessage,
    enqueue_order_issues,
    known_secret_values,
    rate_limited_key,
    recipients_for,
    redact,
)
from resources.email_templates import OrderIssue, run_failure_email
from resources.registry import Registry

#: The same retailer failing the same way in the same flow is emailed at most this often.
RETAILER_FAILURE_ALERT_EVERY = timedelta(hours=1)


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
        conn, issues, recipients_for(registry, retailer), email.resolved_sender(), title
    )
    return len(fresh)


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
) -> bool:
    """One email naming the retailer (None: the hub, for every retailer of the run), its
    partitions and the error head, to ops and that retailer's recipients; the same
    failure of the same flow is queued at most once an hour (FAULTS P5)."""
    secrets = known_secret_values(registry, [email.sendgrid_api_key_env])
    who = f"retailer '{retailer}'" if retailer else "the hub store"
    body = run_failure_email(
        f"{flow} flow", run_id, partitions, redact(f"{who} at {step}: {error}", secrets)
    )
    key = rate_limited_key(
        "retailer_failure",
        f"{flow}:{retailer or 'hub'}:{error_class}",
        RETAILER_FAILURE_ALERT_EVERY,
        datetime.now(UTC),
    )
    recipients = recipients_for(registry, retailer)
    if not recipients:
        return False
    return email.enqueue(OutboxMessage.of("run_failure", key, recipients, body))
