"""Each health threshold at its edges: on the alert line is not a crossing, one step past
it is; back *at* the target is the recovery, one step short of it is not (sync.health).

The operations guide's lines (registry defaults): success rate alert below 90 % (target
95 %), API p95 above 10 s (target 5 s), error rate above 5 % (target 1 %), uptime below
99 % (target 99.9 %). The figures are exact fractions, so the edges are the lines
themselves, not a rounding of them.
"""

from __future__ import annotations

import pytest

from resources.registry import Threshold, Thresholds
from sync import health as h

DEFAULTS = {k: getattr(Thresholds(), k) for k in h.RULES_BY_KEY}


def success(ok: int, runs: int = 100) -> h.CellFigures:
    return h.CellFigures("epic", "orders", "day", runs=h.RunStats(runs, ok))


def latency(p95_ms: float, calls: int = 100) -> h.CellFigures:
    return h.CellFigures("epic", "orders", "hour", api=h.ApiStats(calls, 0, 0, 100.0, p95_ms))


def errors(failed: int, calls: int = 100) -> h.CellFigures:
    return h.CellFigures("epic", "orders", "hour", api=h.ApiStats(calls, failed, 0, 100.0, 200.0))


def uptime(up: int, due: int = 1000) -> h.CellFigures:
    return h.CellFigures("epic", "orders", "day", uptime=h.Uptime(due, up))


#: rule: (on the alert line, one step past it, one step short of the target, at the target)
EDGES = {
    "success_rate": (success(90), success(89), success(94), success(95)),
    "api_response_seconds": (latency(10_000), latency(10_001), latency(5_001), latency(5_000)),
    "error_rate": (errors(5), errors(6), errors(2), errors(1)),
    "uptime": (uptime(990), uptime(989), uptime(998), uptime(999)),
}


def verdict(rule: str, cell: h.CellFigures, thresholds=None, min_samples: int = 5) -> h.Verdict:
    [found] = [v for v in h.judge([cell], thresholds or DEFAULTS, min_samples)
               if v.rule.key == rule]  # fmt: skip
    return found


def refreshes(rule: str, cells: list[h.CellFigures], thresholds=None) -> list[list[str]]:
    """The changes each refresh finds, given the state the previous ones left."""
    state: dict[tuple[str, str], bool] = {}
    seen = []
    for cell in cells:
        v = verdict(rule, cell, thresholds)
        seen.append([c.kind for c in h.changes([v], state)])
        if v.judged:
            state[v.key] = h.crossed_after(v, state.get(v.key, False))
    return seen


@pytest.mark.parametrize("rule", list(EDGES))
def test_on_the_alert_line_is_not_a_crossing_one_step_past_it_is(rule):
    on_line, past, _, _ = EDGES[rule]
    assert verdict(rule, on_line).judged and not verdict(rule, on_line).breaches
    assert verdict(rule, past).breaches
    assert refreshes(rule, [on_line, on_line]) == [[], []]
    assert refreshes(rule, [on_line, past]) == [[], ["crossed"]]


@pytest.mark.parametrize("rule", list(EDGES))
def test_recovery_is_reaching_the_target_itself_and_is_noticed_once(rule):
    _, past, short, at_target = EDGES[rule]
    assert not verdict(rule, short).meets_target and verdict(rule, at_target).meets_target
    seen = refreshes(rule, [past, short, at_target, at_target, short])
    assert seen == [["crossed"], [], ["recovered"], [], []]


@pytest.mark.parametrize("rule", list(EDGES))
def test_the_registry_lines_decide_not_the_guides_defaults(rule):
    """A registry that moves the alert line past today's figure silences it; its target
    moved too decides the recovery."""
    _, past, _, _ = EDGES[rule]
    value = verdict(rule, past).value
    relaxed = dict(DEFAULTS)
    relaxed[rule] = Threshold(target=value, alert=value)
    assert not verdict(rule, past, relaxed).breaches
    assert verdict(rule, past, relaxed).meets_target
    assert refreshes(rule, [past], relaxed) == [[]]


@pytest.mark.parametrize("rule", list(EDGES))
def test_exactly_min_samples_are_judged_one_fewer_are_not(rule):
    _, past, _, _ = EDGES[rule]
    samples = verdict(rule, past).samples
    assert verdict(rule, past, min_samples=samples).judged
    assert not verdict(rule, past, min_samples=samples + 1).judged
    assert not verdict(rule, past, min_samples=samples + 1).breaches
