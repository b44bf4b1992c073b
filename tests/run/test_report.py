"""The run report: a quiet log, the outcome and its cause, and the summary.

Unit tests build the extension on an in-process crawler with stats set by hand;
the crawl tests check the whole log of real runs against the emulators.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re

import pytest
from scrapy.utils.test import get_crawler

from cpfft.run.contract import ApiSpider
from cpfft.run.report import (
    FORMULA_GUARDED,
    OUTCOME,
    ROWS_IN_OUTPUT,
    RunReport,
    quiet_scrapy_logs,
)
from cpfft.run.resume import count_rows
from cpfft.run.state import mark_incomplete
from tests.support.crawling import BOM

# ------------------------------------------------------------------ in-process


def report(stats=None, *, feeds=True, settings=None):
    settings = {**({"FEEDS": {"out.csv": {"format": "csv"}}} if feeds else {}), **(settings or {})}
    crawler = get_crawler(settings_dict=settings)
    crawler.stats.open_spider()
    for key, value in (stats or {}).items():
        crawler.stats.set_value(key, value)
    return RunReport.from_crawler(crawler)


class StubSpider(ApiSpider):
    """A spider of the run contract (cpfft.run.contract.ApiSpider) with set answers."""

    name = "cpf"
    item_class = dict

    def __init__(self, total, unfinished):
        super().__init__()
        self._progress_total = total
        self.unfinished = list(unfinished)

    def unfinished_work(self):
        return self.unfinished


def conclude(ext, reason="finished", *, total=None, unfinished=(), stored=True, before=0):
    """Close the run as the engine would; return the summary's (level, text)."""
    stats = ext.crawler.stats
    if stored:
        stats.inc_value("feedexport/success_count/FileFeedStorage")
    ext.rows_before = before
    spider = StubSpider(total, unfinished)
    ext.feed_exporter_closed()
    asyncio.run(ext.spider_closed(spider, reason))
    records = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = records.append
    log = logging.getLogger("cpfft.report")
    log.addHandler(handler)
    level = log.level
    log.setLevel(logging.DEBUG)
    try:
        ext.engine_stopped()
    finally:
        log.removeHandler(handler)
        log.setLevel(level)
    summary = next(r for r in records if r.getMessage().startswith("Run summary"))
    return logging.getLevelName(summary.levelno), summary.getMessage(), records


def test_complete_run_summary_at_info():
    ext = report({"item_scraped_count": 300, "downloader/request_count": 3})
    level, text, records = conclude(ext, total=300)
    assert level == "INFO"
    assert text.splitlines()[:2] == [
        "Run summary (cpf): COMPLETE (finish reason: finished)",
        "  rows written:       300 of 300 expected → out.csv",
    ]
    assert "missing:" not in text
    assert len(records) == 1  # no "see 'missing'" line
    assert ext.crawler.stats.get_value(OUTCOME) == "complete"


def test_failed_run_names_its_cause_at_error_and_no_file_it_did_not_touch():
    ext = report({"downloader/request_count": 6, "retry/count": 5})
    mark_incomplete(ext.crawler, "dataset metadata: DNSLookupError: no results for hostname")
    level, text, records = conclude(ext, stored=False)  # the exporter left out.csv alone
    assert level == "ERROR"
    # Nothing fetched: the cause, then what the run did, in two lines; no exit line after.
    assert text.splitlines() == [
        "Run summary (cpf): FAILED: dataset metadata: DNSLookupError: no results for hostname",
        "  out.csv left untouched; 6 API calls (5 retries); elapsed 0:00:00; exit code 1",
    ]
    assert len(records) == 1
    assert ext.crawler.stats.get_value(ROWS_IN_OUTPUT) == 0


def test_a_failed_run_that_fetched_nothing_names_every_other_problem_on_a_third_line():
    ext = report({"downloader/request_count": 1})
    mark_incomplete(ext.crawler, "row count per département: HTTP 400: bad limit")
    mark_incomplete(ext.crawler, "the output file could not be stored")
    _, text, _ = conclude(ext, stored=False)
    assert text.splitlines()[1:] == [
        "  out.csv left untouched; 1 API call (0 retries); elapsed 0:00:00; exit code 1",
        "  also missing: the output file could not be stored",
    ]


