"""Scheduled offers runs: the query state, ``-a depuis=dernier`` and the changes file."""

from __future__ import annotations

import csv
import io
import sqlite3
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from cpfft.offres.incremental import CHANGES_HEADERS, SCHEMA, QueryState, StateError
from cpfft.offres.search import SEARCH_PARAMS, api_query
from cpfft.params import parse_arguments
from tests.support.crawling import BOM, ft_env

# ------------------------------------------------------------------ the state alone


def offer(offer_id, created="2026-11-01T10:00:00.000Z", updated=None):
    return SimpleNamespace(
        id=offer_id, date_publication=created, date_actualisation=updated or created
    )


def read_changes(path: Path) -> list[dict[str, str]]:
    data = path.read_bytes()
    assert data.startswith(BOM)
    rows = list(csv.reader(io.StringIO(data[3:].decode(), newline="")))
    assert rows[0] == CHANGES_HEADERS
    return [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


def changed(path: Path) -> dict[str, set[str]]:
    by_kind: dict[str, set[str]] = {}
    for row in read_changes(path):
        by_kind.setdefault(row["changement"], set()).add(row["id"])
    return by_kind


def run_state(folder, offers, t0, incremental=False, name="run.csv", query=None):
    state = QueryState(folder, "http://127.0.0.1:1", query or {"motsCles": "python"})
    state.open()
    for o in offers:
        state.record(o)
    csv_path = folder / name
    csv_path.write_text("x")
    changes = state.commit(csv_path, t0, incremental, ",")
    return state, changes


def test_full_runs_report_added_updated_and_withdrawn(tmp_path):
    _, first = run_state(tmp_path, [offer("A"), offer("B"), offer("C")], "2026-11-01T00:00:00Z",
                         name="1.csv")  # fmt: skip
    assert (first.added, first.updated, first.withdrawn) == (3, 0, 0)
    assert changed(tmp_path / "1.changes.csv") == {"ajoutée": {"A", "B", "C"}}

    later = [offer("A"), offer("B", updated="2026-11-02T08:00:00.000Z"), offer("D")]
    state, second = run_state(tmp_path, later, "2026-11-02T00:00:00Z", name="2.csv")
    assert (second.added, second.updated, second.withdrawn) == (1, 1, 1)
    rows = {r["id"]: r for r in read_changes(tmp_path / "2.changes.csv")}
    assert rows["D"]["changement"] == "ajoutée"
    assert rows["B"]["changement"] == "modifiée"
    assert rows["B"]["date_actualisation"] == "2026-11-02T08:00:00.000Z"
    assert rows["B"]["date_actualisation_precedente"] == "2026-11-01T10:00:00.000Z"
    assert rows["C"]["changement"] == "retirée"
    assert rows["C"]["URL"].endswith("/detail/C")
    assert "A" not in rows
    assert state.path.parent.name == ".state"


def test_incremental_run_adds_to_the_snapshot_and_leaves_withdrawals_to_full_runs(tmp_path):
    run_state(tmp_path, [offer("A"), offer("B")], "2026-11-01T00:00:00Z", name="1.csv")
    _, inc = run_state(tmp_path, [offer("E")], "2026-11-02T00:00:00Z", True, name="2.csv")
    assert (inc.added, inc.updated, inc.withdrawn) == (1, 0, None)
    assert "withdrawn: not checked" in inc.describe()
    # The next full run compares with A, B and E: A is gone.
    _, full = run_state(tmp_path, [offer("B"), offer("E")], "2026-11-03T00:00:00Z", name="3.csv")
    assert changed(tmp_path / "3.changes.csv") == {"retirée": {"A"}}
    assert (full.added, full.withdrawn) == (0, 1)


def test_state_is_per_query_and_remembers_the_last_t0(tmp_path):
    run_state(tmp_path, [offer("A")], "2026-11-01T00:00:00Z", name="1.csv")
    other = QueryState(tmp_path, "http://127.0.0.1:1", {"motsCles": "java"})
    other.open()
    assert other.last_t0 is None
    other.close()
    same = QueryState(tmp_path, "http://127.0.0.1:1", {"motsCles": "python"})
    same.open()
    assert same.last_t0 == "2026-11-01T00:00:00Z"
    assert same.unchanged("A", "2026-11-01T10:00:00.000Z")
    assert not same.unchanged("A", "2026-11-05T10:00:00.000Z")
    assert not same.unchanged("Z", "2026-11-01T10:00:00.000Z")
    same.close()


def test_uncommitted_run_changes_nothing_and_a_second_run_is_refused(tmp_path):
    run_state(tmp_path, [offer("A")], "2026-11-01T00:00:00Z", name="1.csv")
    running = QueryState(tmp_path, "http://127.0.0.1:1", {"motsCles": "python"})
    running.open()
    running.record(offer("B"))
    second = QueryState(tmp_path, "http://127.0.0.1:1", {"motsCles": "python"})
    with pytest.raises(StateError, match="another run of the same query"):
        second.open()
    running.close()  # a failed run: nothing kept
    _, changes = run_state(tmp_path, [offer("A")], "2026-11-02T00:00:00Z", name="2.csv")
    assert (changes.added, changes.updated, changes.withdrawn) == (0, 0, 0)


def test_only_whole_runs_with_an_output_folder_keep_a_state(tmp_path):
    args = parse_arguments(SEARCH_PARAMS, {"motsCles": "python"})
    output = str(tmp_path / "offres" / "20261201T000000Z.csv")
    state = QueryState.of_run(output, "http://127.0.0.1:9", args)
    assert state is not None
    assert state.path.parent == tmp_path / "offres" / ".state"
    assert state.query == {"api": "http://127.0.0.1:9", "query": api_query(args)}
    assert QueryState.of_run(None, "http://127.0.0.1:9", args) is None
    for cut_short in ({"max_offers": "10"}, {"publieeDepuis": "1"}):
        short = parse_arguments(SEARCH_PARAMS, {"motsCles": "python", **cut_short})
        assert QueryState.of_run(output, "http://127.0.0.1:9", short) is None


def test_damaged_state_is_a_one_line_error(tmp_path):
    state = QueryState(tmp_path, "http://127.0.0.1:1", {})
    state.path.parent.mkdir(parents=True)
    state.path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StateError, match="delete it to start afresh") as exc:
        state.open()
    assert "\n" not in str(exc.value)


