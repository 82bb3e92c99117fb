"""The outbox: rows, dedupe, once-only digests, outbox-only mode, and the alert policy
(grouping, quiet hours, critical mail) as the rows show it (real Postgres).

The registry is the example one: quiet hours 22:00–07:00 in America/Denver, a 2-hour
group window. Clocks are explicit, so the time of day the suite runs at never matters.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import yaml

from flows.alerts import alert_retailer_failure
from resources.email import (
    EmailResource,
    OutboxMessage,
    enqueue_order_issues,
    rate_limited_key,
)
from resources.email_templates import OrderIssue, RenderedEmail, run_failure_email
from resources.postgres import PostgresResource
from resources.registry import DEFAULT_REGISTRY_PATH, load_registry

pytestmark = pytest.mark.integration

DAY = datetime(2026, 10, 1, 18, 0, tzinfo=UTC)  # 12:00 in Denver
NIGHT = datetime(2026, 10, 2, 5, 0, tzinfo=UTC)  # 23:00 in Denver
MORNING = datetime(2026, 10, 2, 13, 0, tzinfo=UTC)  # 07:00 MDT: quiet hours end


@pytest.fixture
def outbox(db: psycopg.Connection) -> Iterator[psycopg.Connection]:
    """The session database with an empty outbox (tests share one database)."""
    db.execute("DELETE FROM shopsync.email_alerted")
    db.execute("DELETE FROM shopsync.email_outbox")
    yield db


@pytest.fixture
def email(postgres: PostgresResource) -> EmailResource:
    return EmailResource(postgres=postgres, sender="shopsync@test.example", outbox_only=True)


def _message(key: str, subject: str = "x", **policy) -> OutboxMessage:
    return OutboxMessage.of(
        "test",
        key,
        ["ops@test.example"],
        RenderedEmail(subject, "<html><body><p>h</p></body></html>", "title\n\nbody\n"),
        **policy,
    )


def _alert(key: str, alert_key: str = "run_failure:orders_job:epic:AuthError", **kw):
    return _message(key, alert_key=alert_key, **kw)


def _outbox_rows(db: psycopg.Connection) -> list[tuple]:
    return db.execute(
        "SELECT dedupe_key, status, repeats, last_repeat_at, held_until, next_attempt_at, critical"
        " FROM shopsync.email_outbox ORDER BY id"
    ).fetchall()


def test_enqueue_writes_a_queued_row(outbox, email):
    body = run_failure_email("orders_job", "run-1", None, "boom")
    message = OutboxMessage.of("run_failure", "run_failure:run-1", ["a@x.io"], body)
    assert email.enqueue(message, now=DAY)
    row = outbox.execute(
        "SELECT kind, recipients, sender, subject, status, attempts, sent_at, last_error,"
        " created_at, next_attempt_at, held_until, repeats, critical, alert_key"
        " FROM shopsync.email_outbox"
    ).fetchall()
    assert row == [
        (
            "run_failure",
            ["a@x.io"],
            "shopsync@test.example",
            "[shopsync] run failed: orders_job",
            "queued",
            0,
            None,
            None,
            DAY,
            DAY,
            None,
            0,
            False,
            None,
        )
    ]


def test_same_dedupe_key_is_queued_once(outbox, email):
    assert email.enqueue(_message("terminal:fulfillment:gid://shopify/Fulfillment/1"))
    assert not email.enqueue(_message("terminal:fulfillment:gid://shopify/Fulfillment/1"))
    assert outbox.execute("SELECT count(*) FROM shopsync.email_outbox").fetchone()[0] == 1


def test_one_auth_alert_per_store_per_hour(outbox, email):
    start = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
    for minute in range(0, 120, 10):  # a revoked token fails every 10 minutes for 2 hours
        when = start + timedelta(minutes=minute)
        email.enqueue(_message(rate_limited_key("auth_failure", "epic", timedelta(hours=1), when)))
    assert outbox.execute("SELECT count(*) FROM shopsync.email_outbox").fetchone()[0] == 2


def test_enqueue_joins_the_callers_transaction(outbox, email, postgres):
    with pytest.raises(RuntimeError), postgres.get_connection() as conn, conn.transaction():
        email.enqueue(_message("rolled-back"), conn=conn)
        raise RuntimeError("the write this alert belongs to failed")
    assert outbox.execute("SELECT count(*) FROM shopsync.email_outbox").fetchone()[0] == 0


def test_a_subject_never_carries_a_line_break(outbox, email):
    hand_made = OutboxMessage(
        kind="t",
        dedupe_key="k",
        recipients=["a@x.io"],
        subject="a\r\nBcc: e@x.io",
        html="",
        text="",
    )
    assert email.enqueue(hand_made)
    assert outbox.execute("SELECT subject FROM shopsync.email_outbox").fetchone()[0] == (
        "a Bcc: e@x.io"
    )
    with pytest.raises(psycopg.errors.CheckViolation):  # and the table refuses one anyway
        outbox.execute(
            "INSERT INTO shopsync.email_outbox (dedupe_key, kind, recipients, sender, subject,"
            " html, text) VALUES ('raw', 't', '{a@x.io}', 's@x.io', E'a\\r\\nBcc: e', '', '')"
        )


def _issue(n: int) -> OrderIssue:
    return OrderIssue(
        key=f"terminal:fulfillment:gid://shopify/Fulfillment/{n}",
        retailer="epic-gardening",
        order_name=f"#10{n}",
        reason="fulfillment order closed",
        fix="fulfill it by hand in the retailer admin",
    )


def test_order_issue_digest_alerts_each_issue_once(outbox, postgres):
    with postgres.get_connection() as conn:
        first = enqueue_order_issues(conn, [_issue(1), _issue(2)], ["a@x.io"], "s@x.io")
    with postgres.get_connection() as conn:
        second = enqueue_order_issues(conn, [_issue(2), _issue(3)], ["a@x.io"], "s@x.io")
    with postgres.get_connection() as conn:
        third = enqueue_order_issues(conn, [_issue(1), _issue(3)], ["a@x.io"], "s@x.io")
    assert [i.order_name for i in first] == ["#101", "#102"]
    assert [i.order_name for i in second] == ["#103"]
    assert third == []
    texts = [r[0] for r in outbox.execute("SELECT text FROM shopsync.email_outbox ORDER BY id")]
    assert len(texts) == 2
    assert "#101" in texts[0] and "#102" in texts[0] and "#103" in texts[1]
    assert "#102" not in texts[1]


def test_outbox_only_mode_leaves_messages_queued(outbox, email):
    email.enqueue(_message("k1"))
    report = email.deliver_pending()
    assert report.skipped and "outbox only" in report.skipped
    assert outbox.execute("SELECT status FROM shopsync.email_outbox").fetchall() == [("queued",)]


def test_repeats_within_the_window_are_one_email_then_a_new_one_after_it(outbox, email):
    assert email.enqueue(_alert("run-1"), now=DAY)
    assert not email.enqueue(_alert("run-2"), now=DAY + timedelta(minutes=15))
    assert not email.enqueue(_alert("run-3"), now=DAY + timedelta(minutes=119))
    [(key, status, repeats, last_at, *_)] = _outbox_rows(outbox)
    assert (key, status, repeats, last_at) == ("run-1", "queued", 2, DAY + timedelta(minutes=119))
    # Still queued: its body's first line says so, once (the second repeat replaced the first).
    html, text = outbox.execute("SELECT html, text FROM shopsync.email_outbox").fetchone()
    note = "Repeated 2 times since this alert was queued, last at 2026-10-01 13:59 MDT."
    assert text == f"{note}\n\ntitle\n\nbody\n"
    assert html.count("data-shopsync") == 1 and f">{note}</p><p>h</p>" in html
    outbox.execute("UPDATE shopsync.email_outbox SET status = 'sent'")  # delivered
    # The window is over: the next repeat is a new email, and opens a new group.
    assert email.enqueue(_alert("run-4"), now=DAY + timedelta(minutes=120))
    assert not email.enqueue(_alert("run-5"), now=DAY + timedelta(minutes=130))
    assert [(r[0], r[2]) for r in _outbox_rows(outbox)] == [("run-1", 2), ("run-4", 1)]
    # Another alert key is another group.
    assert email.enqueue(_alert("run-6", alert_key="other"), now=DAY + timedelta(minutes=131))


def test_a_repeat_of_a_sent_email_is_counted_without_touching_its_body(outbox, email):
    assert email.enqueue(_alert("run-1"), now=DAY)
    outbox.execute("UPDATE shopsync.email_outbox SET status = 'sent'")
    result = email.queue(_alert("run-2"), now=DAY + timedelta(minutes=30))
    assert (result.outcome, result.queued) == ("repeat", False)
    [(_, _, repeats, last_at, *_)] = _outbox_rows(outbox)
    assert (repeats, last_at) == (1, DAY + timedelta(minutes=30))
    assert outbox.execute("SELECT text FROM shopsync.email_outbox").fetchone()[0] == (
        "title\n\nbody\n"
    )


def test_the_same_event_is_one_repeat_not_two(outbox, email):
    email.enqueue(_alert("run-1"), now=DAY)
    later = DAY + timedelta(minutes=20)
    assert email.queue(_alert("run-2"), now=later).outcome == "repeat"
    assert email.queue(_alert("run-2"), now=later).outcome == "duplicate"  # a re-evaluated tick
    assert email.queue(_alert("run-1"), now=later).outcome == "duplicate"
    assert [r[2] for r in _outbox_rows(outbox)] == [1]


def test_quiet_hours_hold_non_critical_mail_until_they_end(outbox, email):
    result = email.queue(_alert("night-1"), now=NIGHT)
    assert (result.outcome, result.held_until) == ("new", MORNING)
    [(_, _, _, _, held, due, critical)] = _outbox_rows(outbox)
    assert (held, due, critical) == (MORNING, MORNING, False)
    # Mail without an alert key is held alike.
    assert email.queue(_message("digest-1"), now=NIGHT).held_until == MORNING


def test_a_held_email_collects_the_whole_nights_repeats(outbox, email):
    email.enqueue(_alert("night-1"), now=NIGHT)
    for hours in (1, 3, 6):  # beyond the 2-hour window, but the email has not gone out
        assert not email.enqueue(_alert(f"night-{hours + 1}"), now=NIGHT + timedelta(hours=hours))
    [(_, _, repeats, last_at, held, *_)] = _outbox_rows(outbox)
    assert (repeats, last_at, held) == (3, NIGHT + timedelta(hours=6), MORNING)
    text = outbox.execute("SELECT text FROM shopsync.email_outbox").fetchone()[0]
    assert text.startswith("Repeated 3 times since this alert was queued, last at 2026-10-02 05:00")


def test_critical_mail_is_neither_held_nor_grouped(outbox, email):
    email.enqueue(_alert("night-1"), now=NIGHT)
    assert email.enqueue(_alert("oversold-1", critical=True), now=NIGHT + timedelta(minutes=5))
    assert email.enqueue(_alert("oversold-2", critical=True), now=NIGHT + timedelta(minutes=10))
    rows = [(r[0], r[2], r[4], r[5], r[6]) for r in _outbox_rows(outbox)]
    assert rows == [
        ("night-1", 0, MORNING, MORNING, False),
        ("oversold-1", 0, None, NIGHT + timedelta(minutes=5), True),
        ("oversold-2", 0, None, NIGHT + timedelta(minutes=10), True),
    ]


def _registry_file(tmp_path, **operations) -> str:
    raw = yaml.safe_load(DEFAULT_REGISTRY_PATH.read_text())
    raw["operations"] = operations
    path = tmp_path / "retailers.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


def test_the_registry_sets_quiet_hours_and_the_window(outbox, postgres, tmp_path):
    path = _registry_file(tmp_path, quiet_hours={"start": "00:00", "end": "00:00"},
                          alert_group_minutes=10)  # fmt: skip
    email = EmailResource(postgres=postgres, registry_path=path, outbox_only=True)
    assert email.queue(_alert("n-1"), now=NIGHT).held_until is None  # no quiet hours
    outbox.execute("UPDATE shopsync.email_outbox SET status = 'sent'")
    assert not email.enqueue(_alert("n-2"), now=NIGHT + timedelta(minutes=9))
    assert email.enqueue(_alert("n-3"), now=NIGHT + timedelta(minutes=10))
    assert outbox.execute("SELECT sender FROM shopsync.email_outbox LIMIT 1").fetchone() == (
        "shopsync@greenhouse-hub.example",
    )


def test_an_unreadable_registry_still_queues_the_alert(outbox, postgres, tmp_path):
    email = EmailResource(
        postgres=postgres, registry_path=str(tmp_path / "missing.yaml"), sender="s@x.io"
    )
    assert email.queue(_alert("a"), now=NIGHT).held_until is None  # due at once


def test_a_retailer_failure_is_one_email_per_window_naming_everything(outbox, email):
    registry = load_registry()
    failure = {
        "flow": "orders",
        "retailer": "epic-gardening",
        "partitions": "retailer 'epic-gardening', hours 2026-11-25-04:00 … 2026-11-25-05:00",
        "step": "retailer_orders",
        "error": "401 <script>alert(1)</script>",
        "error_class": "ShopifyAuthError",
    }
    assert alert_retailer_failure(email, registry, run_id="run-a", **failure)
    assert not alert_retailer_failure(email, registry, run_id="run-a", **failure)  # same event
    assert not alert_retailer_failure(email, registry, run_id="run-b", **failure)  # a repeat
    [(key, alert_key, critical, repeats, recipients, html, text)] = outbox.execute(
        "SELECT dedupe_key, alert_key, critical, repeats, recipients, html, text"
        " FROM shopsync.email_outbox"
    ).fetchall()
    assert (key, alert_key, critical, repeats) == (
        "retailer_failure:run-a:epic-gardening",
        "retailer_failure:orders:epic-gardening:ShopifyAuthError",
        False,
        1,
    )
    assert recipients == ["ops@greenhouse-hub.example", "wholesale@epic-gardening.example"]
    for fact in ("Flow: orders", "Retailer: epic-gardening", f"Partition: {failure['partitions']}",
                 "Run in the UI: http://localhost:3000/runs/run-a",
                 "Error: retailer 'epic-gardening' at retailer_orders: 401 <script>"):  # fmt: skip
        assert fact in text
    assert "<script>" not in html and "401 &lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_a_flow_failing_for_every_retailer_is_critical(outbox, email):
    registry = load_registry()
    queued = alert_retailer_failure(
        email, registry, flow="orders", run_id="run-h", retailer=None,
        partitions="4 retailers (a, b, c, d), hours 2026-11-25-04:00 … 2026-11-25-05:00",
        step="hub_orders", error="401", error_class="ShopifyAuthError", critical=True,
    )  # fmt: skip
    assert queued
    [(alert_key, critical, held, subject, text)] = outbox.execute(
        "SELECT alert_key, critical, held_until, subject, text FROM shopsync.email_outbox"
    ).fetchall()
    assert (alert_key, critical, held) == (
        "retailer_failure:orders:hub:ShopifyAuthError",
        True,
        None,
    )
    assert subject.startswith("[shopsync] CRITICAL: run failed: orders flow [4 retailers")
    assert "the hub store" in text


def test_a_hostile_order_name_is_escaped_in_the_digest(outbox, postgres):
    hostile = OrderIssue(
        key="quarantined:order:epic:1:sku_unknown",
        retailer="epic-gardening",
        order_name="#1001 <script>alert('x')</script>",
        reason="sku_unknown",
        fix="add the SKU <img src=x onerror=alert(1)> to the hub",
    )
    with postgres.get_connection() as conn:
        assert enqueue_order_issues(conn, [hostile], ["a@x.io"], "s@x.io") == [hostile]
    html, text = outbox.execute("SELECT html, text FROM shopsync.email_outbox").fetchone()
    assert "<script>" not in html and "<img" not in html
    assert "#1001 &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert "#1001 <script>alert('x')</script>" in text  # plain text stays readable
