"""Flow steps: what an asset runs for one retailer, over `resources/` and `sync/`.

Read → rules → claim → mutate → reconcile, one module per flow. No Dagster imports:
`flows.runner` fans a run out over its retailers; `assets/` turns the outcome into
materializations.
"""
