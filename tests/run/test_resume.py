"""Interrupted runs: whole rows only in the file, and resumption with JOBDIR."""

from __future__ import annotations

import csv
import io
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cpfft.errors import ConfigurationError
from cpfft.exporters import CsvExporter
from cpfft.run.resume import Journal, repair_tail, whole_rows_end
from tests.fakeapi.cpfdata import INDEX
from tests.fakeapi.francetravail import CLIENT_SECRET
from tests.support.crawling import BOM, clean_env, ft_env

# ------------------------------------------------------------------ whole rows


@pytest.mark.parametrize(
    ("data", "end"),
    [
        (b"a,b\r\n1,2\r\n", 10),
        (b"a,b\r\n1,2\r\n3,", 10),  # torn row
        (b'a,b\r\n1,"x\r\ny"\r\n2,"line\r\n', 15),  # torn inside a quoted line break
        (b'a,b\r\n1,"say ""hi"""\r\n', 21),  # doubled quotes
        (b"a,b", 0),
    ],
)
def test_whole_rows_end(data, end):
    assert whole_rows_end(data) == end


def test_repair_tail_cuts_back_to_the_last_whole_row(tmp_path):
    path = tmp_path / "out.csv"
    path.write_bytes(BOM + b'id,text\r\n1,"a\r\nb"\r\n2,"torn')
    assert repair_tail(path) == len(b'2,"torn')
    assert path.read_bytes() == BOM + b'id,text\r\n1,"a\r\nb"\r\n'
    assert repair_tail(path) == 0


class RecordingFile(io.BytesIO):
    """A file that remembers its size after every write it receives."""

    def __init__(self):
        super().__init__()
        self.sizes: list[int] = []

    def write(self, data):
        written = super().write(data)
        self.sizes.append(len(self.getvalue()))
        return written


def test_exporter_hands_the_file_whole_rows_only():
    file = RecordingFile()
    # An 8 KiB buffered file, as Scrapy's file storage hands it to the exporter.
    buffered = io.BufferedWriter(file, buffer_size=8192)
    exporter = CsvExporter(buffered, fields_to_export=["id", "text"], encoding="utf-8-sig")
    exporter.start_exporting()
    for n in range(3000):
        exporter.export_item({"id": str(n), "text": f'line one\r\nline "{n}", two ' * 5})
    exporter.finish_exporting()
    buffered.flush()
    data = file.getvalue()
    # Whatever write a kill interrupts after, the file holds whole rows only.
    assert len(file.sizes) > 3  # written in several batches, not once at the end
    for size in file.sizes:
        assert whole_rows_end(data[:size]) == size
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert len(rows) == 3001


# ------------------------------------------------------------------ interrupted crawls


def start(spider: str, env: dict[str, str], cwd: Path, jobdir: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "scrapy", "crawl", spider, "-O", "out.csv",
           "-s", f"JOBDIR={jobdir}", "-s", "LOG_LEVEL=DEBUG"]  # fmt: skip
    with (cwd / "first.log").open("w") as log:  # a pipe nobody reads would block the crawl
        return subprocess.Popen(cmd, cwd=cwd, env=clean_env(env), stdout=subprocess.DEVNULL,
                                stderr=log)  # fmt: skip


