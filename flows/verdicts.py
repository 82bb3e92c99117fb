"""What a check of a flow concludes about one retailer's share of a run.

Checks run inside the flow's step, right after that retailer's steps, so they judge
every retailer that completed even when another retailer of the same run failed,
and a check that reads a store does so once per retailer per run. The asset layer
records each verdict on every partition of the retailer the run covered; the
definitions in `checks/` run the same functions for one partition from the UI.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class CheckVerdict:
    check: str  # the check's name, e.g. "hub_orders_are_unique"
    asset: str  # the asset it judges
    passed: bool
    blocking: bool = False
    warn_only: bool = False  # severity WARN instead of ERROR
    metadata: dict[str, Any] = field(default_factory=dict)