# ------------------------------------------------------------------ whole runs


def evolve(api, **wanted):
    """The emulator's day of changes (FtDataset.evolve), as sets of ids."""
    changes = api.dataset.evolve(**wanted)
    # A run's window ends one second before it starts: let the new offers fall inside it.
    time.sleep(2)
    return {kind: set(ids) for kind, ids in changes.items()}


def run_files(folder: Path) -> list[str]:
    # The runs' CSV files (not their .datapackage.json descriptors).
    return sorted(
        p.name for p in folder.iterdir() if p.name[0].isdigit() and p.name.endswith(".csv")
    )


def csv_ids(path: Path) -> list[str]:
    data = path.read_bytes()
    assert data.startswith(BOM)
    rows = list(csv.DictReader(io.StringIO(data[3:].decode(), newline="")))
    return [r["id"] for r in rows]


@pytest.mark.crawl
def test_daily_cycle_full_then_incremental_then_full(ft, crawl, tmp_path):
    api = ft(offers=1500)
    out = tmp_path / "exports"
    env = ft_env(api, CPFFT_OUTPUT_DIR=str(out), FT_INCREMENTAL_OVERLAP="0")
    folder = out / "offres"

    first = crawl("offres", {"depuis": "dernier"}, env=env, output="")
    assert first.returncode == 0, first.log
    assert "no complete run of this query yet" in first.log
    (run1,) = [n for n in run_files(folder) if not n.endswith(".changes.csv")]
    assert ".depuis." not in run1  # a whole extraction, named like one
    everything = {o.data["id"] for o in api.dataset.offers}
    assert set(csv_ids(folder / run1)) == everything
    assert (folder / "latest.csv").samefile(folder / run1)  # the fallback was a whole extraction
    assert changed(folder / "latest.changes.csv") == {"ajoutée": everything}

    day = evolve(api, publish=5, withdraw=7, update=4)
    before = len([c for c in api.calls if c["path"].endswith("/search")])
    second = crawl("offres", {"depuis": "dernier"}, env=env, output="")
    assert second.returncode == 0, second.log
    assert "-a depuis=dernier: offers created since" in second.log
    run2 = max(n for n in run_files(folder) if not n.endswith(".changes.csv"))
    assert run2.endswith(".depuis.csv")
    written = csv_ids(folder / run2)
    assert sorted(written) == sorted(day["published"])
    assert changed(folder / "latest.changes.csv") == {"ajoutée": day["published"]}
    assert "withdrawn: not checked (incremental run)" in second.log
    assert (folder / "latest.csv").samefile(folder / run1)  # a delta never becomes latest.csv
    searches = [c for c in api.calls if c["path"].endswith("/search")]
    assert before <= 11 + 7  # the first run: ≤ 11 windows, ≤ 7 calibration calls
    # The second run: its whole window (the overlap and the 5 new offers) in one page,
    # which needs no calibration.
    assert len(searches) - before == 1

    third = crawl("offres", env=env, output="")
    assert third.returncode == 0, third.log
    run3 = max(n for n in run_files(folder) if not n.endswith(".changes.csv"))
    assert set(csv_ids(folder / run3)) == {o.data["id"] for o in api.dataset.offers}
    assert (folder / "latest.csv").samefile(folder / run3)
    assert changed(folder / "latest.changes.csv") == {
        "retirée": day["withdrawn"],
        "modifiée": day["updated"],
    }
    assert "0 added, 4 updated, withdrawn: 7" in third.log


