"""Email bodies for alerts and the daily summary: pure functions, no IO.

Every value placed in the HTML part goes through `html.escape`, because alert
content is attacker-influenced (order names, SKUs and error messages come from
Shopify stores we do not control). Subjects are cleaned of CR/LF and other control
characters so a value can never start a new header (`x\\r\\nBcc: ...`). The text
part is plain text: it is not HTML-escaped (a `<` there is just a character), but
its line breaks are normalised and control characters removed.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

SUBJECT_PREFIX = "[shopsync]"
_MAX_SUBJECT = 200
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    html: str
    text: str


def clean_subject(value: object) -> str:
    """One header-safe line: control characters (CR, LF, U+2028, ...) become spaces."""
    chars = (" " if _is_control(c) else c for c in str(value))
    return _SPACES.sub(" ", "".join(chars)).strip()[:_MAX_SUBJECT]


def clean_text(value: object) -> str:
    """Plain text with `\\n` line breaks only and no other control characters."""
    text = str(value).replace("\r\n", "\n").replace("\r", "\n")
    return "".join(c for c in text if c in "\n\t" or not _is_control(c))


def _is_control(c: str) -> bool:
    return unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")


def esc(value: object) -> str:
    return html.escape(clean_text(value), quote=True)


def first_lines(text: str, lines: int = 15, max_chars: int = 2000) -> str:
    """The head of an error: enough to recognise it, never a whole log."""
    head = "\n".join(clean_text(text).strip().splitlines()[:lines])
    return head if len(head) <= max_chars else head[: max_chars - 1] + "…"


def _table(columns: Sequence[object], rows: Iterable[Sequence[object]]) -> str:
    head = "".join(f"<th align='left'>{esc(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{esc(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table border='1' cellpadding='4' cellspacing='0'><tr>{head}</tr>{body}</table>"


def _text_table(columns: Sequence[object], rows: Iterable[Sequence[object]]) -> str:
    return "\n".join(" | ".join(clean_text(v) for v in r) for r in [columns, *rows])


def _render(subject: str, title: str, parts: list[tuple[str, str]]) -> RenderedEmail:
    """`parts` are (html, text) pairs; every html part is already escaped."""
    body = "".join(h for h, _ in parts)
    page = f"<html><body><h2>{esc(title)}</h2>{body}</body></html>"
    text = clean_text(title + "\n\n" + "\n\n".join(t for _, t in parts)) + "\n"
    return RenderedEmail(clean_subject(f"{SUBJECT_PREFIX} {subject}"), page, text)


def _facts(facts: Mapping[str, object]) -> tuple[str, str]:
    rows = [(k, "" if v is None else v) for k, v in facts.items()]
    return _table(("", ""), rows), "\n".join(f"{k}: {clean_text(v)}" for k, v in rows)


def _pre(text: str) -> tuple[str, str]:
    return f"<pre>{esc(text)}</pre>", text


def run_failure_email(job: str, run_id: str, partition: str | None, error: str) -> RenderedEmail:
    """A failed run: what, where, and the head of the error (already redacted by the caller)."""
    where = f" [{partition}]" if partition else ""
    facts = _facts({"Job": job, "Run ID": run_id, "Partition": partition or "(none)"})
    return _render(
        f"run failed: {job}{where}", f"Run failed: {job}", [facts, _pre(first_lines(error))]
    )


def check_failure_email(
    check_name: str,
    asset: str,
    partition: str | None,
    metadata: Mapping[str, object],
    run_id: str | None = None,
    description: str | None = None,
) -> RenderedEmail:
    """A blocking asset check failed: downstream assets of that partition did not run."""
    facts = _facts({"Check": check_name, "Asset": asset, "Partition": partition, "Run ID": run_id})
    parts = [facts]
    if description:
        parts.append((f"<p>{esc(description)}</p>", clean_text(description)))
    if metadata:
        rows = [(k, v) for k, v in metadata.items()]
        parts.append(
            (_table(("Metadata", "Value"), rows), _text_table(("Metadata", "Value"), rows))
        )
    subject = f"blocking check failed: {check_name} on {asset}"
    return _render(subject + (f" [{partition}]" if partition else ""), subject, parts)


@dataclass(frozen=True)
class OrderIssue:
    """One order or fulfillment an operator must act on; `key` makes its alert once-only.

    `key` is stable per problem, e.g. `terminal:fulfillment:<hub fulfillment gid>` or
    `quarantined:order:<retailer>:<order gid>:<reason>`.
    """

    key: str
    retailer: str
    order_name: str
    reason: str
    fix: str


def order_issues_email(issues: Sequence[OrderIssue], title: str) -> RenderedEmail:
    """A digest of orders held or fulfillments that cannot be pushed, with the fix for each."""
    columns = ("Retailer", "Order", "Reason", "What to do")
    rows = [(i.retailer, i.order_name, i.reason, i.fix) for i in issues]
    retailers = sorted({i.retailer for i in issues})
    subject = f"{title}: {len(issues)} ({', '.join(retailers)})"
    return _render(subject, title, [(_table(columns, rows), _text_table(columns, rows))])


API_COLUMNS = ("store", "calls", "errors", "throttled", "cost")
ORDER_COLUMNS = ("retailer", "seen", "imported", "quarantined", "failed")
FULFILLMENT_COLUMNS = ("retailer", "pushed", "terminal", "pending")


@dataclass(frozen=True)
class SummaryTable:
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[object, ...], ...] = ()
    note: str = ""


@dataclass(frozen=True)
class DailySummary:
    day: str
    tables: tuple[SummaryTable, ...] = field(default_factory=tuple)


def summary_table(
    title: str,
    columns: tuple[str, ...],
    rows: Iterable[Mapping[str, object]] | None,
    keys: Iterable[str] = (),
) -> SummaryTable:
    """Rows keyed by the first column, every key in `keys` present (zeros), plus a total row.

    `rows` None means the source table does not exist yet: the section says so
    instead of pretending nothing happened.
    """
    if rows is None:
        return SummaryTable(title, columns, note="not available (table not created yet)")
    by_key: dict[str, dict[str, object]] = {k: {} for k in keys}
    for row in rows:
        by_key.setdefault(str(row[columns[0]]), {}).update(row)
    table = [(k, *(by_key[k].get(c) or 0 for c in columns[1:])) for k in sorted(by_key)]
    total = ("total", *(sum(int(r[i] or 0) for r in table) for i in range(1, len(columns))))
    return SummaryTable(title, columns, tuple([*table, total]))


def build_daily_summary(
    day: str,
    api_calls: Iterable[Mapping[str, object]],
    orders: Iterable[Mapping[str, object]] | None = None,
    fulfillments: Iterable[Mapping[str, object]] | None = None,
    retailers: Sequence[str] = (),
    stores: Sequence[str] = (),
) -> DailySummary:
    """Counts per store/retailer from plain rows (the caller queries; this only shapes)."""
    return DailySummary(
        day,
        (
            summary_table("Orders", ORDER_COLUMNS, orders, retailers),
            summary_table("Fulfillments", FULFILLMENT_COLUMNS, fulfillments, retailers),
            summary_table("Shopify API calls", API_COLUMNS, api_calls, stores),
        ),
    )


def daily_summary_email(summary: DailySummary) -> RenderedEmail:
    parts = []
    for t in summary.tables:
        if t.note:
            parts.append((f"<h3>{esc(t.title)}</h3><p>{esc(t.note)}</p>", f"{t.title}: {t.note}"))
        else:
            html_table = f"<h3>{esc(t.title)}</h3>" + _table(t.columns, t.rows)
            parts.append((html_table, f"{t.title}\n" + _text_table(t.columns, t.rows)))
    title = f"Daily summary {summary.day}"
    return _render(title, title, parts)
