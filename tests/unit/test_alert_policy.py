"""Quiet hours and grouping rules (sync.alert_policy): wall clock, wrap-around, DST."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from sync.alert_policy import (
    AlertPolicy,
    GroupRow,
    group_is_open,
    local_label,
    quiet_until,
    repeat_note,
)

DENVER = "America/Denver"
MT = ZoneInfo(DENVER)


@dataclass(frozen=True)
class Quiet:
    start: str
    end: str


NIGHT = Quiet("22:00", "07:00")


def _mt(*args: int) -> datetime:
    return datetime(*args, tzinfo=MT)


@pytest.mark.parametrize(
    ("local", "until"),
    [
        (_mt(2026, 10, 1, 21, 59), None),  # before the window
        (_mt(2026, 10, 1, 22, 0), _mt(2026, 10, 2, 7, 0)),  # its first minute: next morning
        (_mt(2026, 10, 1, 23, 30), _mt(2026, 10, 2, 7, 0)),
        (_mt(2026, 10, 2, 3, 0), _mt(2026, 10, 2, 7, 0)),  # after midnight: this morning
        (_mt(2026, 10, 2, 6, 59), _mt(2026, 10, 2, 7, 0)),
        (_mt(2026, 10, 2, 7, 0), None),  # the end is not quiet any more
        (_mt(2026, 10, 2, 12, 0), None),
    ],
)
def test_quiet_hours_wrap_midnight_in_the_registry_zone(local, until):
    assert quiet_until(local.astimezone(UTC), DENVER, NIGHT) == until


def test_a_window_within_one_day():
    lunch = Quiet("12:00", "13:30")
    assert quiet_until(_mt(2026, 10, 1, 12, 15), DENVER, lunch) == _mt(2026, 10, 1, 13, 30)
    assert quiet_until(_mt(2026, 10, 1, 11, 59), DENVER, lunch) is None
    assert quiet_until(_mt(2026, 10, 1, 13, 30), DENVER, lunch) is None


def test_start_equal_to_end_means_no_quiet_hours():
    for hour in range(24):
        assert quiet_until(_mt(2026, 10, 1, hour, 0), DENVER, Quiet("07:00", "07:00")) is None
    assert quiet_until(_mt(2026, 10, 1, 23, 0), DENVER, None) is None


def test_the_zone_decides_not_utc():
    # 23:00 UTC is 17:00 in Denver: not quiet there, though 23:00 is quiet in UTC.
    moment = datetime(2026, 10, 1, 23, 0, tzinfo=UTC)
    assert quiet_until(moment, DENVER, NIGHT) is None
    assert quiet_until(moment, "UTC", NIGHT) == datetime(2026, 10, 2, 7, 0, tzinfo=UTC)


def test_spring_forward_night_ends_at_seven_local_one_hour_sooner():
    # 2026-03-08 02:00 MST the clocks jump to 03:00 MDT: the night is 8 hours, not 9.
    start = _mt(2026, 3, 7, 22, 0).astimezone(UTC)
    until = quiet_until(start, DENVER, NIGHT)
    assert until == datetime(2026, 3, 8, 13, 0, tzinfo=UTC)  # 07:00 MDT
    assert until - start == timedelta(hours=8)


def test_fall_back_night_ends_at_seven_local_one_hour_later():
    start = _mt(2026, 10, 31, 22, 0).astimezone(UTC)
    until = quiet_until(start, DENVER, NIGHT)
    assert until == datetime(2026, 11, 1, 14, 0, tzinfo=UTC)  # 07:00 MST
    assert until - start == timedelta(hours=10)


def test_an_end_the_clock_skips_ends_at_the_jump():
    # 02:30 does not exist on 2026-03-08 in Denver: quiet ends when the clock jumps.
    early = Quiet("01:00", "02:30")
    until = quiet_until(datetime(2026, 3, 8, 8, 15, tzinfo=UTC), DENVER, early)  # 01:15 MST
    assert until == datetime(2026, 3, 8, 9, 0, tzinfo=UTC)  # 02:00 MST = 03:00 MDT


def test_an_end_the_clock_reads_twice_is_the_next_reading():
    # 01:30 reads twice on 2026-11-01 (MDT, then MST): after the first, the second ends it.
    window = Quiet("00:30", "01:30")
    first = datetime(2026, 11, 1, 7, 30, tzinfo=UTC)  # 01:30 MDT
    assert quiet_until(datetime(2026, 11, 1, 7, 0, tzinfo=UTC), DENVER, window) == first
    second_pass = datetime(2026, 11, 1, 8, 15, tzinfo=UTC)  # 01:15 MST, the clock again
    assert quiet_until(second_pass, DENVER, window) == datetime(2026, 11, 1, 8, 30, tzinfo=UTC)


def test_now_must_carry_a_zone():
    with pytest.raises(ValueError):
        quiet_until(datetime(2026, 10, 1, 23, 0), DENVER, NIGHT)


def test_group_open_within_the_window_or_while_not_sent():
    opened = datetime(2026, 10, 1, 10, 0, tzinfo=UTC)
    window = timedelta(minutes=120)
    assert group_is_open(opened, opened + timedelta(minutes=119), window, pending=False)
    assert not group_is_open(opened, opened + timedelta(minutes=120), window, pending=False)
    assert group_is_open(opened, opened + timedelta(hours=9), window, pending=True)


def test_policy_places_repeats_holds_quiet_mail_and_lets_critical_through():
    policy = AlertPolicy.of(DENVER, "22:00", "07:00", 120)
    night = _mt(2026, 10, 1, 23, 0).astimezone(UTC)
    morning = _mt(2026, 10, 2, 7, 0)
    fresh = policy.place(night, alert_key="k", critical=False, latest=None)
    assert (fresh.action, fresh.held_until) == ("new", morning)
    critical = policy.place(night, alert_key="k", critical=True, latest=GroupRow(night, True))
    assert (critical.action, critical.held_until) == ("new", None)
    sent_recently = GroupRow(night - timedelta(minutes=30), pending=False)
    assert policy.place(night, alert_key="k", critical=False, latest=sent_recently).action == (
        "repeat"
    )
    sent_long_ago = GroupRow(night - timedelta(hours=3), pending=False)
    assert policy.place(night, alert_key="k", critical=False, latest=sent_long_ago).action == "new"
    # No alert key: nothing to group by.
    assert policy.place(night, alert_key=None, critical=False, latest=sent_recently).action == (
        "new"
    )


def test_default_policy_has_no_quiet_hours():
    assert AlertPolicy().held_until(_mt(2026, 10, 1, 23, 0), critical=False) is None


def test_repeat_note_in_the_operators_clock():
    last = datetime(2026, 10, 2, 5, 45, tzinfo=UTC)
    assert local_label(last, DENVER) == "2026-10-01 23:45 MDT"
    assert repeat_note(1, last, DENVER) == (
        "Repeated 1 time since this alert was queued, last at 2026-10-01 23:45 MDT."
    )
    assert repeat_note(3, last, DENVER).startswith("Repeated 3 times")
