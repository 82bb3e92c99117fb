"""Great Expectations, used the way our checks need it: a DataFrame in, a verdict out.

Each check builds a small DataFrame of the facts it judges (one row per order,
per hub order, per shipment) and a suite of expectations over it. GE brings the
vocabulary and the unexpected-value reports; Dagster gets a pass/fail and the
failing rows as metadata. The ephemeral context is built once per process
(building it costs seconds) and never writes files.
"""

from __future__ import annotations

import functools
import logging
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

log = logging.getLogger(__name__)


@dataclass
class Verdict:
    success: bool
    failures: list[str] = field(default_factory=list)  # one line per failed expectation
    unexpected: dict[str, list[Any]] = field(default_factory=dict)  # expectation -> values

    def metadata(self) -> dict[str, Any]:
        return {"failed_expectations": self.failures, "unexpected_values": self.unexpected}


#: GE's ephemeral context is shared and not thread-safe: retailers of one run verify in
#: parallel threads, so validations take turns (each is milliseconds).
_GE_LOCK = threading.RLock()


@functools.cache
def _batch_definition():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        # GE sets some of its own loggers to INFO; they would print a banner on every run.
        for name in ("great_expectations", "great_expectations.data_context.types.base"):
            logging.getLogger(name).setLevel(logging.WARNING)
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        source = context.data_sources.add_pandas("shopsync")
        asset = source.add_dataframe_asset("check_frame")
        return asset.add_batch_definition_whole_dataframe("whole")


def expectations():
    """The `great_expectations.expectations` module (imported lazily: it is slow)."""
    import great_expectations as gx

    return gx.expectations


def validate(
    frame: pd.DataFrame, suite_name: str, suite: Callable[[Any], list[Any]] | list[Any]
) -> Verdict:
    """Run expectations over `frame`; an empty frame passes (nothing to contradict).

    `suite` is best given as a function of `great_expectations.expectations`, so that GE
    (seconds to import) is imported only when there is a frame to judge."""
    if frame.empty:
        return Verdict(success=True)
    import great_expectations as gx

    if callable(suite):
        suite = suite(gx.expectations)

    with _GE_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        batch = _batch_definition().get_batch(batch_parameters={"dataframe": frame})
        result = batch.validate(gx.ExpectationSuite(name=suite_name, expectations=suite))
    verdict = Verdict(success=bool(result.success))
    for item in result.results:
        if item.success:
            continue
        config = item.expectation_config
        column = config.kwargs.get("column") or config.kwargs.get("column_list")
        values = item.result.get("partial_unexpected_list") or []
        verdict.failures.append(f"{config.type} on {column}: {len(values)} unexpected")
        verdict.unexpected[f"{config.type}:{column}"] = [str(v) for v in values]
    return verdict
