"""Quiet hours: marketing reaches a recipient only inside a local send window, never at night.

The recipient's local time comes from phonenumbers' time zone data, which works from the country code and,
where it has them, the area code or mobile prefix. What that means for the operator:

* A landline (or a NANP number, where mobiles keep an area code) usually maps to one zone: +1 212 is
  America/New_York, +7 495 Europe/Moscow, +62 21 Asia/Jakarta, +55 92 America/Manaus, +61 2 Australia/Sydney.
* Some prefixes map to a few zones: +1 907 (Alaska) to America/Adak and America/Anchorage, +61 8 to
  Australia/Adelaide and Australia/Perth, +62 811 mobiles to Asia/Jakarta and Asia/Makassar.
* A mobile number of a country whose operators are national maps to *every* zone of the country code.
  A Russian mobile (+7 9xx) maps to 16 zones, from Europe/Bucharest (phonenumbers' stand-in for
  Kaliningrad) to Asia/Anadyr, plus Kazakh zones because +7 is shared. An Australian mobile maps to 8 zones
  from Indian/Cocos to Australia/Lord_Howe. We do not know where the person is, so we send only when it is
  inside the window in all of them: with 08:00-21:00 a Russian mobile gets 3 hours a day (06:00-09:00 UTC in
  winter, 4 in summer), an Australian mobile 8.5 hours. Indonesian and Brazilian mobiles keep a regional
  prefix and usually map to one zone.
* A window shorter than the number's spread of offsets has no common instant (09:00-12:00 for a Russian
  mobile). Holding forever would break the promise that nothing is lost, so we then use the zone whose UTC
  offset is the median of the number's zones and flag the decision as approximate.
* Non-geographic numbers (+800, +882, ...) have no zone: the gateway's configured default zone is used, or
  if there is none the message goes now, flagged approximate.

A window occurrence is a span of instants, not of wall-clock readings: it opens at the first instant the
local clock shows the start time or later on an allowed day, and closes at the first instant it shows the
end time (on the next day when the window crosses midnight). So across DST changes a window opens once and
closes once: a start in a spring-forward gap opens at the jump (02:30 on the night the clock goes from
02:00 to 03:00 opens at 03:00); a start or end in a fall-back fold takes its first occurrence, and the
repeated hour does not reopen or close it again. A window crossing midnight counts as the day it started:
22:00-06:00 on Mondays only allows Monday 22:00 to Tuesday 06:00.

Pure code: the clock is a parameter (``now``), there is no I/O.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import functools
import logging
import math
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as pn_timezone

LOGGER = logging.getLogger(__name__)

UTC = dt.UTC
DEFAULT_START = dt.time(8, 0)
DEFAULT_END = dt.time(21, 0)
ALL_DAYS: frozenset[int] = frozenset(range(7))
WEEKDAYS: frozenset[int] = frozenset(range(5))
"""Monday to Friday: the ``days`` of a window with no marketing on weekends."""

HORIZON_DAYS = 8
"""How far ahead we look for a common allowed instant. The pattern repeats weekly, so 8 days (a week plus
the spread of the world's offsets) finds one whenever one exists, DST shifts aside."""

ZONE_CACHE_SIZE = 4096
"""Numbers whose zones stay cached; zones_for_number runs at every claim."""

MAX_ZONES_IN_REASON = 3
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_WINDOW_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True)
class SendWindow:
    """The local hours (and weekdays) in which marketing may reach a recipient.

    ``end <= start`` means the window crosses midnight; the weekday that counts is the day it started.
    """

    start: dt.time = DEFAULT_START
    """Local, inclusive."""
    end: dt.time = DEFAULT_END
    """Local, exclusive."""
    days: frozenset[int] = ALL_DAYS
    """Allowed local weekdays, Monday = 0. No marketing on weekends: WEEKDAYS."""

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("send window times are local wall-clock times: give them without a time zone")
        if self.start == self.end:
            raise ValueError(
                f"send window {_fmt_time(self.start)}-{_fmt_time(self.end)} is empty: start and end are the same"
            )
        days = frozenset(self.days)
        if not days:
            raise ValueError("send window has no allowed days: marketing would never go out")
        bad = sorted(day for day in days if not isinstance(day, int) or not 0 <= day <= 6)
        if bad:
            raise ValueError(f"send window days must be weekdays 0 (Monday) to 6 (Sunday), got {bad}")
        object.__setattr__(self, "days", days)

    @property
    def crosses_midnight(self) -> bool:
        return self.end <= self.start

    def describe(self) -> str:
        """'08:00-21:00', with the days when not every day: '08:00-21:00 Mon-Fri'."""
        hours = f"{_fmt_time(self.start)}-{_fmt_time(self.end)}"
        return hours if self.days == ALL_DAYS else f"{hours} {_fmt_days(self.days)}"


