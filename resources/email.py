"""Email alerts through a Postgres outbox, delivered by SendGrid when a key is configured.

Every message is first a row of `shopsync.email_outbox`, written in the caller's
transaction; `deliver_pending()` sends due rows later. So a SendGrid outage (FAULTS
A1) never fails a sync run: the row stays queued and goes out on a later tick. The
unique `dedupe_key` makes "alert once" a database fact, and a time bucket in the
key rate-limits a family of alerts (one auth-failure alert per store per hour, P5).

The SendGrid key is read from the environment at send time, never stored in
config, and scrubbed (with every store token) from anything we write.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import dagster as dg
import psycopg
from pydantic import BaseModel, ConfigDict, Field, field_validator
from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import Mail

from resources.email_templates import OrderIssue, RenderedEmail, clean_subject, order_issues_email
from resources.postgres import PostgresResource
from resources.registry import Registry, RegistryError, load_registry

log = logging.getLogger(__name__)

__all__ = [
    "EmailResource",
    "InlineImage",
    "OutboxMessage",
    "enqueue_email",
    "enqueue_order_issues",
    "known_secret_values",
    "rate_limited_key",
    "recipients_for",
    "redact",
]

REDACTED = "[redacted]"
_MIN_SECRET = 4  # shorter values would blank out ordinary words; no real token is that short
_SECRET_PATTERNS = [
    (re.compile(r"(?i)\b(bearer\s+)[^\s'\",}]+"), r"\1" + REDACTED),
    (
        re.compile(r"(?i)(x-shopify-access-token['\"]?\s*[:=]\s*['\"]?)[^\s'\",}]+"),
        r"\1" + REDACTED,
    ),
    (re.compile(r"\bSG\.[\w-]{8,}\.[\w-]{8,}"), REDACTED),
    (re.compile(r"\bshp(?:at|ca|pa|ss)_[0-9a-fA-F]{16,}"), REDACTED),
]


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every known secret value, and anything shaped like a token, replaced.

    Use on any text bound for an email, a database row, Dagster metadata or a log.
    """
    for secret in sorted({s for s in secrets if s and len(s) >= _MIN_SECRET}, key=len)[::-1]:
        text = text.replace(secret, REDACTED)
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def known_secret_values(
    registry: Registry | None = None, env_names: Iterable[str] = ("SENDGRID_API_KEY",)
) -> list[str]:
    """Current values of every store's `token_env` and of `env_names` (the SendGrid key)."""
    names = list(env_names)
    try:
        names += [store.token_env for store in (registry or load_registry()).stores()]
    except RegistryError:
        log.warning("registry unreadable: redacting only the values of %s", ", ".join(names))
    return [value for name in dict.fromkeys(names) if (value := os.environ.get(name))]


class _RedactingFilter(logging.Filter):
    """Scrubs a library's log records; python_http_client logs request headers at DEBUG."""

    secrets: tuple[str, ...] = ()

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage(), self.secrets), ()
        return True


_HTTP_LOG_FILTER = _RedactingFilter()
logging.getLogger("python_http_client.client").addFilter(_HTTP_LOG_FILTER)


class InlineImage(BaseModel):
    """A picture shown inside the HTML part (`<img src="cid:{content_id}">`)."""

    model_config = ConfigDict(frozen=True)

    content_id: str = Field(pattern=r"^[A-Za-z0-9._-]+$")
    filename: str = Field(min_length=1)
    mime_type: str = "image/png"
    data: bytes


class OutboxMessage(BaseModel):
    """A rendered message addressed and keyed, ready for the outbox.

    `dedupe_key` makes one event alert once; `alert_key` names the *kind of trouble*
    (say `health:error_rate:epic-gardening:orders`) so the outbox policy can group its
    repeats; `critical` mail skips quiet hours and grouping.
    """

    model_config = ConfigDict(frozen=True)

    kind: str = Field(min_length=1)
    dedupe_key: str = Field(min_length=1)
    recipients: list[str] = Field(min_length=1)
    subject: str
    html: str
    text: str
    alert_key: str | None = None
    critical: bool = False
    images: tuple[InlineImage, ...] = ()

    # Templates already clean subjects; this covers messages built by hand (no header injection).
    _subject = field_validator("subject")(classmethod(lambda cls, v: clean_subject(v)))

    @classmethod
    def of(
        cls,
        kind: str,
        dedupe_key: str,
        recipients: Sequence[str],
        email: RenderedEmail,
        *,
        alert_key: str | None = None,
        critical: bool = False,
        images: Sequence[InlineImage] = (),
    ) -> OutboxMessage:
        unique = list(dict.fromkeys(recipients))
        return cls(
            kind=kind,
            dedupe_key=dedupe_key,
            recipients=unique,
            alert_key=alert_key,
            critical=critical,
            images=tuple(images),
            **vars(email),
        )


