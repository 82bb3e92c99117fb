"""Email bodies for alerts and the daily summary: pure functions, no IO.

Every value placed in the HTML part goes through `html.escape`, because alert
content is attacker-influenced (order names, SKUs and error messages come from
Shopify stores we do not control). Subjects are cleaned of CR/LF and other control
characters so a value can never start a new header (`x\\r\\nBcc: ...`). The text
part is plain text: it is not HTML-escaped (a `<` there is just a character), but
its line breaks are normalised and control characters removed.

Every alert names what an operator needs to act: the flow, the retailer, the partition
(for a range run, the retailers and hours it covers), the head of the error and the
run's page in the UI (a `Link`, an anchor only for http(s) URLs). Critical alerts say so
in their subject.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Link:
    """A URL shown as a link in the HTML part and as itself in the text part; anything but
    http(s) stays inert text (no `javascript:` href, whatever reaches a template)."""

    url: str

    def html(self) -> str:
        if not self.url.startswith(("http://", "https://")):
            return esc(self.url)
        return f'<a href="{esc(self.url)}">{esc(self.url)}</a>'

    def __str__(self) -> str:
        return clean_text(self.url)


def run_url(ui_url: str, run_id: str) -> str:
    """The run's page in the Dagster UI (`notifications.ui_url`)."""
    return f"{ui_url.rstrip('/')}/runs/{run_id}"


def _cell(value: object) -> str:
    return value.html() if isinstance(value, Link) else esc(value)


def _table(columns: Sequence[object], rows: Iterable[Sequence[object]]) -> str:
    head = "".join(f"<th align='left'>{esc(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table border='1' cellpadding='4' cellspacing='0'><tr>{head}</tr>{body}</table>"


def _text_table(columns: Sequence[object], rows: Iterable[Sequence[object]]) -> str:
    return "\n".join(" | ".join(clean_text(v) for v in r) for r in [columns, *rows])


def _render(
    subject: str, title: str, parts: list[tuple[str, str]], critical: bool = False
) -> RenderedEmail:
    """`parts` are (html, text) pairs; every html part is already escaped."""
    if critical:
        subject, title = f"CRITICAL: {subject}", f"CRITICAL: {title}"
    body = "".join(h for h, _ in parts)
    page = f"<html><body><h2>{esc(title)}</h2>{body}</body></html>"
    text = clean_text(title + "\n\n" + "\n\n".join(t for _, t in parts)) + "\n"
    return RenderedEmail(clean_subject(f"{SUBJECT_PREFIX} {subject}"), page, text)


def _facts(facts: Mapping[str, object]) -> tuple[str, str]:
    rows = [(k, "" if v is None else v) for k, v in facts.items()]
    return _table(("", ""), rows), "\n".join(f"{k}: {clean_text(v)}" for k, v in rows)


def _pre(text: str) -> tuple[str, str]:
    return f"<pre>{esc(text)}</pre>", text


def _head_line(text: str | None) -> str:
    lines = first_lines(text or "", lines=1, max_chars=300).splitlines()
    return lines[0] if lines else ""


def _where(
    flow: str | None, retailer: str | None, partition: str | None, covers: str | None
) -> dict[str, object]:
    """What every alert names: the flow, the retailer and the partition (or range)."""
    facts: dict[str, object] = {
        "Flow": flow or "(not a flow run)",
        "Retailer": retailer or "(none named)",
        "Partition": partition or "(none)",
    }
    if covers and covers != partition:
        facts["Covers"] = covers
    return facts


def _run(job: str | None, run_id: str | None, url: str | None) -> dict[str, object]:
    return {"Job": job, "Run ID": run_id, "Run in the UI": Link(url) if url else "(no link)"}


def run_failure_email(
    job: str,
    run_id: str,
    partition: str | None,
    error: str,
    *,
    flow: str | None = None,
    retailer: str | None = None,
    covers: str | None = None,
    run_url: str | None = None,
    critical: bool = False,
) -> RenderedEmail:
    """A failed run or a retailer's failed flow: where (flow, retailer, partition; for a
    range run `covers` names its retailers and hours), the head of the error (redacted by
    the caller) and the run's page in the UI."""
    where = f" [{partition}]" if partition else ""
    head = first_lines(error)
    facts = {
        **_where(flow, retailer, partition, covers),
        **_run(job, run_id, run_url),
        "Error": _head_line(head),
    }
    subject = f"run failed: {job}{where}"
    return _render(subject, f"Run failed: {job}", [_facts(facts), _pre(head)], critical)


def check_failure_email(
    check_name: str,
    asset: str,
    partition: str | None,
    metadata: Mapping[str, object],
    run_id: str | None = None,
    description: str | None = None,
    *,
    flow: str | None = None,
    retailer: str | None = None,
    covers: str | None = None,
    job: str | None = None,
    run_url: str | None = None,
    critical: bool = False,
) -> RenderedEmail:
    """A blocking asset check failed: downstream assets of that partition did not run."""
    facts = {
        "Check": check_name,
        "Asset": asset,
        **_where(flow, retailer, partition, covers),
        **_run(job, run_id, run_url),
        "Error": _head_line(description) or "the check failed (see its metadata)",
    }
    parts = [_facts(facts)]
    if description:
        parts.append((f"<p>{esc(description)}</p>", clean_text(description)))
    if metadata:
        rows = [(k, v) for k, v in metadata.items()]
        parts.append(
            (_table(("Metadata", "Value"), rows), _text_table(("Metadata", "Value"), rows))
        )
    subject = f"blocking check failed: {check_name} on {asset}"
    return _render(subject + (f" [{partition}]" if partition else ""), subject, parts, critical)


_REPEAT_HTML = re.compile(r'<p data-shopsync="repeats"[^>]*>[^<]*</p>')
_BODY_TAG = re.compile(r"<body[^>]*>", re.IGNORECASE)


def with_repeat_note(
    html_part: str, text_part: str, note: str, *, replaces: bool
) -> tuple[str, str]:
    """The parts of a still-queued email with `note` (the count of repeats grouped into
    it) at the top; `replaces`: an earlier repeat put a note there, which this one replaces
    (the caller knows from the row's repeat count; content alone could be forged)."""
    block = f'<p data-shopsync="repeats" style="font-weight: bold;">{esc(note)}</p>'
    if replaces and _REPEAT_HTML.search(html_part):
        html_part = _REPEAT_HTML.sub(lambda _: block, html_part, count=1)
    elif body := _BODY_TAG.search(html_part):
        html_part = html_part[: body.end()] + block + html_part[body.end() :]
    else:
        html_part = block + html_part
    if replaces and "\n\n" in text_part:
        text_part = text_part.split("\n\n", 1)[1]
    return html_part, clean_text(note) + "\n\n" + text_part


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
