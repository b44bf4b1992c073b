"""Bad input and API faults: one-line errors, honest exit codes, nothing lost or duplicated."""

from __future__ import annotations

import os
import re
import socket

import pytest

from tests.fakeapi.cpfdata import INDEX

pytestmark = pytest.mark.crawl

PREVIOUS = b"\xef\xbb\xbfprevious,complete,file\r\n"


def truth(emulator):
    i, j = INDEX["numero_formation"], INDEX["code_departement"]
    return {(r[i], r[j] or "") for r in emulator.dataset.rows if r[i]}


def keys(result):
    found = [(r["numero_formation"], r["code_departement"]) for r in result.dicts()]
    assert len(found) == len(set(found)), "duplicate rows in the CSV"
    return set(found)


BAD_ARGUMENTS = [
    (
        {"theme": "informatiqe"},
        (
            "argument -a theme: unknown value 'informatiqe'. Did you mean numerique? Valid "
            "values: the 42 themes listed by `python -m cpfft.cpf.themes` (README, « Thèmes de "
            "-a theme »), e.g. numerique, sante, btp, commerce"
        ),
    ),
    ({"Q": "python"}, "argument -a Q: unknown argument. Did you mean -a q=…?"),
    ({"regions": "11"}, "Did you mean -a region=…?"),
    ({"region": "Bretagn"}, "unknown region 'Bretagn'. Did you mean 53 (Bretagne)?"),
    ({"departement": "20"}, "argument -a departement: unknown département '20'."),
    (
        {"type_referentiel": "RSS"},
        "argument -a type_referentiel: unknown value 'RSS'. Valid values: RS, RNCP",
    ),
    ({"max_records": "-5"}, "argument -a max_records: -5 is out of range. Expected 1 to 100000000"),
    ({"max_records": "dix"}, "argument -a max_records: 'dix' is not a whole number"),
    ({"q": " "}, "argument -a q: empty value. Expected full-text search words"),
    (
        {"region": "53", "departement": "75"},
        "75 is not in region 53 (Bretagne), so nothing could match",
    ),
]


@pytest.mark.parametrize(("args", "message"), BAD_ARGUMENTS)
def test_bad_argument_one_line_exit_2_no_request(ods, crawl, tmp_path, args, message):
    api = ods(rows=10)
    (tmp_path / "out.csv").write_bytes(PREVIOUS)
    result = crawl("cpf", args, env={"CPF_API_URL": api.url})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [lines[0]], result.stderr
    assert lines[0].startswith("cpfft: error: ")
    assert message in lines[0]
    assert "Traceback" not in result.stderr
    assert api.stats()["calls"] == 0
    assert (tmp_path / "out.csv").read_bytes() == PREVIOUS


BAD_SETTINGS = [
    (
        {"CPF_API_URL": "opendata.caissedesdepots.fr"},
        "setting CPF_API_URL='opendata.caissedesdepots.fr' is not an http(s) URL",
    ),
    ({"CPF_API_URL": "ftp://127.0.0.1"}, "is not an http(s) URL"),
    ({"CPF_API_URL": "http://127.0.0.1:1/?x=1"}, "must not contain '?' or '#'"),
    (
        {"CPFFT_CSV_DELIMITER": "::"},
        "setting CPFFT_CSV_DELIMITER='::' is not supported. Use one of ','",
    ),
    (
        {"CPFFT_CSV_FORMULA_GUARD": "maybe"},
        "setting CPFFT_CSV_FORMULA_GUARD='maybe' is not a boolean",
    ),
    ({"CPF_PARTITION_ROWS": "0"}, "setting CPF_PARTITION_ROWS='0' must be a whole number ≥ 1"),
    ({"CPF_DATASET": "../etc"}, "setting CPF_DATASET='../etc' is not a dataset identifier"),
    ({"CPF_THEMES": "btp"}, "setting CPF_THEMES is not a JSON object"),
    (
        {"CPF_THEMES": '{"btp": ["23"]}'},
        "theme 'btp' must map to a non-empty list of 3-digit NSF codes",
    ),
    (
        {"CPFFT_PROGRESS_INTERVAL": "-1"},
        "setting CPFFT_PROGRESS_INTERVAL='-1' must be a positive number",
    ),
    (
        {"CPFFT_RETRY_BACKOFF": "soon"},
        "setting CPFFT_RETRY_BACKOFF='soon' must be a positive number",
    ),
    ({"CPFFT_RETRY_TIMES": "-1"}, "setting RETRY_TIMES='-1' must be a whole number ≥ 0"),
    ({"CPFFT_DOWNLOAD_TIMEOUT": "inf"}, "setting DOWNLOAD_TIMEOUT='inf' must be a positive number"),
]


