"""Warehouse backups and restore drills as assets, jobs and schedules (FAULTS B1).

`warehouse_backup` dumps the database daily at the registry's `backups.hour` (UTC);
`restore_drill` restores the newest backup into a scratch database every Sunday an
hour later and fails (so the run-failure alert fires) when it disagrees with its
manifest. Both are assets in the `backups` group, so the UI shows the file, its
size, the row counts and the verdict of every run.
"""

import dagster as dg

from flows.backups import restore_drill as run_restore_drill
from flows.backups import run_backup
from pipelines.parts import DefinitionsPart
from resources.postgres import PostgresResource
from resources.registry import Registry, RegistryResource, load_registry
from sync.backup_retention import BackupSettings

GROUP = "backups"


def backup_settings(registry: Registry | None) -> BackupSettings:
    """The registry's `backups:` section (defaults until the registry has one)."""
    return getattr(registry, "backups", None) or BackupSettings()


@dg.asset(group_name=GROUP, description="A pg_dump of the warehouse with its manifest.")
def warehouse_backup(
    context: dg.AssetExecutionContext, postgres: PostgresResource, registry: RegistryResource
) -> dg.MaterializeResult:
    result = run_backup(postgres.resolved_url(), backup_settings(registry.get()))
    manifest = result.manifest
    context.log.info(f"backup {result.dump}; retention deleted {result.deleted or 'nothing'}")
    return dg.MaterializeResult(
        metadata={
            "file": dg.MetadataValue.path(str(result.dump)),
            "size_bytes": dg.MetadataValue.int(manifest.size_bytes),
            "rows_total": dg.MetadataValue.int(sum(manifest.counts.values())),
            "counts": dg.MetadataValue.json(manifest.counts),
            "invariants": dg.MetadataValue.json(manifest.invariants),
            "deleted": dg.MetadataValue.json(result.deleted),
        }
    )


@dg.asset(
    group_name=GROUP,
    deps=[warehouse_backup],
    description="Restore the newest backup into a scratch database and compare it with "
    "its manifest; fails when they disagree.",
)
def restore_drill(postgres: PostgresResource, registry: RegistryResource) -> dg.MaterializeResult:
    report = run_restore_drill(postgres.resolved_url(), backup_settings(registry.get()))
    metadata = {
        "file": dg.MetadataValue.text(report.file),
        "verdict": dg.MetadataValue.text(report.verdict),
        "problems": dg.MetadataValue.json(report.problems),
        "warnings": dg.MetadataValue.json(report.warnings),
        "counts": dg.MetadataValue.json(report.counts),
    }
    if not report.passed:
        raise dg.Failure(
            description=f"restore drill of {report.file} FAILED: " + "; ".join(report.problems),
            metadata=metadata,
        )
    return dg.MaterializeResult(metadata=metadata)


warehouse_backup_job = dg.define_asset_job(
    "warehouse_backup_job", selection=[warehouse_backup], description="Back up the warehouse."
)
restore_drill_job = dg.define_asset_job(
    "restore_drill_job", selection=[restore_drill], description="Verify the newest backup."
)


def backup_definitions(registry: Registry | None = None) -> DefinitionsPart:
    """Assets, jobs and schedules for `dg.Definitions` (registry: for the backup hour)."""
    if registry is None:
        registry = load_registry()
    hour = backup_settings(registry).hour
    backup_schedule = dg.ScheduleDefinition(
        name="warehouse_backup_schedule",
        job=warehouse_backup_job,
        cron_schedule=f"0 {hour} * * *",
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"Back up the warehouse daily at {hour:02d}:00 UTC.",
    )
    drill_schedule = dg.ScheduleDefinition(
        name="restore_drill_schedule",
        job=restore_drill_job,
        cron_schedule=f"0 {(hour + 1) % 24} * * 0",
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Restore the newest backup into a scratch database weekly (Sunday).",
    )
    return DefinitionsPart(
        assets=[warehouse_backup, restore_drill],
        jobs=[warehouse_backup_job, restore_drill_job],
        schedules=[backup_schedule, drill_schedule],
    )