def test_the_component_that_stopped_the_run_is_the_cause():
    ext = report({"item_scraped_count": 800})
    mark_incomplete(
        ext.crawler, "partition 1 (départements 75; 400 rows): not fetched (run stopped)"
    )
    ext.crawler.stats.set_value("cpfft/stop_reason", "quota_exceeded")
    ext.crawler.stats.set_value("cpfft/stop_message", "Opendatasoft API quota exhausted")
    mark_incomplete(ext.crawler, "Opendatasoft API quota exhausted")
    level, text, _ = conclude(ext, "quota_exceeded", total=3000)
    assert level == "ERROR"
    assert text.splitlines()[0] == (
        "Run summary (cpf): INCOMPLETE (finish reason: quota_exceeded): "
        "Opendatasoft API quota exhausted (+1 more under 'missing')"
    )
    assert "  rows written:       800 of 3 000 expected → out.csv" in text


def test_a_run_stopped_with_nothing_reported_says_why_under_missing():
    ext = report({"item_scraped_count": 10})
    level, text, records = conclude(ext, "shutdown", total=50)
    assert level == "ERROR"
    cause = "interrupted (Ctrl-C or a termination signal) before the end"
    assert (
        text.splitlines()[0] == f"Run summary (cpf): INCOMPLETE (finish reason: shutdown): {cause}"
    )
    assert text.splitlines()[-1] == f"  missing:            {cause}"
    assert "see 'missing' in the summary above" in records[-1].getMessage()


def test_a_component_closing_with_its_own_reason_names_what_it_reported():
    ext = report()
    mark_incomplete(ext.crawler, "-o out.csv: its header is not this run's")
    level, text, _ = conclude(ext, "output_refused", stored=False)
    assert level == "ERROR"
    assert text.splitlines() == [
        "Run summary (cpf): FAILED: -o out.csv: its header is not this run's",
        "  out.csv left untouched; 0 API calls (0 retries); elapsed 0:00:00; exit code 1",
    ]


def test_resumed_run_counts_the_rows_of_the_interrupted_one():
    ext = report({"item_scraped_count": 42})
    _, text, _ = conclude(ext, total=30_000, before=29_958)
    assert (
        "  rows written:       30 000 of 30 000 expected → out.csv "
        "(29 958 by the interrupted run, 42 by this one)"
    ) in text
    assert ext.crawler.stats.get_value(ROWS_IN_OUTPUT) == 30_000


def test_resumed_run_that_wrote_nothing_leaves_its_file_as_it_was():
    ext = report()
    mark_incomplete(ext.crawler, "dataset metadata: HTTP 503")
    _, text, _ = conclude(ext, stored=False, before=2900)
    assert (
        "  rows written:       none by this run "
        "(out.csv unchanged: 2 900 rows from the interrupted run)"
    ) in text


@pytest.mark.parametrize(("written", "shown"), [(290, "290"), (300, "300 of 300 expected")])
def test_complete_run_never_reads_n_of_m_with_n_below_m(written, shown):
    # Fewer rows than counted at the start, all of them (withdrawn meanwhile): no "290 of 300".
    ext = report({"item_scraped_count": written})
    _, text, _ = conclude(ext, total=300)
    assert f"  rows written:       {shown} → out.csv" in text


def test_no_output_file():
    ext = report({"item_scraped_count": 7}, feeds=False)
    _, text, _ = conclude(ext, stored=False)
    assert "  rows written:       7 (no output file: use -O file.csv)" in text


@pytest.mark.parametrize("guarded", [0, 1, 12_345])
def test_formula_guard_line_only_when_cells_were_prefixed(guarded):
    ext = report({"item_scraped_count": 5, **({FORMULA_GUARDED: guarded} if guarded else {})})
    _, text, _ = conclude(ext, total=5)
    lines = [line for line in text.splitlines() if "formula guard" in line]
    if guarded:
        shown = f"{guarded:,}".replace(",", " ")
        assert lines == [
            f"  formula guard:      {shown} cells prefixed with ' (CSV only; see README)"
        ]
    else:
        assert lines == []


def test_requests_sent_again_after_a_401_are_counted_with_the_retries():
    ext = report({"downloader/request_count": 90, "retry/count": 2, "cpfft/oauth/401_retries": 4})
    _, text, _ = conclude(ext)
    assert "  API calls:          90 (2 retries, 4 sent again with a new token after a 401)" in text


