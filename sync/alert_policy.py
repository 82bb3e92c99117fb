"""The outbox's alert policy: quiet hours and grouping of repeats. Pure rules, no IO.

An operator must not be woken by mail that can wait, nor buried under the same alert
every 15 minutes. So, applied to every message the outbox queues:

- **Quiet hours** (registry `operations.quiet_hours`, wall-clock "HH:MM" in
  `notifications.time_zone`; the window may wrap midnight; `start == end` means none):
  non-critical mail queued inside them is held until they end. "End" is the first
  moment the local clock reads `end` or later, so on a spring-forward night an end
  inside the skipped hour is the jump itself, and on a fall-back night the window ends
  at the first `end` that is still ahead.
- **Grouping** (registry `operations.alert_group_minutes`): a message whose alert key
  already has an email opened less than the window ago, or one that has not gone out yet
  (held for the morning, or retrying through an outage), is counted on that email as a
  repeat instead of becoming another one.
- **Critical** mail (a blocking exactly-once check failing, a flow failing for every
  retailer) bypasses both: it is queued at once, as its own email.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

__all__ = [
    "AlertPolicy",
    "ClockWindow",
    "GroupRow",
    "Placement",
    "group_is_open",
    "local_label",
    "quiet_until",
    "repeat_note",
]

DEFAULT_GROUP_WINDOW = timedelta(minutes=120)


class ClockWindow(Protocol):
    """Anything with `start` and `end` as "HH:MM" (the registry's `QuietHours`)."""

    start: str
    end: str


@dataclass(frozen=True)
class _Window:
    start: str
    end: str


NO_QUIET_HOURS = _Window("00:00", "00:00")


def _clock(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def _zone(tz: str | tzinfo) -> tzinfo:
    return ZoneInfo(tz) if isinstance(tz, str) else tz


def _wall(moment: datetime, zone: tzinfo) -> datetime:
    return moment.astimezone(zone).replace(tzinfo=None, fold=0)


def _first_reading(day: date, at: time, zone: tzinfo, after: datetime) -> datetime | None:
    """The first instant later than `after` at which the clock of `zone` reads `at` (or,
    when `day`'s clock skips `at`, the jump over it) on `day`; None if none is later."""
    naive = datetime.combine(day, at)
    first = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if _wall(first, zone) != naive:
        # A spring-forward gap: `at` never shows. fold=1 resolves it before the jump,
        # fold=0 after; the first reading past `at` is the jump, found to the second.
        lo = int(naive.replace(tzinfo=zone, fold=1).timestamp())
        hi = int(first.timestamp())
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (
                (lo, mid) if _wall(datetime.fromtimestamp(mid, UTC), zone) >= naive else (mid, hi)
            )
        return datetime.fromtimestamp(hi, UTC) if datetime.fromtimestamp(hi, UTC) > after else None
    # An ambiguous time (fall back) reads twice: the first reading, else the second.
    second = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    return next((t for t in (first, second) if t > after), None)


def quiet_until(now: datetime, tz: str | tzinfo, quiet: ClockWindow | None) -> datetime | None:
    """When mail held at `now` may go (UTC), or None when `now` is outside quiet hours.

    `quiet.start`/`quiet.end` are wall-clock "HH:MM" in `tz`; `start > end` wraps
    midnight (22:00–07:00), `start == end` (or `quiet` None) means no quiet hours.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if quiet is None or quiet.start == quiet.end:
        return None
    start, end, zone = _clock(quiet.start), _clock(quiet.end), _zone(tz)
    local = now.astimezone(zone)
    wall, day = local.time().replace(tzinfo=None), local.date()
    if start < end:
        ends_on = day if start <= wall < end else None
    elif wall >= start:
        ends_on = day + timedelta(days=1)
    else:
        ends_on = day if wall < end else None
    return None if ends_on is None else _first_reading(ends_on, end, zone, now)


def group_is_open(opened_at: datetime, now: datetime, window: timedelta, *, pending: bool) -> bool:
    """Whether an alert at `now` is a repeat of the email opened at `opened_at`: it was
    opened less than `window` ago, or it is still `pending` (not sent yet: the best
    place to say the trouble repeats is mail that has not gone out)."""
    return pending or now < opened_at + window


@dataclass(frozen=True)
class GroupRow:
    """The latest outbox email of an alert key, as the policy needs to see it."""

    opened_at: datetime
    pending: bool  # still queued: held for quiet hours, or due/retrying


@dataclass(frozen=True)
class Placement:
    """What the outbox does with one message: a new email (held until `held_until`, or
    due now when None), or a repeat counted on the open group's email."""

    action: Literal["new", "repeat"]
    held_until: datetime | None = None


@dataclass(frozen=True)
class AlertPolicy:
    """The registry's alert settings, resolved: time zone, quiet hours, group window.

    The default has no quiet hours (mail always due) and the guide's 2-hour window.
    """

    time_zone: str = "UTC"
    quiet: ClockWindow = NO_QUIET_HOURS
    group_window: timedelta = DEFAULT_GROUP_WINDOW

    @classmethod
    def of(
        cls, time_zone: str, quiet_start: str, quiet_end: str, group_minutes: float
    ) -> AlertPolicy:
        return cls(time_zone, _Window(quiet_start, quiet_end), timedelta(minutes=group_minutes))

    def held_until(self, now: datetime, *, critical: bool) -> datetime | None:
        return None if critical else quiet_until(now, self.time_zone, self.quiet)

    def place(
        self, now: datetime, *, alert_key: str | None, critical: bool, latest: GroupRow | None
    ) -> Placement:
        """Critical mail and mail with no alert key are always new (critical never held);
        otherwise a repeat when `latest` (the key's newest email) is still open."""
        if (
            not critical
            and alert_key
            and latest is not None
            and group_is_open(latest.opened_at, now, self.group_window, pending=latest.pending)
        ):
            return Placement("repeat")
        return Placement("new", self.held_until(now, critical=critical))


def local_label(moment: datetime, tz: str | tzinfo) -> str:
    """`2026-10-01 23:45 MDT`: a time as the operator's clock shows it."""
    return f"{moment.astimezone(_zone(tz)):%Y-%m-%d %H:%M %Z}".strip()


def repeat_note(repeats: int, last_at: datetime, tz: str | tzinfo) -> str:
    """The line an email still queued carries about the repeats grouped into it."""
    times = "time" if repeats == 1 else "times"
    last = local_label(last_at, tz)
    return f"Repeated {repeats} {times} since this alert was queued, last at {last}."
