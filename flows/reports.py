"""What the daily summary and the weekly report share: a report is facts, one chart and
titled tables, rendered once into UI markdown and once into an email, so the operator
reads the same figures in the Dagster UI and in the inbox.

Every cell is escaped by its renderer (`sync.markdown` for the UI, Jinja2's autoescape
for HTML mail), and known secrets are redacted from both, as for every alert.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import psycopg

from resources.charts import data_uri
from resources.email import (
    EmailResource,
    InlineImage,
    OutboxMessage,
    known_secret_values,
    recipients_for,
    redact,
)
from resources.mail import render_mail
from resources.registry import Registry
from sync.markdown import md_table, md_text

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Section:
    title: str
    columns: Sequence[str]
    rows: Sequence[Sequence[object]]
    empty: str = "Nothing to show."


@dataclass(frozen=True)
class Report:
    """A rendered-to-be report: `kind` names its template's footer and its outbox kind."""

    kind: str  # "daily_summary" | "weekly_report"
    title: str
    facts: Sequence[tuple[str, object]]
    sections: Sequence[Section]
    chart: bytes  # PNG
    chart_name: str  # file name of the chart in the mail


def report_markdown(report: Report, secrets: Sequence[str] = ()) -> str:
    """The UI's view: facts, the chart as a data URI, each section a table."""
    parts = [f"## {md_text(report.title)}"]
    parts.append(md_table(["figure", "value"], report.facts))
    parts.append(f"![chart of {md_text(report.title)}]({data_uri(report.chart)})")
    for section in report.sections:
        parts.append(f"### {md_text(section.title)}")
        parts.append(md_table(section.columns, section.rows) if section.rows else section.empty)
    return redact("\n\n".join(parts), secrets)


def queue_report(
    conn: psycopg.Connection,
    email: EmailResource,
    reg: Registry,
    report: Report,
    dedupe_key: str,
    *,
    now: datetime | None = None,
) -> bool:
    """Queue the report's email (HTML with the chart inline, and a text part); False when
    it was queued before under `dedupe_key` or there is nobody to send it to."""
    recipients = recipients_for(reg)
    if not recipients:
        log.warning("%s not emailed: set notifications.recipients", report.kind)
        return False
    content_id = report.chart_name.rsplit(".", 1)[0]
    body = render_mail(
        "report", report.title, facts=report.facts, sections=report.sections,
        chart_cid=content_id, footer=report.kind.replace("_", " "),
        ui_url=f"{reg.notifications.ui_url.rstrip('/')}/assets/{report.kind}",
    )  # fmt: skip
    secrets = known_secret_values(reg, [email.sendgrid_api_key_env])
    body = replace(body, html=redact(body.html, secrets), text=redact(body.text, secrets))
    image = InlineImage(content_id=content_id, filename=report.chart_name, data=report.chart)
    message = OutboxMessage.of(report.kind, dedupe_key, recipients, body, images=[image])
    return email.enqueue(message, conn=conn, now=now)


def publish(
    conn: psycopg.Connection,
    email: EmailResource,
    reg: Registry,
    report: Report,
    dedupe_key: str | None,
) -> tuple[str, bool]:
    """The report's UI markdown, and whether its email was queued (only with a key)."""
    markdown = report_markdown(report, known_secret_values(reg, [email.sendgrid_api_key_env]))
    emailed = bool(dedupe_key) and queue_report(conn, email, reg, report, dedupe_key)
    return markdown, emailed