def test_count_rows_ignores_line_breaks_inside_quotes(tmp_path):
    path = tmp_path / "out.csv"
    path.write_bytes(BOM + b'id,text\r\n1,"a\r\nb"\r\n2,plain\r\n3,"say ""hi""\r\n,x"\r\n')
    assert count_rows(path) == 3
    path.write_bytes(BOM + b"id,text\r\n")
    assert count_rows(path) == 0
    path.write_bytes(BOM + b"id,text\r\n" + b"1,x\r\n" * 700_000)  # several chunks, no quote
    assert count_rows(path) == 700_000


def test_scrapy_banner_and_stats_dump_go_to_debug(caplog):
    caplog.set_level(logging.DEBUG)  # loggers pass everything, as Scrapy configures them
    quiet_scrapy_logs()
    quiet_scrapy_logs()  # idempotent
    records = []
    handler = logging.Handler(logging.INFO)  # the root handler at the default level
    handler.emit = records.append
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        logging.getLogger("scrapy.crawler").info("Overridden settings:\n%(s)s", {"s": "{…}"})
        logging.getLogger("scrapy.statscollectors").info("Dumping Scrapy stats:\n{…}")
        logging.getLogger("scrapy.middleware").info(
            "Enabled %(componentname)ss:\n%(enabledlist)s",
            {"componentname": "extension", "enabledlist": "[]"},
        )
        logging.getLogger("scrapy.utils.log").info("Versions:\n{…}")
        # Other INFO lines of the same loggers stay at INFO.
        logging.getLogger("scrapy.crawler").info("Received SIGINT, shutting down gracefully.")
        handler.setLevel(logging.DEBUG)  # -L DEBUG: the banner is still there
        logging.getLogger("scrapy.crawler").info("Overridden settings:\n%(s)s", {"s": "{…}"})
    finally:
        root.removeHandler(handler)
    assert [(r.levelname, r.getMessage().split(":")[0]) for r in records] == [
        ("INFO", "Received SIGINT, shutting down gracefully."),
        ("DEBUG", "Overridden settings"),
    ]


# ------------------------------------------------------------------ real runs

crawl_test = pytest.mark.crawl
PREVIOUS = BOM + b"numero_formation\r\nyesterday\r\n"


@crawl_test
def test_default_log_of_a_small_complete_run_is_short(ods, crawl):
    api = ods(rows=300)
    result = crawl("cpf", env={"CPF_API_URL": api.url})
    assert result.returncode == 0, result.log
    lines = result.log.splitlines()
    assert "Dumping Scrapy stats" not in result.log
    assert "FEED_EXPORT_FIELDS" not in result.log
    assert "Overridden settings" not in result.log
    assert "Enabled " not in result.log
    assert re.search(r"INFO: cpfft \d+\.\d+\.\d+ \(Scrapy 2\.\d+\.\d+, Python 3[.\d]+\): crawl cpf → "
                     r"out\.csv$", lines[0]), lines[0]  # fmt: skip
    assert "Run summary (cpf): COMPLETE (finish reason: finished)" in result.log
    assert "  rows written:       300 of 300 expected → out.csv" in lines
    assert len(lines) <= 15, result.log


@crawl_test
def test_debug_log_keeps_scrapys_banner_and_stats(ods, crawl):
    api = ods(rows=20)
    result = crawl("cpf", env={"CPF_API_URL": api.url}, settings={"LOG_LEVEL": "DEBUG"})
    assert result.returncode == 0, result.log
    for banner in ("Overridden settings:", "Enabled extensions:", "Dumping Scrapy stats:",
                   "Versions:", "'FEED_EXPORT_FIELDS'"):  # fmt: skip
        assert banner in result.log


