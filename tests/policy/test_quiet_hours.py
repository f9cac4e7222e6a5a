"""Quiet hours: expectations worked out by hand from UTC offsets, and a property test against a wall-clock oracle.

Every expected instant below is derived in the comment next to it from the zones' offsets on that date, not
taken from the module's output.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gatewayd.policy.quiet_hours import (
    WEEKDAYS,
    SendWindow,
    WindowDecision,
    check_window,
    parse_window,
    zones_for_number,
)

UTC = dt.UTC
DEFAULT = SendWindow()


def utc(year: int, month: int, day: int, *clock: int) -> dt.datetime:
    """utc(2026, 7, 15, 12) -> 2026-07-15 12:00 UTC; clock is hour[, minute[, second]]."""
    hour, minute, second = (*clock, 0, 0, 0)[:3]
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def window(start: str, end: str, days: frozenset[int] | None = None) -> SendWindow:
    begin, finish = dt.time.fromisoformat(start), dt.time.fromisoformat(end)
    return SendWindow(begin, finish) if days is None else SendWindow(begin, finish, days)


# --- what phonenumbers really says (printed first; these pin the behaviour the docstrings explain) ---------

RUSSIAN_MOBILE_ZONES = (
    "Asia/Almaty", "Asia/Anadyr", "Asia/Aqtobe", "Asia/Irkutsk", "Asia/Kamchatka", "Asia/Krasnoyarsk",
    "Asia/Magadan", "Asia/Novosibirsk", "Asia/Omsk", "Asia/Sakhalin", "Asia/Vladivostok", "Asia/Yakutsk",
    "Asia/Yekaterinburg", "Europe/Bucharest", "Europe/Moscow", "Europe/Samara",
)  # fmt: skip
AUSTRALIAN_MOBILE_ZONES = (
    "Australia/Adelaide", "Australia/Brisbane", "Australia/Eucla", "Australia/Lord_Howe", "Australia/Perth",
    "Australia/Sydney", "Indian/Christmas", "Indian/Cocos",
)  # fmt: skip


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("+12125551234", ("America/New_York",)),  # US 212, Manhattan
        ("+12135550123", ("America/Los_Angeles",)),  # US 213
        ("+18085550123", ("Pacific/Honolulu",)),  # US 808
        ("+19075550123", ("America/Adak", "America/Anchorage")),  # US 907: Alaska spans two zones
        ("+74951234567", ("Europe/Moscow",)),  # RU landline, Moscow
        ("+74232123456", ("Asia/Vladivostok",)),  # RU landline, Vladivostok
        ("+79121234567", RUSSIAN_MOBILE_ZONES),  # RU mobile: every +7 zone, Kazakhstan's included
        ("+62215551234", ("Asia/Jakarta",)),  # ID landline, Jakarta
        ("+62911234567", ("Asia/Jayapura",)),  # ID landline, Papua
        ("+6281212345678", ("Asia/Jakarta",)),  # ID mobile keeps a regional prefix
        ("+6281123456789", ("Asia/Jakarta", "Asia/Makassar")),  # ID mobile 811: two zones
        ("+551123456789", ("America/Sao_Paulo",)),  # BR 11
        ("+559232345678", ("America/Manaus",)),  # BR 92
        ("+5568987654321", ("America/Rio_Branco",)),  # BR mobile, Acre
        ("+61212345678", ("Australia/Sydney",)),  # AU 2
        ("+61892345678", ("Australia/Adelaide", "Australia/Perth")),  # AU 8: two zones
        ("+61412345678", AUSTRALIAN_MOBILE_ZONES),  # AU mobile: all of them
        ("+442079460123", ("Europe/London",)),
        ("+493012345678", ("Europe/Berlin",)),
        ("+33142345678", ("Europe/Paris",)),
        ("+919812345678", ("Asia/Calcutta",)),
        ("+81312345678", ("Asia/Tokyo",)),
        ("+82212345678", ("Asia/Seoul",)),
        ("+27211234567", ("Africa/Johannesburg",)),
        ("+525512345678", ("America/Mexico_City",)),
        ("+526641234567", ("America/Tijuana",)),
        ("+88212345678", ()),  # international networks: Etc/Unknown
        ("+80012345678", ()),  # universal freephone: Etc/Unknown
    ],
)
def test_zones_for_number_follows_phonenumbers(number: str, expected: tuple[str, ...]) -> None:
    assert tuple(zone.key for zone in zones_for_number(number)) == expected


def test_zones_for_number_is_cached() -> None:
    zones_for_number("+33142345678")
    hits = zones_for_number.cache_info().hits
    assert zones_for_number("+33142345678") == (ZoneInfo("Europe/Paris"),)
    assert zones_for_number.cache_info().hits == hits + 1


def test_zones_for_number_rejects_non_e164() -> None:
    with pytest.raises(ValueError, match=r"not an E\.164 number"):
        zones_for_number("2125551234")


# --- countries, on a northern summer and a southern summer instant ----------------------------------------

JULY = utc(2026, 7, 15, 12)  # a Wednesday
JANUARY = utc(2026, 1, 14, 12)  # a Wednesday


@pytest.mark.parametrize(
    ("number", "now", "allowed", "expected_next"),
    [
        ("+12125551234", JULY, True, JULY),  # EDT -4: 08:00, the start is inclusive
        ("+12135550123", JULY, False, utc(2026, 7, 15, 15)),  # PDT -7: 05:00; 08:00 PDT = 15:00 UTC
        ("+18085550123", JULY, False, utc(2026, 7, 15, 18)),  # HST -10: 02:00; 08:00 HST = 18:00 UTC
        ("+19075550123", JULY, False, utc(2026, 7, 15, 17)),  # Adak -9 is later than Anchorage -8: 08:00 = 17:00
        ("+74951234567", JULY, True, JULY),  # MSK +3: 15:00
        # RU mobile: UTC+3 (Bucharest, Moscow) to UTC+12 (Anadyr, Kamchatka) -> common 05:00-09:00 UTC.
        ("+79121234567", JULY, False, utc(2026, 7, 16, 5)),
        ("+62215551234", JULY, True, JULY),  # WIB +7: 19:00
        ("+6281123456789", utc(2026, 7, 15, 13, 30), False, utc(2026, 7, 16, 1)),  # WITA +8 is 21:30; WIB 08:00
        ("+62911234567", JULY, False, utc(2026, 7, 15, 23)),  # WIT +9: 21:00, end exclusive; 08:00 = 23:00 UTC
        ("+551123456789", JULY, True, JULY),  # BRT -3: 09:00
        ("+559232345678", JULY, True, JULY),  # AMT -4: 08:00
        ("+5568987654321", JULY, False, utc(2026, 7, 15, 13)),  # ACT -5: 07:00
        ("+61212345678", JULY, False, utc(2026, 7, 15, 22)),  # AEST +10: 22:00; 08:00 = 22:00 UTC
        ("+61892345678", JULY, False, utc(2026, 7, 16, 0)),  # ACST +9:30 is 21:30; Perth +8 08:00 = 00:00 UTC
        # AU mobile: UTC+6:30 (Cocos) to UTC+10:30 (Lord Howe, winter) -> common 01:30-10:30 UTC.
        ("+61412345678", JULY, False, utc(2026, 7, 16, 1, 30)),
        ("+447912345678", JULY, True, JULY),  # BST +1: 13:00
        ("+493012345678", JULY, True, JULY),  # CEST +2
        ("+33612345678", JULY, True, JULY),  # CEST +2
        ("+919812345678", JULY, True, JULY),  # IST +5:30: 17:30
        ("+81312345678", JULY, False, utc(2026, 7, 15, 23)),  # JST +9: 21:00, end exclusive
        ("+82212345678", JULY, False, utc(2026, 7, 15, 23)),  # KST +9
        ("+27211234567", JULY, True, JULY),  # SAST +2
        ("+525512345678", JULY, False, utc(2026, 7, 15, 14)),  # CST -6 (no DST since 2022): 06:00
        ("+6493456789", JULY, False, utc(2026, 7, 15, 20)),  # NZST +12: 00:00; 08:00 = 20:00 UTC
        ("+56221234567", JULY, True, JULY),  # Chile winter -4: 08:00
        ("+12125551234", JANUARY, False, utc(2026, 1, 14, 13)),  # EST -5: 07:00
        ("+79121234567", JANUARY, False, utc(2026, 1, 15, 6)),  # Bucharest +2 in winter: common 06:00-09:00
        ("+61212345678", JANUARY, False, utc(2026, 1, 14, 21)),  # AEDT +11: 23:00; 08:00 = 21:00 UTC
        ("+61892345678", JANUARY, False, utc(2026, 1, 15, 0)),  # ACDT +10:30 22:30; Perth 08:00 = 00:00 UTC
        ("+61412345678", JANUARY, False, utc(2026, 1, 15, 1, 30)),  # common 01:30-10:00 UTC (Sydney +11)
        ("+6493456789", JANUARY, False, utc(2026, 1, 14, 19)),  # NZDT +13: 01:00; 08:00 = 19:00 UTC
        ("+56221234567", JANUARY, True, JANUARY),  # Chile summer -3: 09:00
        ("+551123456789", JANUARY, True, JANUARY),  # Brazil: no DST since 2019, still -3
    ],
)
def test_default_window_by_country(number: str, now: dt.datetime, allowed: bool, expected_next: dt.datetime) -> None:
    decision = check_window(number, now, DEFAULT)
    assert (decision.allowed_now, decision.next_allowed) == (allowed, expected_next)
    assert decision.next_allowed.tzinfo is UTC
    assert not decision.approximate
    assert decision.zones == tuple(zone.key for zone in zones_for_number(number))
    assert ("inside" if allowed else "outside") in decision.reason


@pytest.mark.parametrize(
    ("now", "allowed", "expected_next"),
    [
        (utc(2026, 1, 14, 5, 59), False, utc(2026, 1, 14, 6)),
        (utc(2026, 1, 14, 6), True, utc(2026, 1, 14, 6)),
        (utc(2026, 1, 14, 8, 59), True, utc(2026, 1, 14, 8, 59)),
        (utc(2026, 1, 14, 9), False, utc(2026, 1, 15, 6)),
    ],
)
def test_russian_mobile_gets_three_hours_in_winter(now: dt.datetime, allowed: bool, expected_next: dt.datetime) -> None:
    decision = check_window("+79161234567", now, DEFAULT)
    assert (decision.allowed_now, decision.next_allowed) == (allowed, expected_next)


def test_reason_names_the_zone_and_the_next_time() -> None:
    decision = check_window("+12135550123", utc(2026, 11, 24, 5), DEFAULT)  # 21:00 PST on the 23rd
    assert decision.reason == "outside 08:00-21:00 in America/Los_Angeles; next 2026-11-24 16:00 UTC"


def test_reason_names_the_blocking_zones_of_many() -> None:
    decision = check_window("+79121234567", utc(2026, 7, 15, 4), DEFAULT)  # before 08:00 only at UTC+3
    assert decision.reason.startswith("outside 08:00-21:00 in Europe/Bucharest, Europe/Moscow (2 of 16 zones)")


def test_now_in_another_offset_gives_utc_results() -> None:
    now = dt.datetime(2026, 7, 15, 7, tzinfo=dt.timezone(dt.timedelta(hours=2)))  # 05:00 UTC
    decision = check_window("+12135550123", now, DEFAULT)  # 22:00 PDT the day before
    assert decision.next_allowed == utc(2026, 7, 15, 15)
    assert decision.next_allowed.tzinfo is UTC


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        check_window("+12125551234", dt.datetime(2026, 7, 15, 12), DEFAULT)


# --- weekends off and windows crossing midnight -----------------------------------------------------------

NO_WEEKENDS = SendWindow(days=WEEKDAYS)


@pytest.mark.parametrize(
    ("number", "now", "allowed", "expected_next"),
    [
        ("+442079460123", utc(2026, 7, 17, 19, 59), True, utc(2026, 7, 17, 19, 59)),  # Fri 20:59 BST
        ("+442079460123", utc(2026, 7, 17, 20), False, utc(2026, 7, 20, 7)),  # Fri 21:00 BST -> Mon 08:00 BST
        ("+442079460123", utc(2026, 7, 18, 12), False, utc(2026, 7, 20, 7)),  # Saturday
        ("+442079460123", utc(2026, 7, 19, 23, 30), False, utc(2026, 7, 20, 7)),  # Mon 00:30 BST, too early
        ("+81312345678", utc(2026, 7, 19, 23), True, utc(2026, 7, 19, 23)),  # Sun 23:00 UTC is Mon 08:00 JST
        ("+81312345678", utc(2026, 7, 17, 12), False, utc(2026, 7, 19, 23)),  # Fri 21:00 JST -> Mon 08:00 JST
        # AU mobile: Sat 05:00 UTC is Saturday in every zone -> Monday 08:00 in Cocos (+6:30) = Mon 01:30 UTC.
        ("+61412345678", utc(2026, 7, 18, 5), False, utc(2026, 7, 20, 1, 30)),
    ],
)
def test_weekends_off(number: str, now: dt.datetime, allowed: bool, expected_next: dt.datetime) -> None:
    decision = check_window(number, now, NO_WEEKENDS)
    assert (decision.allowed_now, decision.next_allowed) == (allowed, expected_next)
    if not allowed:
        assert "08:00-21:00 Mon-Fri" in decision.reason


MONDAY_NIGHTS = window("22:00", "06:00", frozenset({0}))  # Berlin, CEST +2 in July; 2026-07-13 is a Monday


@pytest.mark.parametrize(
    ("now", "allowed", "expected_next"),
    [
        (utc(2026, 7, 13, 20), True, utc(2026, 7, 13, 20)),  # Mon 22:00 CEST: opens, inclusive
        (utc(2026, 7, 13, 23), True, utc(2026, 7, 13, 23)),  # Tue 01:00: Monday's window still
        (utc(2026, 7, 14, 3, 59), True, utc(2026, 7, 14, 3, 59)),  # Tue 05:59
        (utc(2026, 7, 14, 4), False, utc(2026, 7, 20, 20)),  # Tue 06:00: closed, end exclusive
        (utc(2026, 7, 14, 21), False, utc(2026, 7, 20, 20)),  # Tue 23:00: Tuesday's window is not allowed
        (utc(2026, 7, 12, 23), False, utc(2026, 7, 13, 20)),  # Mon 01:00: that window started on Sunday
    ],
)
def test_window_crossing_midnight_counts_the_day_it_started(
    now: dt.datetime, allowed: bool, expected_next: dt.datetime
) -> None:
    decision = check_window("+493012345678", now, MONDAY_NIGHTS)
    assert (decision.allowed_now, decision.next_allowed) == (allowed, expected_next)


# --- DST: 2026 changes are New York 8 Mar / 1 Nov, Berlin 29 Mar / 25 Oct, Sydney 5 Apr / 4 Oct -----------


@pytest.mark.parametrize(
    ("number", "send_window", "now", "allowed", "expected_next"),
    [
        # NY spring forward at 07:00 UTC (02:00 EST -> 03:00 EDT): a 02:30 start opens at the jump.
        ("+12125551234", window("02:30", "06:00"), utc(2026, 3, 8, 6), False, utc(2026, 3, 8, 7)),
        ("+12125551234", window("02:30", "06:00"), utc(2026, 3, 8, 7), True, utc(2026, 3, 8, 7)),
        # A window wholly inside the gap does not happen that day: next is Monday 02:10 EDT.
        ("+12125551234", window("02:10", "02:40"), utc(2026, 3, 8, 6), False, utc(2026, 3, 9, 6, 10)),
        # An end inside the gap closes at the jump; the next opening is Sunday 20:00 EDT.
        ("+12125551234", window("20:00", "02:30"), utc(2026, 3, 8, 6, 59, 59), True, utc(2026, 3, 8, 6, 59, 59)),
        ("+12125551234", window("20:00", "02:30"), utc(2026, 3, 8, 7), False, utc(2026, 3, 9, 0)),
        # NY fall back at 06:00 UTC (02:00 EDT -> 01:00 EST): a 01:30 start opens at the first 01:30 (EDT)...
        ("+12125551234", window("01:30", "05:00"), utc(2026, 11, 1, 5), False, utc(2026, 11, 1, 5, 30)),
        # ...and the repeated hour (01:10 EST) does not close it again.
        ("+12125551234", window("01:30", "05:00"), utc(2026, 11, 1, 6, 10), True, utc(2026, 11, 1, 6, 10)),
        # A 01:30 end closes at the first 01:30 and the repeated hour does not reopen it: next 22:00 EST.
        ("+12125551234", window("22:00", "01:30"), utc(2026, 11, 1, 5, 29), True, utc(2026, 11, 1, 5, 29)),
        ("+12125551234", window("22:00", "01:30"), utc(2026, 11, 1, 6, 10), False, utc(2026, 11, 2, 3)),
        # Berlin spring forward at 01:00 UTC (02:00 CET -> 03:00 CEST).
        ("+493012345678", window("02:15", "10:00"), utc(2026, 3, 29, 0, 30), False, utc(2026, 3, 29, 1)),
        # Berlin fall back at 01:00 UTC (03:00 CEST -> 02:00 CET): 02:30 CEST = 00:30 UTC.
        ("+493012345678", window("02:30", "10:00"), utc(2026, 10, 25, 0), False, utc(2026, 10, 25, 0, 30)),
        ("+493012345678", window("02:30", "10:00"), utc(2026, 10, 25, 1, 10), True, utc(2026, 10, 25, 1, 10)),
        # Sydney spring forward at 16:00 UTC on 3 Oct (02:00 AEST -> 03:00 AEDT).
        ("+61212345678", window("02:30", "09:00"), utc(2026, 10, 3, 15), False, utc(2026, 10, 3, 16)),
        # Sydney fall back at 16:00 UTC on 4 Apr (03:00 AEDT -> 02:00 AEST): 02:30 AEDT = 15:30 UTC.
        ("+61212345678", window("02:30", "09:00"), utc(2026, 4, 4, 15), False, utc(2026, 4, 4, 15, 30)),
    ],
)
def test_dst_gap_and_fold(
    number: str, send_window: SendWindow, now: dt.datetime, allowed: bool, expected_next: dt.datetime
) -> None:
    decision = check_window(number, now, send_window)
    assert (decision.allowed_now, decision.next_allowed) == (allowed, expected_next)


# --- fallbacks --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["+88212345678", "+80012345678"])
def test_no_zone_and_no_default_sends_now_flagged(number: str) -> None:
    now = utc(2026, 7, 15, 2)
    decision = check_window(number, now, DEFAULT)
    assert decision == WindowDecision(True, now, (), True, decision.reason)
    assert "no time zone known" in decision.reason


def test_no_zone_uses_the_default_zone() -> None:
    decision = check_window("+88212345678", utc(2026, 7, 15, 4), DEFAULT, fallback_zone=ZoneInfo("Europe/London"))
    # 05:00 BST -> 08:00 BST = 07:00 UTC
    assert (decision.allowed_now, decision.next_allowed) == (False, utc(2026, 7, 15, 7))
    assert decision.zones == ("Europe/London",)
    assert decision.approximate
    assert "default zone" in decision.reason


def test_no_common_instant_uses_the_median_zone_indonesia() -> None:
    # Jakarta (+7) and Makassar (+8) never share a 30-minute window; the lower median of two is Jakarta.
    decision = check_window("+6281123456789", utc(2026, 7, 15, 0), window("09:00", "09:30"))
    assert decision.approximate
    assert decision.zones == ("Asia/Jakarta",)
    assert (decision.allowed_now, decision.next_allowed) == (False, utc(2026, 7, 15, 2))  # 09:00 WIB
    assert "median" in decision.reason


def test_no_common_instant_uses_the_median_zone_russia() -> None:
    # 3 hours cannot cover UTC+3..UTC+12. Sorted offsets: 3,3,4,5,5,5,6,7,7,8,9,10,11,11,12,12 -> median +7.
    now = utc(2026, 7, 15, 12)
    decision = check_window("+79121234567", now, window("09:00", "12:00"))
    assert decision.approximate
    (name,) = decision.zones
    assert name in RUSSIAN_MOBILE_ZONES
    assert now.astimezone(ZoneInfo(name)).utcoffset() == dt.timedelta(hours=7)
    assert (decision.allowed_now, decision.next_allowed) == (False, utc(2026, 7, 16, 2))  # 09:00 at +7
    assert "median" in decision.reason


# --- configuration ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("08:00-21:00", (dt.time(8), dt.time(21))),
        (" 8:30 - 20:45 ", (dt.time(8, 30), dt.time(20, 45))),
        ("22:00-06:00", (dt.time(22), dt.time(6))),
        ("21:00-24:00", (dt.time(21), dt.time(0))),
    ],
)
def test_parse_window(text: str, expected: tuple[dt.time, dt.time]) -> None:
    assert parse_window(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "expected HH:MM-HH:MM"),
        ("8-21", "expected HH:MM-HH:MM"),
        ("08:00", "expected HH:MM-HH:MM"),
        ("08:00-21:00-22:00", "expected HH:MM-HH:MM"),
        ("25:00-21:00", "25:00 is not a time of day"),
        ("08:00-21:60", "21:60 is not a time of day"),
        ("24:00-08:00", "24:00 is not a time of day"),  # 24:00 is accepted only as an end
        ("09:00-09:00", "start and end are the same"),
        ("00:00-24:00", "start and end are the same"),
    ],
)
def test_parse_window_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_window(text)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"start": dt.time(9), "end": dt.time(9)}, "start and end are the same"),
        ({"days": frozenset()}, "no allowed days"),
        ({"days": frozenset({0, 7})}, r"0 \(Monday\) to 6 \(Sunday\), got \[7\]"),
        ({"start": dt.time(8, tzinfo=UTC)}, "without a time zone"),
    ],
)
def test_send_window_validation(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SendWindow(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("days", "text"),
    [
        (WEEKDAYS, "08:00-21:00 Mon-Fri"),
        (frozenset({0, 2, 6}), "08:00-21:00 Mon,Wed,Sun"),
        (frozenset({5, 6}), "08:00-21:00 Sat-Sun"),
    ],
)
def test_describe(days: frozenset[int], text: str) -> None:
    assert SendWindow(days=days).describe() == text
    assert SendWindow().describe() == "08:00-21:00"


# --- property: exact and minimal, against an independent wall-clock oracle --------------------------------

PROPERTY_NUMBERS = [
    "+12125551234", "+19075550123", "+18085550123", "+79121234567", "+74951234567", "+6281123456789",
    "+62215551234", "+62911234567", "+551123456789", "+556832345678", "+61412345678", "+61892345678",
    "+61212345678", "+447912345678", "+493012345678", "+919812345678", "+81312345678", "+6493456789",
    "+56221234567", "+525512345678", "+27211234567",
]  # fmt: skip

# Window edges between 05:00 and 22:45 local: no zone in the list changes its clock there (changes happen
# between 23:00 and 04:00 local), so the wall-clock reading below and the module's instant spans agree.
EDGES = [dt.time(hour, minute) for hour in range(5, 23) for minute in (0, 15, 30, 45)]
GRID = dt.timedelta(minutes=1)
# Offsets, window edges and clock changes are all multiples of 15 minutes, so a 15-minute grid sees every span.
COARSE_GRID = dt.timedelta(minutes=15)


def wall_clock_allowed(instant: dt.datetime, zone: ZoneInfo, send_window: SendWindow) -> bool:
    local = instant.astimezone(zone)
    reading, day = local.time(), local.date()
    if not send_window.crosses_midnight:
        return send_window.start <= reading < send_window.end and day.weekday() in send_window.days
    if reading >= send_window.start:
        return day.weekday() in send_window.days
    return reading < send_window.end and (day - dt.timedelta(days=1)).weekday() in send_window.days


def allowed_everywhere(instant: dt.datetime, zones: list[ZoneInfo], send_window: SendWindow) -> bool:
    return all(wall_clock_allowed(instant, zone, send_window) for zone in zones)


def ceil_to_minute(instant: dt.datetime) -> dt.datetime:
    floor = instant.replace(second=0, microsecond=0)
    return floor if floor == instant else floor + GRID


@st.composite
def send_windows(draw: st.DrawFn) -> SendWindow:
    start = draw(st.sampled_from(EDGES))
    end = draw(st.sampled_from(EDGES).filter(lambda edge: edge != start))
    days = draw(st.frozensets(st.integers(0, 6), min_size=1))
    return SendWindow(start, end, days)


@settings(max_examples=200, deadline=None)
@given(
    number=st.sampled_from(PROPERTY_NUMBERS),
    now=st.datetimes(dt.datetime(2026, 1, 1), dt.datetime(2027, 12, 31), timezones=st.just(UTC)),
    send_window=send_windows(),
)
def test_next_allowed_is_allowed_and_minimal(number: str, now: dt.datetime, send_window: SendWindow) -> None:
    decision = check_window(number, now, send_window)
    all_zones = list(zones_for_number(number))
    used = [ZoneInfo(name) for name in decision.zones]
    if decision.approximate:
        # Only a multi-zone number with no common instant within the horizon falls back to one zone.
        assert len(all_zones) > 1
        assert len(used) == 1
        assert used[0] in all_zones
        probe = ceil_to_minute(now)
        while probe <= now + dt.timedelta(days=8):
            assert not allowed_everywhere(probe, all_zones, send_window), probe
            probe += COARSE_GRID
    else:
        assert used == all_zones
    assert decision.next_allowed >= now
    assert decision.allowed_now == (decision.next_allowed == now)
    assert allowed_everywhere(decision.next_allowed, used, send_window)
    probe = ceil_to_minute(now)
    while probe < decision.next_allowed:
        assert not allowed_everywhere(probe, used, send_window), probe
        probe += GRID