@pytest.mark.crawl
def test_overlap_skips_offers_already_known(ft, crawl, tmp_path):
    api = ft(offers=800)
    evolve(api, publish=3)  # created just now: inside the next run's overlap
    env = ft_env(api, CPFFT_OUTPUT_DIR=str(tmp_path / "exports"))
    assert crawl("offres", {"departement": "75"}, env=env, output="").returncode == 0
    new = evolve(api, publish=40)["published"]
    new_in_75 = {
        o.data["id"] for o in api.dataset.offers if o.data["id"] in new and o.departement == "75"
    }
    result = crawl("offres", {"departement": "75", "depuis": "dernier"}, env=env, output="")
    assert result.returncode == 0, result.log
    folder = tmp_path / "exports" / "offres" / "departement=75"  # each query its own folder
    run = max(n for n in run_files(folder) if n.endswith(".depuis.csv"))
    assert set(csv_ids(folder / run)) == new_in_75
    known = sum(1 for o in api.dataset.offers[800:803] if o.departement == "75")
    if known:
        assert f"already known:      {known} offers" in result.log


@pytest.mark.crawl
def test_failed_run_leaves_the_state_untouched(ft, crawl, tmp_path):
    api = ft(offers=600)
    env = ft_env(api, CPFFT_OUTPUT_DIR=str(tmp_path / "exports"), FT_INCREMENTAL_OVERLAP="0")
    assert crawl("offres", env=env, output="").returncode == 0
    new = evolve(api, publish=3)["published"]
    api.config.fail_rate_5xx = 1.0
    failed = crawl(
        "offres", {"depuis": "dernier"}, env={**env, "CPFFT_RETRY_TIMES": "0"}, output=""
    )
    assert failed.returncode == 1
    assert "changes:" not in failed.log
    api.config.fail_rate_5xx = 0.0
    again = crawl("offres", {"depuis": "dernier"}, env=env, output="")
    assert again.returncode == 0, again.log
    folder = tmp_path / "exports" / "offres"
    run = max(n for n in run_files(folder) if n.endswith(".depuis.csv"))
    assert set(csv_ids(folder / run)) == new
    assert not any(n.endswith(".changes.csv") and "incomplete" in n for n in run_files(folder))


@pytest.mark.crawl
def test_a_second_run_of_the_same_query_is_refused(ft, crawl, tmp_path):
    api = ft(offers=300)
    out = tmp_path / "exports"
    holder = QueryState(out / "offres", api.url, {})
    holder.open()
    try:
        result = crawl("offres", env=ft_env(api, CPFFT_OUTPUT_DIR=str(out)), output="")
    finally:
        holder.close()
    assert result.returncode == 1
    assert "another run of the same query" in result.log
    assert "Traceback" not in result.log
    assert not (out / "offres" / "latest.csv").exists()


@pytest.mark.parametrize(
    ("args", "env", "output", "message"),
    [
        (
            {"depuis": "hier"},
            {},
            "",
            "argument -a depuis: unknown value 'hier'. Valid values: dernier",
        ),
        ({"depuis": "dernier"}, {"CPFFT_OUTPUT_DIR": ""}, "out.csv", "needs CPFFT_OUTPUT_DIR"),
        ({"depuis": "dernier"}, {}, "out.csv", "drop -O/-o"),
        ({"depuis": "dernier", "max_offers": "10"}, {}, "", "cannot go with -a max_offers"),
        ({"depuis": "dernier", "publieeDepuis": "1"}, {}, "", "cannot go with -a publieeDepuis"),
        (
            {"depuis": "dernier", "minCreationDate": "2026-01-01", "maxCreationDate": "2026-02-01"},
            {},
            "",
            "cannot go with -a minCreationDate",
        ),
        ({}, {"FT_INCREMENTAL_OVERLAP": "une heure"}, "", "setting FT_INCREMENTAL_OVERLAP"),
    ],
)
def test_bad_incremental_configuration_is_one_line(args, env, output, message, crawl, tmp_path):
    environment = {
        "FT_CLIENT_ID": "x",
        "FT_CLIENT_SECRET": "y",
        "CPFFT_OUTPUT_DIR": str(tmp_path / "o"),
    }
    environment.update(env)
    result = crawl("offres", args, env=environment, output=output)
    assert result.returncode == 2, result.log
    lines = result.log.strip().splitlines()
    assert len(lines) == 1
    assert message in lines[0]


def test_whether_a_query_had_a_complete_run_is_read_without_touching_its_state(tmp_path):
    """What names a depuis=dernier run's file before it starts (``….depuis.csv`` or not)."""
    state = QueryState(tmp_path, "http://127.0.0.1:9", {"motsCles": "python"})
    assert not state.has_complete_run()  # no state file
    assert not state.path.exists()  # and none made
    state.path.parent.mkdir(parents=True)
    sqlite3.connect(state.path).close()
    assert not state.has_complete_run()  # an empty database: no table yet
    with sqlite3.connect(state.path) as db:
        db.executescript(SCHEMA)
    assert not state.has_complete_run()  # tables, no bound
    with sqlite3.connect(state.path) as db:
        db.execute("INSERT INTO meta VALUES ('t0', '\"2026-12-07T04:00:00Z\"')")
    assert state.has_complete_run()
    state.path.write_bytes(b"not a database" * 100)
    assert state.has_complete_run()  # damaged: the run itself says so (StateError at open)
