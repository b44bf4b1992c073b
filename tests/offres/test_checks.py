"""What an offres run refuses before it starts (cpfft.offres.checks), message by message,
without a crawler."""

from __future__ import annotations

from typing import Any

import pytest

from cpfft.errors import ConfigurationError
from cpfft.offres.checks import NOT_WITH_DEPUIS, check_incremental, check_overlap, check_rate
from cpfft.offres.search import SEARCH_PARAMS
from cpfft.params import parse_arguments


class Settings(dict):
    """The two readings the checks make of Scrapy's settings."""

    def getdict(self, name: str) -> dict[str, Any]:
        return dict(self.get(name) or {})


def args(**given: str) -> dict[str, Any]:
    return parse_arguments(SEARCH_PARAMS, given)


@pytest.mark.parametrize(("raw", "rate"), [("10", 10.0), ("0.5", 0.5), (100, 100.0)])
def test_a_rate_up_to_100_per_second_is_taken(raw, rate):
    assert check_rate(Settings(FT_MAX_RPS=raw)) == rate


@pytest.mark.parametrize(("raw", "shown"), [("0", "'0'"), ("101", "'101'"), ("x", "'x'"),
                                            (None, "None")])  # fmt: skip
def test_any_other_rate_is_refused(raw, shown):
    with pytest.raises(ConfigurationError) as refused:
        check_rate(Settings(FT_MAX_RPS=raw))
    assert str(refused.value) == (
        f"setting FT_MAX_RPS={shown} must be a number of requests per second, 0 < x ≤ 100"
    )


def test_the_overlap_is_whole_seconds_up_to_a_week():
    assert check_overlap(Settings()) == 3600
    assert check_overlap(Settings(FT_INCREMENTAL_OVERLAP=" 0 ")) == 0
    assert check_overlap(Settings(FT_INCREMENTAL_OVERLAP=7 * 86_400)) == 7 * 86_400
    with pytest.raises(ConfigurationError) as refused:
        check_overlap(Settings(FT_INCREMENTAL_OVERLAP=7 * 86_400 + 1))
    assert str(refused.value).startswith("setting FT_INCREMENTAL_OVERLAP (seconds): ")


def test_depuis_needs_an_output_dir_and_no_feed(tmp_path):
    check_incremental(Settings(), args())  # no -a depuis: nothing more to check
    with pytest.raises(ConfigurationError) as refused:
        check_incremental(Settings(), args(depuis="dernier"))
    assert str(refused.value) == (
        "argument -a depuis: needs CPFFT_OUTPUT_DIR (an absolute directory), where the state "
        "of each query is kept between runs"
    )
    with_feed = Settings(CPFFT_OUTPUT_DIR=str(tmp_path), FEEDS={"out.csv": {"format": "csv"}})
    with pytest.raises(ConfigurationError) as refused:
        check_incremental(with_feed, args(depuis="dernier"))
    assert str(refused.value) == (
        "argument -a depuis: writes timestamped files under CPFFT_OUTPUT_DIR; drop -O/-o"
    )
    run_output = Settings(with_feed, CPFFT_RUN_OUTPUT=str(tmp_path / "offres" / "run.csv"))
    check_incremental(run_output, args(depuis="dernier"))


def test_depuis_cannot_go_with_what_sets_the_window_or_cuts_the_run(tmp_path):
    settings = Settings(CPFFT_OUTPUT_DIR=str(tmp_path))
    assert set(NOT_WITH_DEPUIS) == {"minCreationDate", "maxCreationDate", "publieeDepuis",
                                    "max_offers"}  # fmt: skip
    with pytest.raises(ConfigurationError) as refused:
        check_incremental(settings, args(depuis="dernier", max_offers="10"))
    assert str(refused.value) == (
        "argument -a depuis: cannot go with -a max_offers: a run cut short cannot be the "
        "reference of the next one"
    )
    with pytest.raises(ConfigurationError) as refused:
        check_incremental(settings, args(depuis="dernier", publieeDepuis="1"))
    assert str(refused.value) == (
        "argument -a depuis: cannot go with -a publieeDepuis: it sets the creation-date window "
        "itself"
    )
