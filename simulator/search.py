"""Shopify's search syntax for ``query:`` arguments, as the simulator serves it.

Grammar (https://shopify.dev/docs/api/usage/search-syntax): terms separated by whitespace are
ANDed; ``AND``/``OR`` connectives; ``-`` or ``NOT`` negates; parentheses group; a term is
``value`` (free text) or ``field`` + comparator (``:`` ``:<`` ``:>`` ``:<=`` ``:>=``) + value;
values may be single- or double-quoted; ``field:*`` means the field exists; a trailing ``*``
makes a prefix match; ``a,b`` (unquoted) matches either value, as in ``channel:web,pos``.
Precedence is NOT > AND > OR (Shopify does not document it: clients should parenthesise).

Modelled Shopify behaviours, each observed in real responses (FACTS.md §2.3):

- An unknown field is *dropped*: the term constrains nothing (negated or not) and a warning
  ``{"field", "message": "Invalid search field for this query.", "code": "invalid_field"}`` is
  reported, for ``extensions.search`` (see :func:`search_extension`).
- Unquoted values end at a ``:``. So ``updated_at:>=2026-01-01T00:00:00Z`` parses as
  ``updated_at >= 2026-01-01T00`` plus a bogus term ``00:00Z`` (field ``00``, dropped with a
  warning) — exactly what Shopify's ``extensions.search.parsed`` showed for that query — and the
  time of day is lost: an unquoted date-time counts as its calendar day (shopify-api-ruby#588:
  "everything from the T is ignored"). Quoted ISO-8601 values keep their time.

Dates (kind ``datetime``) accept: a quoted ISO-8601 date-time (``'2025-01-01T10:00:00Z'``;
without offset = the shop's time zone), ``YYYY``, ``YYYY-MM``, ``YYYY-MM-DD``, ``now``,
``today``, ``yesterday`` and relative ``-Nd``/``-Nh``/``-Nw`` (``created_at:>=-7d``, seen in
third-party apps, not in Shopify's docs). A calendar value is a period: ``:`` means inside it,
``:<`` before its start, ``:<=`` before its end, ``:>`` from its end, ``:>=`` from its start
(so ``updated_at:<=2024`` includes all of 2024, as the schema's own example suggests). A value
that is none of these is dropped with an ``invalid_value`` warning.

Field kinds: ``text`` (case-insensitive, every query word must be a word of the value, so
``name:1001`` matches ``#1001``), ``keyword`` (case-insensitive exact), ``list`` (any element,
keyword rules), ``datetime``, ``number``, ``id`` (GID or numeric legacy id, compared as numbers).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any

from simulator.search_match import KINDS, Node, Predicate, SearchContext, Term, compile_term

__all__ = ["SearchFilter", "parse_search", "search_extension"]


@dataclass(frozen=True)
class SearchFilter:
    """A parsed ``query:``; ``matches`` is what the resolver filters records with."""

    query: str
    parsed: dict[str, Any] | None
    warnings: list[dict[str, str]] = field(default_factory=list)
    predicate: Predicate | None = None  # None: nothing constrains (empty or all dropped)

    def matches(self, record: Mapping[str, Any]) -> bool:
        return True if self.predicate is None else self.predicate(record)

    def filter(self, records: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        return [r for r in records if self.matches(r)]


def parse_search(
    query: str | None,
    allowed_fields: Mapping[str, str],
    *,
    default_fields: Sequence[str] = ("name",),
    synonyms: Mapping[str, str] | None = None,
    tz: tzinfo = UTC,
    now: datetime | None = None,
) -> SearchFilter:
    """Parse ``query`` for a connection whose searchable fields are ``allowed_fields``
    (name → kind). ``default_fields`` are the text attributes free-text terms search.
    ``synonyms`` maps an extra field name to another, ``-`` meaning negated: orders declare
    ``{"tag_not": "-tag"}``. ``tz`` is the shop's time zone, ``now`` the clock for relative
    dates (default: the current time)."""
    text = query or ""
    if not isinstance(allowed_fields, Mapping):
        raise TypeError("allowed_fields must map each field name to its kind, e.g. {'tag': 'list'}")
    bad = {f: k for f, k in allowed_fields.items() if k not in KINDS}
    if bad:
        raise ValueError(f"unknown search field kinds {bad}; use one of {sorted(KINDS)}")
    ctx = SearchContext(
        fields={k.lower(): v for k, v in allowed_fields.items()},
        default_fields=tuple(default_fields),
        synonyms={k.lower(): v for k, v in (synonyms or {}).items()},
        tz=tz,
        now=now or datetime.now(UTC),
    )
    parser = _Parser(tokenize(text), ctx)
    node = parser.parse()
    if node is None:
        return SearchFilter(text, None, [], None)
    parsed, predicate = node
    return SearchFilter(text, parsed, ctx.warnings, predicate)


def search_extension(path: Sequence[str | int], query: str, search: SearchFilter) -> dict:
    """One entry of ``extensions.search``. Shopify sends the block only when there are
    warnings (a clean query has none): the engine should add it only if ``search.warnings``."""
    return {
        "path": list(path),
        "query": query,
        "parsed": search.parsed,
        "warnings": list(search.warnings),
    }


# -- parser --------------------------------------------------------------------------------


class _Parser:
    """Recursive descent over tokens; lenient like Shopify's (stray connectives and unbalanced
    parentheses are skipped, never an error)."""

    def __init__(self, tokens: list[Any], ctx: SearchContext) -> None:
        self.tokens = tokens
        self.pos = 0
        self.ctx = ctx

    def peek(self) -> Any:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def parse(self) -> Node | None:
        node = None
        while self.pos < len(self.tokens):
            part = self._or()
            if part is not None:
                node = part if node is None else _combine("and", [node, part])
            elif self.peek() is not None:
                self.pos += 1  # a stray ")" or connective
        return node

    def _or(self) -> Node | None:
        items = [n for n in [self._and()] if n is not None]
        while self.peek() == "OR":
            self.pos += 1
            right = self._and()
            if right is not None:
                items.append(right)
        return _combine("or", items)

    def _and(self) -> Node | None:
        items: list[Node] = []
        while (tok := self.peek()) is not None and tok not in ("OR", ")"):
            if tok == "AND":
                self.pos += 1
                continue
            node = self._unary()
            if node is not None:
                items.append(node)
        return _combine("and", items)

    def _unary(self) -> Node | None:
        tok = self.peek()
        self.pos += 1
        if tok == "NOT":
            inner = self._unary() if self.peek() not in (None, "OR", ")") else None
            return _negate(inner)
        if tok == "(":
            inner = self._or()
            if self.peek() == ")":
                self.pos += 1
            return inner
        if isinstance(tok, Term):
            return self._term(tok)
        return None  # a ")" without "(" inside _and cannot happen; defensive

    def _term(self, term: Term) -> Node | None:
        node = compile_term(term, self.ctx)
        return _negate(node) if term.negated else node


def _combine(op: str, items: list[Node]) -> Node | None:
    if not items:
        return None
    if len(items) == 1:
        return items[0]
    parsed = {op: [p for p, _ in items]}
    preds = [f for _, f in items if f is not None]
    if not preds:
        return parsed, None
    if len(preds) == 1:
        return parsed, preds[0]
    if op == "and":
        return parsed, lambda r: all(f(r) for f in preds)
    return parsed, lambda r: any(f(r) for f in preds)


def _negate(node: Node | None) -> Node | None:
    if node is None:
        return None
    parsed, pred = node
    if pred is None:  # a dropped term stays dropped: NOT nothing constrains nothing
        return {"not": parsed}, None
    return {"not": parsed}, lambda r: not pred(r)


# -- tokens ----------------------------------------------------------------------------------


_COMPARATORS = ("<=", ">=", "<", ">")


def tokenize(text: str) -> list[Any]:
    """Tokens: "(", ")", "AND", "OR", "NOT" and :class:`Term`. Unquoted names stop at
    whitespace, parentheses, quotes and ``:``; unquoted values stop at whitespace, parentheses
    and ``:`` — a value cut at a ``:`` leaves the rest as a new term, as Shopify does."""
    tokens: list[Any] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if c in "()":
            tokens.append(c)
            i += 1
            continue
        negated = False
        if c == "-" and i + 1 < n and not text[i + 1].isspace():
            if text[i + 1] == "(":
                tokens.append("NOT")
                i += 1
                continue
            negated, i = True, i + 1
        if text[i] == ":":  # the tail of a value cut at a colon
            i += 1
            continue
        if text[i] in "'\"":
            value, i = _quoted(text, i)
            tokens.append(Term(None, "", value, True, negated))
            continue
        start = i
        while i < n and not text[i].isspace() and text[i] not in "():'\"":
            i += 1
        word = text[start:i]
        if i < n and text[i] == ":":
            i += 1
            comparator = next((op for op in _COMPARATORS if text.startswith(op, i)), ":")
            i += 0 if comparator == ":" else len(comparator)
            if i < n and text[i] in "'\"":
                value, i = _quoted(text, i)
                tokens.append(Term(word, comparator, value, True, negated))
                continue
            vstart = i
            while i < n and not text[i].isspace() and text[i] not in "():":
                i += 1
            tokens.append(Term(word, comparator, text[vstart:i], False, negated))
            continue
        if word in ("AND", "OR", "NOT") and not negated:
            tokens.append(word)
        elif word:
            tokens.append(Term(None, "", word, False, negated))
        else:
            i += 1  # a lone quote character that _quoted did not take; skip it
    return tokens


def _quoted(text: str, i: int) -> tuple[str, int]:
    """A quoted string starting at ``text[i]``; backslash escapes; unclosed runs to the end."""
    quote, i, out = text[i], i + 1, []
    while i < len(text) and text[i] != quote:
        if text[i] == "\\" and i + 1 < len(text):
            i += 1
        out.append(text[i])
        i += 1
    return "".join(out), i + 1
