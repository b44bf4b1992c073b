"""The warehouse from real ``scrapy crawl`` outputs (emulators): scheduled runs under
CPFFT_OUTPUT_DIR day after day, CSV and Parquet outputs of the same crawl."""

# ruff: noqa: S608 - SQL on the test's own tables and files
from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from cpfft.entrepot.children import TABLES
from cpfft.items import Formation, Offre, field_types
from cpfft.run.resume import unguard
from tests.entrepot.files import entrepot
from tests.support.crawling import ft_env
from tests.support.feeds import csv_dicts, scrapy_crawl

pytestmark = pytest.mark.crawl


def offer_ids(db: Path) -> set[str]:
    with duckdb.connect(str(db), read_only=True) as con:
        return {row[0] for row in con.execute("SELECT id FROM offres").fetchall()}


def test_scheduled_runs_day_after_day_give_a_faithful_mirror(tmp_path, ods, ft):
    cpf_api, ft_api = ods(rows=400), ft(offers=300)
    base = tmp_path / "out"
    env_cpf = {"CPF_API_URL": cpf_api.url, "CPFFT_OUTPUT_DIR": str(base)}
    env_ft = ft_env(ft_api, CPFFT_OUTPUT_DIR=str(base))
    assert scrapy_crawl(tmp_path, "cpf", env=env_cpf).returncode == 0
    assert scrapy_crawl(tmp_path, "offres", env=env_ft).returncode == 0
    proc = entrepot(tmp_path, "w.duckdb", env={"CPFFT_OUTPUT_DIR": str(base)})
    assert proc.returncode == 0, proc.stderr
    db = tmp_path / "w.duckdb"
    day1 = {o.data["id"] for o in ft_api.dataset.offers}
    assert offer_ids(db) == day1

    # Every cell is the CSV's, without the formula guard; typed.
    rows = csv_dicts(base / "cpf" / "latest.csv")
    types = field_types(Formation)
    with duckdb.connect(str(db), read_only=True) as con:
        names = ", ".join(types)
        loaded = {
            (r[28], r[43]): r for r in con.execute(f"SELECT {names} FROM formations").fetchall()
        }
        assert con.execute("SELECT count(*) FROM sources").fetchone() == (2,)
    assert len(loaded) == len(rows) == 400
    guarded = 0
    for row in rows:
        got = dict(zip(types, loaded[(row["numero_formation"], row["code_departement"] or None)],
                       strict=True))  # fmt: skip
        for name, kind in types.items():
            cell = row[name]
            if kind in ("text", "code"):
                guarded += cell != unguard(cell)
                assert got[name] == (unguard(cell) or None), name
            elif kind in ("int", "float"):
                assert got[name] == (float(cell) if cell else None), name
    assert guarded > 0, "the emulator's hostile values put formula guards in the CSV"

    # Day 2: withdrawals, updates, publications; first an incremental run (depuis=dernier).
    changes = ft_api.dataset.evolve(withdraw=7, update=5, publish=4)
    assert scrapy_crawl(tmp_path, "offres", "-a", "depuis=dernier", env=env_ft).returncode == 0
    partial = next((base / "offres").glob("*.depuis.csv"))
    changes_file = partial.with_name(partial.name.removesuffix(".csv") + ".changes.csv")
    assert changes_file.name.endswith(".depuis.changes.csv")
    proc = entrepot(tmp_path, "w.duckdb", "--formations", str(base / "cpf" / "latest.csv"),
                    "--offres", str(partial), "--changements", str(changes_file))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    # An incremental run sees the new offers; withdrawals wait for the next full run.
    assert offer_ids(db) == day1 | set(changes["published"])
    # Then the night's full run: withdrawn offers leave the warehouse.
    assert scrapy_crawl(tmp_path, "offres", env=env_ft).returncode == 0
    proc = entrepot(tmp_path, "w.duckdb", env={"CPFFT_OUTPUT_DIR": str(base)})
    assert proc.returncode == 0, proc.stderr
    now = {o.data["id"] for o in ft_api.dataset.offers}
    assert offer_ids(db) == now
    assert not offer_ids(db) & set(changes["withdrawn"])
    assert f"{len(changes['withdrawn'])} retirées (absentes de l'entrepôt)" in proc.stdout


