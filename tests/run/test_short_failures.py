"""A run that cannot start says why in one line, briefly: no network, nothing listening,
refused credentials. Each case counts the lines a user sees."""

from __future__ import annotations

import re

import pytest

from cpfft.offres.oauth import INVALID_CLIENT_HELP
from tests.fakeapi.francetravail import CLIENT_SECRET
from tests.support.crawling import ft_env

pytestmark = pytest.mark.crawl

PREVIOUS = b"numero_formation\r\nkept\r\n"
#: Every name fails to resolve, without a DNS query leaving the machine.
NO_DNS = {"TWISTED_DNS_RESOLVER": "tests.support.nodns.NoDNS"}
#: No progress line in runs this short (whether one falls in depends on the machine's load).
QUIET = {"CPFFT_PROGRESS_INTERVAL": "600"}


def lines(result) -> list[str]:
    return result.log.strip().splitlines()


def timeless(line: str) -> str:
    """The line without its elapsed time, which depends on the machine."""
    return re.sub(r"elapsed \d+:\d\d:\d\d", "elapsed <t>", line)


def summary(result) -> list[str]:
    """The summary's lines: its headline and what follows it."""
    shown = lines(result)
    first = next(i for i, line in enumerate(shown) if "Run summary (" in line)
    return shown[first:]


def test_a_host_that_does_not_resolve_fails_in_a_few_lines_naming_the_setting(crawl, tmp_path):
    (tmp_path / "formations.csv").write_bytes(PREVIOUS)
    result = crawl(
        "cpf",
        env={**QUIET, "CPF_API_URL": "https://catalogue.invalid"},
        settings=NO_DNS,
        output="formations.csv",
    )
    assert result.returncode == 1
    message = (
        "Cannot reach catalogue.invalid (the name does not resolve; 3 attempts). Network or "
        "proxy? To work offline, point CPF_API_URL at an emulator (README, « Émulateurs »)"
    )
    headline, done = summary(result)
    assert headline.endswith("ERROR: Run summary (cpf): FAILED: " + message)
    assert timeless(done) == (
        "  formations.csv left untouched; 3 API calls (2 retries); elapsed <t>; exit code 1"
    )
    # The banner, two retries (CPFFT_UNREACHABLE_RETRIES, not RETRY_TIMES' five), Scrapy's
    # closing line, the summary: the cause said once.
    assert len(lines(result)) == 6, result.log
    assert result.log.count("Cannot reach") == 1
    assert sum("retrying dataset metadata" in line for line in lines(result)) == 2
    assert "Gave up retrying" not in result.log
    assert "Traceback" not in result.log
    assert (tmp_path / "formations.csv").read_bytes() == PREVIOUS


def test_a_port_where_nothing_listens_fails_the_same_way(crawl):
    # No emulator: the API is 127.0.0.1:9, where nothing listens.
    result = crawl("cpf", env=QUIET, settings={"CPFFT_UNREACHABLE_RETRIES": "1"})
    assert result.returncode == 1
    headline, done = summary(result)
    assert headline.endswith(
        "Run summary (cpf): FAILED: Cannot reach 127.0.0.1:9 (the connection is refused; "
        "2 attempts). Network or proxy? To work offline, point CPF_API_URL or FT_API_URL or "
        "FT_TOKEN_URL at an emulator (README, « Émulateurs »)"
    )  # the test environment points all three at 127.0.0.1:9
    assert (
        timeless(done)
        == "  out.csv left untouched; 2 API calls (1 retry); elapsed <t>; exit code 1"
    )
    assert len(lines(result)) == 5, result.log


def test_a_failed_run_under_the_output_dir_has_a_short_summary_too(crawl, tmp_path):
    result = crawl(
        "cpf",
        env={**QUIET, "CPFFT_OUTPUT_DIR": str(tmp_path / "exports")},
        settings={**NO_DNS, "CPFFT_UNREACHABLE_RETRIES": "0"},
        output="",
    )
    assert result.returncode == 1
    assert len(summary(result)) <= 3, result.log
    assert "(the name does not resolve; 1 attempt)" in summary(result)[0]
    assert len(lines(result)) <= 5, result.log
    assert not (tmp_path / "exports" / "latest.csv").exists()


def test_refused_credentials_are_one_line(ft, crawl, tmp_path):
    api = ft(offers=10)
    (tmp_path / "out.csv").write_bytes(PREVIOUS)
    env = ft_env(api, FT_CLIENT_SECRET="wrong" + CLIENT_SECRET[5:], **QUIET)
    result = crawl("offres", env=env)
    assert result.returncode == 1
    headline, done = summary(result)
    assert headline.endswith(f"Run summary (offres): FAILED: {INVALID_CLIENT_HELP}")
    assert timeless(done) == (
        "  out.csv left untouched; 1 API call (0 retries); elapsed <t>; exit code 1"
    )
    # The banner, Scrapy's closing line, the summary: the explanation said once.
    assert len(lines(result)) == 4, result.log
    assert result.log.count("Usual causes") == 1
    for internal in ("IgnoreRequest", "crawl stopping", "missing:"):
        assert internal not in result.log
    assert (tmp_path / "out.csv").read_bytes() == PREVIOUS


def test_a_token_url_where_nothing_listens_names_ft_token_url(ft, crawl):
    api = ft(offers=10)
    result = crawl(
        "offres",
        env=ft_env(api, FT_TOKEN_URL="http://127.0.0.1:9/token", CPF_API_URL=api.url, **QUIET),
    )
    assert result.returncode == 1
    headline, _ = summary(result)
    assert headline.endswith(
        "FAILED: Cannot reach 127.0.0.1:9 (the connection is refused; 3 attempts). Network or "
        "proxy? To work offline, point FT_TOKEN_URL at an emulator (README, « Émulateurs »)"
    )
    assert sum("retrying the France Travail token" in line for line in lines(result)) == 2
    assert len(lines(result)) == 6, result.log
    assert api.stats()["api_calls"] == 0
