"""Email alerts through a Postgres outbox, delivered by SendGrid when a key is configured.

Every message is first a row of `shopsync.email_outbox`, written in the caller's
transaction; `deliver_pending()` sends due rows later. So a SendGrid outage (FAULTS
A1) never fails a sync run: the row stays queued and goes out on a later tick. The
unique `dedupe_key` makes "this exact event alerts once" a database fact.

The alert policy (`sync.alert_policy`, settings from the registry) is applied here, in
the outbox, for every sender alike: repeats of one `alert_key` within the group window
are counted on one email (P5: a revoked token failing every tick is one email per
window), non-critical mail queued in quiet hours waits for their end, critical mail
goes at once. Inline images (charts) are stored with their email and sent as inline
attachments.

The SendGrid key is read from the environment at send time, never stored in
config, and scrubbed (with every store token) from anything we write.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import dagster as dg
import psycopg
from pydantic import BaseModel, ConfigDict, Field, field_validator
from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import (
    Attachment,
    ContentId,
    Disposition,
    FileContent,
    FileName,
    FileType,
    Mail,
)

from resources.email_templates import (
    OrderIssue,
    RenderedEmail,
    clean_subject,
    order_issues_email,
    run_url,
    with_repeat_note,
)
from resources.postgres import PostgresResource
from resources.registry import Registry, RegistryError, load_registry
from sync.alert_policy import AlertPolicy, GroupRow, repeat_note

log = logging.getLogger(__name__)

__all__ = [
    "EmailResource",
    "InlineImage",
    "OutboxMessage",
    "QueueResult",
    "enqueue_email",
    "enqueue_order_issues",
    "known_secret_values",
    "load_policy",
    "policy_from_registry",
    "queue_email",
    "rate_limited_key",
    "recipients_for",
    "redact",
    "run_link",
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
    (re.compile(r"\bshp(?:at|ca|pa|ss|rt|ua)_[0-9A-Za-z]{16,}"), REDACTED),
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
    """Current values of every store's secret env vars (its token, or its app's client
    secret), of `env_names` (the SendGrid key), and of every OAuth token this process held."""
    from resources.secrets import SECRET_KEY_ENV
    from resources.shopify.auth import live_secrets

    names = [*env_names, SECRET_KEY_ENV]
    try:
        names += [
            env for store in (registry or load_registry()).stores() for env in store.secret_envs()
        ]
    except RegistryError:
        log.warning("registry unreadable: redacting only the values of %s", ", ".join(names))
    found = [value for name in dict.fromkeys(names) if (value := os.environ.get(name))]
    return found + live_secrets()


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


def policy_from_registry(registry: Registry) -> AlertPolicy:
    """The registry's alert policy: its time zone, quiet hours and group window."""
    ops = registry.operations
    return AlertPolicy.of(
        registry.notifications.time_zone,
        ops.quiet_hours.start,
        ops.quiet_hours.end,
        ops.alert_group_minutes,
    )


def load_policy(registry_path: str | None = None) -> AlertPolicy:
    """The policy of the registry at `registry_path` ($SHOPSYNC_REGISTRY when None). An
    unreadable registry must not cost an alert: then mail is due at once (no quiet hours)
    and grouped over the default window."""
    try:
        return policy_from_registry(load_registry(registry_path))
    except RegistryError as exc:
        log.warning("registry unreadable (%s): alerts queued without quiet hours", exc)
        return AlertPolicy()


def run_link(registry: Registry, run_id: str) -> str:
    """The run's page in the Dagster UI, as every alert links it."""
    return run_url(registry.notifications.ui_url, run_id)


@dataclass(frozen=True)
class QueueResult:
    """What the outbox did with a message: `new` (a row of its own, `outbox_id`, held
    until `held_until` when queued in quiet hours), `repeat` (counted on the open email of
    its alert key, `outbox_id`), or `duplicate` (its dedupe key was queued before)."""

    outcome: Literal["new", "repeat", "duplicate"]
    outbox_id: int | None = None
    held_until: datetime | None = None

    @property
    def queued(self) -> bool:
        """A new email was queued (a repeat or a duplicate is not one)."""
        return self.outcome == "new"