@dataclass(frozen=True)
class WindowDecision:
    allowed_now: bool
    next_allowed: dt.datetime
    """Aware, UTC; equal to ``now`` when allowed_now."""
    zones: tuple[str, ...]
    """The zone names the decision used (one zone after a fallback)."""
    approximate: bool
    """A fallback was used: no known zone, or no instant allowed in all the number's zones."""
    reason: str
    """One line for the operator."""


def parse_window(text: str) -> tuple[dt.time, dt.time]:
    """'08:00-21:00' -> (08:00, 21:00). '24:00' is accepted as an end and means midnight ('21:00-24:00')."""
    match = _WINDOW_RE.match(text)
    if match is None:
        raise ValueError(f"send window {text!r}: expected HH:MM-HH:MM, e.g. 08:00-21:00")
    start_h, start_m, end_h, end_m = (int(group) for group in match.groups())
    if end_h == 24 and end_m == 0:
        end_h = 0
    for hour, minute in ((start_h, start_m), (end_h, end_m)):
        if hour > 23 or minute > 59:
            raise ValueError(f"send window {text!r}: {hour:02d}:{minute:02d} is not a time of day")
    start, end = dt.time(start_h, start_m), dt.time(end_h, end_m)
    if start == end:
        raise ValueError(f"send window {text!r} is empty: start and end are the same")
    return start, end


@functools.lru_cache(maxsize=ZONE_CACHE_SIZE)
def zones_for_number(e164: str) -> tuple[ZoneInfo, ...]:
    """The zones phonenumbers gives for the number (see the module docstring for what to expect).

    Empty when phonenumbers does not know (non-geographic numbers, unknown regions). A zone name this
    machine's zoneinfo does not know is dropped with a warning rather than failing every claim.
    """
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"{e164!r} is not an E.164 number: {exc}") from None
    zones: list[ZoneInfo] = []
    for name in pn_timezone.time_zones_for_number(parsed):
        if name == pn_timezone.UNKNOWN_TIMEZONE:
            continue
        try:
            zones.append(ZoneInfo(name))
        except (ZoneInfoNotFoundError, ValueError):
            LOGGER.warning("time zone %s from phonenumbers is unknown to zoneinfo here; ignoring it", name)
    return tuple(zones)


def check_window(
    e164: str, now: dt.datetime, window: SendWindow, *, fallback_zone: ZoneInfo | None = None
) -> WindowDecision:
    """May marketing go to ``e164`` at ``now``, and if not, from when (the message is held, never dropped)."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now must be timezone-aware, got naive {now.isoformat()}")
    now = now.astimezone(UTC)
    zones = zones_for_number(e164)
    if not zones:
        if fallback_zone is None:
            return WindowDecision(
                True, now, (), True, f"no time zone known for {e164} and no default zone: quiet hours not applied"
            )
        guess = _decide((fallback_zone,), now, window) or _unbounded(fallback_zone, now, window)
        return dataclasses.replace(
            guess,
            approximate=True,
            reason=f"{guess.reason} (no time zone known for {e164}: used the default zone)",
        )
    decision = _decide(zones, now, window)
    if decision is not None:
        return decision
    median = _median_zone(zones, now)
    LOGGER.debug("no common %s window in %d zones of %s; using %s", window.describe(), len(zones), e164, median.key)
    approx = _decide((median,), now, window) or _unbounded(median, now, window)
    return dataclasses.replace(
        approx,
        approximate=True,
        reason=f"{approx.reason} (no instant inside {window.describe()} in the {len(zones)} zones of {e164}"
        f" within {HORIZON_DAYS} days: used the median-offset zone)",
    )


@dataclass(frozen=True)
class _Occurrences:
    """One zone's window occurrences around ``now``, as sorted, disjoint [start, end) UTC spans."""

    starts: list[dt.datetime]
    ends: list[dt.datetime]

    def contains(self, instant: dt.datetime) -> bool:
        index = bisect.bisect_right(self.starts, instant) - 1
        return index >= 0 and instant < self.ends[index]


