"""Where the project keeps its local state (embedded Postgres, Dagster home, outbox).

Everything lives under one git-ignored folder, `.shopsync/` at the project root,
or `$SHOPSYNC_HOME` when set, so a fresh clone starts clean and `rm -rf` resets it.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def shopsync_home() -> Path:
    home = Path(os.environ.get("SHOPSYNC_HOME") or PROJECT_ROOT / ".shopsync")
    home.mkdir(parents=True, exist_ok=True)
    return home
