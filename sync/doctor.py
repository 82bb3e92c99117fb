"""`shopsync doctor`: the operations guide's troubleshooting procedures as verdicts.

Pure: the result model, the scope sets each procedure needs, the small judging rules
(scopes, lookback, connection headroom, migrations) and the rendering to text and JSON.
The checks that talk to Shopify, Postgres and SendGrid live in `flows.doctor`; keeping
the rules here means the unit tests pin what PASS/WARN/FAIL mean without any server.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: The guide's five procedures, in the order an operator works through them.
PROCEDURES: dict[str, str] = {
    "inventory_sync": "Inventory sync",
    "order_import": "Order import",
    "fulfillment_push": "Fulfillment push",
    "database": "Database",
    "email": "Email",
}

# Scopes each procedure needs of each side (FACTS §10.1). A `write_x` grant implies `read_x`.
INVENTORY_HUB_SCOPES = ("read_inventory", "read_locations", "read_products")
INVENTORY_RETAILER_SCOPES = ("read_inventory", "write_inventory", "read_locations")
ORDER_HUB_SCOPES = ("read_orders", "write_orders")
ORDER_RETAILER_SCOPES = ("read_orders", "write_orders", "read_products")
FULFILLMENT_HUB_SCOPES = ("read_orders", "read_fulfillments")
FULFILLMENT_RETAILER_SCOPES = (
    "read_merchant_managed_fulfillment_orders",
    "write_merchant_managed_fulfillment_orders",
    "write_fulfillments",
)

#: Lookback hours above this make every run re-read days of orders (slow, costly).
MAX_SANE_LOOKBACK_HOURS = 72
CONNECTIONS_WARN = 0.75
CONNECTIONS_FAIL = 0.90


class Verdict(StrEnum):
    PASS = "PASS"  # noqa: S105 (a verdict, not a password)
    WARN = "WARN"
    FAIL = "FAIL"


_RANK = {Verdict.PASS: 0, Verdict.WARN: 1, Verdict.FAIL: 2}


class CheckResult(BaseModel):
    """One check: what was looked at, what was found and, unless it passed, the fix."""

    model_config = ConfigDict(frozen=True)

    procedure: str
    check: str = Field(min_length=1)
    verdict: Verdict
    detail: str
    fix: str | None = None
    store: str | None = None

    @model_validator(mode="after")
    def _fix_when_not_pass(self) -> CheckResult:
        if self.procedure not in PROCEDURES:
            raise ValueError(f"unknown procedure '{self.procedure}'")
        if self.verdict is not Verdict.PASS and not self.fix:
            raise ValueError(f"{self.check}: a {self.verdict} needs a one-line fix")
        if self.fix and "\n" in self.fix:
            raise ValueError(f"{self.check}: the fix must be one line")
        return self


def worst(results: Iterable[CheckResult]) -> Verdict:
    return max((r.verdict for r in results), key=_RANK.__getitem__, default=Verdict.PASS)


def exit_status(results: Iterable[CheckResult]) -> int:
    """0 when nothing FAILed (warnings are for a person to read, not for cron to page on)."""
    return 1 if worst(results) is Verdict.FAIL else 0


def grouped(results: Iterable[CheckResult]) -> dict[str, list[CheckResult]]:
    """Results per procedure, in the guide's order; procedures without results are left out."""
    out: dict[str, list[CheckResult]] = {p: [] for p in PROCEDURES}
    for r in results:
        out[r.procedure].append(r)
    return {p: rs for p, rs in out.items() if rs}


def render_text(results: Sequence[CheckResult]) -> str:
    lines: list[str] = []
    for procedure, rs in grouped(results).items():
        lines.append(f"{PROCEDURES[procedure]}: {worst(rs)}")
        for r in rs:
            who = f" [{r.store}]" if r.store else ""
            lines.append(f"  {r.verdict:<4} {r.check}{who}: {r.detail}")
            if r.fix and r.verdict is not Verdict.PASS:
                lines.append(f"       fix: {r.fix}")
    counts = {v: sum(r.verdict is v for r in results) for v in Verdict}
    summary = ", ".join(f"{n} {v}" for v, n in counts.items())
    lines.append(f"doctor: {worst(results)} ({summary})")
    return "\n".join(lines)


def render_json(results: Sequence[CheckResult]) -> str:
    """`{"verdict", "exit_status", "procedures": {key: {"title", "verdict", "checks": [...]}}}`."""
    doc = {
        "verdict": str(worst(results)),
        "exit_status": exit_status(results),
        "procedures": {
            p: {
                "title": PROCEDURES[p],
                "verdict": str(worst(rs)),
                "checks": [r.model_dump(mode="json") for r in rs],
            }
            for p, rs in grouped(results).items()
        },
    }
    return json.dumps(doc, indent=2)


# -- rules ------------------------------------------------------------------------------


def missing_scopes(granted: Iterable[str], required: Iterable[str]) -> list[str]:
    """Required scopes not granted; Shopify's `write_x` includes `read_x`."""
    have = set(granted)
    have |= {"read_" + s.removeprefix("write_") for s in have if s.startswith("write_")}
    return [s for s in required if s not in have]


def lookback_problem(flow: str, hours: int, hold_minutes: float | None = None) -> str | None:
    """Why a lookback setting is not sane, or None."""
    if hours == 0:
        return f"lookback_hours.{flow} is 0: updates landing after a window closes are missed"
    if hours > MAX_SANE_LOOKBACK_HOURS:
        return (
            f"lookback_hours.{flow} is {hours}: every run re-reads over "
            f"{MAX_SANE_LOOKBACK_HOURS} h of data"
        )
    if hold_minutes is not None and hold_minutes > hours * 60:
        return (
            f"hold_window_minutes {hold_minutes:g} is longer than lookback_hours.{flow} "
            f"{hours}: a held order can fall out of every window"
        )
    return None


def connection_verdict(in_use: int, max_connections: int) -> Verdict:
    share = in_use / max_connections if max_connections else 1.0
    if share >= CONNECTIONS_FAIL:
        return Verdict.FAIL
    return Verdict.WARN if share >= CONNECTIONS_WARN else Verdict.PASS


def migration_gaps(
    files: Iterable[tuple[int, str]], applied: Iterable[int]
) -> tuple[list[str], list[int]]:
    """(files not applied yet, applied versions with no file: a database newer than the code)."""
    done = set(applied)
    known = {v for v, _ in files}
    pending = [f"{v:03d}_{name}" for v, name in sorted(files) if v not in done]
    return pending, sorted(done - known)
