"""Terms of a Shopify search query: field kinds, comparisons and dates.

The parser (:mod:`simulator.search`) turns a query into :class:`Term` objects; this module turns
each term into its ``extensions.search.parsed`` entry and a predicate over a record. The
behaviours modelled, and their sources, are in :mod:`simulator.search`'s docstring.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any

Predicate = Callable[[Mapping[str, Any]], bool]


Node = tuple[dict[str, Any], Predicate | None]


@dataclass
class SearchContext:
    """What terms are compiled against: the connection's fields and the shop's clock."""

    fields: dict[str, str]
    default_fields: tuple[str, ...]
    synonyms: dict[str, str]
    tz: tzinfo
    now: datetime
    warnings: list[dict[str, str]] = field(default_factory=list)

    def warn(self, field_name: str, message: str, code: str) -> None:
        warning = {"field": field_name, "message": message, "code": code}
        if warning not in self.warnings:
            self.warnings.append(warning)


@dataclass(frozen=True)
class Term:
    """``[-]field<comparator>value`` or a free-text ``value`` (field None, comparator "")."""

    field: str | None
    comparator: str
    value: str
    quoted: bool
    negated: bool = False


# -- dates ------------------------------------------------------------

_RELATIVE = re.compile(r"^-(\d+)([dhw])$")
_UNITS = {"d": timedelta(days=1), "h": timedelta(hours=1), "w": timedelta(weeks=1)}
_CALENDAR = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
EPSILON = timedelta(microseconds=1)


def resolve_date(value: str, quoted: bool, tz: tzinfo, now: datetime) -> tuple[datetime, datetime]:
    """The period ``[start, end)`` a date value denotes (an instant is one microsecond wide).
    Raises ``ValueError`` otherwise; the forms are listed in :mod:`simulator.search`."""
    text = value.strip()
    lowered = text.lower()
    if lowered == "now":
        return now, now + EPSILON
    local_now = now.astimezone(tz)
    if lowered in ("today", "yesterday"):
        day = local_now.date() - timedelta(days=1 if lowered == "yesterday" else 0)
        start = datetime(day.year, day.month, day.day, tzinfo=tz)
        return start, start + timedelta(days=1)
    if match := _RELATIVE.match(lowered):
        instant = now - int(match.group(1)) * _UNITS[match.group(2)]
        return instant, instant + EPSILON
    if not quoted and "t" in lowered:
        text = text[: lowered.index("t")]  # unquoted: the time of day is lost (#588)
    if match := _CALENDAR.match(text):
        year, month, day = (int(g) if g else None for g in match.groups())
        start = datetime(year, month or 1, day or 1, tzinfo=tz)  # type: ignore[arg-type]
        if day is not None:
            return start, start + timedelta(days=1)
        if month is not None:
            nxt = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=tz)  # type: ignore[operator]
            return start, nxt
        return start, datetime(year + 1, 1, 1, tzinfo=tz)  # type: ignore[operator]
    instant = datetime.fromisoformat(text)
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=tz)
    return instant, instant + EPSILON


def as_datetime(value: Any, tz: tzinfo) -> datetime | None:
    """A record's date-time value (datetime or ISO string; naive means the shop's zone)."""
    if isinstance(value, datetime):
        result = value
    elif isinstance(value, str) and value:
        try:
            result = datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    return result if result.tzinfo is not None else result.replace(tzinfo=tz)


# -- terms -----------------------------------------------------------------------------------

_WORD = re.compile(r"\w+")
_RANGE_KEYS = {"<": "range_lt", "<=": "range_lte", ">": "range_gt", ">=": "range_gte"}


#: Field kinds a connection may declare (see :mod:`simulator.search`).
KINDS = frozenset({"text", "keyword", "list", "datetime", "number", "id"})
ValueMatcher = Callable[[Any], bool]


def compile_term(term: Term, ctx: SearchContext) -> Node | None:
    """The parsed entry and predicate of one term; predicate None = dropped (or empty).

    Every kind matches a record whose value is a list when any element matches, so ``list``
    is ``keyword`` applied to elements and any kind may hold several values."""
    if term.field is None or term.field.lower() == "default":
        return _free_text(term, ctx)
    shown = term.field
    name = shown.lower()
    negate = False
    if name in ctx.synonyms:
        name = ctx.synonyms[name]
        negate = name.startswith("-")
        name = name.lstrip("-").lower()
    kind = ctx.fields.get(name)
    exists = term.comparator == ":" and term.value == "*" and not term.quoted
    if exists:
        parsed: dict[str, Any] = {"field": shown, "exists": True}
    elif term.comparator == ":":
        parsed = {"field": shown, "match_all": term.value}
    else:
        parsed = {"field": shown, _RANGE_KEYS[term.comparator]: term.value}
    if kind is None:
        ctx.warn(shown, "Invalid search field for this query.", "invalid_field")
        return parsed, None
    if term.value == "":
        return parsed, None
    if exists:
        pred: Predicate = lambda r: bool(_as_list(r.get(name)))  # noqa: E731
    else:
        try:
            match = _value_matcher(kind, term, ctx, parsed)
        except (ValueError, OverflowError):
            ctx.warn(shown, f"Input `{term.value}` is not an accepted value.", "invalid_value")
            return parsed, None
        pred = lambda r: any(match(v) for v in _as_list(r.get(name)))  # noqa: E731
    if negate:
        return parsed, lambda r: not pred(r)
    return parsed, pred


def _free_text(term: Term, ctx: SearchContext) -> Node:
    parsed = {"field": "default", "match_all": term.value}
    if not ctx.default_fields or not term.value:
        return parsed, None
    match = _text_matcher(term)
    fields = ctx.default_fields
    return parsed, lambda r: any(match(v) for f in fields for v in _as_list(r.get(f)))


def _value_matcher(kind: str, term: Term, ctx: SearchContext, parsed: dict) -> ValueMatcher:
    """A test of one record value; raises ValueError when the query value does not fit."""
    if kind == "datetime":
        return _date_matcher(term, ctx, parsed)
    if kind == "text":
        return _text_matcher(term)
    if kind in ("keyword", "list"):
        return _keyword_matcher(term)
    convert = float if kind == "number" else _legacy_id
    options = [convert(v) for v in _alternatives(term)]
    compare = _COMPARE[term.comparator]

    def numeric(value: Any) -> bool:
        try:
            have = convert(value)
        except (TypeError, ValueError):
            return False
        return any(compare(have, want) for want in options)

    return numeric


def _date_matcher(term: Term, ctx: SearchContext, parsed: dict[str, Any]) -> ValueMatcher:
    """Compare with the period the value denotes; ``parsed`` shows the resolved bounds."""
    start, end = resolve_date(term.value, term.quoted, ctx.tz, ctx.now)
    instant = end - start == EPSILON
    for key in list(parsed):
        if key.startswith("range_") or key == "match_all":
            del parsed[key]
    op = term.comparator
    if op == ":":
        if instant:
            parsed["match_all"] = start.isoformat()
        else:
            parsed.update(range_gte=start.isoformat(), range_lt=end.isoformat())
        low, high = start, end
    elif op in ("<", ">="):
        parsed[_RANGE_KEYS[op]] = start.isoformat()
        low, high = (start, None) if op == ">=" else (None, start)
    elif instant:  # "<=" / ">" on an instant
        parsed[_RANGE_KEYS[op]] = start.isoformat()
        low, high = (end, None) if op == ">" else (None, end)
    else:  # "<=" / ">" on a period: its end is the boundary
        parsed["range_lt" if op == "<=" else "range_gte"] = end.isoformat()
        low, high = (end, None) if op == ">" else (None, end)
    tz = ctx.tz

    def within(value: Any) -> bool:
        have = as_datetime(value, tz)
        if have is None:
            return False
        return (low is None or have >= low) and (high is None or have < high)

    return within


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    ":": lambda a, b: a == b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _alternatives(term: Term) -> list[str]:
    """``a,b`` (unquoted, equality) means either value."""
    if term.quoted or term.comparator != ":":
        return [term.value]
    return [v for v in term.value.split(",") if v] or [term.value]


def _legacy_id(value: Any) -> int:
    """``gid://shopify/Order/123?x=y`` or ``123`` → 123."""
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if text.startswith("gid://"):
        text = text.split("?", 1)[0].rsplit("/", 1)[-1]
    return int(text)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list | tuple | set | frozenset):
        return list(value)
    return [value]


