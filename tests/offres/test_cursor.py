"""The cursor planner fetches every offer exactly, whatever the API's reading of the date
bounds and window cap, and proves it — or names what is missing."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime

import pytest

from cpfft.offres.bounds import PARIS, Reading
from tests.offres.drive import calibrate, crawl, planner_for
from tests.offres.simapi import SimApi, dataset

NOW = int(datetime(2026, 12, 1, 12, 0, 7, tzinfo=UTC).timestamp() * 1000)
MODES = [
    (zone, inclusive, ms, cap)
    for zone in ("UTC", PARIS, "+03:00", "-05:00")
    for inclusive, ms in ((True, False), (True, True), (False, False), (False, True))
    for cap in (3000, 1000)
]


def everything(api: SimApi) -> set[str]:
    return {offer_id for _, offer_id in api.offers}


@pytest.mark.parametrize(("zone", "inclusive", "ms", "cap"), MODES)
def test_exact_under_every_reading(zone, inclusive, ms, cap):
    api = SimApi(dataset(12_000, NOW), zone=zone, max_inclusive=inclusive, compare_ms=ms,
                 cap=cap)  # fmt: skip
    calibration = calibrate(api, NOW)
    planner = planner_for(calibration.reading, NOW, cap=calibration.cap)
    api.calls = 0
    written = crawl(api, planner)
    assert written == everything(api)
    assert planner.unfinished() == []
    ideal = math.ceil(12_000 / 150)
    # Pages, plus the check against the whole query (1 call) and counts asked for checks.
    assert api.calls <= 1.05 * ideal + 1 + planner.accounts.counts, (api.calls, ideal)
    assert planner.accounts.missing == 0
    assert planner.accounts.checks_passed >= 2


@pytest.mark.parametrize(
    ("zone", "assumed"),
    # Only a zone read earlier than assumed loses offers (one read later overlaps).
    [(PARIS, "UTC"), ("+02:00", "+01:00"), ("+03:00", "UTC"), ("UTC", "-05:00")],
)
def test_a_wrong_reading_is_caught_with_the_exact_missing_count(zone, assumed):
    api = SimApi(dataset(12_000, NOW), zone=zone)
    planner = planner_for(Reading(assumed), NOW)
    written = crawl(api, planner)
    missed = everything(api) - written
    assert missed, "the wrong reading was meant to lose offers"
    assert planner.unfinished(), "a run that lost offers must not pass its checks"
    assert planner.accounts.missing >= len(missed)


def test_an_upper_bound_assumed_inclusive_but_exclusive_is_caught():
    api = SimApi(dataset(12_000, NOW, exact_every=1), max_inclusive=False)
    planner = planner_for(Reading("UTC"), NOW)
    written = crawl(api, planner)
    if written != everything(api):
        assert planner.unfinished()


def test_more_offers_in_one_second_than_a_query_reaches():
    api = SimApi(dataset(4000, NOW, burst=3400))
    planner = planner_for(Reading("UTC"), NOW)
    assert crawl(api, planner) == everything(api)
    assert planner.unfinished() == []


def test_a_second_no_facet_splits_is_reported():
    api = SimApi(dataset(4000, NOW, burst=7000))  # typeContrat alone leaves 4 667 CDI
    planner = planner_for(Reading("UTC"), NOW)
    written = crawl(api, planner)
    assert written < everything(api)
    assert any("no facet splits them" in line for line in planner.unfinished())


def test_a_lower_cap_learnt_mid_run_from_the_refusal():
    api = SimApi(dataset(8000, NOW), cap=1000)
    planner = planner_for(Reading("UTC"), NOW, cap=3000)
    assert crawl(api, planner) == everything(api)
    assert planner.unfinished() == []
    assert planner.cap == 1000


@pytest.mark.parametrize("every", [1, 2, 5])
def test_withdrawals_during_the_crawl_lose_nothing_and_stay_complete(every):
    api = SimApi(dataset(12_000, NOW))
    rng = random.Random(every)
    withdrawn: set[str] = set()

    def churn(api: SimApi, answers: int) -> None:
        if answers % every == 0:
            _, offer_id = api.offers[rng.randrange(len(api.offers))]
            api.withdraw(offer_id)
            withdrawn.add(offer_id)

    start = everything(api)
    planner = planner_for(Reading("UTC"), NOW)
    written = crawl(api, planner, churn)
    assert start - withdrawn <= written <= start
    assert planner.unfinished() == [], planner.unfinished()


def test_an_offer_indexed_late_into_a_fetched_window_is_reported():
    api = SimApi(dataset(12_000, NOW))
    late = {"done": False}

    def churn(api: SimApi, answers: int) -> None:
        if answers == 40 and not late["done"]:
            late["done"] = True
            api.add("9999999", NOW - 3_600_000)  # created an hour ago, indexed now

    planner = planner_for(Reading("UTC"), NOW)
    written = crawl(api, planner, churn)
    if "9999999" not in written:
        assert planner.unfinished()


def test_a_budget_stops_paging_and_checks_nothing():
    api = SimApi(dataset(12_000, NOW))
    planner = planner_for(Reading("UTC"), NOW, budget=500)
    written = crawl(api, planner)
    assert 500 <= len(written) <= 650
    assert planner.unfinished() == []
