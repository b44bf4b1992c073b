"""A run's output and resumption are decided as its spider is made (cpfft.run.start): the
same under ``scrapy crawl``, scrapyd and a script's CrawlerProcess."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from scrapy.settings import Settings

from cpfft.errors import ConfigurationError
from cpfft.run.resume import JOURNAL, Journal
from cpfft.run.start import prepare
from tests.support.crawling import BOM, clean_env


def settings(**values):
    return Settings({"CPFFT_CSV_DELIMITER": ",", **values})


def test_a_check_creates_nothing_and_names_the_scheduled_file(tmp_path):
    out = tmp_path / "exports"
    checked = settings(CPFFT_OUTPUT_DIR=str(out))
    path = prepare(checked, "cpf", {"_job": "j1"}, {}, None, create=False)
    assert path is not None
    assert path.parent == out / "cpf"
    assert path.name.endswith("_j1.csv")
    assert not out.exists()  # nothing created
    assert checked.getdict("FEEDS") == {str(path): {"format": "csv", "overwrite": True}}
    assert checked.get("CPFFT_RUN_OUTPUT") == str(path)


def test_an_output_given_is_kept():
    given = settings(FEEDS={"mine.csv": {"format": "csv"}})
    assert prepare(given, "cpf", {}, {}, None, create=False) is None
    assert given.getdict("FEEDS") == {"mine.csv": {"format": "csv"}}
    assert not given.get("CPFFT_RUN_OUTPUT")


def test_no_output_at_all_is_one_line():
    with pytest.raises(ConfigurationError, match=r"no output: give -O file\.csv"):
        prepare(settings(), "cpf", {}, {}, None, create=False)


@pytest.mark.parametrize(
    ("feeds", "message"),
    [
        ({"out.json": {"format": "json"}}, "resuming works with a CSV output only, not json"),
        ({"a.csv": {"format": "csv"}, "b.csv": {"format": "csv"}}, "exactly one local output"),
        ({"-": {"format": "csv"}}, "exactly one local output"),
    ],
)
def test_jobdir_needs_one_local_csv(tmp_path, feeds, message):
    jobdir = tmp_path / "job"
    with pytest.raises(ConfigurationError, match=message):
        prepare(settings(JOBDIR=str(jobdir), FEEDS=feeds), "cpf", {}, {}, None, create=False)
    assert not jobdir.exists()


def test_a_jobdir_of_another_command_is_refused_by_the_check_without_writing(tmp_path):
    jobdir = tmp_path / "job"
    output = tmp_path / "out.csv"
    Journal(jobdir).begin("cpf", {"theme": "informatique"}, str(output))
    before = (jobdir / JOURNAL).read_bytes()
    given = settings(JOBDIR=str(jobdir), FEEDS={str(output): {"format": "csv"}})
    with pytest.raises(ConfigurationError, match="holds an unfinished run of another command"):
        prepare(given, "cpf", {}, {}, None, create=False)
    assert (jobdir / JOURNAL).read_bytes() == before


def test_a_run_records_itself_in_the_jobdir_and_a_check_does_not(tmp_path):
    jobdir = tmp_path / "job"
    output = tmp_path / "out.csv"
    feeds = {str(output): {"format": "csv"}}
    prepare(settings(JOBDIR=str(jobdir), FEEDS=feeds), "cpf", {"_job": "x"}, {}, None,
            create=False)  # fmt: skip
    assert not (jobdir / JOURNAL).exists()
    prepare(settings(JOBDIR=str(jobdir), FEEDS=feeds), "cpf", {"_job": "x"}, {}, None,
            create=True)  # fmt: skip
    recorded = json.loads((jobdir / JOURNAL).read_text())
    assert recorded["spider"] == "cpf"
    assert recorded["arguments"] == {}  # scrapyd's own arguments are not the command's
    assert recorded["output"] == str(output.absolute())


def test_a_resumed_run_appends_to_the_whole_rows_of_its_file(tmp_path):
    jobdir = tmp_path / "job"
    output = tmp_path / "out.csv"
    output.write_bytes(b"the previous complete file")
    working = tmp_path / "out.incomplete.csv"  # the interrupted attempt's rows
    Journal(jobdir).begin("cpf", {}, str(output))
    working.write_bytes(BOM + b"a,b\r\n1,2\r\n3,")  # torn last row
    given = settings(JOBDIR=str(jobdir), FEEDS={str(output): {"format": "csv"}})
    prepare(given, "cpf", {}, {}, None, create=True)
    assert working.read_bytes() == BOM + b"a,b\r\n1,2\r\n"
    assert output.read_bytes() == b"the previous complete file"
    assert given.get("CPFFT_RESUME_FROM") == str(working.absolute())
    assert given.getint("CPFFT_RESUME_REPAIRED") == 2
    options = given.getdict("FEEDS")[str(output)]
    assert options["overwrite"] is False
    assert options["item_export_kwargs"] == {"include_headers_line": False}


SCRIPT = """
from scrapy.crawler import CrawlerProcess
from scrapy.utils.project import get_project_settings

process = CrawlerProcess(get_project_settings())
process.crawl("cpf", _job="from-a-script")
process.start()
"""


@pytest.mark.crawl
def test_a_crawlerprocess_script_writes_the_scheduled_files_as_scrapy_crawl_does(ods, tmp_path):
    api = ods(rows=120)
    out = tmp_path / "exports"
    env = clean_env({"CPF_API_URL": api.url, "CPFFT_OUTPUT_DIR": str(out)})
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    folder = out / "cpf"
    written = list(folder.glob("*_from-a-script.csv"))
    assert len(written) == 1, sorted(p.name for p in folder.iterdir())
    assert (folder / "latest.csv").samefile(written[0])
    lines = written[0].read_bytes().split(b"\r\n")
    assert lines[0].startswith(BOM + b"date_extract,")
    assert len([line for line in lines[1:] if line]) == 120
