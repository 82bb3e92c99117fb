"""Delivery through the real `sendgrid` client against a loopback stand-in (FAULTS A1).

The stand-in is a plain HTTP server on 127.0.0.1 answering SendGrid's `/v3/mail/send`
with scripted statuses; nothing of ours is mocked. Clocks are explicit: mail is queued at
a fixed time of day, since quiet hours (the registry's 22:00–07:00 in Denver) hold
non-critical mail queued at night.
"""

from __future__ import annotations

import base64
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
from resources.email import EmailResource, InlineImage, OutboxMessage
from resources.email_templates import RenderedEmail, run_failure_email
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


#: Noon in Denver: outside the registry's quiet hours.
QUEUED_AT = datetime(2026, 10, 1, 18, 0, tzinfo=UTC)
#: 23:00 in Denver: inside them (until 07:00 MDT = 13:00 UTC the next day).
NIGHT = datetime(2026, 10, 2, 5, 0, tzinfo=UTC)
MORNING = datetime(2026, 10, 2, 13, 0, tzinfo=UTC)


@pytest.fixture
def t0() -> datetime:
    """Delivery is driven with explicit clocks, starting just after the rows are queued."""
    return QUEUED_AT + timedelta(minutes=5)


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


def _queue(
    email: EmailResource, key: str, error: str = "boom", now: datetime = QUEUED_AT, **kw
) -> None:
    body = run_failure_email("orders_job", key, None, error)
    message = OutboxMessage.of("run_failure", key, ["ops@test.example"], body, **kw)
    assert email.enqueue(message, now=now)


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


PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


def test_inline_image_reaches_sendgrid_as_an_inline_attachment(
    t0, outbox, postgres, sendgrid, monkeypatch
):
    monkeypatch.setenv(SG_ENV, KEY)
    email = _email(postgres, sendgrid.url)
    body = RenderedEmail(
        "Daily summary",
        '<html><body><p>The day by hour:</p><img src="cid:chart-day.png"></body></html>',
        "The day by hour: see the chart in the HTML part.",
    )
    chart = InlineImage(content_id="chart-day.png", filename="day.png", data=PNG)
    message = OutboxMessage.of("daily_summary", "d1", ["ops@test.example"], body, images=[chart])
    assert email.enqueue(message, now=QUEUED_AT)
    stored = outbox.execute(
        "SELECT content_id, filename, mime_type, data FROM shopsync.email_outbox_images"
    ).fetchall()
    assert stored == [("chart-day.png", "day.png", "image/png", PNG)]
    assert email.deliver_pending(now=t0).sent == 1
    [request] = sendgrid.requests
    [attachment] = request["attachments"]
    assert attachment == {
        "content": base64.b64encode(PNG).decode(),
        "filename": "day.png",
        "type": "image/png",
        "disposition": "inline",
        "content_id": "chart-day.png",
    }
    html = next(c["value"] for c in request["content"] if c["type"] == "text/html")
    assert 'src="cid:chart-day.png"' in html
    _queue(email, "plain")  # mail without images carries no attachments
    assert email.deliver_pending(now=t0).sent == 1
    assert "attachments" not in sendgrid.requests[-1]


def _sent_run_ids(sendgrid: FakeSendGrid) -> list[str]:
    texts = [
        next(c["value"] for c in r["content"] if c["type"] == "text/plain")
        for r in sendgrid.requests
    ]
    return [t.split("Run ID: ", 1)[1].split("\n", 1)[0] for t in texts]


def test_quiet_hours_hold_mail_until_morning_but_not_critical_mail(
    outbox, postgres, sendgrid, monkeypatch
):
    monkeypatch.setenv(SG_ENV, KEY)
    email = _email(postgres, sendgrid.url)
    _queue(email, "overnight", now=NIGHT, alert_key="run_failure:orders_job:-:X")
    _queue(email, "oversold", now=NIGHT, alert_key="check:x:y:z", critical=True)
    rows = outbox.execute(
        "SELECT dedupe_key, critical, held_until, next_attempt_at FROM shopsync.email_outbox"
        " ORDER BY id"
    ).fetchall()
    assert rows == [("overnight", False, MORNING, MORNING), ("oversold", True, None, NIGHT)]
    at_night = email.deliver_pending(now=NIGHT + timedelta(minutes=1))
    assert at_night.sent == 1 and _sent_run_ids(sendgrid) == ["oversold"]
    assert email.deliver_pending(now=MORNING - timedelta(seconds=1)).sent == 0
    assert email.deliver_pending(now=MORNING).sent == 1
    assert _sent_run_ids(sendgrid) == ["oversold", "overnight"]
