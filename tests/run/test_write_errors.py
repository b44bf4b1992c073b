"""An output that cannot be written fails the run in one line, never a COMPLETE summary.

Before the change, ``-O README.md/out.csv`` printed two ``NotADirectoryError``
tracebacks, then ``Run summary (cpf): COMPLETE`` and exit 0; a full disk did the
same. Now: a folder that cannot hold the file is refused before the first request
(exit 2, one line, nothing fetched); a write error during the run (``/dev/full``:
"No space left on device", at the first buffer flushed or only at close) stops the
run FAILED, exit 1, with one line naming the path and the OS error, and no traceback.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.crawling import clean_env

pytestmark = pytest.mark.crawl

DEV_FULL = Path("/dev/full")
needs_dev_full = pytest.mark.skipif(not DEV_FULL.exists(), reason="no /dev/full here")


def error_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if " ERROR: " in line]


@pytest.mark.parametrize(
    ("output", "why"),
    [
        ("README.md/out.csv", "is a file, not a folder"),
        ("/proc/cpfft/out.csv", "is not writable"),
        ("/proc/out.csv", "is not writable"),
    ],
    ids=["a file as folder", "under /proc", "in /proc"],
)
def test_an_output_folder_that_cannot_hold_the_file_is_refused_before_any_request(
    ods, crawl, tmp_path, output, why
):
    api = ods(rows=50)
    (tmp_path / "README.md").write_text("# mine\n", encoding="utf-8")
    result = crawl("cpf", {"max_records": "50"}, env={"CPF_API_URL": api.url}, output=output)
    assert result.returncode == 2, result.log
    (line,) = result.log.strip().splitlines()
    assert line.startswith(f"cpfft: error: output '{output}' cannot be written: "), line
    assert why in line
    assert api.requests == []  # nothing fetched
    assert (tmp_path / "README.md").read_text(encoding="utf-8") == "# mine\n"


@needs_dev_full
@pytest.mark.parametrize(
    ("rows", "output"),
    [
        ("3000", "/dev/full:csv"),  # the first full buffer fails, during the crawl
        ("2", "/dev/full:csv"),  # two rows fit in the buffer: the error shows at close
        ("2", "/dev/full:xlsx"),  # a whole document, written when the run ends
        ("2", "/dev/full:parquet"),
    ],
    ids=["csv, during the run", "csv, at close", "xlsx", "parquet"],
)
def test_a_disk_full_fails_the_run_in_one_line(ods, crawl, rows, output):
    api = ods(rows=3000)
    result = crawl("cpf", {"max_records": rows}, env={"CPF_API_URL": api.url}, output=output)
    assert result.returncode == 1, result.log
    assert "Traceback" not in result.log
    assert "Run summary (cpf): FAILED" in result.log
    assert "COMPLETE" not in result.log
    told = "cannot write /dev/full: No space left on device"
    errors = error_lines(result.log)
    # The error once, as the summary's headline (its missing line repeats it), and the exit
    # line.
    # Stopped by the error during the run, or failed by it as the run closed.
    assert re.search(
        r" ERROR: Run summary \(cpf\): FAILED( \(finish reason: write_failed\))?: "
        + re.escape(told)
        + "$",
        errors[0],
    ), errors
    assert len(errors) == 2, errors
    assert "  rows written:       none usable (/dev/full could not be written)" in result.log
    assert f"  missing:            {told}" in result.log


SCRIPT = """
from scrapy.crawler import CrawlerProcess
from scrapy.utils.project import get_project_settings

settings = get_project_settings()
settings.set("FEEDS", {"/dev/full": {"format": "csv", "overwrite": True}})
process = CrawlerProcess(settings)
crawler = process.create_crawler("cpf")
process.crawl(crawler, max_records="3000")
process.start()
print("outcome:", crawler.stats.get_value("cpfft/outcome"))
"""


@needs_dev_full
def test_without_the_crawl_command_a_write_error_still_fails_in_one_line(ods, tmp_path):
    """A script's CrawlerProcess (as scrapyd runs a job): the same one line, outcome failed."""
    api = ods(rows=3000)
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=tmp_path,
        env=clean_env({"CPF_API_URL": api.url}),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr  # the script itself ends normally
    assert "outcome: failed" in run.stdout
    assert "Traceback" not in run.stderr
    errors = error_lines(run.stderr)
    assert errors[0].endswith(
        " ERROR: Run summary (cpf): FAILED (finish reason: write_failed): "
        "cannot write /dev/full: No space left on device"
    ), errors