def rate_limited_key(family: str, subject: str, every: timedelta, now: datetime) -> str:
    """A dedupe key that repeats within one `every`-long bucket: at most one alert per bucket."""
    seconds = int(every.total_seconds())
    if seconds <= 0:
        raise ValueError("every must be a positive duration")
    bucket = int(now.timestamp()) // seconds * seconds
    return f"{family}:{subject}:{datetime.fromtimestamp(bucket, now.tzinfo):%Y%m%dT%H%M}"


def recipients_for(registry: Registry, retailer: str | None = None) -> list[str]:
    """The operators, plus the retailer's own `notify` list when the alert is about one."""
    people = list(registry.notifications.recipients)
    if retailer:
        try:
            people += registry.retailer(retailer).notify
        except KeyError:
            log.warning("alert names retailer %r, which is not in the registry", retailer)
    return list(dict.fromkeys(people))


_INSERT = """
INSERT INTO shopsync.email_outbox (dedupe_key, kind, recipients, sender, subject, html, text)
VALUES (%s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (dedupe_key) DO NOTHING
RETURNING id
"""


def enqueue_email(conn: psycopg.Connection, message: OutboxMessage, sender: str) -> int | None:
    """Queue `message` on `conn` (inside the caller's `conn.transaction()` if one is open, so
    the alert commits or rolls back with the write it reports); the new row id, or None if
    that dedupe key was queued before."""
    row = conn.execute(
        _INSERT,
        (
            message.dedupe_key,
            message.kind,
            message.recipients,
            sender,
            message.subject,
            message.html,
            message.text,
        ),
    ).fetchone()
    if row is None:
        log.info("email %s already queued: not sent again", message.dedupe_key)
        return None
    log.info("queued email %s (%s) as outbox row %s", message.dedupe_key, message.kind, row[0])
    return row[0]


def enqueue_order_issues(
    conn: psycopg.Connection,
    issues: Sequence[OrderIssue],
    recipients: Sequence[str],
    sender: str,
    title: str = "Orders that need attention",
) -> list[OrderIssue]:
    """Queue one digest of the issues never alerted before; return those (alerted once each).

    Each issue's key is claimed in `shopsync.email_alerted` in the same transaction
    as the digest row, so a re-run, or two runs racing, alert an issue only once.
    """
    if not recipients or not issues:
        return []
    with conn.transaction():  # a savepoint when the caller already has a transaction open
        claimed = {
            r[0]
            for r in conn.execute(
                "INSERT INTO shopsync.email_alerted (alert_key) SELECT unnest(%s::text[])"
                " ON CONFLICT (alert_key) DO NOTHING RETURNING alert_key",
                ([i.key for i in issues],),
            ).fetchall()
        }
        fresh = [i for i in issues if i.key in claimed]
        if not fresh:
            return []
        digest = hashlib.sha256("\n".join(sorted(claimed)).encode()).hexdigest()[:20]
        body = order_issues_email(fresh, title)
        message = OutboxMessage.of(
            "order_issues", f"digest:order_issues:{digest}", recipients, body
        )
        outbox_id = enqueue_email(conn, message, sender)
        conn.execute(
            "UPDATE shopsync.email_alerted SET outbox_id = %s WHERE alert_key = ANY(%s)",
            (outbox_id, list(claimed)),
        )
    return fresh


@dataclass(frozen=True)
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    skipped: str | None = None

    def describe(self) -> str:
        if self.skipped:
            return self.skipped
        return f"sent {self.sent}, will retry {self.retrying}, gave up on {self.failed}"


@dataclass(frozen=True)
class _Attempt:
    ok: bool
    permanent: bool = False
    error: str | None = None
    message_id: str | None = None


_LEASE = timedelta(minutes=5)  # a claimed row a crashed worker never finished is retried
_PERMANENT_STATUSES = {400, 413}  # the request itself is wrong: retrying cannot help
_CLAIM = """
UPDATE shopsync.email_outbox SET attempts = attempts + 1, next_attempt_at = %(lease_until)s
WHERE id IN (
    SELECT id FROM shopsync.email_outbox
    WHERE status = 'queued' AND next_attempt_at <= %(now)s
    ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING id, attempts, recipients, sender, subject, html, text
"""
_RECORD = """
UPDATE shopsync.email_outbox SET status = %s, next_attempt_at = %s, last_error = %s,
    provider_message_id = %s, sent_at = %s
WHERE id = %s
"""


