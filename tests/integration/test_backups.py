"""Backups of the warehouse and the restore drill on a real Postgres (FAULTS B1).

Runs on $SHOPSYNC_TEST_DATABASE_URL (the machine's Postgres 15) or, without it, on
the embedded server: the pg_dump/pg_restore picked must match either one.
"""

import argparse
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from flows.backups import (
    WarehouseNotMigrated,
    latest_backup,
    manifest_path_of,
    restore_drill,
    run_backup,
)
from pipelines.backup_cli import run_backup as cli_backup
from pipelines.backup_cli import run_restore as cli_restore
from pipelines.backups import backup_definitions
from resources import backups as backup_tools
from resources.postgres import PostgresResource
from resources.registry import RegistryResource
from sync.backup_retention import BackupSettings
from tests.fixtures.db import create_scratch_database, drop_database


@pytest.fixture
def ledger_rows(db: psycopg.Connection) -> str:
    """Real rows in the order, fulfillment and API call ledgers (one orphan push row)."""
    tag = uuid.uuid4().hex[:8]
    for n in range(3):
        db.execute(
            "INSERT INTO shopsync.order_links (retailer, retailer_order_gid, source_key, state,"
            " hub_order_gid) VALUES (%s, %s, %s, 'confirmed', %s)",
            (f"r-{tag}", f"gid://o/{n}", f"{tag}:{n}", f"gid://hub/{tag}/{n}"),
        )
        db.execute(
            "INSERT INTO shopsync.api_calls (store, operation, duration_ms) VALUES (%s, 'q', 1)",
            (f"r-{tag}",),
        )
    db.execute(
        "INSERT INTO shopsync.fulfillment_links (hub_fulfillment_gid, retailer,"
        " retailer_order_gid, state, retailer_fulfillment_gid) VALUES"
        " (%s, %s, 'gid://o/0', 'created', %s), (%s, %s, 'gid://o/unknown', 'claimed', NULL)",
        (f"hf-{tag}-1", f"r-{tag}", f"rf-{tag}", f"hf-{tag}-2", f"r-{tag}"),
    )
    return tag


def test_backup_then_drill_round_trip(db_url, db, ledger_rows, tmp_path):
    """FAULTS B1: a backup restores into a scratch database with the same rows."""
    settings = BackupSettings(folder=tmp_path)
    result = run_backup(db_url, settings)
    manifest = json.loads(result.manifest_path.read_text())
    assert result.dump.stat().st_size == manifest["size_bytes"] > 0
    assert manifest["counts"]["order_links"] >= 3
    assert manifest["counts"]["fulfillment_links"] >= 2
    assert manifest["invariants"]["fulfillment_links_unknown_order"] >= 1
    assert set(manifest["counts"]) >= {"api_calls", "retailer_orders", "store_tokens"}

    report = restore_drill(db_url, settings)
    assert report.passed, report.problems
    assert report.file == result.dump.name
    assert report.counts == manifest["counts"]
    assert any("fulfillment_links_unknown_order" in w for w in report.warnings)
    scratch = db.execute(
        "SELECT count(*) FROM pg_database WHERE datname = %s", (report.scratch_database,)
    ).fetchone()[0]
    assert scratch == 0  # the drill cleans up after itself


def test_drill_fails_when_the_manifest_disagrees(db_url, ledger_rows, tmp_path):
    """FAULTS B1: a manifest whose count the restore does not reproduce fails the drill."""
    settings = BackupSettings(folder=tmp_path)
    result = run_backup(db_url, settings)
    manifest = json.loads(result.manifest_path.read_text())
    manifest["counts"]["order_links"] += 1
    result.manifest_path.write_text(json.dumps(manifest))

    report = restore_drill(db_url, settings)
    assert not report.passed
    assert report.verdict == "FAILED"
    assert any(p.startswith("table shopsync.order_links: manifest") for p in report.problems)


def test_drill_fails_on_a_changed_dump(db_url, ledger_rows, tmp_path):
    """FAULTS B1: a dump truncated on disk is caught (checksum, then pg_restore)."""
    settings = BackupSettings(folder=tmp_path)
    dump = run_backup(db_url, settings).dump
    dump.write_bytes(dump.read_bytes()[: dump.stat().st_size // 2])
    report = restore_drill(db_url, settings)
    assert not report.passed
    assert any("checksum" in p for p in report.problems)


def test_retention_deletes_dump_and_manifest_together(db_url, tmp_path):
    settings = BackupSettings(folder=tmp_path, keep_daily=2, keep_weekly=0, keep_monthly=0)
    now = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)
    results = [run_backup(db_url, settings, now=now - timedelta(days=n)) for n in (3, 2, 1, 0)]
    assert results[-1].deleted == [results[1].dump.name.removesuffix(".dump")]
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(
        name for r in results[2:] for name in (r.dump.name, r.manifest_path.name)
    )
    assert latest_backup(settings) == results[-1].dump
    assert manifest_path_of(results[-1].dump) == results[-1].manifest_path


def test_an_unmigrated_database_is_refused_with_the_fix(tmp_path):
    url, admin = create_scratch_database("shopsync_backup_empty")
    try:
        with pytest.raises(WarehouseNotMigrated, match="shopsync migrate"):
            run_backup(url, BackupSettings(folder=tmp_path))
    finally:
        drop_database(admin, url)
    assert list(tmp_path.iterdir()) == []


def test_missing_client_names_what_to_install(monkeypatch):
    monkeypatch.setattr(backup_tools, "_candidate_bin_dirs", lambda: [])
    with pytest.raises(backup_tools.BackupToolError, match="postgresql-client-15"):
        backup_tools.find_pg_tools(15)


def test_cli_backup_and_restore_verify(db_url, ledger_rows, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SHOPSYNC_DATABASE_URL", db_url)
    args = argparse.Namespace(registry=None, folder=str(tmp_path), verify=True, file=None)
    assert cli_backup(args) == 0
    assert cli_restore(args) == 0
    assert "passed" in capsys.readouterr().out
    assert cli_restore(argparse.Namespace(**{**vars(args), "verify": False})) == 2


def test_assets_materialize_with_metadata(db_url, ledger_rows, tmp_path, monkeypatch):
    monkeypatch.setenv("SHOPSYNC_HOME", str(tmp_path))  # the default folder: <home>/backups
    defs = backup_definitions()
    assert {s.name for s in defs.schedules} == {
        "warehouse_backup_schedule",
        "restore_drill_schedule",
    }
    postgres = PostgresResource(url=db_url)
    try:
        result = dg.materialize(
            defs.assets, resources={"postgres": postgres, "registry": RegistryResource()}
        )
    finally:
        postgres.close()
    assert result.success
    events = {e.asset_key.path[-1]: e for e in result.get_asset_materialization_events()}
    backup_meta = events["warehouse_backup"].materialization.metadata
    drill_meta = events["restore_drill"].materialization.metadata
    assert Path(backup_meta["file"].value).parent == tmp_path / "backups"
    assert backup_meta["size_bytes"].value > 0
    assert drill_meta["verdict"].value == "passed"