@pytest.mark.parametrize(("env", "message"), BAD_SETTINGS)
def test_bad_setting_one_line_exit_2(crawl, env, message):
    result = crawl("cpf", env=env)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


MISSPELT_SETTINGS = [
    (
        {"CPF_PARTITON_ROWS": "5000"},
        (
            "setting CPF_PARTITON_ROWS: unknown cpfft setting. Did you mean CPF_PARTITION_ROWS? "
            "The settings are listed in the README (« Réglages »)"
        ),
    ),
    (
        {"cpfft_output_dir": "exports"},
        "setting cpfft_output_dir: unknown cpfft setting. Did you mean CPFFT_OUTPUT_DIR?",
    ),
    ({"FT_NOTHING_LIKE": "1"}, "setting FT_NOTHING_LIKE: unknown cpfft setting. The settings"),
    (
        {"FT_CLIENT_SECRET": "s3cret"},
        (
            "setting FT_CLIENT_SECRET: the France Travail credentials are not settings (a -s value "
            "shows in logs and in scrapyd's job listing): put FT_CLIENT_ID and FT_CLIENT_SECRET in "
            "the environment or in .env"
        ),
    ),
]


@pytest.mark.parametrize(("settings", "message"), MISSPELT_SETTINGS)
def test_a_misspelt_setting_is_refused_with_its_likely_name(crawl, settings, message):
    """A -s name cpfft does not know would be ignored without a word (Scrapy keeps any name)."""
    result = crawl("cpf", settings=settings)
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"cpfft: error: {message}")
    assert "s3cret" not in result.stderr


def test_themes_are_extensible(ods, crawl):
    api = ods(rows=500)
    result = crawl(
        "cpf", {"theme": "btp"}, env={"CPF_API_URL": api.url, "CPF_THEMES": '{"btp": ["231"]}'}
    )
    assert result.returncode == 0, result.log
    expected = {
        r[INDEX["numero_formation"]] for r in api.dataset.rows if "231" in (r[23], r[24], r[25])
    }
    assert {r["numero_formation"] for r in result.dicts()} == expected


def test_unknown_spider_and_unwritable_output(crawl, tmp_path):
    result = crawl("cfp")
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == "cpfft: error: unknown spider 'cfp'. Did you mean cpf? Spiders: cpf, offres"
    )
    result = crawl("scrapyd")  # nothing like it: no guess
    assert result.stderr.strip() == "cpfft: error: unknown spider 'scrapyd'. Spiders: cpf, offres"
    (tmp_path / "adir.csv").mkdir()
    result = crawl("cpf", output="adir.csv")
    assert result.returncode == 2
    assert "cpfft: error: output 'adir.csv' is a directory" in result.stderr
    # A process's /proc directory is not writable even by root (CI runs as root).
    result = crawl("cpf", output="/proc/self/x.csv")
    assert result.returncode == 2
    assert (
        "cpfft: error: output '/proc/self/x.csv' cannot be written: '/proc/self' is not writable"
        in result.stderr
    )
    assert "Traceback" not in result.stderr