def _norm(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).casefold()


def _keyword_matcher(term: Term) -> Callable[[Any], bool]:
    """Case-insensitive exact (or prefix with a trailing ``*``), or a string comparison."""
    prefix = not term.quoted and term.value.endswith("*") and len(term.value) > 1
    if prefix:
        want = term.value[:-1].casefold()
        return lambda v: (have := _norm(v)) is not None and have.startswith(want)
    options = [v.casefold() for v in _alternatives(term)]
    compare = _COMPARE[term.comparator]
    return lambda v: (have := _norm(v)) is not None and any(compare(have, w) for w in options)


def _text_matcher(term: Term) -> Callable[[Any], bool]:
    """Every query word must be a word of the value (the last one may be a prefix with
    ``*``); a value with no word characters (``#``) must equal the whole value."""
    prefix = not term.quoted and term.value.endswith("*") and len(term.value) > 1
    raw = (term.value[:-1] if prefix else term.value).casefold()
    words = _WORD.findall(raw)
    if term.comparator not in ("", ":"):  # "" = free text
        compare = _COMPARE[term.comparator]
        return lambda v: (have := _norm(v)) is not None and compare(have, raw)

    def match(value: Any) -> bool:
        have = _norm(value)
        if have is None:
            return False
        if not words:
            return have == raw or (prefix and have.startswith(raw))
        have_words = _WORD.findall(have)
        if prefix:
            *whole, last = words
            return all(w in have_words for w in whole) and any(
                h.startswith(last) for h in have_words
            )
        return all(w in have_words for w in words)

    return match
