"""Delivery through the real `sendgrid` client against a loopback stand-in (FAULTS A1).

The stand-in is a plain HTTP server on 127.0.0.1 answering SendGrid's `/v3/mail/send`
with scripted statuses; nothing of ours is mocked.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg
import psycopg
import pytest

from pipelines.alerts import email_outbox_delivery_sensor
from resources.email import EmailResource, OutboxMessage
from resources.email_templates import run_failure_email
from resources.postgres import PostgresResource

pytestmark = pytest.mark.integration

SG_ENV = "SHOPSYNC_TEST_SENDGRID_KEY"
KEY = "canary-sendgrid-key-51f0e2"  # matches no token pattern: only value redaction can hide it
STORE_TOKEN = "canary-store-token-9d8c7b"  # noqa: S105 - a canary, not a credential


class FakeSendGrid(ThreadingHTTPServer):
    """Answers each POST with the next scripted status (202 when the script is empty)."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script: list[tuple[int, str]] = []
        self.requests: list[dict] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: FakeSendGrid

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append(
            {"path": self.path, "auth": self.headers["Authorization"], **body}
        )
        status, text = self.server.script.pop(0) if self.server.script else (202, "")
        self.send_response(status)
        self.send_header("X-Message-Id", f"msg-{len(self.server.requests)}")
        self.end_headers()
        self.wfile.write(text.encode())

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def sendgrid() -> Iterator[FakeSendGrid]:
    server = FakeSendGrid()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def t0() -> datetime:
    """Delivery is driven with explicit clocks, starting just after the rows are queued."""
    return datetime.now(UTC) + timedelta(minutes=5)


@pytest.fixture
def outbox(db: psycopg.Connection) -> psycopg.Connection:
    db.execute("DELETE FROM shopsync.email_alerted")
    db.execute("DELETE FROM shopsync.email_outbox")
    return db


def _email(postgres: PostgresResource, host: str, **kw) -> EmailResource:
    return EmailResource(
        postgres=postgres,
        sender="shopsync@test.example",
        sendgrid_api_key_env=SG_ENV,
        sendgrid_host=host,
        backoff_seconds=60,
        max_attempts=3,
        **kw,
    )


def _queue(email: EmailResource, key: str, error: str = "boom") -> None:
    body = run_failure_email("orders_job", key, None, error)
    email.enqueue(OutboxMessage.of("run_failure", key, ["ops@test.example"], body))


def _rows(db: psycopg.Connection) -> list[tuple]:
    return db.execute(
        "SELECT dedupe_key, status, attempts, next_attempt_at, last_error, sent_at,"
        " provider_message_id FROM shopsync.email_outbox ORDER BY id"
    ).fetchall()


def test_queued_mail_is_sent_through_sendgrid(t0, outbox, postgres, sendgrid, monkeypatch):
    monkeypatch.setenv(SG_ENV, KEY)
    email = _email(postgres, sendgrid.url)
    _queue(email, "a", error="<script>alert(1)</script>")
    report = email.deliver_pending(now=t0)
    assert (report.sent, report.retrying, report.failed) == (1, 0, 0)
    [(key, status, attempts, _, error, sent_at, message_id)] = _rows(outbox)
    assert (status, attempts, error, sent_at, message_id) == ("sent", 1, None, t0, "msg-1")
    [request] = sendgrid.requests
    assert request["path"] == "/v3/mail/send" and request["auth"] == f"Bearer {KEY}"
    assert request["from"]["email"] == "shopsync@test.example"
    assert request["personalizations"][0]["to"] == [{"email": "ops@test.example"}]
    html = next(c["value"] for c in request["content"] if c["type"] == "text/html")
    assert "&lt;script&gt;" in html and "<script>" not in html
    assert email.deliver_pending(now=t0 + timedelta(hours=1)).sent == 0  # sent once only


