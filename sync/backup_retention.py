"""Which warehouse backups to keep: pure rules, no files touched here.

A backup is named after the UTC instant it was taken (`shopsync-20261203T020000Z`),
so the folder listing alone says what exists. Retention follows the usual
grandfather-father-son rule: the newest backup of each of the last `keep_daily`
days, `keep_weekly` ISO weeks and `keep_monthly` months is kept. The periods
counted are the ones *that have a backup* (as restic and borg count them), so a
machine that was off for a month never wakes up and deletes every backup it has;
and the newest backup is always kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

BACKUP_PREFIX = "shopsync-"
DUMP_SUFFIX = ".dump"
MANIFEST_SUFFIX = ".manifest.json"
_STAMP = "%Y%m%dT%H%M%SZ"
_STEM = re.compile(r"^shopsync-(\d{8}T\d{6}Z)$")


class BackupSettings(BaseModel):
    """The registry's `backups:` section.

    `folder` unset means `<shopsync home>/backups` (see resources.paths), resolved
    by resources.backups: this layer does not know where the project lives.
    """

    model_config = ConfigDict(extra="forbid")

    folder: Path | None = None
    keep_daily: int = Field(default=7, ge=0)
    keep_weekly: int = Field(default=4, ge=0)
    keep_monthly: int = Field(default=12, ge=0)
    hour: int = Field(default=2, ge=0, le=23, description="UTC hour of the daily backup")


def backup_stem(taken_at: datetime) -> str:
    """The file name (without suffix) of a backup taken at `taken_at`."""
    if taken_at.tzinfo is None:
        raise ValueError("backup_stem needs an aware datetime (UTC)")
    return BACKUP_PREFIX + taken_at.astimezone(UTC).strftime(_STAMP)


def parse_backup_stem(stem: str) -> datetime | None:
    """When the backup named `stem` was taken; None for a file that is not ours."""
    match = _STEM.match(stem)
    if not match:
        return None
    return datetime.strptime(match.group(1), _STAMP).replace(tzinfo=UTC)


def stem_of(path: Path) -> str | None:
    """The backup stem of a dump or manifest file name; None for any other file."""
    for suffix in (DUMP_SUFFIX, MANIFEST_SUFFIX):
        if path.name.endswith(suffix):
            stem = path.name[: -len(suffix)]
            return stem if parse_backup_stem(stem) else None
    return None


def _newest_per_period(
    taken: list[datetime], period: Callable[[datetime], tuple[int, ...]], count: int
) -> set[datetime]:
    """The newest instant of each of the `count` most recent periods that have one."""
    kept: set[datetime] = set()
    seen: set[tuple[int, ...]] = set()
    for instant in taken:  # newest first
        key = period(instant)
        if key in seen:
            continue
        if len(seen) >= count:
            break
        seen.add(key)
        kept.add(instant)
    return kept


def backups_to_keep(taken: Iterable[datetime], settings: BackupSettings) -> set[datetime]:
    """The backups the retention rule keeps (always at least the newest one)."""
    ordered = sorted(set(taken), reverse=True)
    if not ordered:
        return set()
    kept = {ordered[0]}
    kept |= _newest_per_period(ordered, lambda t: (t.year, t.month, t.day), settings.keep_daily)
    kept |= _newest_per_period(ordered, lambda t: tuple(t.isocalendar()[:2]), settings.keep_weekly)
    kept |= _newest_per_period(ordered, lambda t: (t.year, t.month), settings.keep_monthly)
    return kept


def backups_to_delete(taken: Iterable[datetime], settings: BackupSettings) -> list[datetime]:
    """The backups the rule lets go, oldest first."""
    instants = set(taken)
    return sorted(instants - backups_to_keep(instants, settings))
