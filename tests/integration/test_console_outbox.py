"""The outbox end to end through the real `sendgrid` client (operator's console).

A loopback stand-in for SendGrid's `/v3/mail/send` (http.server in a thread) records
every request the real client makes, and answers as scripted: 202, a 5xx, or not at all
(a hang past the client's timeout); a closed port stands for SendGrid unreachable.
Clocks are explicit where the policy is judged; the registry is written per test, so
its own quiet hours, time zone and group window are what is honoured.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import psycopg
import pytest
import yaml
from flow_builders import Line, RetailerShop

from assets.partitions import FLOWS, partition_key, retailers_partitions_name
from pipelines.alerts import email_outbox_delivery_sensor
from pipelines.definitions import defs
from resources.email import EmailResource, InlineImage, OutboxMessage
from resources.email_templates import RenderedEmail
from resources.postgres import PostgresResource
from resources.registry import DEFAULT_REGISTRY_PATH
from tests.fixtures.flows import hour_floor

pytestmark = pytest.mark.integration

SG_ENV = "SHOPSYNC_TEST_CONSOLE_SENDGRID_KEY"
KEY = "canary-console-sendgrid-key-7a1c"
SENDER = "shopsync@test.example"


class StandIn(ThreadingHTTPServer):
    """SendGrid's mail endpoint: each POST gets the next scripted answer (202 when none is
    left); "hang" answers nothing until the test ends."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script: list[int | str] = []
        self.requests: list[dict] = []
        self.release = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: StandIn

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        raw = self.rfile.read(int(self.headers["Content-Length"]))
        request = {"path": self.path, "headers": dict(self.headers), "body": json.loads(raw)}
        self.server.requests.append({"method": "POST", **request})
        answer = self.server.script.pop(0) if self.server.script else 202
        if answer == "hang":
            self.server.release.wait(10)
            return
        self.send_response(int(answer))
        self.send_header("X-Message-Id", f"sg-{len(self.server.requests)}")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def sendgrid() -> Iterator[StandIn]:
    server = StandIn()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def outbox(db: psycopg.Connection) -> psycopg.Connection:
    db.execute("DELETE FROM shopsync.email_alerted")
    db.execute("DELETE FROM shopsync.email_outbox")
    return db


def closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def registry_file(tmp_path: Path, notifications=None, **operations) -> str:
    raw = yaml.safe_load(DEFAULT_REGISTRY_PATH.read_text())
    raw["notifications"].update(notifications or {})
    raw["operations"] = operations
    path = tmp_path / "registry.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


def email_for(postgres: PostgresResource, host: str, registry: str | None = None,
              **kw) -> EmailResource:  # fmt: skip
    return EmailResource(postgres=postgres, registry_path=registry, sender=SENDER,
                         sendgrid_api_key_env=SG_ENV, sendgrid_host=host, **kw)  # fmt: skip


def message(key: str, text: str = "body", **kw) -> OutboxMessage:
    body = RenderedEmail(f"[shopsync] {key}", f"<html><body><p>{text}</p></body></html>",
                         f"{key}\n\n{text}\n")  # fmt: skip
    return OutboxMessage.of("test", key, ["ops@test.example"], body, **kw)