def test_a1_provider_outage_queues_with_backoff_then_sends(
    t0, outbox, postgres, sendgrid, monkeypatch
):
    monkeypatch.setenv(SG_ENV, KEY)
    email = _email(postgres, sendgrid.url)
    _queue(email, "a")
    _queue(email, "b")
    sendgrid.script = [(503, "service unavailable")]
    report = email.deliver_pending(now=t0)
    # The first failure stops the batch: a provider that is down is not hammered.
    assert (report.sent, report.retrying, report.failed) == (0, 1, 0)
    a, b = _rows(outbox)
    assert (a[1], a[2], a[3]) == ("queued", 1, t0 + timedelta(seconds=60))
    assert a[4] == "SendGrid HTTP 503: service unavailable"
    assert (b[1], b[2]) == ("queued", 0)
    # 30 s later only b is due; SendGrid is back.
    assert email.deliver_pending(now=t0 + timedelta(seconds=30)).sent == 1
    assert email.deliver_pending(now=t0 + timedelta(seconds=61)).sent == 1
    assert [(r[0], r[1]) for r in _rows(outbox)] == [("a", "sent"), ("b", "sent")]
    assert _rows(outbox)[0][4] is None


def test_retries_are_bounded(t0, outbox, postgres, sendgrid, monkeypatch):
    monkeypatch.setenv(SG_ENV, KEY)
    email = _email(postgres, sendgrid.url)
    _queue(email, "a")
    sendgrid.script = [(500, "err")] * 5
    when = t0
    for _ in range(5):
        email.deliver_pending(now=when)
        when += timedelta(hours=2)
    [(_, status, attempts, *_rest)] = _rows(outbox)
    assert (status, attempts) == ("failed", 3)
    assert len(sendgrid.requests) == 3


def test_a_rejected_request_is_not_retried(t0, outbox, postgres, sendgrid, monkeypatch):
    monkeypatch.setenv(SG_ENV, KEY)
    email = _email(postgres, sendgrid.url)
    _queue(email, "a")
    sendgrid.script = [(400, '{"errors":[{"message":"bad to"}]}')]
    assert email.deliver_pending(now=t0).failed == 1
    [(_, status, attempts, _, error, *_rest)] = _rows(outbox)
    assert (status, attempts) == ("failed", 1) and "bad to" in error


def _unused_loopback_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("provider", ["unreachable", "echoes_secrets"])
def test_secrets_never_reach_rows_logs_or_errors(
    t0, provider, outbox, postgres, sendgrid, monkeypatch, caplog
):
    monkeypatch.setenv(SG_ENV, KEY)
    monkeypatch.setenv("SHOPSYNC_TOKEN_EPIC_GARDENING", STORE_TOKEN)
    caplog.set_level(logging.DEBUG)  # python_http_client logs request headers at DEBUG
    if provider == "unreachable":
        host = f"http://127.0.0.1:{_unused_loopback_port()}"
    else:
        host = sendgrid.url
        sendgrid.script = [(401, f"bad key Bearer {KEY}; also saw {STORE_TOKEN} and {KEY}")]
    email = _email(postgres, host)
    # The alert itself quotes an error that contained a store token (redacted by the caller
    # with `redact`), and delivery fails: nothing may carry either secret anywhere.
    _queue(email, "a", error="401 from epic")
    report = email.deliver_pending(now=t0)  # never raises (A1)
    assert report.retrying == 1
    dump = " ".join(
        str(v) for row in outbox.execute("SELECT * FROM shopsync.email_outbox") for v in row
    )
    assert "SendGrid" in dump  # the error was recorded ...
    assert KEY not in dump and STORE_TOKEN not in dump  # ... without the secrets
    logged = caplog.text + " ".join(r.getMessage() for r in caplog.records)
    assert caplog.records and KEY not in logged and STORE_TOKEN not in logged
    if provider == "unreachable":
        assert "unreachable" in dump
    else:
        assert "[redacted]" in dump and sendgrid.requests[0]["auth"] == f"Bearer {KEY}"


def test_missing_key_when_delivery_is_forced_is_recorded(t0, outbox, postgres, monkeypatch):
    monkeypatch.delenv(SG_ENV, raising=False)
    email = _email(postgres, "http://127.0.0.1:9", outbox_only=False)
    _queue(email, "a")
    assert email.deliver_pending(now=t0).retrying == 1
    assert _rows(outbox)[0][4] == f"environment variable {SG_ENV} is empty"


def test_delivery_sensor_sends_due_mail(outbox, postgres, sendgrid, monkeypatch):
    monkeypatch.setenv(SG_ENV, KEY)
    email = _email(postgres, sendgrid.url)
    _queue(email, "a")
    with (
        dg.instance_for_test() as instance,
        dg.build_sensor_context(instance=instance, resources={"email": email}) as context,
    ):
        result = email_outbox_delivery_sensor(context)
    assert "sent 1" in result.skip_message
    assert _rows(outbox)[0][1] == "sent" and len(sendgrid.requests) == 1