def _occurrences(zone: ZoneInfo, now: dt.datetime, window: SendWindow) -> _Occurrences:
    today = now.astimezone(zone).date()
    end_shift = dt.timedelta(days=1 if window.crosses_midnight else 0)
    starts: list[dt.datetime] = []
    ends: list[dt.datetime] = []
    # From yesterday (its occurrence may still be open) to past the horizon (for instants near its end).
    for offset in range(-1, HORIZON_DAYS + 2):
        day = today + dt.timedelta(days=offset)
        if day.weekday() not in window.days:
            continue
        start = _first_instant_showing(day, window.start, zone)
        end = _first_instant_showing(day + end_shift, window.end, zone)
        if end > start:  # a window lying wholly inside a DST gap never happens that day
            starts.append(start)
            ends.append(end)
    return _Occurrences(starts, ends)


def _first_instant_showing(day: dt.date, wall: dt.time, zone: ZoneInfo) -> dt.datetime:
    """The first UTC instant at which the local clock in ``zone`` shows ``day`` ``wall`` or later.

    In a fold that is the first occurrence (fold=0). In a spring-forward gap the wall time never shows, and
    zoneinfo's answers (fold=0: the later side, fold=1: the earlier) bracket the jump: we bisect to it, on
    whole seconds as tz transitions are.
    """
    local = dt.datetime.combine(day, wall)
    first = local.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == local:
        return first
    before = math.floor(local.replace(tzinfo=zone, fold=1).astimezone(UTC).timestamp())
    after = math.ceil(first.timestamp())
    while after - before > 1:
        middle = (before + after) // 2
        if dt.datetime.fromtimestamp(middle, zone).replace(tzinfo=None) >= local:
            after = middle
        else:
            before = middle
    return dt.datetime.fromtimestamp(after, UTC)


def _decide(zones: tuple[ZoneInfo, ...], now: dt.datetime, window: SendWindow) -> WindowDecision | None:
    """The earliest instant >= now inside the window in every zone, or None if none within the horizon.

    Exact without scanning: the set allowed in all zones is an intersection of unions of spans, so its first
    point at or after ``now`` is ``now`` itself or the start of some zone's span.
    """
    tables = [_occurrences(zone, now, window) for zone in zones]
    limit = now + dt.timedelta(days=HORIZON_DAYS)
    candidates = sorted({now, *(start for table in tables for start in table.starts if now < start <= limit)})
    names = tuple(zone.key for zone in zones)
    for candidate in candidates:
        if all(table.contains(candidate) for table in tables):
            if candidate == now:
                return WindowDecision(True, now, names, False, f"inside {window.describe()} in {_where(names)}")
            blocking = tuple(zone.key for zone, table in zip(zones, tables, strict=True) if not table.contains(now))
            reason = (
                f"outside {window.describe()} in {_where(blocking, len(names))}; next {candidate:%Y-%m-%d %H:%M} UTC"
            )
            return WindowDecision(False, candidate, names, False, reason)
    return None


def _unbounded(zone: ZoneInfo, now: dt.datetime, window: SendWindow) -> WindowDecision:
    """One zone with no occurrence within the horizon: only a calendar oddity (a day skipped by the zone)."""
    reason = f"no {window.describe()} window found in {zone.key} within {HORIZON_DAYS} days: sent now"
    return WindowDecision(True, now, (zone.key,), True, reason)


def _median_zone(zones: tuple[ZoneInfo, ...], now: dt.datetime) -> ZoneInfo:
    """The zone with the median UTC offset at ``now`` (the lower one for an even count; ties by name)."""
    ordered = sorted(zones, key=lambda zone: (now.astimezone(zone).utcoffset() or dt.timedelta(0), zone.key))
    return ordered[(len(ordered) - 1) // 2]


def _where(names: tuple[str, ...], total: int | None = None) -> str:
    shown = ", ".join(names[:MAX_ZONES_IN_REASON])
    if len(names) > MAX_ZONES_IN_REASON:
        shown += ", ..."
    total = len(names) if total is None else total
    if total == 1:
        return shown
    if len(names) == total:
        return f"all {total} zones ({shown})"
    return f"{shown} ({len(names)} of {total} zones)"


def _fmt_time(value: dt.time) -> str:
    return value.strftime("%H:%M") if not (value.second or value.microsecond) else value.isoformat()


def _fmt_days(days: frozenset[int]) -> str:
    """{0, 1, 2, 3, 4} -> 'Mon-Fri'; {0, 2} -> 'Mon,Wed'."""
    runs: list[list[int]] = []
    for day in sorted(days):
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return ",".join(DAY_NAMES[run[0]] if len(run) == 1 else f"{DAY_NAMES[run[0]]}-{DAY_NAMES[run[-1]]}" for run in runs)
