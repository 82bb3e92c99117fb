"""Retention of warehouse backups: pure rules (FAULTS B1)."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sync.backup_retention import (
    BackupSettings,
    backup_stem,
    backups_to_delete,
    backups_to_keep,
    parse_backup_stem,
    stem_of,
)

NOW = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)  # a Thursday


def daily(days: int, start: datetime = NOW) -> list[datetime]:
    return [start - timedelta(days=n) for n in range(days)]


def test_names_round_trip_and_ignore_other_files():
    stem = backup_stem(NOW)
    assert stem == "shopsync-20261203T020000Z"
    assert parse_backup_stem(stem) == NOW
    assert stem_of(Path(f"{stem}.dump")) == stem
    assert stem_of(Path(f"{stem}.manifest.json")) == stem
    assert stem_of(Path(f"{stem}.dump.partial")) is None
    assert stem_of(Path("notes.dump")) is None
    with pytest.raises(ValueError):
        backup_stem(datetime(2026, 1, 1))


def test_two_years_of_daily_backups_keep_7_days_4_weeks_12_months():
    """FAULTS B1: after two years of nightly backups the folder holds a bounded set."""
    taken = daily(730)
    kept = backups_to_keep(taken, BackupSettings())
    assert set(daily(7)) <= kept
    # the newest of each of the last 4 ISO weeks: this Thursday, then the Sundays before
    sundays = [datetime(2026, 11, d, 2, 0, tzinfo=UTC) for d in (29, 22, 15)]
    assert set(sundays) <= kept
    # the newest of each of the last 12 months: today, then the last day of Jan..Nov 2026
    month_ends = [datetime(2026, m, 1, 2, 0, tzinfo=UTC) - timedelta(days=1) for m in range(2, 13)]
    assert set(month_ends) <= kept
    assert datetime(2025, 12, 31, 2, 0, tzinfo=UTC) not in kept  # 13th month back
    assert min(kept) == datetime(2026, 1, 31, 2, 0, tzinfo=UTC)
    assert len(kept) < 7 + 4 + 12
    assert set(backups_to_delete(taken, BackupSettings())) == set(taken) - kept


def test_several_backups_a_day_keep_only_the_newest_of_each_day():
    same_day = [NOW.replace(hour=h) for h in (1, 5, 9)]
    kept = backups_to_keep(same_day, BackupSettings(keep_weekly=0, keep_monthly=0))
    assert kept == {NOW.replace(hour=9)}


def test_a_long_gap_never_deletes_every_backup():
    """Periods are those that have a backup: a machine off for a year keeps what it had."""
    old = daily(10, start=NOW - timedelta(days=400))
    kept = backups_to_keep(old, BackupSettings())
    assert set(daily(7, start=NOW - timedelta(days=400))) <= kept


def test_zero_everywhere_still_keeps_the_newest():
    taken = daily(5)
    settings = BackupSettings(keep_daily=0, keep_weekly=0, keep_monthly=0)
    assert backups_to_keep(taken, settings) == {NOW}
    assert backups_to_keep([], settings) == set()


def test_settings_reject_nonsense():
    with pytest.raises(ValueError):
        BackupSettings(hour=24)
    with pytest.raises(ValueError):
        BackupSettings(keep_daily=-1)
    with pytest.raises(ValueError):
        BackupSettings(unknown=1)