@crawl_test
@pytest.mark.parametrize("level", ["INFO", "WARNING"])
def test_failed_run_names_the_real_cause_and_leaves_the_file_alone(crawl, tmp_path, level):
    # No emulator: the API is 127.0.0.1:9, where nothing listens.
    (tmp_path / "out.csv").write_bytes(PREVIOUS)
    result = crawl("cpf", settings={"RETRY_TIMES": "1", "LOG_LEVEL": level})
    assert result.returncode == 1
    summary = re.search(r"ERROR: (Run summary \(cpf\): .*?)(?:\n\S|\n?\Z)", result.log, re.DOTALL)
    assert summary, result.log  # shown at ERROR, also under -L WARNING
    text = summary.group(1)
    assert text.splitlines()[0] == (
        "Run summary (cpf): FAILED: Cannot reach 127.0.0.1:9 (the connection is refused; "
        "2 attempts). Network or proxy? To work offline, point CPF_API_URL or FT_API_URL or "
        "FT_TOKEN_URL at an emulator (README, « Émulateurs »)"
    )
    assert "finish reason" not in text
    assert re.fullmatch(
        r"  out.csv left untouched; 2 API calls \(1 retry\); elapsed \S+; exit code 1",
        text.splitlines()[1],
    ), text
    assert "→" not in text
    assert (tmp_path / "out.csv").read_bytes() == PREVIOUS
    assert ("retrying dataset metadata" in result.log) == (level == "INFO")
    assert "Traceback" not in result.log


@crawl_test
def test_each_retry_is_one_info_line_with_its_wait_and_attempt(ods, crawl):
    api = ods(rows=10, fail_rate_5xx=1.0)
    result = crawl("cpf", env={"CPF_API_URL": api.url, "CPFFT_RETRY_TIMES": "3"})
    assert result.returncode == 1
    retries = re.findall(r"INFO: retrying dataset metadata in ([\d.]+) s \((\d)/3\): HTTP 5\d\d ",
                         result.log)  # fmt: skip
    assert retries == [("0.05", "1"), ("0.1", "2"), ("0.2", "3")], result.log
    assert "; 4 API calls (3 retries); " in result.log


def resumable(crawl, api, tmp_path, keep):
    """A complete run's first ``keep`` rows as an interrupted run leaves them
    (``out.incomplete.csv``, beside the complete ``out.csv``), and a JOBDIR whose journal
    says that run was interrupted: the next run with that JOBDIR resumes it."""
    env = {"CPF_API_URL": api.url, "CPF_PARTITION_ROWS": "400"}
    first = crawl("cpf", env=env)
    assert first.returncode == 0, first.log
    lines = first.output.read_bytes().split(b"\r\n")
    interrupted = tmp_path / "out.incomplete.csv"
    interrupted.write_bytes(b"\r\n".join(lines[: keep + 1]) + b"\r\n")
    jobdir = tmp_path / "job"
    jobdir.mkdir()
    journal = {"spider": "cpf", "arguments": {}, "output": str(first.output), "status": "running"}
    (jobdir / "cpfft-run.json").write_text(json.dumps(journal))
    return env, {"JOBDIR": str(jobdir)}


@crawl_test
def test_resumed_run_summary_counts_the_rows_already_in_the_file(ods, crawl, tmp_path):
    api = ods(rows=3000)
    env, settings = resumable(crawl, api, tmp_path, keep=2900)
    result = crawl("cpf", env=env, settings=settings)
    assert result.returncode == 0, result.log
    assert "Resuming from JOBDIR: 2900 rows already in" in result.log
    assert not (tmp_path / "out.incomplete.csv").exists()  # renamed onto out.csv
    assert (
        "  rows written:       3 000 of 3 000 expected → out.csv "
        "(2 900 by the interrupted run, 100 by this one)"
    ) in result.log.splitlines()
    assert len(result.dicts()) == 3000


@crawl_test
def test_resumed_run_that_fails_says_the_file_is_unchanged(ods, crawl, tmp_path):
    api = ods(rows=3000)
    env, settings = resumable(crawl, api, tmp_path, keep=1234)
    before = (tmp_path / "out.csv").read_bytes()
    down = {**env, "CPF_API_URL": "http://127.0.0.1:9", "CPFFT_RETRY_TIMES": "1"}
    result = crawl("cpf", env=down, settings={**settings, "LOG_LEVEL": "WARNING"})
    assert result.returncode == 1
    assert (
        "  rows written:       none by this run "
        "(out.incomplete.csv unchanged: 1 234 rows from the interrupted run)"
    ) in result.log.splitlines()
    assert (tmp_path / "out.csv").read_bytes() == before  # the previous complete file


def test_a_spider_outside_the_contract_gets_its_defaults():
    import scrapy

    from cpfft.run.contract import contract

    other = contract(scrapy.Spider(name="other"))
    assert other.progress_total is None
    assert other.partial_output is False
    assert other.unfinished_work() == []
    assert other.finish_output(None) == []
    assert other.summary_lines("complete") == []
    stub = StubSpider(3, ["x"])
    assert contract(stub) is stub
