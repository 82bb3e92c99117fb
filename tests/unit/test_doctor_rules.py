"""The doctor's pure rules: what PASS/WARN/FAIL mean, exit status, rendering, scopes."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from sync.doctor import (
    INVENTORY_RETAILER_SCOPES,
    PROCEDURES,
    CheckResult,
    Verdict,
    connection_verdict,
    exit_status,
    grouped,
    lookback_problem,
    migration_gaps,
    missing_scopes,
    render_json,
    render_text,
    worst,
)


def result(procedure: str, verdict: Verdict, check: str = "c", fix: str | None = "do x", **kw):
    return CheckResult(procedure=procedure, check=check, verdict=verdict, detail="d",
                       fix=None if verdict is Verdict.PASS else fix, **kw)  # fmt: skip


def test_a_warn_or_fail_must_carry_a_one_line_fix():
    with pytest.raises(ValidationError, match="needs a one-line fix"):
        CheckResult(procedure="email", check="c", verdict=Verdict.FAIL, detail="d")
    with pytest.raises(ValidationError, match="one line"):
        CheckResult(procedure="email", check="c", verdict=Verdict.WARN, detail="d", fix="a\nb")
    with pytest.raises(ValidationError, match="unknown procedure"):
        CheckResult(procedure="dns", check="c", verdict=Verdict.PASS, detail="d")


def test_exit_status_is_zero_unless_something_failed():
    assert exit_status([]) == 0
    assert exit_status([result("email", Verdict.PASS), result("email", Verdict.WARN)]) == 0
    assert exit_status([result("email", Verdict.WARN), result("database", Verdict.FAIL)]) == 1
    assert worst([result("email", Verdict.WARN), result("email", Verdict.PASS)]) is Verdict.WARN


def test_grouping_follows_the_guides_order_and_skips_empty_procedures():
    rs = [result("email", Verdict.PASS), result("inventory_sync", Verdict.PASS)]
    assert list(grouped(rs)) == ["inventory_sync", "email"]
    assert list(PROCEDURES)[0] == "inventory_sync"


def test_text_shows_each_verdict_and_the_fix_only_when_not_passing():
    rs = [
        result("database", Verdict.PASS, check="connectivity"),
        result("order_import", Verdict.FAIL, check="token valid", store="hub", fix="re-auth"),
    ]
    text = render_text(rs)
    assert "Order import: FAIL" in text and "Database: PASS" in text
    assert "  FAIL token valid [hub]: d\n       fix: re-auth" in text
    assert text.count("fix:") == 1
    assert text.splitlines()[-1] == "doctor: FAIL (1 PASS, 0 WARN, 1 FAIL)"
    assert text.index("Order import") < text.index("Database")


def test_json_shape():
    doc = json.loads(render_json([result("email", Verdict.WARN, check="SendGrid key")]))
    assert doc == {
        "verdict": "WARN",
        "exit_status": 0,
        "procedures": {"email": {"title": "Email", "verdict": "WARN", "checks": [{
            "procedure": "email", "check": "SendGrid key", "verdict": "WARN", "detail": "d",
            "fix": "do x", "store": None,
        }]}},
    }  # fmt: skip


def test_write_scope_implies_read_and_missing_ones_are_named_in_order():
    assert missing_scopes(["write_inventory", "read_locations"], INVENTORY_RETAILER_SCOPES) == []
    assert missing_scopes(["read_inventory"], INVENTORY_RETAILER_SCOPES) == [
        "write_inventory",
        "read_locations",
    ]


@pytest.mark.parametrize(
    ("hours", "hold", "says"),
    [(6, 2.0, None), (0, None, "missed"), (200, None, "re-reads"), (1, 90.0, "hold_window")],
)
def test_lookback_sanity(hours, hold, says):
    problem = lookback_problem("orders", hours, hold)
    assert (problem is None) if says is None else (says in problem)


def test_connection_headroom_thresholds():
    assert connection_verdict(10, 100) is Verdict.PASS
    assert connection_verdict(75, 100) is Verdict.WARN
    assert connection_verdict(95, 100) is Verdict.FAIL
    assert connection_verdict(0, 0) is Verdict.FAIL


def test_migration_gaps_both_ways():
    files = [(1, "foundation"), (2, "order_ledgers"), (3, "email_outbox")]
    assert migration_gaps(files, [1, 2, 3]) == ([], [])
    assert migration_gaps(files, [1]) == (["002_order_ledgers", "003_email_outbox"], [])
    assert migration_gaps(files, [1, 2, 3, 4]) == ([], [4])
