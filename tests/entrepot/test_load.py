"""``scrapy entrepot``: typed tables, refused inputs (the previous warehouse untouched), the
daily mirror of the offers, the sources table, and CPFFT_OUTPUT_DIR's latest runs."""

# ruff: noqa: S608 - SQL on the test's own tables and files
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import duckdb
import pytest

from cpfft.items import Formation, Offre, field_types
from cpfft.offres.incremental import CHANGES_HEADERS
from cpfft.sources import SOURCES
from tests.entrepot.files import entrepot, formation, offer, write_changes, write_csv

FORMATIONS = [
    formation("F1", "75", code_rome_1="M1805", nom_of="=HYPERLINK(1)", nb_action=3,
              frais_ttc_tot_mean=1200.5, contenu_formation="ligne 1\nligne 2"),
    formation("F2", "2A", code_rome_1="M1805", nom_of="-Formation- à distance", nb_action=1),
]  # fmt: skip


def day_offers(*ids: str, title: str = "") -> list[Offre]:
    return [offer(i, intitule=f"{title}Offre {i}", departement="75", lieu="75 - Paris",
                  date_actualisation="2026-12-01T10:00:00.000Z") for i in ids]  # fmt: skip


def ids(db: Path) -> dict[str, str]:
    with duckdb.connect(str(db), read_only=True) as con:
        return dict(con.execute("SELECT id, intitule FROM offres ORDER BY id").fetchall())


@pytest.fixture
def work(tmp_path: Path) -> Path:
    write_csv(tmp_path / "formations.csv", FORMATIONS)
    write_csv(tmp_path / "offres.csv", day_offers("A", "B", "C"))
    return tmp_path


def load(work: Path, *extra: str, offres: str = "offres.csv", env=None):
    return entrepot(work, "w.duckdb", "--formations", "formations.csv", "--offres", offres,
                    *extra, env=env)  # fmt: skip


def test_tables_are_typed_and_hold_the_real_values(work):
    proc = load(work)
    assert proc.returncode == 0, proc.stderr
    with duckdb.connect(str(work / "w.duckdb"), read_only=True) as con:
        # Every field a column, but the offers' lists: those are child tables.
        scalars = [n for n, t in field_types(Offre).items() if t != "records"]
        for table, names in (("formations", list(field_types(Formation))), ("offres", scalars)):
            described = con.execute(f"DESCRIBE {table}").fetchall()
            assert [d[0] for d in described] == names
        types = {d[0]: d[1] for d in con.execute("DESCRIBE formations").fetchall()}
        assert types["code_departement"] == types["siret"] == "VARCHAR"
        assert types["nb_action"] == "BIGINT"
        assert types["frais_ttc_tot_mean"] == "DOUBLE"
        assert types["date_extract"] == "DATE"
        offer_types = {d[0]: d[1] for d in con.execute("DESCRIBE offres").fetchall()}
        assert offer_types["date_publication"] == "TIMESTAMP WITH TIME ZONE"
        rows = con.execute(
            "SELECT numero_formation, nom_of, nb_action, frais_ttc_tot_mean, contenu_formation, "
            "code_departement, CAST(date_extract AS VARCHAR) FROM formations ORDER BY 1"
        ).fetchall()
        # The CSV holds '=HYPERLINK(1) (formula guard): the warehouse the real value.
        assert rows == [
            ("F1", "=HYPERLINK(1)", 3, 1200.5, "ligne 1\nligne 2", "75", "2026-11-28"),
            ("F2", "-Formation- à distance", 1, None, None, "2A", "2026-11-28"),
        ]
        moment = con.execute(
            "SELECT epoch_ms(date_publication) FROM offres WHERE id = 'A'"
        ).fetchone()[0]
        assert moment == 1_796_025_600_000  # 2026-11-30T08:00:00Z
    assert "'=HYPERLINK" in (work / "formations.csv").read_text("utf-8-sig")


def test_a_semicolon_csv_loads_the_same(work):
    write_csv(work / "formations.csv", FORMATIONS, delimiter=";")
    write_csv(work / "offres.csv", day_offers("A"), delimiter=";")
    proc = load(work)
    assert proc.returncode == 0, proc.stderr
    with duckdb.connect(str(work / "w.duckdb"), read_only=True) as con:
        assert con.execute("SELECT nom_of FROM formations ORDER BY 1").fetchall() == [
            ("-Formation- à distance",), ("=HYPERLINK(1)",)]  # fmt: skip


