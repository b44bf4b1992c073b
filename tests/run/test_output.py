"""Runs without -O: timestamped files under CPFFT_OUTPUT_DIR and a latest.csv that only moves on success."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from scrapy.settings import Settings

from cpfft.run import output
from cpfft.run.output import query_folder, safe_name, timestamped_output
from tests.support.crawling import BOM, ft_env

crawl_test = pytest.mark.crawl


def files(folder):
    return sorted(p.name for p in folder.iterdir())


def csv_ids(path):
    data = path.read_bytes()
    assert data.startswith(BOM)
    return {r["id"] for r in csv.DictReader(io.StringIO(data[3:].decode(), newline=""))}


START = datetime(2026, 12, 1, 22, 5, 12, 345_000, tzinfo=UTC)


def frozen_clock(monkeypatch, *moments):
    """Make cpfft.run.output's clock give ``moments`` in turn, then the last one forever."""
    queue = list(moments)

    class Clock(datetime):
        @classmethod
        def now(cls, tz=None):
            moment = queue.pop(0) if len(queue) > 1 else queue[0]
            return moment.astimezone(tz) if tz else moment

    monkeypatch.setattr(output, "datetime", Clock)


RUNS = [("job-one", None), (None, None), (None, "depuis"), ("cpf-97d170e1-x", None), (None, None)]


@pytest.mark.parametrize(
    "moments",
    [
        pytest.param([START], id="same-instant"),  # every run starts in the same millisecond
        pytest.param([START + timedelta(seconds=-i) for i in range(5)], id="clock-going-back"),
    ],
)
def test_names_sort_in_run_order_whatever_the_suffix(tmp_path, monkeypatch, moments):
    frozen_clock(monkeypatch, *moments)
    settings = Settings({"CPFFT_OUTPUT_DIR": str(tmp_path)})
    made = []
    for job, label in RUNS:
        path = timestamped_output(settings, "cpf", job, label)
        path.write_bytes(b"x")  # the run writes its file
        made.append(path.name)
    assert len(set(made)) == len(made)
    assert sorted(made) == made
    assert sorted(made, key=str.casefold) == made  # case-blind listings too
    assert made[0].startswith("20261201T220512.345Z_")


def test_a_set_aside_or_changes_file_keeps_the_order(tmp_path, monkeypatch):
    frozen_clock(monkeypatch, START)
    settings = Settings({"CPFFT_OUTPUT_DIR": str(tmp_path)})
    first = timestamped_output(settings, "offres", "job-one")
    output.changes_file(first).write_bytes(b"x")
    output.set_aside_name(first).write_bytes(b"x")
    second = timestamped_output(settings, "offres")
    assert second.name > output.set_aside_name(first).name
    assert second.name > output.changes_file(first).name


def test_the_scrapyd_job_id_is_whole_in_the_name(tmp_path):
    settings = Settings({"CPFFT_OUTPUT_DIR": str(tmp_path)})
    path = timestamped_output(settings, "cpf", "cpf-97d170e1-20261201T220512Z")
    assert path.name.endswith("_cpf-97d170e1-20261201T220512Z.csv")
    assert path.parent == tmp_path / "cpf"
    odd = timestamped_output(settings, "cpf", "../x y")
    assert odd.parent == tmp_path / "cpf"
    assert "/" not in odd.name
    assert " " not in odd.name


def test_a_check_creates_nothing(tmp_path):
    settings = Settings({"CPFFT_OUTPUT_DIR": str(tmp_path / "new")})
    path = timestamped_output(settings, "offres", query="region=11", create=False)
    assert path.parent == tmp_path / "new" / "offres" / "region=11"
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize(
    ("arguments", "folder"),
    [
        ({}, None),
        ({"motsCles": None, "depuis": "dernier", "sort": "1", "_job": "x"}, None),
        ({"region": "11", "motsCles": "python"}, "motsCles=python,region=11"),
        ({"departement": "75,92", "depuis": "dernier"}, "departement=75,92"),
        ({"theme": ("numerique", "btp"), "max_records": 10}, "max_records=10,theme=numerique,btp"),
        ({"qualification": True}, "qualification=true"),
    ],
)
def test_query_folder_names_the_arguments(arguments, folder):
    assert query_folder(arguments) == folder


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"motsCles": "data scientist"}, {"motsCles": "data_scientist"}),
        ({"a": "1,b=2"}, {"a": "1", "b": "2"}),
        ({"q": "a/b"}, {"q": "a:b"}),
        ({"q": "x" * 300}, {"q": "x" * 301}),
    ],
)
def test_different_queries_never_share_a_folder(first, second):
    names = {query_folder(first), query_folder(second)}
    assert len(names) == 2
    for name in names:
        assert "/" not in name
        assert ":" not in name
        assert " " not in name
        assert len(name.encode()) < 200


def test_safe_name_keeps_plain_names_and_marks_changed_ones():
    assert safe_name("offres-3f9a1c2e-20261129T050000Z") == "offres-3f9a1c2e-20261129T050000Z"
    changed = safe_name("données brutes")
    assert changed.startswith("données_brutes~")
    assert len(changed) == len("données_brutes~") + 8


