"""Health rules: the operations guide's figures per retailer × flow, and their judgement.

Pure: the figures come in (runs as the run history splits them per retailer, API call
aggregates from `shopsync.api_calls`), verdicts and state changes go out. Each threshold
is judged over the window that gives it enough samples: run success and uptime over the
last day (a 15-minute flow has only four runs an hour), API latency and error rate over
the last hour (calls are plentiful, and the afternoon check wants them fresh). A figure
with fewer than `min_samples` behind it is shown but not judged.

A crossing of the *alert* line alerts; the state then stays crossed until the figure
meets the *target* again (hysteresis), so a figure hovering at the line does not mail
on every refresh, and "back to normal" means what the guide calls normal.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

CATEGORIES = ("auth", "throttling", "transient", "validation", "data_quality")
WINDOWS = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
#: A tick this young with no run yet is not counted as missed: its run may be queuing.
TICK_GRACE = timedelta(minutes=10)

_AUTH = {"HTTP_401", "HTTP_403", "ACCESS_DENIED", "TOKEN_MISSING", "UNAUTHORIZED"}
_THROTTLING = {"HTTP_429", "THROTTLED"}
_TRANSIENT = {"INTERNAL_SERVER_ERROR", "timeout", "connect", "reset", "protocol",
              "AMBIGUOUS_WRITE", "OPERATION_IN_PROGRESS"}  # fmt: skip
_DATA_QUALITY = {"SEARCH_WARNING"}  # Shopify dropped a filter: the data would be wrong


def categorise(code: str | None, http_status: int | None) -> str:
    """The guide's category of a failed call, from its final error code (else status)."""
    if code in _AUTH or (code or "").startswith("TOKEN_"):
        return "auth"
    if code in _THROTTLING:
        return "throttling"
    if code in _TRANSIENT or (code or "").startswith("HTTP_5"):
        return "transient"
    if code in _DATA_QUALITY:
        return "data_quality"
    if code is None:
        if http_status in (401, 403):
            return "auth"
        if http_status == 429:
            return "throttling"
        if http_status is None or http_status >= 500:
            return "transient"
    return "validation"


