"""A project-local DAGSTER_HOME whose storage is Postgres (dagster-postgres).

Dagster's run, event and schedule storage lives in its own database (`dagster`)
on the same server as the warehouse. dagster-postgres goes through SQLAlchemy,
which with 2.1 picks psycopg 3 for a bare `postgresql://` URL and then fails on
NOTIFY; the URL written here therefore names psycopg2 explicitly.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

import psycopg
import yaml

from resources.paths import shopsync_home
from resources.postgres import database_url, ensure_database

DAGSTER_DATABASE = "dagster"


def sqlalchemy_psycopg2_url(conninfo: str) -> str:
    """`postgresql+psycopg2://…` for any libpq URL or key=value string (socket hosts too)."""
    info = psycopg.conninfo.conninfo_to_dict(conninfo)
    user = quote(str(info.get("user") or "postgres"))
    password = info.get("password")
    auth = f"{user}:{quote(str(password))}" if password else user
    host = str(info.get("host") or "")
    port = info.get("port")
    db = quote(str(info.get("dbname") or DAGSTER_DATABASE))
    if host.startswith("/"):  # Unix socket directory goes in the query string
        query = f"?host={quote(host)}" + (f"&port={port}" if port else "")
        return f"postgresql+psycopg2://{auth}@/{db}{query}"
    netloc = host + (f":{port}" if port else "")
    return f"postgresql+psycopg2://{auth}@{netloc}/{db}"


def dagster_config(storage_url: str) -> dict:
    return {
        "storage": {"postgres": {"postgres_url": storage_url}},
        "run_coordinator": {
            "module": "dagster.core.run_coordinator",
            "class": "QueuedRunCoordinator",
        },
        "concurrency": {
            "runs": {
                "max_concurrent_runs": 4,
                "tag_concurrency_limits": [
                    # Two ticks of one flow never overlap (a tick covers every retailer).
                    {"key": "shopsync/flow", "value": {"applyLimitPerUniqueValue": True},
                     "limit": 1},
                    # Runs of one retailer's partition queue behind each other (FAULTS O3).
                    {"key": "dagster/partition/retailer",
                     "value": {"applyLimitPerUniqueValue": True}, "limit": 1},
                ],
            },
            # No pools: per-store serialisation comes from the ledgers' advisory locks, which
            # hold whatever launched the run (a global pool would serialise different stores,
            # and creating its rows raced on a fresh instance).
        },
        # A run worker killed mid-run (FAULTS P4) is detected and retried; a step that
        # failed is not: deterministic errors (revoked token, bad config) fail once and
        # alert once, transient ones were already retried by the client (FAULTS P10).
        "run_monitoring": {"enabled": True, "poll_interval_seconds": 5},
        "run_retries": {"enabled": True, "max_retries": 2, "retry_on_asset_or_op_failure": False},
        "telemetry": {"enabled": False},
    }  # fmt: skip


DEMO_DAGSTER_DATABASE = "dagster_demo"


def demo_dagster_home() -> Path:
    """The demo's own Dagster instance: its runs describe the demo warehouse, nothing else."""
    return shopsync_home() / "demo" / "dagster_home"


def prepare_dagster_home(home: Path | None = None, database: str = DAGSTER_DATABASE) -> Path:
    """Write DAGSTER_HOME/dagster.yaml for `database` on the configured server and export
    DAGSTER_HOME."""
    home = home or shopsync_home() / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    url = ensure_database(database_url(), database)
    config = dagster_config(sqlalchemy_psycopg2_url(url))
    target = home / "dagster.yaml"
    text = yaml.safe_dump(config, sort_keys=False)
    if not target.exists() or target.read_text() != text:
        target.write_text(text)
    os.environ["DAGSTER_HOME"] = str(home)
    return home
