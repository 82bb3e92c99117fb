"""Rules of the daily summary and the weekly report: which hours a report covers, how a
retailer × flow is judged healthy, and how one week compares with the one before.

A daily summary covers the 24 hours that end at the registry's `daily_summary_hour`
in its time zone, and is keyed by the day that window *starts* (as Dagster keys a
daily partition with an hour offset), so the key and the window the UI shows agree.
A weekly report covers Monday 00:00 to Monday 00:00 (or the registry's weekday), keyed
by its first day, and is compared with the seven days before it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

FLOWS = ("orders", "fulfillments", "inventory")


@dataclass(frozen=True)
class ReportWindow:
    """[since, until) in UTC; `until` may stop short of `end` for a report run early."""

    key: date
    since: datetime
    end: datetime
    until: datetime

    @property
    def complete(self) -> bool:
        return self.until >= self.end

    @property
    def hours(self) -> list[datetime]:
        """The start of every hour of the window (UTC), for the charts."""
        first = self.since.replace(minute=0, second=0, microsecond=0)
        count = int((self.end - first).total_seconds() // 3600)
        return [first + timedelta(hours=i) for i in range(count)]

    def describe(self, tz: str) -> str:
        zone = ZoneInfo(tz)
        since, until = self.since.astimezone(zone), self.until.astimezone(zone)
        tail = "" if self.complete else " (so far: the window is still open)"
        return f"{since:%a %d %b %Y %H:%M} → {until:%a %d %b %Y %H:%M} {tz}{tail}"


def _local(day: date, hour: int, tz: str) -> datetime:
    return datetime.combine(day, time(hour), ZoneInfo(tz)).astimezone(UTC)


def summary_window(key: date, tz: str, hour: int, now: datetime | None = None) -> ReportWindow:
    """The daily summary keyed `key`: from `key` at `hour` to the next day at `hour`
    (wall-clock, so a DST day is 23 or 25 hours), cut at `now` when still open."""
    since, end = _local(key, hour, tz), _local(key + timedelta(days=1), hour, tz)
    return ReportWindow(key, since, end, min(end, now) if now else end)


def summary_key_at(moment: datetime, tz: str, hour: int) -> date:
    """The key of the daily summary whose window holds `moment`."""
    local = moment.astimezone(ZoneInfo(tz))
    return local.date() if local.hour >= hour else local.date() - timedelta(days=1)


def closed_summary_key(tick: datetime, tz: str, hour: int) -> date:
    """The key of the summary whose window ends at the schedule's `tick`."""
    return summary_key_at(tick - timedelta(seconds=1), tz, hour)


def week_window(key: date, tz: str, now: datetime | None = None) -> ReportWindow:
    """The seven days from `key` 00:00 (local), cut at `now` when still open."""
    since, end = _local(key, 0, tz), _local(key + timedelta(days=7), 0, tz)
    return ReportWindow(key, since, end, min(end, now) if now else end)


def previous_week(window: ReportWindow, tz: str) -> ReportWindow:
    """The seven days before `window`, cut at the same offset when `window` is open."""
    before = week_window(window.key - timedelta(days=7), tz)
    cut = before.since + (window.until - window.since)
    return ReportWindow(before.key, before.since, before.end, min(before.end, cut))


def week_key_at(moment: datetime, tz: str, weekday: int) -> date:
    """The first day of the week holding `moment` (weeks start on `weekday`, 0 = Monday)."""
    local = moment.astimezone(ZoneInfo(tz)).date()
    return local - timedelta(days=(local.weekday() - weekday) % 7)


def closed_week_key(tick: datetime, tz: str, weekday: int) -> date:
    """The week before the one the schedule's `tick` falls in: the week just ended."""
    return week_key_at(tick, tz, weekday) - timedelta(days=7)


@dataclass(frozen=True)
class FlowStatus:
    """A line of the retailer status table (the operations guide's)."""

    retailer: str
    flow: str
    enabled: bool
    healthy: bool
    last_success: datetime | None
    pending: str
    problems: tuple[str, ...] = ()


def judge_status(
    retailer: str,
    flow: str,
    *,
    enabled: bool,
    runs: int,
    failed: int,
    last_success: datetime | None,
    crossed: Sequence[str],
    pending: Mapping[str, int],
) -> FlowStatus:
    """Healthy when enabled, its last run in the window succeeded or nothing failed, and no
    health threshold is crossed for it; `pending` lists what waits on it (non-zero only)."""
    problems = [f"{label} below/above its alert line" for label in crossed]
    if enabled and failed and last_success is None:
        problems.append(f"{failed} failed run{'s' if failed != 1 else ''}, none succeeded")
    elif enabled and failed:
        problems.append(f"{failed} failed run{'s' if failed != 1 else ''}")
    if enabled and not runs:
        problems.append("no run in the window")
    waiting = ", ".join(f"{n} {what}" for what, n in pending.items() if n)
    healthy = enabled and not problems
    return FlowStatus(retailer, flow, enabled, healthy, last_success, waiting or "nothing",
                      tuple(problems))  # fmt: skip


@dataclass(frozen=True)
class Trend:
    """One figure this week against the week before."""

    this: float | None
    last: float | None

    @property
    def change(self) -> float | None:
        if self.this is None or self.last is None:
            return None
        return self.this - self.last


def by_cell(runs: Iterable[Any]) -> dict[tuple[str, str], list[Any]]:
    """(retailer, flow) -> its runs, in one pass: a day of runs for hundreds of retailers
    is tens of thousands of rows, filtered per cell it would be quadratic."""
    cells: dict[tuple[str, str], list[Any]] = {}
    for run in runs:
        cells.setdefault((run.retailer, run.flow), []).append(run)
    return cells


def bucket(points: Sequence[datetime], rows: Iterable[tuple[datetime, float]]) -> list[float]:
    """Sum `rows` (time, value) into the buckets starting at `points` (sorted, UTC)."""
    totals = [0.0] * len(points)
    for at, value in rows:
        index = _bucket_index(points, at)
        if index is not None:
            totals[index] += value
    return totals


def _bucket_index(points: Sequence[datetime], at: datetime) -> int | None:
    if not points or at < points[0]:
        return None
    step = points[1] - points[0] if len(points) > 1 else timedelta(hours=1)
    index = int((at - points[0]) / step)
    return index if index < len(points) else None


def change_text(t: Trend, *, percent: bool = False, unit: str = "") -> str:
    """`97.0 % (+2.0 pts)`, `1.20 s (−0.30 s)`, `–` when not measured."""
    if t.this is None:
        return "–"
    shown = f"{t.this * 100:.1f} %" if percent else f"{t.this:.2f}{unit}"
    if t.change is None:
        return f"{shown} (no figure the week before)"
    delta = t.change * 100 if percent else t.change
    sign = "+" if delta >= 0 else "−"
    return f"{shown} ({sign}{abs(delta):.{1 if percent else 2}f}{' pts' if percent else unit})"