def test_sources_name_each_source_its_licence_and_extraction_time(work):
    descriptor = {"cpfft": {"spider": "offres", "outcome": "complete", "rows": 3,
                            "extracted_at": "2026-12-01T04:00:00Z", "partial": False},
                  "resources": [{"path": "offres.csv"}]}  # fmt: skip
    # The name earlier versions gave a descriptor (shared by a run's outputs): still read.
    (work / "offres.datapackage.json").write_text(json.dumps(descriptor), "utf-8")
    mtime = 1_795_000_000  # 2026-11-18T10:26:40Z
    os.utime(work / "formations.csv", (mtime, mtime))
    proc = load(work)
    assert proc.returncode == 0, proc.stderr
    with duckdb.connect(str(work / "w.duckdb"), read_only=True) as con:
        rows = con.execute(
            "SELECT source, fichier, epoch(extrait_le), nb_lignes, producteur, url_source, "
            "licence, licence_url, charge_le IS NOT NULL FROM sources ORDER BY source"
        ).fetchall()
    assert rows == [
        ("formations", str(work / "formations.csv"), mtime, 2, SOURCES["formations"].producer,
         SOURCES["formations"].url, SOURCES["formations"].licence,
         SOURCES["formations"].licence_url, True),
        ("offres", str(work / "offres.csv"), 1_796_097_600, 3, SOURCES["offres"].producer,
         SOURCES["offres"].url, SOURCES["offres"].licence, SOURCES["offres"].licence_url, True),
    ]  # fmt: skip


def test_an_input_without_a_descriptor_is_loaded_with_one_line_saying_its_count_is_unchecked(
    work,
):
    descriptor = {"cpfft": {"spider": "offres", "outcome": "complete", "rows": 3},
                  "resources": [{"path": "offres.csv"}]}  # fmt: skip
    (work / "offres.csv.datapackage.json").write_text(json.dumps(descriptor), "utf-8")
    proc = load(work)
    assert proc.returncode == 0, proc.stderr
    line = (
        "attention : formations.csv n'a pas de descripteur (formations.csv.datapackage.json) : "
        "son nombre de lignes n'a pas pu être vérifié ; chargez de préférence la sortie d'une "
        "exécution complète, qui en a un"
    )
    assert proc.stderr.splitlines() == [line]


# ------------------------------------------------------------------ refused inputs


def cut_last_line(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:-7])


def cut_inside_a_quoted_field(path: Path) -> None:
    data = path.read_bytes()
    # F1's content is "ligne 1\nligne 2" (quoted, two lines): end the file after its line break.
    path.write_bytes(data[: data.index(b"ligne 1") + len("ligne 1\n")])


def wrong_row_count(path: Path) -> None:
    descriptor = {"cpfft": {"spider": "cpf", "outcome": "complete", "rows": 3},
                  "resources": [{"path": path.name}]}  # fmt: skip
    (path.parent / f"{path.name}.datapackage.json").write_text(json.dumps(descriptor), "utf-8")


def incomplete_descriptor(path: Path) -> None:
    descriptor = {"cpfft": {"spider": "cpf", "outcome": "incomplete", "rows": 2},
                  "resources": [{"path": path.name}]}  # fmt: skip
    (path.parent / f"{path.name}.datapackage.json").write_text(json.dumps(descriptor), "utf-8")


def not_cpfft(path: Path) -> None:
    path.write_text("\ufeffnom,prix\r\nA,1\r\n", "utf-8")


def not_a_number(path: Path) -> None:
    text = path.read_text("utf-8-sig").replace("1200.5", "douze")
    path.write_text("\ufeff" + text, "utf-8")