def rows(db: psycopg.Connection) -> list[dict]:
    cur = db.execute(
        "SELECT dedupe_key, status, attempts, repeats, held_until, next_attempt_at, last_error,"
        " sent_at, text FROM shopsync.email_outbox ORDER BY id"
    )
    names = [c.name for c in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def sent_texts(server: StandIn) -> list[str]:
    return [next(c["value"] for c in r["body"]["content"] if c["type"] == "text/plain")
            for r in server.requests]  # fmt: skip


# -- the registry's quiet hours, time zone and group window -----------------------------

#: Tokyo's quiet hours 21:30–06:15 (JST, UTC+9, no DST): 13:00 UTC is 22:00 there, while
#: it is 07:00 in Denver and 13:00 in UTC, both outside the default 22:00–07:00.
TOKYO_NIGHT = datetime(2026, 10, 1, 13, 0, tzinfo=UTC)
TOKYO_MORNING = datetime(2026, 10, 1, 21, 15, tzinfo=UTC)  # 06:15 JST on the 2nd


def test_the_registrys_own_night_holds_mail_groups_it_and_sends_it_when_it_ends(
    outbox, postgres, sendgrid, tmp_path, monkeypatch
):
    monkeypatch.setenv(SG_ENV, KEY)
    quiet = {"start": "21:30", "end": "06:15"}
    path = registry_file(tmp_path, {"time_zone": "Asia/Tokyo"}, quiet_hours=quiet,
                         alert_group_minutes=30)  # fmt: skip
    email = email_for(postgres, sendgrid.url, path)
    trouble = {"alert_key": "run_failure:orders_job:epic-gardening:ShopifyAuthError"}
    first = email.queue(message("night-1", **trouble), now=TOKYO_NIGHT)
    assert (first.outcome, first.held_until) == ("new", TOKYO_MORNING)
    # Repeats all night long, hours past the 30-minute window: the held email collects them.
    for hours in (1, 4, 8):
        later = TOKYO_NIGHT + timedelta(hours=hours)
        assert email.queue(message(f"night+{hours}h", **trouble), now=later).outcome == "repeat"
    # Critical mail is not held by the night, nor grouped with it.
    urgent = email.queue(message("oversold", critical=True, **trouble), now=TOKYO_NIGHT)
    assert (urgent.outcome, urgent.held_until) == ("new", None)

    assert email.deliver_pending(now=TOKYO_NIGHT + timedelta(minutes=1)).sent == 1
    assert email.deliver_pending(now=TOKYO_MORNING - timedelta(seconds=1)).sent == 0
    assert email.deliver_pending(now=TOKYO_MORNING).sent == 1
    urgent_text, held_text = sent_texts(sendgrid)
    assert urgent_text.startswith("oversold")
    # What went out in the morning says the night's repeats, on the operator's clock.
    assert held_text == (
        "Repeated 3 times since this alert was queued, last at 2026-10-02 06:00 JST.\n\n"
        "night-1\n\nbody\n"
    )
    # The day: due at once, and a repeat within 30 minutes of it is counted, not mailed.
    day = TOKYO_MORNING + timedelta(hours=3)
    assert email.queue(message("day-1", **trouble), now=day).held_until is None
    assert email.deliver_pending(now=day).sent == 1
    assert email.queue(message("day-2", **trouble), now=day + timedelta(minutes=29)).outcome == (
        "repeat"
    )
    assert email.queue(message("day-3", **trouble), now=day + timedelta(minutes=30)).outcome == (
        "new"
    )
    assert [(r["dedupe_key"], r["status"], r["repeats"]) for r in rows(outbox)] == [
        ("night-1", "sent", 3), ("oversold", "sent", 0), ("day-1", "sent", 1),
        ("day-3", "queued", 0),
    ]  # fmt: skip


# -- what the real client sends -----------------------------------------------------------

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,"


def test_the_json_the_real_client_posts_is_the_whole_message(
    outbox, postgres, sendgrid, monkeypatch
):
    """Both parts (plain text first, as SendGrid requires), every recipient, the subject,
    the sender, and each image as an inline attachment with its Content-ID; the
    key only in the Authorization header. Mail without images has no attachments."""
    monkeypatch.setenv(SG_ENV, KEY)
    email = email_for(postgres, sendgrid.url)
    body = RenderedEmail(
        "[shopsync] Health: two charts",
        '<html><body><img src="cid:day.png"><img src="cid:week-1.gif"></body></html>',
        "Health: two charts\n\nSee the charts in the HTML part.\n",
    )
    images = [InlineImage(content_id="day.png", filename="day.png", data=PNG),
              InlineImage(content_id="week-1.gif", filename="week.gif", mime_type="image/gif",
                          data=GIF)]  # fmt: skip
    charts = OutboxMessage.of("health_alert", "charts-1", ["ops@test.example", "b@test.example"],
                              body, images=images)  # fmt: skip
    now = datetime(2026, 10, 1, 18, 0, tzinfo=UTC)  # noon in Denver: nothing held
    assert email.enqueue(charts, now=now)
    assert email.enqueue(message("plain"), now=now)
    assert email.deliver_pending(now=now).sent == 2
    first, second = sendgrid.requests
    assert (first["method"], first["path"]) == ("POST", "/v3/mail/send")
    assert first["headers"]["Authorization"] == f"Bearer {KEY}"
    assert first["headers"]["Content-Type"] == "application/json"
    # The client lists attachments newest first; a cid reference does not depend on order.
    attachments = sorted(first["body"].pop("attachments"), key=lambda a: a["content_id"])
    assert attachments == [
        {"content": base64.b64encode(PNG).decode(), "filename": "day.png",
         "type": "image/png", "disposition": "inline", "content_id": "day.png"},
        {"content": base64.b64encode(GIF).decode(), "filename": "week.gif",
         "type": "image/gif", "disposition": "inline", "content_id": "week-1.gif"},
    ]  # fmt: skip
    assert first["body"] == {
        "from": {"email": SENDER},
        "subject": "[shopsync] Health: two charts",
        "personalizations": [{"to": [{"email": "ops@test.example"}, {"email": "b@test.example"}]}],
        "content": [{"type": "text/plain", "value": body.text},
                    {"type": "text/html", "value": body.html}],
    }  # fmt: skip
    assert KEY not in json.dumps(first["body"])
    assert "attachments" not in second["body"] and second["body"]["subject"] == "[shopsync] plain"
    assert [r["status"] for r in rows(outbox)] == ["sent", "sent"]


# -- an outage never fails a run or a sensor tick ------------------------------------------

NO_HOLD = {"orders_flow": {"config": {"hold_window_minutes": 0}}}


def test_a_run_queues_its_alert_while_sendgrid_is_down_and_the_mail_waits_to_retry(
    flow, sendgrid, monkeypatch, tmp_path
):
    """SendGrid unreachable, then failing with 5xx, then hanging past the client's timeout:
    the orders run that queues an alert succeeds and never calls SendGrid; every delivery
    tick returns (never raises), records the error on the row and backs off, and tries
    no other row meanwhile; once SendGrid answers, the mail goes out, once."""
    monkeypatch.setenv(SG_ENV, KEY)
    # No quiet hours: the mail is due at once whatever the hour the suite runs at.
    path = registry_file(tmp_path, quiet_hours={"start": "00:00", "end": "00:00"})
    postgres = PostgresResource(url=flow.db_url)
    # backoff 0: each tick of the sensor (on the real clock) retries the row at once.
    down = email_for(postgres, closed_port(), path, timeout_seconds=0.5, backoff_seconds=0)
    failing = email_for(postgres, sendgrid.url, path, timeout_seconds=0.5, backoff_seconds=0)
    shop = RetailerShop(flow, "epic-gardening")
    order = shop.order(Line(shop.skus(1)[0], 1), Line(shop.hubless_sku(), 1))  # quarantined
    key = str(partition_key("epic-gardening", hour_floor(datetime.now(UTC))))
    with dg.instance_for_test() as instance:
        for name in FLOWS:
            instance.add_dynamic_partitions(retailers_partitions_name(name), ["epic-gardening"])
        result = defs.resolve_job_def("orders_job").execute_in_process(
            instance=instance, raise_on_error=False, resources={"email": down},
            tags={"dagster/asset_partition_range_start": key,
                  "dagster/asset_partition_range_end": key},
            run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}},
                        "ops": NO_HOLD},
        )  # fmt: skip
        assert result.success

        def tick(email: EmailResource) -> str:
            """One evaluation of the delivery sensor, as the daemon makes it."""
            with dg.build_sensor_context(instance=instance, resources={"email": email}) as ctx:
                return email_outbox_delivery_sensor(ctx).skip_message

        with psycopg.connect(flow.db_url, autocommit=True) as db:
            [queued] = rows(db)
            assert queued["status"] == "queued" and order.name in queued["text"]
            sendgrid.script = [503, 502, "hang"]
            errors = []
            for email in (down, failing, failing, failing):
                assert tick(email) == "sent 0, will retry 1, gave up on 0"
                [row] = rows(db)
                assert row["status"] == "queued" and row["sent_at"] is None
                errors.append(row["last_error"])
            assert errors[0].startswith("SendGrid unreachable: URLError")
            assert errors[1:3] == ["SendGrid HTTP 503: {}", "SendGrid HTTP 502: {}"]
            assert errors[3].startswith("SendGrid unreachable:") and "timed out" in errors[3]
            assert not any(KEY in e for e in errors)

            assert tick(failing) == "sent 1, will retry 0, gave up on 0"
            assert tick(failing) == "sent 0, will retry 0, gave up on 0"
            [row] = rows(db)
            assert (row["status"], row["attempts"], row["last_error"]) == ("sent", 5, None)
    assert len(sendgrid.requests) == 4 and order.name in sent_texts(sendgrid)[-1]
