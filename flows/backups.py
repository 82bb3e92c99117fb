"""Back up the warehouse, prune old backups, and prove a backup restores (FAULTS B1).

A backup is a custom-format dump plus a manifest next to it: the row count of
every table in the shopsync schema and a few ledger invariants, measured in the
very snapshot the dump was taken from (pg_export_snapshot), so the manifest
describes the dump exactly even while flows write. The restore drill restores the
newest backup into a scratch database, measures it the same way, and compares:
a backup nobody has restored is only a hope.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg import sql
from pydantic import BaseModel

from resources.backups import (
    BackupToolError,
    PgTools,
    backup_folder,
    dump_database,
    find_pg_tools,
    restore_database,
)
from resources.postgres import with_database
from sync.backup_retention import (
    DUMP_SUFFIX,
    MANIFEST_SUFFIX,
    BackupSettings,
    backup_stem,
    backups_to_delete,
    parse_backup_stem,
    stem_of,
)

SCHEMA = "shopsync"

#: Ledger invariants, each a query counting violating rows (0 in a healthy warehouse).
INVARIANTS: dict[str, str] = {
    # one hub order per retailer order: a hub order linked twice is a duplicate order
    "order_links_duplicate_hub_order": "SELECT count(*) FROM (SELECT hub_order_gid"
    " FROM shopsync.order_links WHERE hub_order_gid IS NOT NULL"
    " GROUP BY hub_order_gid HAVING count(*) > 1) d",
    # created/confirmed means the hub order exists: its id must be recorded
    "order_links_created_without_hub_order": "SELECT count(*) FROM shopsync.order_links"
    " WHERE state IN ('created', 'confirmed') AND hub_order_gid IS NULL",
    # every fulfillment push row is for a retailer order we imported and linked
    "fulfillment_links_unknown_order": "SELECT count(*) FROM shopsync.fulfillment_links f"
    " WHERE NOT EXISTS (SELECT 1 FROM shopsync.order_links o"
    " WHERE o.retailer = f.retailer AND o.retailer_order_gid = f.retailer_order_gid)",
    # a created retailer fulfillment must name it, or a retry would push it twice
    "fulfillment_links_created_without_id": "SELECT count(*) FROM shopsync.fulfillment_links"
    " WHERE state = 'created' AND retailer_fulfillment_gid IS NULL",
    # hub fulfillments are read only for hub orders we created
    "hub_fulfillments_unknown_hub_order": "SELECT count(*) FROM shopsync.hub_fulfillments h"
    " WHERE NOT EXISTS (SELECT 1 FROM shopsync.order_links o"
    " WHERE o.hub_order_gid = h.hub_order_gid)",
}


#: The tables the invariants read: without them the database is not a migrated warehouse.
LEDGER_TABLES = ("order_links", "fulfillment_links", "hub_fulfillments")


class WarehouseNotMigrated(RuntimeError):
    """The database has no shopsync ledgers: backing it up would prove nothing."""


class Measurement(BaseModel):
    counts: dict[str, int]
    invariants: dict[str, int]


class BackupManifest(Measurement):
    format_version: int = 1
    file: str
    taken_at: datetime
    database: str
    server_major: int
    size_bytes: int
    sha256: str


class BackupResult(BaseModel):
    dump: Path
    manifest_path: Path
    manifest: BackupManifest
    deleted: list[str]


class DrillReport(BaseModel):
    file: str
    scratch_database: str
    passed: bool
    problems: list[str]
    warnings: list[str]
    counts: dict[str, int]
    invariants: dict[str, int]

    @property
    def verdict(self) -> str:
        return "passed" if self.passed else "FAILED"


def measure(conn: psycopg.Connection) -> Measurement:
    """Row counts of every shopsync table and the invariant violation counts."""
    tables = [
        row[0]
        for row in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY tablename", (SCHEMA,)
        )
    ]
    missing = [t for t in LEDGER_TABLES if t not in tables]
    if missing:
        raise WarehouseNotMigrated(
            f"database {conn.info.dbname} has no shopsync.{', shopsync.'.join(missing)}: "
            "point SHOPSYNC_DATABASE_URL at the warehouse, or run `shopsync migrate` first"
        )
    counts = {}
    for table in tables:
        query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(SCHEMA, table))
        counts[table] = conn.execute(query).fetchone()[0]
    invariants = {name: conn.execute(q).fetchone()[0] for name, q in INVARIANTS.items()}
    return Measurement(counts=counts, invariants=invariants)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def manifest_path_of(dump: Path) -> Path:
    return dump.with_name(dump.name[: -len(DUMP_SUFFIX)] + MANIFEST_SUFFIX)


def run_backup(url: str, settings: BackupSettings, now: datetime | None = None) -> BackupResult:
    """Dump the database at `url`, write its manifest, then apply the retention rule."""
    taken_at = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    folder = backup_folder(settings)
    dump = folder / (backup_stem(taken_at) + DUMP_SUFFIX)
    with psycopg.connect(url, autocommit=True) as conn:
        tools = find_pg_tools(conn.info.server_version // 10000)
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
        measured = measure(conn)
        dump_database(url, dump, tools, snapshot=snapshot)  # our snapshot stays open meanwhile
        conn.execute("ROLLBACK")
        database = str(conn.info.dbname)
    manifest = BackupManifest(
        file=dump.name, taken_at=taken_at, database=database, server_major=tools.major,
        size_bytes=dump.stat().st_size, sha256=_sha256(dump), **measured.model_dump(),
    )  # fmt: skip
    manifest_path = manifest_path_of(dump)
    partial = manifest_path.with_name(manifest_path.name + ".partial")
    partial.write_text(manifest.model_dump_json(indent=2))
    partial.replace(manifest_path)
    deleted = prune(folder, settings)
    return BackupResult(dump=dump, manifest_path=manifest_path, manifest=manifest, deleted=deleted)


def _backups_in(folder: Path) -> dict[datetime, str]:
    found = {}
    for path in folder.iterdir():
        stem = stem_of(path)
        if stem:
            found[parse_backup_stem(stem)] = stem
    return found


def prune(folder: Path, settings: BackupSettings) -> list[str]:
    """Delete the backups (dump and manifest together) the retention rule lets go."""
    found = _backups_in(folder)
    deleted = []
    for instant in backups_to_delete(found, settings):
        stem = found[instant]
        for suffix in (DUMP_SUFFIX, MANIFEST_SUFFIX):
            (folder / (stem + suffix)).unlink(missing_ok=True)
        deleted.append(stem)
    return deleted


def latest_backup(settings: BackupSettings) -> Path:
    """The newest dump that has its manifest (a dump without one cannot be verified)."""
    folder = backup_folder(settings)
    dumps = sorted(folder.glob(f"*{DUMP_SUFFIX}"), key=lambda p: p.name, reverse=True)
    for dump in dumps:
        if stem_of(dump) and manifest_path_of(dump).is_file():
            return dump
    raise FileNotFoundError(f"no backup with a manifest in {folder}: run `shopsync backup` first")


def compare(manifest: BackupManifest, restored: Measurement) -> list[str]:
    """What the restored database says differently from the manifest."""
    problems = []
    for table in sorted(set(manifest.counts) | set(restored.counts)):
        want, got = manifest.counts.get(table), restored.counts.get(table)
        if want != got:
            problems.append(f"table shopsync.{table}: manifest {want} rows, restored {got}")
    for name, want in manifest.invariants.items():
        got = restored.invariants.get(name)
        if got != want:
            problems.append(f"invariant {name}: manifest {want}, restored {got}")
    return problems


def restore_drill(url: str, settings: BackupSettings, file: Path | None = None) -> DrillReport:
    """Restore `file` (default: the newest backup) into a scratch database and verify it."""
    dump = file or latest_backup(settings)
    manifest = BackupManifest.model_validate_json(manifest_path_of(dump).read_text())
    problems = []
    if _sha256(dump) != manifest.sha256:
        problems.append(f"{dump.name}: checksum differs from the manifest (file changed)")
    scratch = f"shopsync_drill_{uuid.uuid4().hex[:10]}"
    restored: Measurement | None
    with psycopg.connect(url, autocommit=True) as admin:
        tools: PgTools = find_pg_tools(admin.info.server_version // 10000)
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(scratch)))
        try:
            scratch_url = with_database(url, scratch)
            restore_database(scratch_url, dump, tools)
            with psycopg.connect(scratch_url) as conn:
                restored = measure(conn)
        except (BackupToolError, WarehouseNotMigrated) as exc:  # did not restore: failed
            problems.append(str(exc))
            restored = None
        finally:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch))
            )
    if restored is None:
        restored = Measurement(counts={}, invariants={})
    else:
        problems += compare(manifest, restored)
    warnings = [f"invariant {k}: {v} violating rows" for k, v in restored.invariants.items() if v]
    return DrillReport(
        file=dump.name, scratch_database=scratch, passed=not problems, problems=problems,
        warnings=warnings, counts=restored.counts, invariants=restored.invariants,
    )  # fmt: skip
