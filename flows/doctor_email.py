"""The doctor's email checks: the SendGrid key, templates, recipients and the outbox.

The key is proven with a sandbox-mode `/v3/mail/send`: SendGrid authenticates and
validates the request but delivers nothing, so the check mails no one. The outbox test
queues a real message through `queue_email` inside a transaction that is rolled back.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import psycopg
from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import Mail, MailSettings, SandBoxMode

from resources.email import EmailResource, OutboxMessage, policy_from_registry, queue_email
from resources.email_templates import order_issues_email, run_failure_email
from resources.registry import Registry
from sync.doctor import CheckResult, Verdict


def _mail(check: str, verdict: Verdict, detail: str, fix: str | None = None) -> CheckResult:
    return CheckResult(procedure="email", check=check, verdict=verdict, detail=detail, fix=fix)


def sendgrid_check(email: EmailResource, registry: Registry) -> CheckResult:
    env = email.sendgrid_api_key_env
    if not email.delivers():
        return _mail(
            "SendGrid key",
            Verdict.WARN,
            f"{env} is not set: mail stays in the outbox (outbox-only mode)",
            f"export a SendGrid API key with Mail Send permission in {env}",
        )
    key = os.environ.get(env, "")
    if not key:
        return _mail(
            "SendGrid key",
            Verdict.FAIL,
            f"delivery is on but {env} is empty",
            f"export a SendGrid API key in {env}",
        )
    sender = email.sender or registry.notifications.sender
    mail = Mail(
        sender,
        registry.notifications.recipients or [sender],
        "shopsync doctor",
        plain_text_content="shopsync doctor: sandbox test, not delivered",
    )
    mail.mail_settings = MailSettings(sandbox_mode=SandBoxMode(True))
    try:
        client = SendGridAPIClient(api_key=key, host=email.sendgrid_host)
        client.client.timeout = email.timeout_seconds
        client.send(mail)
    except HTTPError as exc:
        if exc.status_code in (401, 403):
            return _mail(
                "SendGrid key",
                Verdict.FAIL,
                f"SendGrid rejected the key in {env} (HTTP {exc.status_code})",
                f"create a SendGrid key with Mail Send permission and export it in {env}",
            )
        return _mail(
            "SendGrid key",
            Verdict.FAIL,
            f"SendGrid answered HTTP {exc.status_code}",
            f"check the sender {sender} is a verified SendGrid sender",
        )
    except Exception as exc:  # any outage shape: report it, never crash the doctor
        return _mail(
            "SendGrid key",
            Verdict.FAIL,
            f"SendGrid unreachable at {email.sendgrid_host}: {type(exc).__name__}",
            "check outbound HTTPS to api.sendgrid.com (proxy, firewall)",
        )
    return _mail("SendGrid key", Verdict.PASS, f"the key in {env} is accepted (sandbox send)")


def template_check() -> CheckResult:
    try:
        rendered = [
            run_failure_email("doctor_job", "doctor", None, "doctor test error", flow="orders"),
            order_issues_email([], "Orders that need attention"),
        ]
    except Exception as exc:  # a template bug must show as a verdict, not a traceback
        return _mail(
            "templates render",
            Verdict.FAIL,
            f"{type(exc).__name__}: {exc}",
            "fix resources/email_templates.py (see the error)",
        )
    empty = [r.subject for r in rendered if not (r.html and r.text and r.subject)]
    if empty:
        return _mail(
            "templates render",
            Verdict.FAIL,
            f"empty parts in {empty}",
            "fix resources/email_templates.py",
        )
    return _mail("templates render", Verdict.PASS, f"{len(rendered)} templates render")


def recipients_check(registry: Registry) -> CheckResult:
    n = registry.notifications
    if not n.recipients:
        return _mail(
            "recipients",
            Verdict.WARN,
            "no notifications.recipients: alerts go nowhere",
            "list the operators' addresses in notifications.recipients",
        )
    if n.sender.endswith(".localdomain"):
        return _mail(
            "recipients",
            Verdict.WARN,
            f"sender {n.sender} is a placeholder",
            "set notifications.sender to a SendGrid-verified address",
        )
    return _mail("recipients", Verdict.PASS, f"{len(n.recipients)} recipients, sender {n.sender}")


def outbox_check(conn: psycopg.Connection, registry: Registry) -> CheckResult:
    sender = registry.notifications.sender
    message = OutboxMessage.of(
        "doctor",
        f"doctor:{datetime.now(UTC).isoformat()}",
        registry.notifications.recipients or [sender],
        run_failure_email("doctor_job", "doctor", None, "doctor outbox test"),
    )
    try:
        with conn.transaction():
            result = queue_email(conn, message, sender, policy_from_registry(registry))
            raise psycopg.Rollback()
    except psycopg.Error as exc:
        return _mail(
            "test send to outbox",
            Verdict.FAIL,
            f"queueing failed: {exc}",
            "run `shopsync migrate`; the user must write shopsync.email_outbox",
        )
    if result.outcome != "new":
        return _mail(
            "test send to outbox",
            Verdict.FAIL,
            f"queued as {result.outcome}, not new",
            "look for a stuck 'doctor:' row in shopsync.email_outbox",
        )
    return _mail("test send to outbox", Verdict.PASS, "queued a message (rolled back)")


def outbox_backlog(conn: psycopg.Connection, now: datetime) -> tuple[int, int]:
    """(messages given up on in the last day, due messages waiting over an hour)."""
    row = conn.execute(
        "SELECT count(*) FILTER (WHERE status = 'failed' AND created_at >= %s),"
        " count(*) FILTER (WHERE status = 'queued' AND next_attempt_at < %s)"
        " FROM shopsync.email_outbox",
        (now - timedelta(hours=24), now - timedelta(hours=1)),
    ).fetchone()
    return row[0], row[1]
