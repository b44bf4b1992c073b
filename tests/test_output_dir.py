"""Runs without -O: timestamped files under CPFFT_OUTPUT_DIR and a latest.csv that only moves on success."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.crawl


def files(folder):
    return sorted(p.name for p in folder.iterdir())


def test_timestamped_files_and_latest(ods, crawl, tmp_path):
    out = tmp_path / "exports"
    api = ods(rows=300)
    env = {"CPF_API_URL": api.url, "CPFFT_OUTPUT_DIR": str(out)}
    first = crawl("cpf", {"_job": "job-one"}, env=env, output="")
    assert first.returncode == 0, first.log
    names = files(out / "cpf")
    assert len(names) == 2
    assert "latest.csv" in names
    run1 = out / "cpf" / next(n for n in names if n != "latest.csv")
    assert run1.name.endswith("_jobone.csv")
    assert (out / "cpf" / "latest.csv").read_bytes() == run1.read_bytes()
    assert "latest:" in first.log

    second = crawl("cpf", {"max_records": "10"}, env=env, output="")
    assert second.returncode == 0, second.log
    names = files(out / "cpf")
    assert len(names) == 3  # two runs, never overwritten, and latest.csv
    newest = out / "cpf" / max(n for n in names if n != "latest.csv")
    assert newest != run1
    assert (out / "cpf" / "latest.csv").samefile(newest)

    api.config.truncate_exports, api.config.truncate_mode = 100, "clean"
    failed = crawl("cpf", env={**env, "CPF_PARTITION_ATTEMPTS": "1"}, output="")
    assert failed.returncode == 1
    assert (out / "cpf" / "latest.csv").samefile(newest)
    assert not any(n.endswith(".incomplete.csv") for n in files(out / "cpf")), files(out / "cpf")


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
    assert len(names) == 1
    assert names[0].endswith(".incomplete.csv")
    assert "set aside:" in result.log


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "no output: give -O file.csv, or set CPFFT_OUTPUT_DIR"),
        ({"CPFFT_OUTPUT_DIR": "relative/dir"}, "must be an absolute directory"),
    ],
)
def test_no_output_is_an_error(crawl, env, message):
    result = crawl("cpf", env=env, output="")
    assert result.returncode == 2
    assert message in result.stderr
