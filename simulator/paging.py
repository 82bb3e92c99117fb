"""Relay cursor pagination as Shopify serves it: ``first``/``after``, ``last``/``before``,
``reverse``, at most 250 per page, and "you must provide one of first or last".

A cursor encodes the row's sort key (sort value + legacy id), not its position, so a page
stays correct when rows are inserted before it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from graphql import GraphQLError

MAX_PAGE_SIZE = 250


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def encode_cursor(key: tuple[Any, ...]) -> str:
    return base64.urlsafe_b64encode(json.dumps([_plain(v) for v in key]).encode()).decode()


def decode_cursor(cursor: str) -> list[Any]:
    try:
        return json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError) as exc:
        raise GraphQLError(f"Invalid cursor for current pagination sort: {cursor}") from exc


def _comparable(key: tuple[Any, ...]) -> list[Any]:
    return [("" if v is None else _plain(v)) for v in key]


def paginate(
    items: Iterable[Any],
    key: Callable[[Any], tuple[Any, ...]],
    args: dict[str, Any],
    *,
    unbounded: bool = False,
) -> dict[str, Any]:
    """A connection dict (``edges``, ``nodes``, ``pageInfo``) over ``items``.

    ``unbounded`` serves bulk operations, whose connections carry no page size.
    """
    first, last = args.get("first"), args.get("last")
    if not unbounded:
        if first is None and last is None:
            raise GraphQLError("you must provide one of first or last")
        if first is not None and last is not None:
            raise GraphQLError("providing both first and last is not supported")
        size = first if first is not None else last
        if size < 0:
            raise GraphQLError("first and last must be non-negative")
        if size > MAX_PAGE_SIZE:
            raise GraphQLError(f"The maximum page size is {MAX_PAGE_SIZE}.")
    keyed = sorted(((_comparable(key(i)), i) for i in items), key=lambda p: p[0])
    if args.get("reverse"):
        keyed.reverse()
    rows = keyed
    after, before = args.get("after"), args.get("before")
    reverse = bool(args.get("reverse"))
    if after:
        mark = decode_cursor(after)
        rows = [r for r in rows if (r[0] < mark if reverse else r[0] > mark)]
    if before:
        mark = decode_cursor(before)
        rows = [r for r in rows if (r[0] > mark if reverse else r[0] < mark)]
    has_next = has_prev = False
    if not unbounded and first is not None:
        has_next = len(rows) > first
        rows = rows[:first]
        has_prev = bool(after)
    elif not unbounded and last is not None:
        has_prev = len(rows) > last
        rows = rows[-last:] if last else []
        has_next = bool(before)
    edges = [{"cursor": encode_cursor(tuple(k)), "node": node} for k, node in rows]
    return {
        "edges": edges,
        "nodes": [e["node"] for e in edges],
        "pageInfo": {
            "hasNextPage": has_next,
            "hasPreviousPage": has_prev,
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
        },
    }


def by_id(record: Any) -> tuple[Any, ...]:
    return (record.legacy_resource_id,)
