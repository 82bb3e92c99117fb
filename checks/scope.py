"""What a check run covers: the retailers and windows of the partitions it ran with."""

from datetime import datetime

import dagster as dg

from pipelines.partitions import retailer_windows
from resources.registry import load_registry
from sync.windows import lookback_window


def check_scope(
    context: dg.AssetCheckExecutionContext, lookback: str | None = None
) -> dict[str, tuple[datetime, datetime]]:
    """Retailer -> the span [since, until) the run read, widened by the flow's lookback
    (`"orders"` or `"fulfillments"`); without `lookback`, the bare partition span."""
    windows = retailer_windows(list(context.op_execution_context.partition_keys))
    registry = load_registry()
    scope = {}
    for retailer, spans in windows.items():
        start, end = min(s for s, _ in spans), max(e for _, e in spans)
        hours = getattr(registry.retailer(retailer).lookback_hours, lookback) if lookback else 0
        scope[retailer] = lookback_window(start, end, hours)
    return scope
