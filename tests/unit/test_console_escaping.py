"""Store text is inert in every email and in every UI markdown table (operator's console).

A hostile order name, note or SKU (`<script>`, a `javascript:` link, markdown that would
bold, link or split a table) goes through each producer. The outputs are then *parsed*
as a mail client and as a markdown renderer would: an HTML parser for the HTML part, a
CommonMark renderer (tables on, link validation off, raw HTML on: the most trusting
reader) for the markdown. Inert means: no element or link came from the text, the
table keeps its shape, and the reader sees exactly the characters the store sent (no
double escaping either).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import markdown_it
import pytest

from assets.exceptions import queue_markdown
from flows.exceptions import escalation_email
from flows.health import HealthReport, health_markdown
from resources.email_templates import (
    OrderIssue,
    RenderedEmail,
    check_failure_email,
    order_issues_email,
    run_failure_email,
    with_repeat_note,
)
from resources.ledgers.health import DatabaseFigures
from resources.mail import render_mail
from resources.registry import Thresholds
from sync import health as h
from sync.exceptions import TABLE_COLUMNS, ExceptionRow, build_items
from sync.markdown import md_table, md_text

SCRIPT = "<script>alert(1)</script>"
MARKDOWN = "| ** [x](javascript:alert(1)) ![i](javascript:alert(2)) __u__ `c` ~~s~~ #h"
TAGS = '<img src=x onerror=alert(1)> <a href="javascript:alert(3)">y</a> &amp; it\'s'
HOSTILE = f"{SCRIPT} {MARKDOWN} {TAGS}"
NOW = datetime(2026, 10, 2, 5, 0, tzinfo=UTC)

#: Elements the producers write themselves; anything else came from the text.
MAIL_ELEMENTS = {"html", "head", "meta", "title", "body", "h2", "h3", "p", "pre", "table",
                 "tr", "th", "td", "a"}  # fmt: skip
MARKDOWN_ELEMENTS = {"table", "thead", "tbody", "tr", "th", "td", "p", "h3"}


class _Page(HTMLParser):
    """What a reader gets from HTML: the elements, the links, and the visible text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: set[str] = set()
        self.counts: Counter[str] = Counter()
        self.hrefs: list[str] = []
        self.handlers: list[str] = []
        self.tables: list[list[list[str]]] = []  # per table, its rows, each its cells
        self.text: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs) -> None:
        self.elements.add(tag)
        self.counts[tag] += 1
        self.hrefs += [v or "" for k, v in attrs if k in ("href", "src")]
        self.handlers += [k for k, _ in attrs if k.startswith("on")]
        if tag == "table":
            self.tables.append([])
        if tag == "tr":
            self.tables[-1].append([])
        if tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)

    @property
    def cells(self) -> list[list[str]]:
        return [row for table in self.tables for row in table]

    def shapes_hold(self) -> bool:
        """Every row of every table has as many cells as its header."""
        return all(len({len(row) for row in table}) == 1 for table in self.tables)

    @property
    def visible(self) -> str:
        return "".join(self.text)


def page(markup: str) -> _Page:
    parsed = _Page()
    parsed.feed(markup)
    parsed.close()
    return parsed


def assert_inert_mail(mail: RenderedEmail, hostile: str = HOSTILE) -> None:
    """The HTML part has only the template's own elements and http(s) links, and shows the
    hostile text as it is; the text part carries it verbatim; the subject is one line."""
    parsed = page(mail.html)
    assert parsed.elements <= MAIL_ELEMENTS, parsed.elements - MAIL_ELEMENTS
    assert parsed.handlers == []
    assert all(url.startswith(("http://", "https://")) for url in parsed.hrefs), parsed.hrefs
    assert hostile in parsed.visible  # escaped once: the reader sees the store's characters
    assert hostile in mail.text
    assert "\n" not in mail.subject and "\r" not in mail.subject


