"""How bound strings are written and read (cpfft.offres.bounds)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cpfft.offres.bounds import (
    EXCLUSIVE,
    INCLUSIVE_MS,
    INCLUSIVE_SECOND,
    PARIS,
    Reading,
    last_change_before,
    offset_hours,
    parse_created,
)


def second(text: str) -> int:
    return int(datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp())


def test_parse_created_keeps_milliseconds_exactly():
    assert parse_created("2026-11-29T09:12:44.123Z") % 1000 == 123
    assert parse_created("2026-11-29T09:12:44Z") % 1000 == 0
    assert parse_created("2026-11-29T09:12:44.999Z") == second("2026-11-29T09:12:44Z") * 1000 + 999


@pytest.mark.parametrize(
    ("zone", "utc", "written"),
    [
        ("UTC", "2026-12-01T10:00:00Z", "2026-12-01T10:00:00Z"),
        (PARIS, "2026-12-01T10:00:00Z", "2026-12-01T11:00:00Z"),  # winter: UTC+1
        (PARIS, "2026-07-01T10:00:00Z", "2026-07-01T12:00:00Z"),  # summer: UTC+2
        ("+02:00", "2026-12-01T10:00:00Z", "2026-12-01T12:00:00Z"),
        ("-05:00", "2026-12-01T10:00:00Z", "2026-12-01T05:00:00Z"),
    ],
)
def test_an_instant_is_written_as_the_zone_reads_it(zone, utc, written):
    reading = Reading(zone)
    assert reading.encode_min(second(utc)) == written
    assert reading.encode_max(second(utc)) == written
    assert reading.decode(written) == second(utc) * 1000


def test_a_repeated_wall_hour_never_reads_an_upper_bound_early():
    # 2026-10-25: Paris wall clock goes 03:00 → 02:00; 01:30 UTC is the second 02:30.
    late = second("2026-10-25T01:30:00Z")
    reading = Reading(PARIS)
    assert reading.decode(reading.encode_max(late)) >= late * 1000
    assert reading.decode(reading.encode_min(late)) <= late * 1000


@pytest.mark.parametrize(
    ("slack", "after", "edge"),
    [(INCLUSIVE_SECOND, 0, 1000), (INCLUSIVE_MS, 0, 1), (EXCLUSIVE, 1, 0)],
)
def test_second_after_admits_the_offer_whatever_the_slack(slack, after, edge):
    reading = Reading("UTC", slack)
    created = 1_700_000_000_000  # an exact second
    s = reading.second_after(created)
    assert s == created // 1000 + after
    assert reading.upper_edge(reading.wall(s))[0] > created
    assert reading.upper_edge(reading.wall(1_700_000_000))[0] == created + edge


def test_last_clock_change_before():
    change = last_change_before(PARIS, second("2026-12-01T00:00:00Z") * 1000)
    assert change == second("2026-10-25T01:00:00Z")
    assert offset_hours(PARIS, (change - 1) * 1000) == 2
    assert offset_hours(PARIS, change * 1000) == 1
    assert last_change_before("+02:00", second("2026-12-01T00:00:00Z") * 1000) is None
