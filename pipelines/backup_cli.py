"""`shopsync backup` and `shopsync restore --verify`: the same flows the assets run.

From a shell, so a backup can be taken before a risky change and a backup can be
verified without the Dagster UI. Exit 0 on success, 1 when the drill fails or a
tool is missing (the message says what to install), 2 on a usage error.
"""

import argparse
import sys
from pathlib import Path

from flows.backups import WarehouseNotMigrated, restore_drill
from flows.backups import run_backup as backup_flow
from resources.backups import BackupToolError
from resources.postgres import database_url
from resources.registry import load_registry
from sync.backup_retention import BackupSettings


def _settings(args: argparse.Namespace) -> BackupSettings:
    registry = load_registry(getattr(args, "registry", None))
    settings = getattr(registry, "backups", None) or BackupSettings()
    if getattr(args, "folder", None):
        settings = settings.model_copy(update={"folder": Path(args.folder)})
    return settings


def add_backup_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--folder", help="backup folder (default: the registry's backups.folder)")


def run_backup(args: argparse.Namespace) -> int:
    """Dump the warehouse, write the manifest, prune by the retention rule."""
    try:
        result = backup_flow(database_url(), _settings(args))
    except (BackupToolError, WarehouseNotMigrated) as exc:
        print(f"backup failed: {exc}", file=sys.stderr)
        return 1
    rows = sum(result.manifest.counts.values())
    print(f"backup written: {result.dump} ({result.manifest.size_bytes} bytes, {rows} rows)")
    print(f"manifest: {result.manifest_path}")
    if result.deleted:
        print("retention deleted: " + ", ".join(result.deleted))
    return 0


def add_restore_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--folder", help="backup folder (default: the registry's backups.folder)")
    parser.add_argument(
        "--verify",
        action="store_true",
        help="restore into a scratch database, compare with the manifest, then drop it",
    )
    parser.add_argument("--file", help="the .dump to restore (default: the newest backup)")


def run_restore(args: argparse.Namespace) -> int:
    """The restore drill. Restoring over the live warehouse is deliberately not offered
    here: that is a decision for a person, with pg_restore, after a drill passed."""
    if not args.verify:
        print(
            "shopsync restore only runs the drill: add --verify. To replace the warehouse, "
            "stop shopsync and run pg_restore --clean on a backup that passed the drill.",
            file=sys.stderr,
        )
        return 2
    try:
        report = restore_drill(
            database_url(), _settings(args), Path(args.file) if args.file else None
        )
    except (BackupToolError, WarehouseNotMigrated, FileNotFoundError) as exc:
        print(f"restore drill failed: {exc}", file=sys.stderr)
        return 1
    rows = sum(report.counts.values())
    print(f"restore drill of {report.file}: {report.verdict} ({rows} rows restored)")
    for line in report.problems:
        print(f"  problem: {line}")
    for line in report.warnings:
        print(f"  warning: {line}")
    return 0 if report.passed else 1
