"""The resources every definition gets, configured without touching the network."""

from __future__ import annotations

import dagster as dg

from resources.postgres import PostgresResource


def build_resources() -> dict[str, dg.ConfigurableResource]:
    """Resources for `dg.Definitions`. Nothing here connects or reads a secret."""
    return {
        "postgres": PostgresResource(),
    }