_LOCK = "SELECT pg_advisory_xact_lock(hashtext(%s))"
_SEEN = """
SELECT EXISTS (SELECT 1 FROM shopsync.email_outbox WHERE dedupe_key = %(key)s)
    OR EXISTS (SELECT 1 FROM shopsync.email_outbox_repeats WHERE dedupe_key = %(key)s)
"""
_LATEST = """
SELECT id, created_at, status, repeats, last_repeat_at, html, text FROM shopsync.email_outbox
WHERE alert_key = %s ORDER BY created_at DESC, id DESC LIMIT 1 FOR UPDATE
"""
_REPEAT = """
INSERT INTO shopsync.email_outbox_repeats (dedupe_key, outbox_id, repeated_at)
VALUES (%s, %s, %s)
"""
_COUNT = """
UPDATE shopsync.email_outbox SET repeats = repeats + 1, last_repeat_at = %s, html = %s, text = %s
WHERE id = %s
"""
_INSERT = """
INSERT INTO shopsync.email_outbox (dedupe_key, kind, recipients, sender, subject, html, text,
    alert_key, critical, created_at, next_attempt_at, held_until)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (dedupe_key) DO NOTHING
RETURNING id
"""
_IMAGE = """
INSERT INTO shopsync.email_outbox_images (outbox_id, position, content_id, filename, mime_type,
    data) VALUES (%s, %s, %s, %s, %s, %s)
"""


def queue_email(
    conn: psycopg.Connection,
    message: OutboxMessage,
    sender: str,
    policy: AlertPolicy | None = None,
    now: datetime | None = None,
) -> QueueResult:
    """Queue `message` on `conn` under the alert policy (`sync.alert_policy`; None: the
    registry's), inside the caller's `conn.transaction()` if one is open, so the alert
    commits or rolls back with the write it reports.

    A dedupe key seen before (as an email or as a repeat) is a duplicate. A non-critical
    message whose alert key has an open email is counted on it (`repeats`,
    `last_repeat_at`); if that email is still queued, its body's first line says how many
    times it repeated and when last. Otherwise it is a new row, held until quiet hours end
    (`held_until` = `next_attempt_at`) unless critical, with its inline images.
    """
    policy = policy or load_policy()
    now = now or datetime.now(UTC)
    with conn.transaction():  # a savepoint when the caller already has a transaction open
        if message.alert_key:  # one writer per alert key: two repeats never open two emails
            conn.execute(_LOCK, (f"shopsync-alert:{message.alert_key}",))
        if conn.execute(_SEEN, {"key": message.dedupe_key}).fetchone()[0]:
            log.info("email %s already queued: not sent again", message.dedupe_key)
            return QueueResult("duplicate")
        latest = (
            conn.execute(_LATEST, (message.alert_key,)).fetchone() if message.alert_key else None
        )
        group = GroupRow(latest[1], pending=latest[2] == "queued") if latest else None
        placement = policy.place(
            now, alert_key=message.alert_key, critical=message.critical, latest=group
        )
        if placement.action == "repeat":
            return _count_repeat(conn, message, latest, policy, now)
        return _insert(conn, message, sender, now, placement.held_until)


def _count_repeat(conn, message: OutboxMessage, latest, policy: AlertPolicy, now) -> QueueResult:
    row_id, _, status, repeats, last_at, html, text = latest
    conn.execute(_REPEAT, (message.dedupe_key, row_id, now))
    last = max(last_at or now, now)
    if status == "queued":
        note = repeat_note(repeats + 1, last, policy.time_zone)
        html, text = with_repeat_note(html, text, note, replaces=repeats > 0)
    conn.execute(_COUNT, (last, html, text, row_id))
    log.info("email %s grouped as repeat %d of outbox row %s (%s)",
             message.dedupe_key, repeats + 1, row_id, message.alert_key)  # fmt: skip
    return QueueResult("repeat", row_id)


def _insert(conn, message: OutboxMessage, sender: str, now, held: datetime | None) -> QueueResult:
    row = conn.execute(
        _INSERT,
        (message.dedupe_key, message.kind, message.recipients, sender, message.subject,
         message.html, message.text, message.alert_key, message.critical, now, held or now,
         held),
    ).fetchone()  # fmt: skip
    if row is None:  # queued by a racing writer since the check above
        return QueueResult("duplicate")
    for position, image in enumerate(message.images):
        conn.execute(
            _IMAGE,
            (row[0], position, image.content_id, image.filename, image.mime_type, image.data),
        )
    held_note = f", held until {held:%Y-%m-%d %H:%M %Z} (quiet hours)" if held else ""
    log.info("queued email %s (%s) as outbox row %s%s",
             message.dedupe_key, message.kind, row[0], held_note)  # fmt: skip
    return QueueResult("new", row[0], held)


def enqueue_email(
    conn: psycopg.Connection,
    message: OutboxMessage,
    sender: str,
    *,
    policy: AlertPolicy | None = None,
    now: datetime | None = None,
) -> int | None:
    """`queue_email`, answering the new row's id, or None when no new email was queued
    (its dedupe key was queued before, or it was counted as a repeat of an open email)."""
    result = queue_email(conn, message, sender, policy, now)
    return result.outbox_id if result.queued else None


