"""Status records and the monitoring verdict (cpfft.run.status), without Scrapy."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cpfft.run.status import (
    COMPLETE,
    FAILED,
    INCOMPLETE,
    RUNNING,
    RunRecord,
    age_text,
    alert,
    parse_duration,
    read_records,
    record_file,
    write_record,
)

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
DAY = timedelta(hours=26)


def run(hours_ago: float, status: str = COMPLETE, **fields) -> RunRecord:
    started = (NOW - timedelta(hours=hours_ago)).isoformat(timespec="seconds")
    return RunRecord(**{"spider": "cpf", "query": "cpf", **fields}, started=started, status=status)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("26h", 93600), ("90min", 5400), ("90m", 5400), ("2j", 172800), ("2d", 172800),
     ("1h30m", 5400), ("45s", 45), ("1,5h", 5400), (" 26 h ", 93600)],
)  # fmt: skip
def test_durations(text, seconds):
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "26", "h", "0h", "26 heures", "-1h", "1h-"])
def test_unreadable_durations(text):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_ages_in_french():
    assert age_text(timedelta(seconds=40)) == "40 s"
    assert age_text(timedelta(minutes=5, seconds=3)) == "5 min"
    assert age_text(timedelta(hours=3, minutes=5)) == "3 h 05 min"
    assert age_text(timedelta(days=2, hours=4, minutes=59)) == "2 j 4 h"
    assert age_text(timedelta(seconds=-3)) == "0 s"  # a clock a little ahead


def test_a_recent_complete_run_is_fine():
    assert alert([run(30, FAILED, cause="x"), run(2)], NOW, DAY) is None


def test_a_stale_complete_run_alerts():
    assert alert([run(27)], NOW, DAY) == (
        "dernière exécution complète il y a 1 j 3 h, plus que 1 j 2 h (--max-age)"
    )


@pytest.mark.parametrize("status", [INCOMPLETE, FAILED])
def test_a_newest_run_that_is_not_complete_alerts_even_after_a_complete_one(status):
    runs = [run(5), run(1, status, cause="quota exhausted")]
    assert alert(runs, NOW, DAY) == (
        f"dernière exécution {status} (2026-12-07 11:00 UTC) : quota exhausted"
    )


def test_a_run_in_progress_is_judged_by_the_one_before():
    assert alert([run(3), run(0.1, RUNNING)], NOW, DAY) is None
    assert alert([run(3, FAILED, cause="x"), run(0.1, RUNNING)], NOW, DAY) is not None
    assert alert([run(0.1, RUNNING)], NOW, DAY) is None  # the very first run, going on


def test_a_run_still_going_after_the_maximum_age_alerts():
    message = alert([run(40), run(27, RUNNING)], NOW, DAY)
    assert message == (
        "en cours depuis 1 j 3 h, plus que 1 j 2 h : arrêtée sans finir ? (voir son journal)"
    )


def test_a_refused_run_alerts_until_it_is_older_than_the_maximum_age():
    refused = run(1, FAILED, refused=True, exit_code=2, cause="argument -a them: unknown")
    assert alert([refused], NOW, DAY) == (
        "exécution refusée avant son début (code 2) : argument -a them: unknown"
    )
    old = run(30, FAILED, refused=True, exit_code=2, cause="argument -a them: unknown")
    assert alert([old], NOW, DAY) is None


def test_the_record_sits_beside_the_run_file():
    folder = Path("/x/offres/motsCles=python")
    stamp = "20261207T050001.123Z_job-1"
    assert record_file(folder / f"{stamp}.csv") == folder / f"{stamp}.run.json"
    assert record_file(folder / f"{stamp}.depuis.csv") == folder / f"{stamp}.depuis.run.json"


def test_records_are_read_by_query_oldest_first_and_bad_ones_named(tmp_path):
    (tmp_path / "cpf").mkdir()
    (tmp_path / "offres" / "q=1" / ".state").mkdir(parents=True)
    write_record(tmp_path / "cpf" / "b.run.json", run(1))
    write_record(tmp_path / "cpf" / "a.run.json", run(5, FAILED, cause="x"))
    write_record(tmp_path / "offres" / "q=1" / "a.run.json", run(2, query="offres/q=1"))
    write_record(tmp_path / "offres" / "q=1" / ".state" / "x.run.json", run(2, query="hidden"))
    (tmp_path / "cpf" / "broken.run.json").write_text("{", encoding="utf-8")
    (tmp_path / "cpf" / "dateless.run.json").write_text(
        json.dumps({"spider": "cpf", "query": "cpf", "started": "hier"}), encoding="utf-8"
    )
    queries, unreadable = read_records(tmp_path)
    assert sorted(queries) == ["cpf", "offres/q=1"]
    assert [r.status for r in queries["cpf"]] == [FAILED, COMPLETE]
    assert [Path(u.split(":")[0]).name for u in unreadable] == [
        "broken.run.json",
        "dateless.run.json",
    ]


def test_a_record_is_replaced_whole(tmp_path):
    path = tmp_path / "r.run.json"
    write_record(path, run(1, RUNNING))
    write_record(path, run(1, COMPLETE, rows=40))
    assert json.loads(path.read_text(encoding="utf-8"))["status"] == COMPLETE
    assert [p.name for p in tmp_path.iterdir()] == ["r.run.json"]  # no temporary file left