def test_output_in_a_read_only_folder(crawl, tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root may write in a read-only folder (the /proc case above runs as root)")
    readonly = tmp_path / "ro"
    readonly.mkdir()
    readonly.chmod(0o500)
    try:
        result = crawl("cpf", output="ro/x.csv")
    finally:
        readonly.chmod(0o700)
    assert result.returncode == 2
    assert (
        "cpfft: error: output 'ro/x.csv' cannot be written: 'ro' is not writable" in result.stderr
    )


# ------------------------------------------------------------------ API faults


def test_random_5xx_nothing_lost_nor_duplicated(ods, crawl):
    api = ods(rows=4000, fail_rate_5xx=0.3, fault_seed=3)
    result = crawl("cpf", env={"CPF_API_URL": api.url, "CPF_PARTITION_ROWS": "700"})
    assert result.returncode == 0, result.log
    assert keys(result) == truth(api)
    assert api.stats()["http_5xx"] > 0
    assert "(0 retries)" not in result.log


@pytest.mark.parametrize("mode", ["abort", "clean", "rows"])
def test_truncated_exports_are_fetched_again(ods, crawl, mode):
    api = ods(rows=3000, truncate_exports=3, truncate_mode=mode, truncate_at=0.6)
    result = crawl("cpf", env={"CPF_API_URL": api.url, "CPF_PARTITION_ROWS": "800"})
    assert result.returncode == 0, result.log
    assert keys(result) == truth(api)
    assert api.stats()["truncated"] == 3
    if mode != "abort":
        assert "fetching it again" in result.log


def test_partition_that_never_comes_whole_fails_the_run(ods, crawl, tmp_path):
    api = ods(rows=1000, truncate_exports=100, truncate_mode="clean")
    (tmp_path / "out.csv").write_bytes(PREVIOUS)
    result = crawl("cpf", env={"CPF_API_URL": api.url, "CPF_PARTITION_ATTEMPTS": "2"})
    assert result.returncode == 1
    assert "gave up after 2 attempts" in result.log
    assert "ERROR: Run summary (cpf): FAILED" in result.log
    assert "; exit code 1" in result.log  # nothing written: the short summary says it
    assert "Traceback" not in result.log


def test_timeouts_are_retried(ods, crawl):
    api = ods(rows=1500, slow_rate=0.3, slow_ms=4000, fault_seed=11)
    result = crawl(
        "cpf",
        env={"CPF_API_URL": api.url, "CPF_PARTITION_ROWS": "300", "CPFFT_DOWNLOAD_TIMEOUT": "1"},
    )
    assert result.returncode == 0, result.log
    assert keys(result) == truth(api)
    assert api.stats()["slow"] > 0
    # Each timeout retried says so at INFO (the stats dump, at DEBUG, is not shown).
    assert re.search(r"INFO: retrying .+ in [\d.]+ s \(\d/5\): DownloadTimeoutError", result.log)


def test_quota_exhausted_stops_cleanly_with_reset_time(ods, crawl):
    api = ods(rows=3000, daily_quota=4)
    result = crawl("cpf", env={"CPF_API_URL": api.url, "CPF_PARTITION_ROWS": "800"})
    assert result.returncode == 1
    assert (
        "Opendatasoft API quota exhausted (errorcode 10005: You have exceeded the requests limit"
        in result.log
    )
    assert "It resets at " in result.log
    assert " UTC (in " in result.log
    assert "finish reason: quota_exceeded" in result.log
    assert "Traceback" not in result.log
    assert api.stats()["http_429"] <= 4  # no hammering after the stop
    written = keys(result)
    assert 0 < len(written) < 3000
    assert written <= truth(api)


def test_retries_exhausted_leave_previous_output_untouched(ods, crawl, tmp_path):
    api = ods(rows=10, fail_rate_5xx=1.0)
    (tmp_path / "out.csv").write_bytes(PREVIOUS)
    result = crawl("cpf", env={"CPF_API_URL": api.url, "CPFFT_RETRY_TIMES": "2"})
    assert result.returncode == 1
    assert "Dataset metadata failed: HTTP 5" in result.log
    assert "Run summary (cpf): FAILED" in result.log
    assert (tmp_path / "out.csv").read_bytes() == PREVIOUS
    assert "Traceback" not in result.log


def test_unknown_dataset(ods, crawl):
    api = ods(rows=10)
    result = crawl("cpf", env={"CPF_API_URL": api.url, "CPF_DATASET": "moncompteformation_typo"})
    assert result.returncode == 1
    assert (
        "Dataset metadata failed: HTTP 404 (check CPF_DATASET and CPF_API_URL): "
        "The requested dataset moncompteformation_typo does not exist." in result.log
    )
    assert "Traceback" not in result.log


def test_api_unreachable(crawl):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = crawl(
        "cpf", env={"CPF_API_URL": f"http://127.0.0.1:{port}"}, settings={"RETRY_TIMES": "1"}
    )
    assert result.returncode == 1
    assert "DownloadConnectionRefusedError" in result.log
    assert "Traceback" not in result.log


def test_duplicates_and_rows_without_key_are_counted(ods, crawl):
    api = ods(rows=1500, duplicate_rows=9, rows_without_id=4)
    i, j = INDEX["numero_formation"], INDEX["code_departement"]
    with_id = [(r[i], r[j]) for r in api.dataset.rows if r[i]]
    duplicates = len(with_id) - len(set(with_id))
    missing = len(api.dataset.rows) - len(with_id)
    assert duplicates >= 5
    assert missing >= 4
    result = crawl("cpf", env={"CPF_API_URL": api.url})
    assert result.returncode == 0, result.log
    assert keys(result) == truth(api)
    assert f"duplicates removed: {duplicates}" in result.log
    assert f"rows dropped:       {missing} (missing_numero_formation: {missing})" in result.log
