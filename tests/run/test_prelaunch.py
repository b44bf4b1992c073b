"""The checks before a crawl starts: their error in the job's log file, and the dry run
that cpfft-schedule uses (``python -m cpfft.commands.crawl``)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.support.crawling import clean_env

pytestmark = pytest.mark.crawl


def test_an_error_before_the_crawl_is_also_in_log_file(crawl, tmp_path):
    """scrapyd gives each job ``-s LOG_FILE=…``; Scrapy opens it only once the crawl starts."""
    log = tmp_path / "logs" / "cpf" / "job-1.log"
    log.parent.mkdir(parents=True)
    result = crawl(
        "cpf", {"them": "numerique", "_job": "job-1"}, settings={"LOG_FILE": str(log)}, output=""
    )
    assert result.returncode == 2
    assert result.stderr.strip().startswith("cpfft: error: argument -a them: unknown argument")
    (line,) = log.read_text(encoding="utf-8").splitlines()
    assert "[cpfft] ERROR: cpfft: error: argument -a them: unknown argument" in line
    assert line.endswith("(nothing was run; exit code 2)")


def check_job(tmp_path, *argv, **env):
    proc = subprocess.run(
        [sys.executable, "-m", "cpfft.commands.crawl", *argv],
        cwd=tmp_path,
        env=clean_env(env),
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.returncode, json.loads(proc.stdout.strip().splitlines()[-1])


def test_check_job_answers_where_the_output_goes_and_creates_nothing(tmp_path):
    exports, jobdir = tmp_path / "exports", tmp_path / "job"
    code, answer = check_job(
        tmp_path, "offres", "-a", "region=Bretagne", "-a", "_job=j1", "-s", f"JOBDIR={jobdir}",
        CPFFT_OUTPUT_DIR=str(exports), FT_CLIENT_ID="i", FT_CLIENT_SECRET="s",
    )  # fmt: skip
    assert (code, answer) == (0, {"output": str(exports / "offres" / "region=53")})
    assert not exports.exists()
    assert not jobdir.exists()


@pytest.mark.parametrize(
    ("argv", "env", "message", "environment"),
    [
        (["cpf", "-a", "them=x"], {}, "argument -a them: unknown argument", False),
        (["nope"], {}, "unknown spider 'nope'", False),
        (["cpf"], {"CPFFT_OUTPUT_DIR": ""}, "no output folder: set CPFFT_OUTPUT_DIR", True),
        (["offres"], {}, "FT_CLIENT_ID and FT_CLIENT_SECRET not set", True),
    ],
)
def test_check_job_errors(tmp_path, argv, env, message, environment):
    code, answer = check_job(tmp_path, *argv, **{"CPFFT_OUTPUT_DIR": str(tmp_path), **env})
    assert code == 2
    assert message in answer["error"]
    assert answer["environment"] is environment