def wait_for_rows(path: Path, size: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.stat().st_size > size:
            return
        assert proc.poll() is None, "the crawl ended before it could be interrupted"
        time.sleep(0.05)
    raise AssertionError("no rows written in time")


def whole_csv(path: Path, killed: bool = False) -> list[dict[str, str]]:
    """The rows of a file cpfft wrote; every line a whole row. A process killed with
    SIGKILL inside a large write() can leave that write cut short by the kernel (it
    stops copying pages on a fatal signal): only then may the file end with a torn
    last row, which the resumed run must cut (checked by the caller)."""
    data = path.read_bytes()
    assert data.startswith(BOM)
    assert data.count(BOM) == 1
    end = whole_rows_end(data)
    if killed:
        assert b"\n" not in data[end:], "a torn row is not the last one"
        data = data[:end]
    assert whole_rows_end(data) == len(data), "the file ends with a torn row"
    rows = list(csv.reader(io.StringIO(data[3:].decode("utf-8"), newline="")))
    assert all(len(r) == len(rows[0]) for r in rows), "a line is not a whole row"
    assert rows[0][0] in ("Intitulé", "date_extract"), "one header, first"
    assert sum(r == rows[0] for r in rows) == 1, "the header was written twice"
    return [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


def interrupt_then_resume(spider, env, tmp_path, how, after_bytes):
    jobdir = tmp_path / "job"
    out = tmp_path / "out.csv"
    working = tmp_path / "out.incomplete.csv"  # the rows, until the run is complete
    proc = start(spider, env, tmp_path, jobdir)
    wait_for_rows(working, after_bytes, proc)
    proc.send_signal(how)
    proc.wait(timeout=120)
    first_log = (tmp_path / "first.log").read_text()
    assert proc.returncode != 0, "an interrupted run must not exit 0"
    assert "Traceback" not in first_log
    assert not out.exists(), "an interrupted run's rows are never under the output's name"
    torn = whole_rows_end(working.read_bytes()) < working.stat().st_size
    assert not torn or how == signal.SIGKILL, "a run stopped cleanly left a torn row"
    interrupted = whole_csv(working, killed=how == signal.SIGKILL)
    resumed = subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", spider, "-O", "out.csv", "-s", f"JOBDIR={jobdir}",
         "-s", "LOG_LEVEL=DEBUG"],
        cwd=tmp_path, env=clean_env(env), capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "Resuming from JOBDIR" in resumed.stderr
    assert not working.exists(), "the complete run renamed its rows onto the output"
    if torn:  # the resumed run cut it, and said so
        assert "a torn last row of" in resumed.stderr
    return interrupted, whole_csv(out), first_log + resumed.stderr, jobdir


@pytest.mark.crawl
@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_offres_interrupted_then_resumed(how, ft, tmp_path):
    api = ft(offers=3500, heavy_share=0.5)
    env = ft_env(api, FT_MAX_RPS="6")
    interrupted, final, logs, jobdir = interrupt_then_resume("offres", env, tmp_path, how, 200_000)
    ids = [r["id"] for r in final]
    assert len(ids) == len(set(ids)), "an offer was written twice"
    assert set(ids) == {o.data["id"] for o in api.dataset.offers}
    assert 0 < len(interrupted) < len(ids)
    assert [r["id"] for r in interrupted] == ids[: len(interrupted)]  # kept, then appended
    # Complete, nothing withdrawn: the rows the first attempt wrote count in the summary.
    assert "Run summary (offres): COMPLETE" in logs
    assert "withdrawn meanwhile" not in logs
    # Neither the secret nor any token went to JOBDIR.
    secrets = [CLIENT_SECRET, *api.tokens]
    for path in jobdir.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert not any(s.encode() in content for s in secrets), path
    assert not any(s in logs for s in secrets)


@pytest.mark.crawl
def test_cpf_killed_then_resumed(ods, tmp_path):
    api = ods(rows=6000, latency_ms=150)
    env = {"CPF_API_URL": api.url, "CPF_PARTITION_ROWS": "400"}
    interrupted, final, logs, _ = interrupt_then_resume("cpf", env, tmp_path, signal.SIGKILL,
                                                        4_000_000)  # fmt: skip
    skipped = re.search(r"Resuming: (\d+) of (\d+) partitions are complete", logs)
    assert skipped, "the resumed run must not fetch complete partitions again"
    # Some partitions hold groups split down to the Formacode (the rows without a place of
    # the biggest NSF code): the resumed run recognises those as complete too.
    assert any("code_formacode_1" in u for u in api.requests if "group_by=" in u)
    assert 0 < int(skipped.group(1)) < int(skipped.group(2))
    i, j = INDEX["numero_formation"], INDEX["code_departement"]
    truth = {(r[i], r[j] or "") for r in api.dataset.rows if r[i]}
    keys = [(r["numero_formation"], r["code_departement"]) for r in final]
    assert len(keys) == len(set(keys)), "a row was written twice"
    assert set(keys) == truth
    assert 0 < len(interrupted) < len(keys)


@pytest.mark.crawl
@pytest.mark.parametrize("output", ["out.xlsx", "out.json", "out.xml"])
def test_jobdir_with_an_output_that_cannot_be_resumed_is_refused(ods, crawl, tmp_path, output):
    """Only a CSV can be cut back to its last whole row and appended to: another format
    with JOBDIR is refused before anything runs, and an existing file is left as it was."""
    api = ods(rows=300)
    existing = b"PK\x03\x04 a previous export\n with a newline byte"
    (tmp_path / output).write_bytes(existing)
    result = crawl("cpf", env={"CPF_API_URL": api.url}, output=output,
                   settings={"JOBDIR": str(tmp_path / "job")})  # fmt: skip
    assert result.returncode == 2
    assert result.log.strip().splitlines() == [
        (
            f"cpfft: error: -s JOBDIR: resuming works with a CSV output only, not "
            f"{output.rsplit('.', 1)[1]} (-O file.csv); run without JOBDIR for this format"
        )
    ]
    assert (tmp_path / output).read_bytes() == existing
    assert api.stats()["calls"] == 0


@pytest.mark.crawl
def test_a_jobdir_of_another_run_is_refused(ods, crawl, tmp_path):
    api = ods(rows=300)
    jobdir = tmp_path / "job"
    jobdir.mkdir()
    (jobdir / "cpfft-run.json").write_text(
        '{"spider": "cpf", "arguments": {"q": "python"}, "output": "/elsewhere.csv",'
        ' "status": "running"}'
    )
    result = crawl("cpf", env={"CPF_API_URL": api.url}, settings={"JOBDIR": str(jobdir)})
    assert result.returncode == 2
    lines = result.log.strip().splitlines()
    assert len(lines) == 1
    # What was recorded, what is given, and the fix, on one line.
    assert lines[0] == (
        f"cpfft: error: JOBDIR {jobdir} holds an unfinished run of another command (other "
        f"arguments and output file): recorded cpf -a q=python → /elsewhere.csv, given cpf → "
        f"{tmp_path / 'out.csv'}. Resume it with the recorded command, or use another JOBDIR"
    )
    assert api.stats()["calls"] == 0


def test_a_refused_jobdir_shows_odd_recorded_values_on_one_line(tmp_path):
    journal = Journal(tmp_path)
    journal.data = {"spider": "offres", "arguments": {"motsCles": "a\nb", "region": "Île de F"},
                    "output": "/data/mes offres.csv", "status": "running"}  # fmt: skip
    with pytest.raises(ConfigurationError) as exc:
        journal.begin("cpf", {}, "/data/out.csv")
    assert str(exc.value) == (
        f"JOBDIR {tmp_path} holds an unfinished run of another command (other spider, "
        "arguments and output file): recorded offres -a 'motsCles=a\\nb' -a 'region=Île de F' "
        "→ '/data/mes offres.csv', given cpf → /data/out.csv. Resume it with the recorded "
        "command, or use another JOBDIR"
    )


@pytest.mark.crawl
def test_a_finished_jobdir_starts_afresh(ods, crawl, tmp_path):
    api = ods(rows=300)
    settings = {"JOBDIR": str(tmp_path / "job")}
    first = crawl("cpf", env={"CPF_API_URL": api.url}, settings=settings)
    assert first.returncode == 0, first.log
    # JOBDIR holds cpfft's journal only (the README says so): no requests.seen, no spider.state.
    assert sorted(p.name for p in (tmp_path / "job").iterdir()) == ["cpfft-run.json"]
    again = crawl("cpf", env={"CPF_API_URL": api.url}, settings=settings)
    assert again.returncode == 0, again.log
    assert "Resuming" not in again.log
    assert len(whole_csv(again.output)) == len(first.dicts())
    assert sorted(p.name for p in (tmp_path / "job").iterdir()) == ["cpfft-run.json"]
