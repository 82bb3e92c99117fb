"""The outbox: rows, dedupe, once-only digests, outbox-only mode (real Postgres)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from resources.email import (
    EmailResource,
    OutboxMessage,
    enqueue_order_issues,
    rate_limited_key,
)
from resources.email_templates import OrderIssue, RenderedEmail, run_failure_email
from resources.postgres import PostgresResource

pytestmark = pytest.mark.integration


@pytest.fixture
def outbox(db: psycopg.Connection) -> Iterator[psycopg.Connection]:
    """The session database with an empty outbox (tests share one database)."""
    db.execute("DELETE FROM shopsync.email_alerted")
    db.execute("DELETE FROM shopsync.email_outbox")
    yield db


@pytest.fixture
def email(postgres: PostgresResource) -> EmailResource:
    return EmailResource(postgres=postgres, sender="shopsync@test.example", outbox_only=True)


def _message(key: str, subject: str = "x") -> OutboxMessage:
    return OutboxMessage.of(
        "test", key, ["ops@test.example"], RenderedEmail(subject, "<p>h</p>", "t")
    )


def test_enqueue_writes_a_queued_row(outbox, email):
    body = run_failure_email("orders_job", "run-1", None, "boom")
    assert email.enqueue(OutboxMessage.of("run_failure", "run_failure:run-1", ["a@x.io"], body))
    row = outbox.execute(
        "SELECT kind, recipients, sender, subject, status, attempts, sent_at, last_error"
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