def enqueue_order_issues(
    conn: psycopg.Connection,
    issues: Sequence[OrderIssue],
    recipients: Sequence[str],
    sender: str,
    title: str = "Orders that need attention",
    *,
    policy: AlertPolicy | None = None,
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
        outbox_id = enqueue_email(conn, message, sender, policy=policy)
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


@dataclass(frozen=True)
class _Outgoing:
    """One claimed outbox row, as SendGrid gets it."""

    sender: str
    recipients: list[str]
    subject: str
    html: str
    text: str
    images: tuple[InlineImage, ...] = ()

    def mail(self) -> Mail:
        """The SendGrid message: text and HTML parts, each image an inline attachment
        (`Content-ID` = its `content_id`, shown where the HTML says `cid:`)."""
        mail = Mail(
            self.sender,
            self.recipients,
            self.subject,
            plain_text_content=self.text,
            html_content=self.html,
        )
        for image in self.images:
            mail.add_attachment(
                Attachment(
                    FileContent(base64.b64encode(image.data).decode("ascii")),
                    FileName(image.filename),
                    FileType(image.mime_type),
                    Disposition("inline"),
                    ContentId(image.content_id),
                )
            )
        return mail


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
_IMAGES = """
SELECT content_id, filename, mime_type, data FROM shopsync.email_outbox_images
WHERE outbox_id = %s ORDER BY position
"""
_RECORD = """
UPDATE shopsync.email_outbox SET status = %s, next_attempt_at = %s, last_error = %s,
    provider_message_id = %s, sent_at = %s
WHERE id = %s
"""


class EmailResource(dg.ConfigurableResource):
    """Queues alert emails in Postgres under the alert policy and delivers them through
    SendGrid.

    `outbox_only` unset means: deliver when the `sendgrid_api_key_env` variable is
    set, else keep messages in the local outbox (demo and tests need no network).
    `sender` unset means the registry's `notifications.sender`; the registry is the one
    at `registry_path` (unset: $SHOPSYNC_REGISTRY, which `shopsync --registry` exports),
    read when a message is queued, so the policy is the file as it is now.
    """

    postgres: PostgresResource
    registry_path: str | None = None
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
        return self.sender or load_registry(self.registry_path).notifications.sender

    def policy(self) -> AlertPolicy:
        """The alert policy of the registry (quiet hours, time zone, group window)."""
        return load_policy(self.registry_path)

    def delivers(self) -> bool:
        """Whether `deliver_pending` talks to SendGrid (never reads the key's value out)."""
        if self.outbox_only is not None:
            return not self.outbox_only
        return bool(os.environ.get(self.sendgrid_api_key_env))

    def queue(
        self,
        message: OutboxMessage,
        conn: psycopg.Connection | None = None,
        *,
        now: datetime | None = None,
    ) -> QueueResult:
        """Queue a message under the policy (in `conn`'s transaction if given): see
        `queue_email` for what happens to repeats, quiet hours and critical mail."""
        if conn is not None:
            return queue_email(conn, message, self.resolved_sender(), self.policy(), now)
        with self.postgres.get_connection() as own:
            return queue_email(own, message, self.resolved_sender(), self.policy(), now)

    def enqueue(
        self,
        message: OutboxMessage,
        conn: psycopg.Connection | None = None,
        *,
        now: datetime | None = None,
    ) -> bool:
        """Queue a message; True when it is a new email, False when its dedupe key was queued
        before or it was counted as a repeat on the open email of its alert key."""
        return self.queue(message, conn, now=now).queued

    def deliver_pending(self, limit: int = 50, now: datetime | None = None) -> DeliveryReport:
        """Send due queued messages; provider errors are recorded on the rows, never raised.
        Mail held for quiet hours is not due before they end (`next_attempt_at`)."""
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
                images = tuple(
                    InlineImage(content_id=c, filename=f, mime_type=m, data=bytes(d))
                    for c, f, m, d in conn.execute(_IMAGES, (row[0],)).fetchall()
                )
            row_id, attempts, recipients, sender, subject, html, text = row
            attempt = self._send(key, _Outgoing(sender, recipients, subject, html, text, images))
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

    def _send(self, key: str, outgoing: _Outgoing) -> _Attempt:
        """One SendGrid call; every failure becomes an `_Attempt`, nothing is raised."""
        if not key:
            return _Attempt(
                False, error=f"environment variable {self.sendgrid_api_key_env} is empty"
            )
        try:
            client = SendGridAPIClient(api_key=key, host=self.sendgrid_host)
            client.client.timeout = self.timeout_seconds
            response = client.send(outgoing.mail())
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