def test_csv_and_parquet_outputs_of_the_same_crawl_load_the_same_tables(tmp_path, ods, ft):
    cpf_api, ft_api = ods(rows=300), ft(offers=200)
    for spider, env in (("cpf", {"CPF_API_URL": cpf_api.url}), ("offres", ft_env(ft_api))):
        run = scrapy_crawl(tmp_path, spider, "-O", f"{spider}.csv", "-O", f"{spider}.parquet",
                           env=env)  # fmt: skip
        assert run.returncode == 0, run.log
    for fmt in ("csv", "parquet"):
        proc = entrepot(tmp_path, f"{fmt}.duckdb", "--formations", f"cpf.{fmt}",
                        "--offres", f"offres.{fmt}")  # fmt: skip
        assert proc.returncode == 0, proc.stderr
    with duckdb.connect() as con:
        con.execute(f"ATTACH '{tmp_path / 'csv.duckdb'}' AS c (READ_ONLY)")
        con.execute(f"ATTACH '{tmp_path / 'parquet.duckdb'}' AS p (READ_ONLY)")
        # The offers' lists: read back from the CSV's readable cells, or from Parquet's lists.
        lists = [(table, None) for table in TABLES]
        tables = [("formations", Formation), ("offres", Offre), ("metiers", None), *lists]
        for table, cls in tables:
            count = con.execute(f"SELECT count(*) FROM c.{table}").fetchone()[0]
            assert count > 0
            assert con.execute(f"SELECT count(*) FROM p.{table}").fetchone()[0] == count
            for a, b in (("c", "p"), ("p", "c")):
                differ = con.execute(
                    f"SELECT count(*) FROM (SELECT * FROM {a}.{table} "
                    f"EXCEPT ALL SELECT * FROM {b}.{table})"
                ).fetchone()[0]
                assert differ == 0, (table, a, b)
            if cls is not None:
                described = con.execute(f"DESCRIBE p.{table}").fetchall()
                names = [n for n, t in field_types(cls).items() if t != "records"]
                assert [d[0] for d in described] == names


def test_without_options_the_day_s_depuis_runs_complete_the_night_s_full_run(tmp_path, ods, ft):
    """The README's schedule: a full run at night, depuis=dernier runs in the day, and
    ``scrapy entrepot`` without options after each: the warehouse holds what the newest
    run proves (it used to pair the night's latest.csv with the day's changes file and
    leave the day's new offers out)."""
    from datetime import UTC, datetime, timedelta

    cpf_api, ft_api = ods(rows=50), ft(offers=200)
    base = tmp_path / "out"
    env_cpf = {"CPF_API_URL": cpf_api.url, "CPFFT_OUTPUT_DIR": str(base)}
    env_ft = ft_env(ft_api, CPFFT_OUTPUT_DIR=str(base))
    env = {"CPFFT_OUTPUT_DIR": str(base)}
    db = tmp_path / "w.duckdb"
    assert scrapy_crawl(tmp_path, "cpf", env=env_cpf).returncode == 0
    assert scrapy_crawl(tmp_path, "offres", env=env_ft).returncode == 0
    assert entrepot(tmp_path, "w.duckdb", env=env).returncode == 0
    night = {o.data["id"] for o in ft_api.dataset.offers}
    assert offer_ids(db) == night

    seen = set(night)
    for _ in range(2):  # two day-time runs, each with its own publications
        changes = ft_api.dataset.evolve(withdraw=5, update=4, publish=30)
        # Created three days ago, indexed only now: a depuis run cannot see it.
        late = ft_api.dataset.publish(datetime.now(UTC) - timedelta(days=3)).data["id"]
        run = scrapy_crawl(tmp_path, "offres", "-a", "depuis=dernier", env=env_ft)
        assert run.returncode == 0, run.log
        proc = entrepot(tmp_path, "w.duckdb", env=env)
        assert proc.returncode == 0, proc.stderr
        seen |= set(changes["published"])
        # Withdrawals and the late offer wait for the next full run.
        assert offer_ids(db) == seen
        assert late not in offer_ids(db)
        assert "exécution partielle (depuis=dernier)" in proc.stdout
    assert scrapy_crawl(tmp_path, "offres", env=env_ft).returncode == 0
    proc = entrepot(tmp_path, "w.duckdb", env=env)
    assert proc.returncode == 0, proc.stderr
    now = {o.data["id"] for o in ft_api.dataset.offers}
    assert offer_ids(db) == now
    assert late in now
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute(
            "SELECT partielle, lignes > 0 FROM chargements WHERE source = 'offres' "
            "ORDER BY extrait_le"
        ).fetchall() == [(False, True), (True, True), (True, True), (False, True)]
        online = con.execute("SELECT id FROM offres_historique WHERE fin IS NULL").fetchall()
        assert {r[0] for r in online} == now
        withdrawn = con.execute(
            "SELECT count(*) FROM offres_historique WHERE retiree_le IS NOT NULL"
        ).fetchone()[0]
        assert withdrawn == len(seen - now)
    # And once more: nothing new, nothing changed.
    before = db.read_bytes()
    proc = entrepot(tmp_path, "w.duckdb", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "déjà à jour" in proc.stdout
    assert db.read_bytes() == before
