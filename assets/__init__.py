"""Thin Dagster assets over `sync/` (pure rules) and `resources/` (outside systems)."""

import warnings

import dagster as dg

# `backfill_policy` and `pool` are marked beta in Dagster; we rely on both knowingly and
# the tests cover them, so their warnings would only be noise in every run's log.
warnings.filterwarnings("ignore", category=dg.BetaWarning)
