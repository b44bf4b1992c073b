"""`scrapy crawl offres` is exact under every way the real API may read date bounds, cap its
windows and limit its rate — each a knob of the emulator (tests/fakeapi/francetravail.py)."""

from __future__ import annotations

import math
import re

import pytest

from tests.support.crawling import ft_env
from tests.support.offers import ids, search_calls, truth

pytestmark = pytest.mark.crawl

CALIBRATION = re.compile(r"calibration:\s+(\d+) calls: (.*); windows up to (\d+)")


def crawl_exactly(ft, crawl, offers=7000, **knobs):
    api = ft(offers=offers, **knobs)
    expected = truth(api)
    result = crawl("offres", env=ft_env(api))
    assert result.returncode == 0, result.log[-3000:]
    assert ids(result) == expected
    assert "Run summary (offres): COMPLETE" in result.log
    assert f"rows written:       {len(expected):,}".replace(",", " ") in result.log
    assert "missing:" not in result.log
    calibration = CALIBRATION.search(result.log)
    assert calibration, result.log[-3000:]
    return api, result, calibration


@pytest.mark.parametrize(
    ("knobs", "named"),
    [
        ({}, "bounds read as UTC, maxCreationDate inclusive, compared to the second"),
        ({"bound_zone": "Europe/Paris"}, "bounds read as Paris time"),
        ({"bound_zone": "+02:00"}, "bounds read as UTC+02:00"),
        ({"bound_zone": "-05:00"}, "bounds read as UTC-05:00"),
        ({"bound_zone": "Europe/Paris", "max_inclusive": False}, "maxCreationDate exclusive"),
        # Exclusive and inclusive-to-the-millisecond differ only for an offer created at an
        # exact second (.000): unless the calibration saw one, it says it cannot tell them
        # apart ("exclusive or inclusive to the millisecond"), and the cursor works for both.
        ({"max_inclusive": False, "compare_ms": True}, "maxCreationDate exclusive"),
        (
            {"compare_ms": True},
            "inclusive, compared to the millisecond | exclusive or inclusive to the millisecond",
        ),
    ],
    ids=["utc", "paris", "plus2", "minus5", "paris-exclusive", "ms-exclusive", "ms-inclusive"],
)
def test_exact_whatever_the_bounds_reading(ft, crawl, knobs, named):
    api, _, calibration = crawl_exactly(ft, crawl, **knobs)
    assert any(name in calibration.group(2) for name in named.split(" | "))
    calls = int(calibration.group(1))
    assert calls <= 7
    ideal = math.ceil(len(api.dataset.offers) / 150)
    # G0 + calibration + one check against the whole query, then the windows' pages.
    assert len(search_calls(api)) <= 1.05 * ideal + calls + 2


def test_a_smaller_window_cap_is_learnt(ft, crawl):
    api, _, calibration = crawl_exactly(ft, crawl, max_start=1000)
    assert calibration.group(3) == "1000"
    beyond = [c for c in search_calls(api) if int(c["query"]["range"].split("-")[0]) > 1000]
    assert [c["query"]["range"] for c in beyond] == ["3000-3000"]  # the calibration's probe


def test_an_application_capped_at_3_per_second_is_read_from_its_headers(ft, crawl):
    api, result, _ = crawl_exactly(ft, crawl, offers=4000, rate_per_second=3.0)
    stats = api.stats()
    assert stats["inside_retry_after"] == 0
    assert stats["http_429"] <= 1, stats
    rate = re.search(r"rate:\s+([\d.]+) req/s sustained \(cap 3\)", result.log)
    assert rate, result.log[-2000:]


def test_without_headers_repeated_429s_find_the_rate(ft, crawl):
    api, result, _ = crawl_exactly(
        ft, crawl, offers=6000, rate_per_second=3.0, rate_headers_sent=False
    )
    stats = api.stats()
    assert stats["inside_retry_after"] == 0
    # Two or three 429s while the rate comes down from 10, then about one in forty calls.
    assert stats["http_429"] <= 3 + 0.03 * stats["api_calls"], stats
    rate = re.search(r"rate:\s+([\d.]+) req/s sustained \(cap 10\)", result.log)
    assert rate, result.log[-2000:]
    assert 1.5 <= float(rate.group(1)) <= 3.0


def test_a_storm_of_429s_is_waited_out_by_every_request(ft, crawl):
    # The next 21 calls are answered 429 with Retry-After: 2, whatever the rate.
    api, _, _ = crawl_exactly(ft, crawl, offers=2000, storm_calls=21, storm_retry_after=2)
    stats = api.stats()
    assert stats["http_429"] >= 21
    assert stats["inside_retry_after"] == 0