def render_markdown(text: str) -> str:
    """A trusting renderer: raw HTML passes, any link target is accepted, GFM tables."""
    md = markdown_it.MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    md.validateLink = lambda url: True
    return md.render(text)


def assert_inert_markdown(text: str, columns: int, hostile: str = HOSTILE) -> _Page:
    parsed = page(render_markdown(text))
    assert parsed.elements <= MARKDOWN_ELEMENTS, parsed.elements - MARKDOWN_ELEMENTS
    assert parsed.hrefs == [] and parsed.handlers == []
    assert len(parsed.tables) == 1 and parsed.shapes_hold(), parsed.tables
    assert all(len(row) == columns for row in parsed.cells), parsed.cells
    assert any(hostile in cell for row in parsed.cells for cell in row)
    return parsed


# -- every email ------------------------------------------------------------------------


def _issue() -> OrderIssue:
    return OrderIssue(key=f"quarantined:order:epic:1:{HOSTILE}", retailer="epic-gardening",
                      order_name=HOSTILE, reason=HOSTILE, fix=f"add the SKU {HOSTILE}")  # fmt: skip


def _exception_items():
    row = ExceptionRow(
        kind="quarantined", retailer="epic-gardening", subject="gid://shopify/Order/1",
        order_name=HOSTILE, reason="sku_unknown", detail=f"SKU {HOSTILE} is not sold by the hub",
        since=NOW - timedelta(hours=5), record_at=NOW - timedelta(hours=5),
        order_gid="gid://shopify/Order/1",
    )  # fmt: skip
    return build_items([row], NOW)


def _health_mail(kind: str) -> RenderedEmail:
    """The health template with the hostile text in every cell a store can reach (the error
    code and message come from Shopify responses; the run's partitions are shown too)."""
    rule = h.RULES_BY_KEY["error_rate"]
    row = ("epic-gardening", "orders", rule.show(0.08), 100, f"http://ui/runs/1 ({HOSTILE})")
    return render_mail(
        "health_alert", f"Health: {HOSTILE}", kind=kind, rule=rule, window="hour",
        alert_line="5.00 %", target="1.00 %", direction="above", changed=[row], still=[row],
        errors=[("validation", HOSTILE, 7, "epic-gardening/orders")],
        health_url="http://localhost:3000/assets/health",
    )  # fmt: skip


MAILS = {
    "run_failure": lambda: run_failure_email(
        "orders_job", "run-1", f"2026-11-25-04:00|epic-gardening {HOSTILE}",
        f"ShopifyUserError: order {HOSTILE} refused", flow="orders", retailer="epic-gardening",
        covers=HOSTILE, run_url="http://localhost:3000/runs/run-1",
    ),
    "run_failure_critical_with_a_javascript_link": lambda: run_failure_email(
        "orders_job", "run-1", None, HOSTILE, run_url="javascript:alert(1)", critical=True
    ),
    "check_failure": lambda: check_failure_email(
        "hub_orders_are_unique", "hub_orders", "2026-11-25-04:00|epic-gardening",
        {"duplicates": HOSTILE, HOSTILE: 2}, "run-1", f"duplicate {HOSTILE}",
        flow="orders", retailer="epic-gardening", run_url="https://ui.example/runs/run-1",
        critical=True,
    ),
    "order_issues": lambda: order_issues_email([_issue()], "Retailer orders that need attention"),
    "order_issues_with_a_repeat_note": lambda: _repeated(order_issues_email([_issue()], "t")),
    "exception_escalation": lambda: escalation_email(
        _exception_items(), 4.0, "http://localhost:3000"
    ),
    "health_crossed": lambda: _health_mail("crossed"),
    "health_recovered": lambda: _health_mail("recovered"),
}  # fmt: skip


def _repeated(mail: RenderedEmail) -> RenderedEmail:
    html, text = with_repeat_note(mail.html, mail.text, "Repeated 2 times", replaces=False)
    html, text = with_repeat_note(html, text, "Repeated 3 times", replaces=True)
    return RenderedEmail(mail.subject, html, text)


