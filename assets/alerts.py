"""Alert digests from the flow assets: each problem emailed once, to ops and the retailer."""

import dagster as dg
import psycopg

from resources.email import EmailResource, enqueue_order_issues, recipients_for
from resources.email_templates import OrderIssue
from resources.registry import Registry


def alert_issues(
    context: dg.AssetExecutionContext,
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
        context.log.warning(issue.fix)
    fresh = enqueue_order_issues(
        conn, issues, recipients_for(registry, retailer), email.resolved_sender(), title
    )
    return len(fresh)
