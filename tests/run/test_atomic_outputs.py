"""An output is written whole or not at all: an interrupted or incomplete run never
touches the previous file, and keeps its own rows under a name that says what they are.

Before the change, ``scrapy crawl cpf -O good.csv`` stopped with Ctrl-C after a few
seconds left a 3 995-row ``good.csv`` in place of the previous 20 000-row one, without
a descriptor, and the warehouse then loaded it with exit 0.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.run.test_resume import wait_for_rows, whole_csv
from tests.support.crawling import clean_env, ft_env

pytestmark = pytest.mark.crawl


def interrupted(env: dict[str, str], cwd: Path, *options: str) -> tuple[int, str]:
    """A run to good.csv stopped with SIGINT once it has written some rows."""
    cmd = [sys.executable, "-m", "scrapy", "crawl", "cpf", *options]
    with (cwd / "run.log").open("w") as log:
        proc = subprocess.Popen(cmd, cwd=cwd, env=clean_env(env), stdout=subprocess.DEVNULL,
                                stderr=log)  # fmt: skip
    wait_for_rows(cwd / "good.incomplete.csv", 200_000, proc)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=120)
    return proc.returncode, (cwd / "run.log").read_text()


@pytest.mark.parametrize("option", ["-O", "-o"])
def test_ctrl_c_leaves_the_previous_file_and_its_descriptor_byte_for_byte(
    ods, crawl, tmp_path, option
):
    api = ods(rows=4000, latency_ms=150)
    env = {"CPF_API_URL": api.url, "CPF_PARTITION_ROWS": "400"}
    first = crawl("cpf", env=env, output="good.csv")
    assert first.returncode == 0, first.log
    good = (tmp_path / "good.csv").read_bytes()
    descriptor = tmp_path / "good.csv.datapackage.json"
    described = descriptor.read_bytes()
    if option == "-o":  # -o appends: a copy of the file takes the rows, not the file
        env = {**env, "CPFFT_CSV_DELIMITER": ","}

    code, log = interrupted(env, tmp_path, option, "good.csv")

    assert code == 1, log
    assert "Traceback" not in log
    assert (tmp_path / "good.csv").read_bytes() == good
    assert descriptor.read_bytes() == described
    kept = tmp_path / "good.incomplete.csv"
    rows = whole_csv(kept)
    if option == "-o":  # the previous rows, then this run's
        assert len(rows) > 4000
    else:
        assert 0 < len(rows) < 4000
    package = json.loads((tmp_path / "good.incomplete.csv.datapackage.json").read_text())
    assert package["cpfft"]["outcome"] == "incomplete"
    assert package["cpfft"]["rows"] == len(rows)
    lines = log.splitlines()
    assert any(line.startswith("  rows written:") and "→ good.incomplete.csv" in line
               for line in lines), log  # fmt: skip
    assert "  kept:               good.incomplete.csv (good.csv unchanged)" in lines
    assert any(line.startswith("  resume:             run again with -s JOBDIR=") for line in lines)


def test_the_warehouse_refuses_an_incomplete_runs_rows(ods, ft, crawl, tmp_path):
    api = ods(rows=300)
    env = {"CPF_API_URL": api.url}
    stopped = crawl("cpf", env=env, settings={"CLOSESPIDER_ITEMCOUNT": "5"}, output="f.csv")
    assert stopped.returncode == 1
    assert stopped.output.name == "f.incomplete.csv"
    assert not (tmp_path / "f.csv").exists()  # no previous file: still none
    offres = crawl("offres", env=ft_env(ft(offers=30)), output="o.csv")
    assert offres.returncode == 0, offres.log
    load = subprocess.run(
        [sys.executable, "-m", "scrapy", "entrepot", "w.duckdb", "--formations",
         "f.incomplete.csv", "--offres", "o.csv"],
        cwd=tmp_path, env=clean_env(env), capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    assert load.returncode != 0
    assert "says the run was not complete ('incomplete')" in load.stderr, load.stderr
    assert "Traceback" not in load.stderr
    assert not (tmp_path / "w.duckdb").exists()


def test_a_complete_run_replaces_the_file_and_leaves_no_working_file(ods, crawl, tmp_path):
    api = ods(rows=300)
    (tmp_path / "f.csv").write_bytes(b"yesterday")
    (tmp_path / "f.incomplete.csv").write_bytes(b"an older stopped run")
    result = crawl("cpf", env={"CPF_API_URL": api.url}, output="f.csv")
    assert result.returncode == 0, result.log
    assert len(result.dicts()) == 300
    assert not (tmp_path / "f.incomplete.csv").exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("f.")) == [
        "f.csv",
        "f.csv.datapackage.json",
    ]