def percentile(values: Iterable[float], q: float) -> float | None:
    """The q-quantile with linear interpolation (what Postgres' percentile_cont gives)."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = q * (len(ordered) - 1)
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


class RunLike(Protocol):
    """What health reads of a run (`assets.run_history.RetailerRun` is one)."""

    flow: str
    retailer: str
    run_id: str
    retailer_ok: bool
    partitions: str
    scheduled_for: datetime | None
    schedule: str | None
    created_at: datetime | None

    @property
    def finished(self) -> bool: ...
    @property
    def duration_seconds(self) -> float | None: ...


@dataclass(frozen=True)
class RunStats:
    runs: int = 0  # finished runs that covered the retailer
    ok: int = 0
    p50_seconds: float | None = None
    p95_seconds: float | None = None

    @property
    def success_rate(self) -> float | None:
        return ratio(self.ok, self.runs)


def run_stats(runs: Iterable[RunLike]) -> RunStats:
    finished = [r for r in runs if r.finished]
    durations = [d for r in finished if (d := r.duration_seconds) is not None]
    return RunStats(len(finished), sum(r.retailer_ok for r in finished),
                    percentile(durations, 0.5), percentile(durations, 0.95))  # fmt: skip


@dataclass(frozen=True)
class Tick:
    schedule: str
    at: datetime


@dataclass(frozen=True)
class Uptime:
    due: int = 0
    up: int = 0

    @property
    def rate(self) -> float | None:
        return ratio(self.up, self.due)


def uptime(due: Iterable[Tick], runs: Iterable[RunLike], until: datetime) -> Uptime:
    """Ticks whose run succeeded for the retailer ÷ ticks due. A tick still running, or
    younger than `TICK_GRACE` with no run yet, is not judged either way."""
    by_tick: dict[tuple[str | None, datetime], list[RunLike]] = {}
    for run in runs:
        if run.scheduled_for is not None:
            by_tick.setdefault((run.schedule, run.scheduled_for), []).append(run)
    counted = up = 0
    for tick in due:
        runs_of = by_tick.get((tick.schedule, tick.at), [])
        succeeded = any(r.finished and r.retailer_ok for r in runs_of)
        pending = any(not r.finished for r in runs_of) or (
            not runs_of and tick.at > until - TICK_GRACE
        )
        if pending and not succeeded:
            continue
        counted += 1
        up += succeeded
    return Uptime(counted, up)


@dataclass(frozen=True)
class ErrorGroup:
    """Failed calls of one retailer × flow sharing an operation, code and status."""

    flow: str
    retailer: str
    operation: str
    code: str | None
    http_status: int | None
    count: int

    @property
    def category(self) -> str:
        return categorise(self.code, self.http_status)

    @property
    def label(self) -> str:
        return self.code or (f"HTTP_{self.http_status}" if self.http_status else "no response")


@dataclass(frozen=True)
class ApiStats:
    calls: int = 0
    errors: int = 0
    throttled: int = 0
    p50_ms: float | None = None
    p95_ms: float | None = None
    by_category: Mapping[str, int] = field(default_factory=dict)
    cost: float = 0.0  # Shopify's actual query cost, in points

    @property
    def error_rate(self) -> float | None:
        return ratio(self.errors, self.calls)

    @property
    def throttled_share(self) -> float | None:
        return ratio(self.throttled, self.calls)

    @property
    def p95_seconds(self) -> float | None:
        return None if self.p95_ms is None else self.p95_ms / 1000


def by_category(groups: Iterable[ErrorGroup]) -> dict[str, int]:
    counts = dict.fromkeys(CATEGORIES, 0)
    for group in groups:
        counts[group.category] += group.count
    return counts


@dataclass(frozen=True)
class RecurringError:
    category: str
    code: str
    count: int
    operations: tuple[str, ...]
    scopes: tuple[str, ...]  # retailer/flow


def rank_errors(groups: Iterable[ErrorGroup], limit: int = 10) -> list[RecurringError]:
    """Errors by how often they recur (category and code), most frequent first."""
    merged: dict[tuple[str, str], list[ErrorGroup]] = {}
    for group in groups:
        merged.setdefault((group.category, group.label), []).append(group)
    ranked = [
        RecurringError(
            category,
            code,
            sum(g.count for g in gs),
            tuple(sorted({g.operation for g in gs})),
            tuple(sorted({f"{g.retailer}/{g.flow}" for g in gs})),
        )  # fmt: skip
        for (category, code), gs in merged.items()
    ]
    return sorted(ranked, key=lambda e: (-e.count, e.category, e.code))[:limit]


@dataclass(frozen=True)
class CellFigures:
    """One retailer × flow over one window."""

    retailer: str
    flow: str
    window: str  # a key of WINDOWS
    runs: RunStats = RunStats()
    api: ApiStats = ApiStats()
    uptime: Uptime = Uptime()

    @property
    def scope(self) -> str:
        return f"{self.retailer}/{self.flow}"

    @property
    def idle(self) -> bool:
        """No run and no call in the window: nothing to show."""
        return not (self.runs.runs or self.api.calls or self.uptime.due)


def last_failures(runs: Iterable[RunLike]) -> dict[str, RunLike]:
    """retailer/flow -> its latest finished run that failed for it."""
    failed = [r for r in runs if r.finished and not r.retailer_ok]
    ordered = sorted(failed, key=lambda r: r.created_at.timestamp() if r.created_at else 0.0)
    return {f"{r.retailer}/{r.flow}": r for r in ordered}


class ThresholdLike(Protocol):
    target: float
    alert: float


@dataclass(frozen=True)
class Rule:
    key: str  # the registry's threshold name
    label: str
    window: str
    higher_is_better: bool
    percent: bool  # a rate shown as %, else seconds
    value: Callable[[CellFigures], float | None]
    samples: Callable[[CellFigures], int]

    def show(self, value: float | None) -> str:
        if value is None:
            return "–"
        return f"{value * 100:.2f} %" if self.percent else f"{value:.2f} s"

    def badness(self, value: float) -> float:
        """Larger is worse, whichever way the figure points."""
        return -value if self.higher_is_better else value


RULES = (
    Rule("success_rate", "Run success rate", "day", True, True,
         lambda c: c.runs.success_rate, lambda c: c.runs.runs),
    Rule("api_response_seconds", "API response time (p95)", "hour", False, False,
         lambda c: c.api.p95_seconds, lambda c: c.api.calls),
    Rule("error_rate", "API error rate", "hour", False, True,
         lambda c: c.api.error_rate, lambda c: c.api.calls),
    Rule("uptime", "Uptime (scheduled ticks that succeeded)", "day", True, True,
         lambda c: c.uptime.rate, lambda c: c.uptime.due),
)  # fmt: skip
RULES_BY_KEY = {rule.key: rule for rule in RULES}


@dataclass(frozen=True)
class Verdict:
    rule: Rule
    retailer: str
    flow: str
    value: float | None
    samples: int
    target: float
    alert: float
    judged: bool  # enough samples and a value

    @property
    def scope(self) -> str:
        return f"{self.retailer}/{self.flow}"

    @property
    def key(self) -> tuple[str, str]:
        """(threshold, scope): the alert state's key."""
        return (self.rule.key, self.scope)

    @property
    def breaches(self) -> bool:
        """Past the alert line."""
        if not self.judged:
            return False
        return self.value < self.alert if self.rule.higher_is_better else self.value > self.alert

    @property
    def meets_target(self) -> bool:
        if not self.judged:
            return False
        return (
            self.value >= self.target if self.rule.higher_is_better else self.value <= self.target
        )