class EmailResource(dg.ConfigurableResource):
    """Queues alert emails in Postgres and delivers them through SendGrid.

    `outbox_only` unset means: deliver when the `sendgrid_api_key_env` variable is
    set, else keep messages in the local outbox (demo and tests need no network).
    `sender` unset means the registry's `notifications.sender`.
    """

    postgres: PostgresResource
    sendgrid_api_key_env: str = "SENDGRID_API_KEY"
    sendgrid_host: str = "https://api.sendgrid.com"
    sender: str | None = None
    outbox_only: bool | None = None
    timeout_seconds: float = 10.0
    time_budget_seconds: float = 30.0
    max_attempts: int = 8
    backoff_seconds: float = 60.0
    max_backoff_seconds: float = 3600.0

    def resolved_sender(self) -> str:
        return self.sender or load_registry().notifications.sender

    def delivers(self) -> bool:
        """Whether `deliver_pending` talks to SendGrid (never reads the key's value out)."""
        if self.outbox_only is not None:
            return not self.outbox_only
        return bool(os.environ.get(self.sendgrid_api_key_env))

    def enqueue(self, message: OutboxMessage, conn: psycopg.Connection | None = None) -> bool:
        """Queue a message (in `conn`'s transaction if given); False if its key was queued."""
        if conn is not None:
            return enqueue_email(conn, message, self.resolved_sender()) is not None
        with self.postgres.get_connection() as own:
            return enqueue_email(own, message, self.resolved_sender()) is not None

    def deliver_pending(self, limit: int = 50, now: datetime | None = None) -> DeliveryReport:
        """Send due queued messages; provider errors are recorded on the rows, never raised."""
        if not self.delivers():
            return DeliveryReport(skipped="outbox only: no SendGrid key configured")
        return self._deliver(limit, now or datetime.now(UTC))

    def backoff(self, attempts: int) -> timedelta:
        """Exponential: base, 2×base, 4×base … capped; `attempts` counts the one that failed."""
        delay = self.backoff_seconds * 2 ** max(attempts - 1, 0)
        return timedelta(seconds=min(delay, self.max_backoff_seconds))

    def _deliver(self, limit: int, now: datetime) -> DeliveryReport:
        """One row at a time, within a time budget, stopping at the first transient failure:
        a provider that is down is not hammered, and a sensor tick stays short."""
        key = os.environ.get(self.sendgrid_api_key_env, "")
        secrets = (key, *known_secret_values(env_names=[self.sendgrid_api_key_env]))
        _HTTP_LOG_FILTER.secrets = secrets
        counts = {"sent": 0, "retrying": 0, "failed": 0}
        deadline = time.monotonic() + self.time_budget_seconds
        while sum(counts.values()) < limit and time.monotonic() < deadline:
            with self.postgres.get_connection() as conn:
                row = conn.execute(_CLAIM, {"now": now, "lease_until": now + _LEASE}).fetchone()
            if row is None:
                break
            row_id, attempts, recipients, sender, subject, html, text = row
            attempt = self._send(key, sender, recipients, subject, html, text)
            error = redact(attempt.error, secrets) if attempt.error else None
            if attempt.ok:
                status, when = "sent", now
            elif attempt.permanent or attempts >= self.max_attempts:
                status, when = "failed", now
            else:
                status, when = "queued", now + self.backoff(attempts)
            counts["retrying" if status == "queued" else status] += 1
            if error:
                log.warning("email %s attempt %d: %s (now %s)", row_id, attempts, error, status)
            with self.postgres.get_connection() as conn:
                sent_at = now if attempt.ok else None
                conn.execute(_RECORD, (status, when, error, attempt.message_id, sent_at, row_id))
            if status == "queued":
                break
        return DeliveryReport(**counts)

    def _send(
        self, key: str, sender: str, recipients: list[str], subject: str, html: str, text: str
    ) -> _Attempt:
        """One SendGrid call; every failure becomes an `_Attempt`, nothing is raised."""
        if not key:
            return _Attempt(
                False, error=f"environment variable {self.sendgrid_api_key_env} is empty"
            )
        try:
            mail = Mail(sender, recipients, subject, plain_text_content=text, html_content=html)
            client = SendGridAPIClient(api_key=key, host=self.sendgrid_host)
            client.client.timeout = self.timeout_seconds
            response = client.send(mail)
        except HTTPError as exc:
            body = exc.body.decode("utf-8", "replace") if isinstance(exc.body, bytes) else exc.body
            return _Attempt(
                False,
                permanent=exc.status_code in _PERMANENT_STATUSES,
                error=f"SendGrid HTTP {exc.status_code}: {str(body)[:500]}",
            )
        except Exception as exc:  # an outage of any shape must not escape (A1)
            return _Attempt(False, error=f"SendGrid unreachable: {type(exc).__name__}: {exc}")
        if 200 <= response.status_code < 300:
            return _Attempt(True, message_id=(response.headers or {}).get("X-Message-Id"))
        return _Attempt(False, error=f"SendGrid HTTP {response.status_code}")