@pytest.mark.parametrize("name", sorted(MAILS))
def test_hostile_store_text_is_inert_in_every_email(name):
    assert_inert_mail(MAILS[name]())


def test_a_link_the_text_cannot_make_is_still_the_templates_own():
    """The run's link is the only anchor; a `javascript:` URL from anywhere stays text."""
    good = page(MAILS["check_failure"]().html)
    assert good.hrefs == ["https://ui.example/runs/run-1"]
    bad = MAILS["run_failure_critical_with_a_javascript_link"]()
    assert page(bad.html).hrefs == [] and "javascript:alert(1)" in page(bad.html).visible
    assert bad.subject.startswith("[shopsync] CRITICAL: ")


def test_the_health_subject_is_one_header_line_with_the_text_kept():
    mail = render_mail("health_alert", f"a\r\nBcc: x@evil.example {SCRIPT}", kind="crossed",
                       rule=h.RULES_BY_KEY["uptime"], window="day", alert_line="99 %",
                       target="99.9 %", direction="below", changed=[], still=[], errors=[],
                       health_url="http://ui/assets/health")  # fmt: skip
    assert mail.subject == f"[shopsync] a Bcc: x@evil.example {SCRIPT}"
    assert page(mail.html).elements <= MAIL_ELEMENTS  # the <title> too is escaped


# -- every markdown table the UI shows ---------------------------------------------------


def test_md_text_round_trips_hostile_text_as_one_inert_cell():
    table = md_table(["Order", "Note"], [[HOSTILE, f"line one\n{HOSTILE}\r\nline three"]])
    parsed = assert_inert_markdown(table, 2)
    assert parsed.cells[1] == [HOSTILE, f"line one {HOSTILE} line three"]
    # Outside a table too: one paragraph of text, nothing else.
    alone = page(render_markdown(md_text(HOSTILE)))
    assert alone.elements == {"p"} and alone.visible.strip() == HOSTILE


def test_the_exception_queue_table_is_inert():
    items = _exception_items()
    parsed = assert_inert_markdown(queue_markdown(items), len(TABLE_COLUMNS))
    assert parsed.cells[1][1] == HOSTILE  # the Order column, exactly as the store named it


def test_the_health_report_is_inert():
    cells = [
        h.CellFigures(HOSTILE, "orders", "hour", api=h.ApiStats(100, 9, 0, 200.0, 400.0)),
        h.CellFigures("epic-gardening", "orders", "day", runs=h.RunStats(10, 9, 20.0, 30.0)),
    ]
    thresholds = {k: getattr(Thresholds(), k) for k in h.RULES_BY_KEY}
    verdicts = h.judge(cells, thresholds, min_samples=5)
    recurring = [h.RecurringError("validation", HOSTILE, 9, (HOSTILE,), (f"{HOSTILE}/orders",))]
    report = HealthReport(NOW, cells, verdicts, recurring, DatabaseFigures(2**20, 100, 3, 10),
                          crossed={("error_rate", f"{HOSTILE}/orders")})  # fmt: skip
    text = health_markdown(report)
    rendered = page(render_markdown(text))
    assert rendered.elements <= MARKDOWN_ELEMENTS | {"strong"}
    assert rendered.counts["strong"] == 1  # the heading's own bold, none from the text
    assert rendered.hrefs == [] and rendered.handlers == []
    thresholds_table, figures, errors, database = rendered.tables
    assert rendered.shapes_hold(), rendered.tables  # no cell ended early, no row split
    assert errors[1][2] == HOSTILE and errors[1][4] == HOSTILE  # the error, its operation
    assert figures[1][0] == HOSTILE  # a retailer × flow row, hostile key and all
    assert f"{HOSTILE}/orders" in rendered.visible  # the crossed scope, in the thresholds
