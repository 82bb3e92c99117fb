"""Partition windows as Shopify search filters.

A partition is a deterministic half-open window [start, end) on a record's `updated_at`. The
search index lags writes and a record can move while we page (FACTS §2.5), so a run reads a
wider window (the lookback) and the ledgers dedupe by GID. Dates must be quoted in Shopify's
search syntax (FACTS §2.3): an unquoted date has been seen to fail, and a bad filter is
*silently dropped*, so the format here is the one place that gets it right.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def _utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"{name} {value.isoformat()} has no time zone; pass an aware datetime")
    return value.astimezone(UTC)


def quote_search_value(value: str) -> str:
    """Single-quote a search value (tags hold ':' and spaces), escaping quote and backslash."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def window_query(
    start: datetime,
    end: datetime,
    field: str = "updated_at",
    extra_terms: Iterable[str] = (),
) -> str:
    """`updated_at:>='2025-01-01T10:00:00Z' updated_at:<'2025-01-01T11:00:00Z'` (+ terms, ANDed).

    Sub-second bounds are widened to whole seconds (start floored, end ceiled) so the filter
    never reads less than the window asked for.
    """
    start_utc, end_utc = _utc(start, "start"), _utc(end, "end")
    if end_utc <= start_utc:
        raise ValueError(f"empty window: end {end_utc:{_FORMAT}} is not after start")
    start_utc = start_utc.replace(microsecond=0)
    if end_utc.microsecond:
        end_utc = end_utc.replace(microsecond=0) + timedelta(seconds=1)
    terms = [
        f"{field}:>='{start_utc:{_FORMAT}}'",
        f"{field}:<'{end_utc:{_FORMAT}}'",
        *extra_terms,
    ]
    return " ".join(terms)


def lookback_window(
    partition_start: datetime, partition_end: datetime, lookback_hours: float
) -> tuple[datetime, datetime]:
    """The window a run reads for a partition: `lookback_hours` before its start, to its end.

    Overlap with earlier partitions is intended (O5): a record updated at a boundary, or
    indexed late, is read again and deduplicated by GID downstream.
    """
    if lookback_hours < 0:
        raise ValueError(f"lookback_hours must be >= 0, got {lookback_hours}")
    start = _utc(partition_start, "partition_start")
    end = _utc(partition_end, "partition_end")
    if end <= start:
        raise ValueError("partition_end must be after partition_start")
    return start - timedelta(hours=lookback_hours), end


def dedupe_by_id(nodes: Iterable[dict]) -> list[dict]:
    """One node per `id`, the most recently updated (ISO `updatedAt` strings in UTC compare
    in time order), first-seen order kept. Overlapping windows, a record moving between pages
    while sorted by UPDATED_AT, or a webhook plus a poll all deliver the same GID twice (O4, O5).
    """
    latest: dict[str, dict] = {}
    for node in nodes:
        known = latest.get(node["id"])
        if known is None or (node.get("updatedAt") or "") >= (known.get("updatedAt") or ""):
            latest[node["id"]] = node
    return list(latest.values())
