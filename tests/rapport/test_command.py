"""``scrapy rapport`` as a user runs it: the page written atomically, and every bad input
(file, filter, missing extra) refused in one line, exit 2, nothing written or replaced."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from cpfft.run.output import write_atomically
from tests.rapport.warehouse import build, rapport
from tests.support.crawling import clean_env

OLD = "<html>le rapport d'hier</html>"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    return build(tmp_path_factory.mktemp("entrepot") / "cpfft.duckdb")


def test_writes_the_report_with_filters(tmp_path, warehouse):
    out = tmp_path / "rapport.html"
    out.write_text(OLD)
    run = rapport(
        tmp_path,
        str(warehouse),
        "-O",
        str(out),
        "--region",
        "ile de france",
        "--theme",
        "Numérique",
    )
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    assert run.stdout.startswith(f"cpfft: rapport écrit : {out} (")
    page = out.read_text("utf-8")
    assert out.stat().st_size <= 5_000_000
    assert "Territoire : Île-de-France · thème : Numérique : informatique, réseaux" in page
    assert 'data-chiffre="nb_offres" data-valeur="3"' in page
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rapport.html"]  # no temp file left


def test_default_output_is_rapport_html_in_the_current_folder(tmp_path, warehouse):
    run = rapport(tmp_path, str(warehouse), "--rome", "j1501")
    assert run.returncode == 0, run.stderr
    assert "code ROME : J1501" in (tmp_path / "rapport.html").read_text("utf-8")


def not_a_warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "autre.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE t (x INTEGER)")
    con.close()
    return path


def text_file(tmp_path: Path) -> Path:
    path = tmp_path / "notes.duckdb"
    path.write_text("pas une base\n" * 500)
    return path


def without_sources(tmp_path: Path) -> Path:
    path = build(tmp_path / "sans-sources.duckdb")
    con = duckdb.connect(str(path))
    con.execute("DELETE FROM sources WHERE source = 'offres'")
    con.close()
    return path


@pytest.mark.parametrize(
    ("make", "options", "said"),
    [
        (lambda t, w: t / "absent.duckdb", (), "no such file; build the warehouse first"),
        (lambda t, w: text_file(t), (), "is not a DuckDB warehouse"),
        (lambda t, w: not_a_warehouse(t), (), "is not a cpfft warehouse: it has no table"),
        (lambda t, w: without_sources(t), (), "its sources table has no row for offres"),
        (lambda t, w: w, ("--region", "Atlantide"), "--region: unknown region 'Atlantide'"),
        (lambda t, w: w, ("--departement", "99"), "--departement: unknown département '99'"),
        (lambda t, w: w, ("--region", "84", "--departement", "75"), "75 (Paris) is not in region"),
        (lambda t, w: w, ("--theme", "numerik"), "Did you mean numerique?"),
        (lambda t, w: w, ("--rome", "12345"), "--rome: '12345' is not a ROME code"),
        (lambda t, w: w, ("--rome", "A1101"), "--rome A1101: no offer and no training"),
        (lambda t, w: w, ("--min-offres", "0"), "--min-offres: 0 is out of range"),
        (lambda t, w: w, ("-O", "absent/rapport.html"), "the folder absent does not exist"),
    ],
)
def test_bad_input_one_line_exit_2_nothing_replaced(tmp_path, warehouse, make, options, said):
    out = tmp_path / "rapport.html"
    out.write_text(OLD)
    run = rapport(tmp_path, str(make(tmp_path, warehouse)), "-O", "rapport.html", *options)
    assert run.returncode == 2
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("cpfft: error: ")
    assert said in lines[0]
    assert run.stdout == ""
    assert out.read_text() == OLD
    assert not list(tmp_path.glob(".rapport.html.*"))


def test_no_warehouse_argument(tmp_path):
    run = rapport(tmp_path)
    assert run.returncode == 2
    assert run.stderr.splitlines() == [
        (
            "cpfft: error: give one warehouse file (built by scrapy entrepot), e.g. "
            "scrapy rapport cpfft.duckdb -O rapport.html"
        )
    ]


def test_missing_analysis_extra_is_named(tmp_path, warehouse):
    # A duckdb module that cannot be imported, ahead of the real one on the path.
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "duckdb.py").write_text("raise ImportError('No module named duckdb')\n")
    env = clean_env()
    env["PYTHONPATH"] = f"{shadow}:{env['PYTHONPATH']}"
    run = rapport(tmp_path, str(warehouse), env=env)
    assert run.returncode == 2
    assert run.stderr.splitlines() == [
        "cpfft: error: scrapy rapport needs the analysis extra (duckdb): pip install -e '.[analyse]'"
    ]
    assert not (tmp_path / "rapport.html").exists()


def test_a_failed_write_leaves_the_old_report_and_no_temp_file(tmp_path):
    out = tmp_path / "rapport.html"
    out.write_text(OLD)
    with pytest.raises(UnicodeEncodeError):
        write_atomically(out, "<html>" + "\ud800")  # fails half-way through the write
    assert out.read_text() == OLD
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rapport.html"]
    write_atomically(out, "<html>neuf</html>")
    assert out.read_text() == "<html>neuf</html>"
    assert out.stat().st_mode & 0o777 == 0o644


def test_the_warehouse_itself_is_refused_as_output(tmp_path, warehouse):
    copy = tmp_path / "cpfft.duckdb"
    copy.write_bytes(warehouse.read_bytes())
    run = rapport(tmp_path, "cpfft.duckdb", "-O", "./cpfft.duckdb")
    assert run.returncode == 2
    assert run.stderr == (
        "cpfft: error: -O cpfft.duckdb is the warehouse itself: it would be replaced by the "
        "report; give another file, e.g. -O rapport.html\n"
    )
    assert copy.read_bytes() == warehouse.read_bytes()


def test_a_symlinked_output_stays_a_link_to_the_new_report(tmp_path):
    target = tmp_path / "publie" / "rapport.html"
    target.parent.mkdir()
    target.write_text(OLD)
    link = tmp_path / "rapport.html"
    link.symlink_to(target)
    write_atomically(link, "<html>nouveau</html>")
    assert link.is_symlink()
    assert target.read_text("utf-8") == "<html>nouveau</html>"
    assert sorted(p.name for p in target.parent.iterdir()) == ["rapport.html"]


def test_a_device_output_is_written_to_not_replaced(tmp_path):
    write_atomically(Path("/dev/null"), "<html>rien</html>")
    assert Path("/dev/null").is_char_device()