REFUSED = {
    "missing file": (lambda p: p.unlink(), "no such file"),
    "not a cpfft output": (not_cpfft, "is not a cpfft formations output"),
    "last line cut": (cut_last_line, "half-written: its last line is cut"),
    "cut inside a quoted field": (cut_inside_a_quoted_field, "half-written or damaged"),
    "row count ≠ descriptor": (wrong_row_count, "holds 2 rows but its descriptor"),
    "descriptor of an incomplete run": (incomplete_descriptor, "was not complete"),
    "a count that is not a number": (not_a_number, "column frais_ttc_tot_mean holds 1 value"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_bad_formations_file_is_refused_in_one_line_and_the_warehouse_is_untouched(work, case):
    assert load(work).returncode == 0
    before = (work / "w.duckdb").read_bytes()
    damage, message = REFUSED[case]
    damage(work / "formations.csv")
    proc = load(work)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1
    assert proc.stderr.startswith("cpfft: error: ")
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert (work / "w.duckdb").read_bytes() == before
    assert sorted(p.name for p in work.iterdir() if p.name.startswith(".")) == []
    assert ids(work / "w.duckdb") == {"A": "Offre A", "B": "Offre B", "C": "Offre C"}


def test_files_given_the_wrong_way_round_are_named(work):
    proc = entrepot(work, "w.duckdb", "--formations", "offres.csv", "--offres", "formations.csv")
    assert proc.returncode == 2
    assert "is the offres output" in proc.stderr
    assert "give it with --offres" in proc.stderr
    assert not (work / "w.duckdb").exists()


def test_a_parquet_file_not_cpfft_s_or_without_its_footer_is_refused(work):
    assert load(work).returncode == 0
    before = (work / "w.duckdb").read_bytes()
    with duckdb.connect() as con:
        con.execute(f"COPY (SELECT * FROM read_csv('{work / 'offres.csv'}', all_varchar=true)) "
                    f"TO '{work / 'o.parquet'}' (FORMAT parquet)")  # fmt: skip
    # The CSV's French headers are not the Parquet column names (field names).
    proc = load(work, offres="o.parquet")
    assert proc.returncode == 2
    assert "is not a cpfft offres output: it lacks the column(s) intitule, lieu" in proc.stderr
    data = (work / "o.parquet").read_bytes()
    (work / "o.parquet").write_bytes(data[: len(data) // 2])
    proc = load(work, offres="o.parquet")
    assert proc.returncode == 2
    assert "half-written Parquet file (no footer" in proc.stderr
    assert (work / "w.duckdb").read_bytes() == before


def test_a_failure_after_the_checks_leaves_the_old_warehouse_openable(work):
    assert load(work).returncode == 0
    before = (work / "w.duckdb").read_bytes()
    # Passes the file checks, fails while loading: a repeated id.
    write_csv(work / "offres.csv", day_offers("A", "A"))
    proc = load(work)
    assert proc.returncode == 2
    assert "not one row per offer (1 repeated id(s)" in proc.stderr
    assert (work / "w.duckdb").read_bytes() == before
    assert ids(work / "w.duckdb") == {"A": "Offre A", "B": "Offre B", "C": "Offre C"}
    assert [p.name for p in work.iterdir() if p.name.startswith(".")] == []


def test_a_file_that_is_not_a_warehouse_is_never_replaced(work):
    shutil.copy(work / "offres.csv", work / "w.duckdb")
    proc = load(work)
    assert proc.returncode == 2
    assert "exists and is not a DuckDB file" in proc.stderr
    assert (work / "w.duckdb").read_bytes() == (work / "offres.csv").read_bytes()


# ------------------------------------------------------------------ the daily mirror


def test_two_days_of_offers_mirror_additions_updates_and_withdrawals(work):
    # Day 1: a full run.
    assert load(work).returncode == 0
    assert ids(work / "w.duckdb") == {"A": "Offre A", "B": "Offre B", "C": "Offre C"}
    # Day 2, morning: a partial run (depuis=dernier): C updated, D new; B withdrawn.
    write_csv(work / "20261202T080000.000Z.depuis.csv", [
        *day_offers("C", title="(mise à jour) "), *day_offers("D")])  # fmt: skip
    write_changes(work / "20261202T080000.000Z.changes.csv",
                  [("modifiée", "C"), ("ajoutée", "D"), ("retirée", "B")])  # fmt: skip
    proc = load(work, "--changements", "20261202T080000.000Z.changes.csv",
                offres="20261202T080000.000Z.depuis.csv")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert ids(work / "w.duckdb") == {"A": "Offre A", "C": "(mise à jour) Offre C",
                                      "D": "Offre D"}  # fmt: skip
    assert "2 lignes du fichier ajoutées ou remplacées, 1 conservées" in proc.stdout
    assert "1 retirées supprimées" in proc.stdout
    with duckdb.connect(str(work / "w.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*), count(DISTINCT id) FROM offres").fetchone() == (3, 3)
        assert con.execute("SELECT region FROM offres WHERE id = 'D'").fetchone() == ("11",)
        assert con.execute(
            "SELECT nb_lignes, fichier FROM sources WHERE source = 'offres'"
        ).fetchone() == (3, str(work / "20261202T080000.000Z.depuis.csv"))
        assert con.execute(
            "SELECT nb_offres FROM metiers WHERE code_rome = 'M1805' AND territoire = 'FR'"
        ).fetchone() == (3,)
    # Day 3: a full run again, whose changes file withdraws C: the table is the file.
    write_csv(work / "offres.csv", day_offers("A", "D", "E"))
    write_changes(work / "changes.csv", [("ajoutée", "E"), ("retirée", "C")])
    proc = load(work, "--changements", "changes.csv")
    assert proc.returncode == 0, proc.stderr
    assert ids(work / "w.duckdb") == {"A": "Offre A", "D": "Offre D", "E": "Offre E"}
    # A changes file that withdraws an offer the full file still holds is another run's.
    before = (work / "w.duckdb").read_bytes()
    write_changes(work / "changes.csv", [("retirée", "D")])
    proc = load(work, "--changements", "changes.csv")
    assert proc.returncode == 2
    assert "marks 1 offer(s) withdrawn that --offres offres.csv still holds" in proc.stderr
    assert (work / "w.duckdb").read_bytes() == before


def test_a_partial_run_needs_a_previous_warehouse(work):
    write_csv(work / "x.depuis.csv", day_offers("D"))
    proc = load(work, offres="x.depuis.csv")
    assert proc.returncode == 2
    assert "is a partial run (depuis=dernier" in proc.stderr
    assert not (work / "w.duckdb").exists()


def test_a_descriptor_marks_a_partial_run_too(work):
    assert load(work).returncode == 0
    write_csv(work / "day2.csv", day_offers("D"))
    descriptor = {"cpfft": {"spider": "offres", "outcome": "complete", "rows": 1,
                            "partial": True}, "resources": [{"path": "day2.csv"}]}  # fmt: skip
    (work / "day2.csv.datapackage.json").write_text(json.dumps(descriptor), "utf-8")
    assert load(work, offres="day2.csv").returncode == 0
    assert set(ids(work / "w.duckdb")) == {"A", "B", "C", "D"}


def test_a_bad_changes_file_is_refused(work):
    (work / "changes.csv").write_text("\ufeffid,kind\r\nA,retirée\r\n", "utf-8")
    proc = load(work, "--changements", "changes.csv")
    assert proc.returncode == 2
    assert "is not an offres changes file" in proc.stderr


@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xfe not UTF-8\r\n",  # a file in another encoding
        b'"' + b"x" * 200_000 + b'",A\r\n',  # a cell beyond the csv module's limit
    ],
    ids=["not-utf8", "huge-cell"],
)
def test_a_changes_file_unreadable_after_its_header_is_one_line(work, body):
    header = ("\ufeff" + ",".join(CHANGES_HEADERS) + "\r\n").encode()
    (work / "changes.csv").write_bytes(header + body)
    proc = load(work, "--changements", "changes.csv")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("cpfft: error: --changements ")
    assert "changes.csv, after line 1" in proc.stderr
    assert "not a changes file written by cpfft" in proc.stderr
    assert proc.stderr.count("\n") == 1
    assert "Traceback" not in proc.stderr


# ------------------------------------------------------------------ CPFFT_OUTPUT_DIR


def scheduled_layout(base: Path, work: Path, offres_folder: str = "") -> None:
    cpf = base / "cpf"
    offres = base / "offres" / offres_folder if offres_folder else base / "offres"
    cpf.mkdir(parents=True)
    offres.mkdir(parents=True)
    shutil.copy(work / "formations.csv", cpf / "latest.csv")
    shutil.copy(work / "offres.csv", offres / "latest.csv")
    write_changes(offres / "latest.changes.csv", [("retirée", "Z")])


def test_without_options_the_latest_runs_under_the_output_dir_are_loaded(work):
    base = work / "out"
    scheduled_layout(base, work)
    proc = entrepot(work, "w.duckdb", env={"CPFFT_OUTPUT_DIR": str(base)})
    assert proc.returncode == 0, proc.stderr
    assert set(ids(work / "w.duckdb")) == {"A", "B", "C"}
    assert "1 retirées" in proc.stdout  # latest.changes.csv was read
    with duckdb.connect(str(work / "w.duckdb"), read_only=True) as con:
        assert con.execute("SELECT fichier FROM sources ORDER BY source").fetchall() == [
            (str(base / "cpf" / "latest.csv"),), (str(base / "offres" / "latest.csv"),)]  # fmt: skip


def test_the_only_query_folder_is_taken_several_need_a_choice(work):
    base = work / "out"
    scheduled_layout(base, work, "motsCles=python")
    proc = entrepot(work, "w.duckdb", env={"CPFFT_OUTPUT_DIR": str(base)})
    assert proc.returncode == 0, proc.stderr
    other = base / "offres" / "motsCles=data"
    other.mkdir()
    shutil.copy(work / "offres.csv", other / "latest.csv")
    proc = entrepot(work, "w.duckdb", env={"CPFFT_OUTPUT_DIR": str(base)})
    assert proc.returncode == 2
    assert "holds several queries (motsCles=data, motsCles=python)" in proc.stderr
    # The query without arguments, when there is one, is taken; the others are named.
    shutil.copy(work / "offres.csv", base / "offres" / "latest.csv")
    proc = entrepot(work, "w.duckdb", env={"CPFFT_OUTPUT_DIR": str(base)})
    assert proc.returncode == 0, proc.stderr
    assert "requête motsCles=data ignorée" in proc.stderr


def test_without_options_nor_output_dir_the_error_says_what_to_give(work):
    proc = entrepot(work, "w.duckdb", env={"CPFFT_OUTPUT_DIR": None})
    assert proc.returncode == 2
    assert "give --formations FILE --offres FILE" in proc.stderr


# ------------------------------------------------------------------ failures of the build


def test_a_failing_build_is_one_line_and_leaves_the_warehouse_as_it_was(work, monkeypatch):
    from cpfft.entrepot import load as loader
    from cpfft.entrepot import sql
    from cpfft.entrepot.inputs import check_input
    from cpfft.entrepot.runs import Candidates, Run

    assert load(work).returncode == 0
    before = (work / "w.duckdb").read_bytes()
    write_csv(work / "offres.csv", day_offers("A", "B"))  # a new run, to be loaded
    inputs = (
        Candidates([Run(check_input(work / "formations.csv", "formations"))], given=True),
        Candidates([Run(check_input(work / "offres.csv", "offres"))], given=True),
    )
    monkeypatch.setattr(sql, "MEMORY_LIMIT", "1KB")  # DuckDB runs out of memory at once
    with pytest.raises(loader.BuildError) as failed:
        loader.build(work / "w.duckdb", *inputs)
    assert "\n" not in str(failed.value)
    assert "could not be built (Out of Memory Error" in str(failed.value)
    assert (work / "w.duckdb").read_bytes() == before
    assert [p.name for p in work.iterdir() if p.name.startswith(".")] == []


def test_without_the_analysis_extra_the_error_says_what_to_install(work, tmp_path_factory):
    blocker = tmp_path_factory.mktemp("no-duckdb")
    (blocker / "duckdb.py").write_text("raise ImportError('No module named duckdb')\n")
    from tests.support.crawling import REPO

    proc = load(work, env={"PYTHONPATH": f"{blocker}{os.pathsep}{REPO}"})
    assert proc.returncode == 2
    assert proc.stderr == (
        "cpfft: error: scrapy entrepot needs the analysis extra (duckdb): "
        "pip install -e '.[analyse]'\n"
    )


def test_a_descriptor_of_another_file_of_the_same_name_is_not_used(work):
    # formations.parquet's descriptor (another run, 5 rows) beside formations.csv (2 rows).
    descriptor = {"cpfft": {"spider": "cpf", "outcome": "complete", "rows": 5,
                            "extracted_at": "2026-12-01T04:00:00Z"},
                  "resources": [{"path": "formations.parquet"}]}  # fmt: skip
    (work / "formations.datapackage.json").write_text(json.dumps(descriptor), "utf-8")
    proc = load(work)
    assert proc.returncode == 0, proc.stderr
    mtime = (work / "formations.csv").stat().st_mtime
    with duckdb.connect(str(work / "w.duckdb"), read_only=True) as con:
        moment = con.execute(
            "SELECT epoch(extrait_le) FROM sources WHERE source = 'formations'"
        ).fetchone()[0]
    assert moment == pytest.approx(mtime, abs=1e-3)
