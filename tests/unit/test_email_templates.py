"""Every template escapes what it interpolates and keeps subjects on one header line."""

from __future__ import annotations

import pytest

from resources.email_templates import (
    OrderIssue,
    RenderedEmail,
    check_failure_email,
    clean_subject,
    first_lines,
    order_issues_email,
    run_failure_email,
    with_repeat_note,
)

SCRIPT = "<script>alert(1)</script>"
HEADER = "x\r\nBcc: evil@example.com"
EVIL = f"{SCRIPT} {HEADER}"


def _all_templates() -> dict[str, RenderedEmail]:
    issue = OrderIssue(key="k", retailer=EVIL, order_name=EVIL, reason=EVIL, fix=EVIL)
    return {
        "run_failure": run_failure_email(EVIL, EVIL, EVIL, EVIL),
        "run_failure_in_full": run_failure_email(
            EVIL,
            EVIL,
            EVIL,
            EVIL,
            flow=EVIL,
            retailer=EVIL,
            covers=EVIL,
            run_url=f"https://ui.example/runs/{EVIL}",
            critical=True,
        ),  # fmt: skip
        "check_failure": check_failure_email(EVIL, EVIL, EVIL, {EVIL: EVIL}, EVIL, EVIL),
        "check_failure_in_full": check_failure_email(
            EVIL,
            EVIL,
            EVIL,
            {EVIL: EVIL},
            EVIL,
            EVIL,
            flow=EVIL,
            retailer=EVIL,
            covers=EVIL,
            job=EVIL,
            run_url=f"https://ui.example/runs/{EVIL}",
            critical=True,
        ),  # fmt: skip
        "order_issues": order_issues_email([issue], title=EVIL),
    }


@pytest.mark.parametrize("name", sorted(_all_templates()))
def test_template_escapes_html_and_strips_header_breaks(name: str):
    email = _all_templates()[name]
    assert "<script>" not in email.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in email.html
    for forbidden in ("\r", "\n", "\u2028", "\x85"):
        assert forbidden not in email.subject
    assert email.subject.startswith("[shopsync] ")
    assert "\r" not in email.text and "\r" not in email.html
    # The injected header is now text on the subject line, never a header of its own.
    assert "Bcc: evil@example.com" in email.subject or len(email.subject) == 200


def test_clean_subject_removes_every_line_break_kind():
    assert clean_subject("a\r\nb\nc\rd\u2028e\u2029f\x85g\x00h\tj") == "a b c d e f g h j"
    assert len(clean_subject("x" * 500)) == 200


def test_first_lines_keeps_the_head_of_an_error():
    text = "\n".join(f"line {i}" for i in range(100))
    assert first_lines(text, lines=3) == "line 0\nline 1\nline 2"
    assert len(first_lines("y" * 5000, max_chars=100)) == 100


def test_check_failure_lists_metadata_as_a_table():
    email = check_failure_email("hub_orders_are_unique", "hub_orders", None, {"ids": "A, B"})
    assert "<td>ids</td><td>A, B</td>" in email.html
    assert "ids | A, B" in email.text
    assert email.subject == "[shopsync] blocking check failed: hub_orders_are_unique on hub_orders"


def test_run_failure_names_flow_retailer_partition_error_and_link():
    email = run_failure_email(
        "orders_job",
        "r-1",
        "2026-11-25-04:00|epic-gardening … 2026-11-25-05:00|nationwide-plants",
        "ShopifyAuthError: 401\ntraceback line",
        flow="orders",
        retailer="epic-gardening, nationwide-plants",
        covers="4 partitions: retailers epic-gardening, nationwide-plants, hours A … B",
        run_url="http://localhost:3000/runs/r-1",
    )
    for fact in (
        "Flow: orders",
        "Retailer: epic-gardening, nationwide-plants",
        "Covers: 4 partitions: retailers epic-gardening, nationwide-plants, hours A … B",
        "Run in the UI: http://localhost:3000/runs/r-1",
        "Error: ShopifyAuthError: 401",
    ):
        assert fact in email.text
    assert (
        '<a href="http://localhost:3000/runs/r-1">http://localhost:3000/runs/r-1</a>' in email.html
    )
    assert "traceback line" in email.text  # the head, not only its first line


def test_a_link_that_is_not_http_is_inert_text():
    email = run_failure_email("j", "r", None, "e", run_url="javascript:alert(1)")
    assert "href" not in email.html and "javascript:alert(1)" in email.html


def test_critical_mail_says_so_in_its_subject():
    email = check_failure_email("hub_orders_are_unique", "hub_orders", None, {}, critical=True)
    assert email.subject == (
        "[shopsync] CRITICAL: blocking check failed: hub_orders_are_unique on hub_orders"
    )


def test_repeat_note_is_added_once_and_replaced_after():
    html, text = "<html><body><h2>T</h2></body></html>", "T\n\nbody\n"
    html, text = with_repeat_note(html, text, "Repeated 1 time <x>", replaces=False)
    assert html.startswith('<html><body><p data-shopsync="repeats"')
    assert "Repeated 1 time &lt;x&gt;</p><h2>T</h2>" in html
    assert text == "Repeated 1 time <x>\n\nT\n\nbody\n"
    html, text = with_repeat_note(html, text, "Repeated 2 times", replaces=True)
    assert html.count("data-shopsync") == 1 and "Repeated 2 times</p><h2>T</h2>" in html
    assert text == "Repeated 2 times\n\nT\n\nbody\n"
    # A body with no <body> tag gets the note first.
    assert with_repeat_note("<p>x</p>", "x", "n", replaces=False)[0].endswith("n</p><p>x</p>")