@crawl_test
def test_timestamped_files_and_latest(ods, crawl, tmp_path):
    out = tmp_path / "exports"
    api = ods(rows=300)
    env = {"CPF_API_URL": api.url, "CPFFT_OUTPUT_DIR": str(out)}
    first = crawl("cpf", {"_job": "job-one"}, env=env, output="")
    assert first.returncode == 0, first.log
    names = files(out / "cpf")
    run1 = out / "cpf" / next(n for n in names if n.endswith(".csv") and n != "latest.csv")
    # The run's file and its descriptor, each published as latest, and the run's status.
    status = run1.name.removesuffix(".csv") + ".run.json"
    assert names == sorted([run1.name, run1.name + ".datapackage.json", status,
                            "latest.csv", "latest.csv.datapackage.json"])  # fmt: skip
    assert run1.name.endswith("_job-one.csv")
    record = json.loads((out / "cpf" / status).read_text(encoding="utf-8"))
    assert (record["status"], record["rows"], record["output"], record["job"]) == (
        "COMPLETE",
        300,
        run1.name,
        "job-one",
    )
    assert (out / "cpf" / "latest.csv").read_bytes() == run1.read_bytes()
    assert "latest:" in first.log

    second = crawl("cpf", env=env, output="")  # the same query, without a job id
    assert second.returncode == 0, second.log
    names = [n for n in files(out / "cpf") if n.endswith(".csv")]
    assert len(names) == 3  # two runs, never overwritten, and latest.csv
    assert len(files(out / "cpf")) == 8  # and a descriptor and a status for each run
    newest = out / "cpf" / max(n for n in names if n != "latest.csv")
    assert newest != run1
    assert (out / "cpf" / "latest.csv").samefile(newest)

    # Another query of the same spider: its own folder and latest.csv.
    other = crawl("cpf", {"max_records": "10"}, env=env, output="")
    assert other.returncode == 0, other.log
    assert (out / "cpf" / "latest.csv").samefile(newest)
    assert len(files(out / "cpf" / "max_records=10")) == 5  # file, latest.csv, descriptors, status

    api.config.truncate_exports, api.config.truncate_mode = 100, "clean"
    failed = crawl("cpf", env={**env, "CPF_PARTITION_ATTEMPTS": "1"}, output="")
    assert failed.returncode == 1
    assert (out / "cpf" / "latest.csv").samefile(newest)
    assert not any(n.endswith(".incomplete.csv") for n in files(out / "cpf")), files(out / "cpf")


@crawl_test
def test_incomplete_file_is_set_aside(ods, crawl, tmp_path):
    out = tmp_path / "exports"
    api = ods(rows=3000, daily_quota=4)
    result = crawl(
        "cpf",
        env={"CPF_API_URL": api.url, "CPFFT_OUTPUT_DIR": str(out), "CPF_PARTITION_ROWS": "800"},
        output="",
    )
    assert result.returncode == 1
    names = files(out / "cpf")
    assert "latest.csv" not in names
    assert len(names) == 2  # the rows, set aside, and the run's status
    aside = next(n for n in names if n.endswith(".incomplete.csv"))
    record = json.loads((out / "cpf" / aside.replace(".incomplete.csv", ".run.json")).read_text())
    assert (record["status"], record["output"], record["exit_code"]) == ("INCOMPLETE", aside, 1)
    assert record["rows"] > 0
    assert "quota" in record["cause"]
    assert "set aside:" in result.log


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "no output: give -O file.csv, or set CPFFT_OUTPUT_DIR"),
        ({"CPFFT_OUTPUT_DIR": "relative/dir"}, "must be an absolute directory"),
    ],
)
@crawl_test
def test_no_output_is_an_error(crawl, env, message):
    result = crawl("cpf", env=env, output="")
    assert result.returncode == 2
    assert message in result.stderr


@crawl_test
def test_each_offres_query_has_its_own_folder_latest_and_state(ft, crawl, tmp_path):
    api = ft(offers=600)
    out = tmp_path / "exports"
    env = ft_env(api, CPFFT_OUTPUT_DIR=str(out), FT_INCREMENTAL_OVERLAP="0")
    for departement in ("75", "92"):
        result = crawl("offres", {"departement": departement}, env=env, output="")
        assert result.returncode == 0, result.log
    assert not (out / "offres" / "latest.csv").exists()
    for departement in ("75", "92"):
        expected = {o.data["id"] for o in api.dataset.offers if o.departement == departement}
        assert csv_ids(out / "offres" / f"departement={departement}" / "latest.csv") == expected
    # -a depuis=dernier continues its query: same folder, and the state of the full run.
    again = crawl("offres", {"departement": "75", "depuis": "dernier"}, env=env, output="")
    assert again.returncode == 0, again.log
    assert "-a depuis=dernier: offers created since" in again.log
    assert any(n.endswith(".depuis.csv") for n in files(out / "offres" / "departement=75"))
