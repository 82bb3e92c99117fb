"""Markdown for Dagster UI metadata, with everything from a store escaped.

Order names, notes, SKUs and error messages come from stores we do not control:
a `|` would break a table, a `[x](javascript:…)` would be a link, `<script>` would
be markup. `md_text` makes any value inert text; `md_table` builds a table of such
cells. Every markdown the UI renders goes through these two functions.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence

# Characters with meaning in CommonMark/GFM inline syntax; each is backslash-escaped.
_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()#!|~])")
# A list marker or a numbered item only means something at the start of a line.
_LINE_START = re.compile(r"^(\s*)([-+]|\d+)(\.?)(?=\s)")
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029]+")


def md_text(value: object) -> str:
    """`value` as one line of literal text: HTML entities for `<>&"'`, markdown punctuation
    backslash-escaped, line breaks as spaces (a cell never ends early)."""
    text = _LINE_BREAKS.sub(" ", "" if value is None else str(value))
    text = _MARKDOWN_PUNCTUATION.sub(r"\\\1", text)
    text = _LINE_START.sub(_escape_list_marker, text)
    # Markdown first, then HTML (`<`, `>`, `&`, quotes): an entity's `#` stays unescaped.
    return html.escape(text, quote=True)


def _escape_list_marker(m: re.Match) -> str:
    """`- x` → `\\- x`, `12. x` → `12\\. x`; a number alone (`5.5`, `12 h`) is left as is."""
    indent, marker, dot = m.groups()
    if marker.isdigit():
        return indent + marker + ("\\." if dot else "")
    return indent + "\\" + marker + dot


def md_table(columns: Sequence[object], rows: Iterable[Sequence[object]]) -> str:
    """A GFM table; every header and cell is `md_text`."""
    head = "| " + " | ".join(md_text(c) for c in columns) + " |"
    rule = "|" + "|".join(" --- " for _ in columns) + "|"
    body = ["| " + " | ".join(md_text(v) for v in row) + " |" for row in rows]
    return "\n".join([head, rule, *body])