def judge(
    cells: Iterable[CellFigures], thresholds: Mapping[str, ThresholdLike], min_samples: int
) -> list[Verdict]:
    """Every rule over every cell of its window."""
    cells = list(cells)
    verdicts = []
    for rule in RULES:
        line = thresholds[rule.key]
        for cell in (c for c in cells if c.window == rule.window):
            value, samples = rule.value(cell), rule.samples(cell)
            judged = value is not None and samples >= min_samples
            verdicts.append(Verdict(rule, cell.retailer, cell.flow, value, samples,
                                    line.target, line.alert, judged))  # fmt: skip
    return verdicts


def worst_first(verdicts: Iterable[Verdict]) -> list[Verdict]:
    judged = [v for v in verdicts if v.value is not None]
    return sorted(judged, key=lambda v: (-v.rule.badness(v.value), v.scope))


@dataclass(frozen=True)
class Change:
    verdict: Verdict
    kind: str  # "crossed" | "recovered"


def changes(
    verdicts: Iterable[Verdict], crossed_before: Mapping[tuple[str, str], bool]
) -> list[Change]:
    """New crossings (past the alert line, not crossed before) and recoveries (crossed
    before, back at target). An unjudged figure keeps its state."""
    found = []
    for v in verdicts:
        was = crossed_before.get(v.key, False)
        if not was and v.breaches:
            found.append(Change(v, "crossed"))
        elif was and v.meets_target:
            found.append(Change(v, "recovered"))
    return found


def crossed_after(verdict: Verdict, was: bool) -> bool:
    """The state a judged verdict leaves: crossed stays crossed until back at target."""
    return verdict.breaches or (was and not verdict.meets_target)


def worst_by(verdicts: Iterable[Verdict], key: Callable[[Verdict], str]) -> dict[str, float]:
    """The worst value per group (`key`), over verdicts with a value."""
    worst: dict[str, float] = {}
    for v in worst_first(verdicts):
        worst.setdefault(key(v), v.value)
    return worst


def window_start(now: datetime, window: str) -> datetime:
    return now - WINDOWS[window]


def in_window(runs: Sequence[RunLike], since: datetime) -> list[RunLike]:
    return [r for r in runs if r.created_at is not None and r.created_at >= since]
