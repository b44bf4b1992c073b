"""``scrapy entrepot postgresql://…`` against a real PostgreSQL server (tests.support):
what a team's dashboards read, the read rights kept across loads, one-line failures that
change nothing and show no password, and ``scrapy rapport`` from the schema. The
day-by-day scenario runs against both warehouses in test_history.py."""

from __future__ import annotations

import pytest

from tests.entrepot.files import entrepot, formation, offer, write_csv
from tests.rapport.warehouse import rapport
from tests.support.crawling import clean_env
from tests.support.postgresql import PASSWORD, free_port


@pytest.fixture
def files(tmp_path):
    write_csv(tmp_path / "formations.csv", [formation("F1", "75", code_rome_1="M1805"),
                                            formation("F2", "69", code_rome_1="J1501")])  # fmt: skip
    write_csv(tmp_path / "offres.csv", [
        offer("A", departement="75", description="Texte « libre », 'guillemets' ; ligne\nsuivante"),
        offer("B", departement="69", code_rome="J1501", entreprise=""),
    ])  # fmt: skip
    return tmp_path


def load(work, url, env, *extra):
    return entrepot(work, url, "--formations", "formations.csv", "--offres", "offres.csv",
                    *extra, env=env)  # fmt: skip


def test_the_tables_land_in_the_schema_with_their_types_and_values(files, pg):
    proc = load(files, pg.url, pg.env)
    assert proc.returncode == 0, proc.stderr
    assert f"Entrepôt {pg.url} (schéma cpfft)" in proc.stdout
    with pg.connect() as conn:
        tables = {r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'cpfft'")}  # fmt: skip
        assert {"formations", "offres", "offres_competences", "sources", "metiers",
                "chargements", "offres_historique", "formations_historique",
                "jours"} <= tables  # fmt: skip
        # No schema left over from the load.
        schemas = [r[0] for r in conn.execute("SELECT nspname FROM pg_namespace")]
        assert [n for n in schemas if n.startswith("cpfft")] == ["cpfft"]
        assert conn.execute("SELECT description, entreprise FROM cpfft.offres ORDER BY id").fetchall() == [
            ("Texte « libre », 'guillemets' ; ligne\nsuivante", None), (None, None)]  # fmt: skip
        types = dict(conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE "
            "table_schema = 'cpfft' AND table_name = 'offres_historique'").fetchall())  # fmt: skip
        assert types["premiere_vue"] == "timestamp with time zone"
        assert types["jour_debut"] == "date"
        assert conn.execute(
            "SELECT nb_offres FROM cpfft.metiers WHERE code_rome = 'M1805' AND territoire = 'FR'"
        ).fetchone() == (1,)
        indexed = conn.execute(
            "SELECT count(*) FROM pg_indexes WHERE schemaname = 'cpfft' AND tablename = 'offres'"
        ).fetchone()[0]
        assert indexed >= 1


def test_a_dashboard_s_read_only_role_keeps_its_rights_across_loads(files, pg):
    assert load(files, pg.url, pg.env).returncode == 0
    with pg.connect() as conn:
        conn.execute("CREATE ROLE tableau_de_bord LOGIN PASSWORD 'lecture'")
        conn.execute("GRANT USAGE ON SCHEMA cpfft TO tableau_de_bord")
        conn.execute("GRANT SELECT ON ALL TABLES IN SCHEMA cpfft TO tableau_de_bord")
    write_csv(files / "offres.csv", [offer("A", departement="75"), offer("C", departement="13")])
    try:
        assert load(files, pg.url, pg.env).returncode == 0
        import psycopg

        reader = pg.url.replace("cpfft@", "tableau_de_bord@")
        with psycopg.connect(reader, password="lecture") as conn:
            assert conn.execute("SELECT id FROM cpfft.offres ORDER BY id").fetchall() == [
                ("A",), ("C",)]  # fmt: skip
            assert conn.execute("SELECT count(*) FROM cpfft.offres_historique").fetchone() == (3,)
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("DROP TABLE cpfft.offres")
    finally:
        with pg.connect() as conn:
            conn.execute("DROP OWNED BY tableau_de_bord")
            conn.execute("DROP ROLE tableau_de_bord")


@pytest.mark.parametrize("case", ["refused", "bad password", "no base"])
def test_a_failed_connection_is_one_line_exit_2_and_shows_no_password(files, pg, case):
    assert load(files, pg.url, pg.env).returncode == 0
    with pg.connect() as conn:
        before = conn.execute("SELECT oid FROM pg_namespace WHERE nspname = 'cpfft'").fetchone()
    secret = "s3cret-dans-l-url"
    url, env = f"postgresql://cpfft:{secret}@127.0.0.1:{pg.port}/{pg.database}", {}
    if case == "refused":
        url = f"postgresql://cpfft:{secret}@127.0.0.1:{free_port()}/{pg.database}"
        said = "Connection refused"
    elif case == "no base":
        url, env, said = f"{pg.url}_absente", pg.env, "does not exist"
    else:
        said = "password authentication failed"
    proc = load(files, url, env)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(
        "cpfft: error: cannot connect to PostgreSQL at postgresql://cpfft@"
    )
    assert said in proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert secret not in proc.stderr + proc.stdout
    assert PASSWORD not in proc.stderr + proc.stdout
    with pg.connect() as conn:
        assert (
            conn.execute("SELECT oid FROM pg_namespace WHERE nspname = 'cpfft'").fetchone()
            == before
        )


def test_the_report_reads_the_postgresql_warehouse(files, pg):
    assert load(files, pg.url, pg.env).returncode == 0
    out = files / "rapport.html"
    proc = rapport(files, pg.url, "-O", str(out), env=clean_env(pg.env))
    assert proc.returncode == 0, proc.stderr
    page = out.read_text("utf-8")
    assert 'data-chiffre="nb_offres" data-valeur="2"' in page
    assert "L'historique commence le" in page
    # An empty base: no warehouse yet, said in one line.
    with pg.connect() as conn:
        conn.execute("DROP SCHEMA cpfft CASCADE")
    proc = rapport(files, pg.url, "-O", str(out), env=clean_env(pg.env))
    assert proc.returncode == 2
    assert "has no warehouse yet; build it first: scrapy entrepot" in proc.stderr
    assert proc.stderr.count("\n") == 1


@pytest.mark.parametrize("step", ["download", "upload"])
def test_the_copies_to_and_from_the_server_keep_duckdb_s_memory_budget(files, pg, monkeypatch,
                                                                        step):  # fmt: skip
    """DuckDB's own default is 80 % of the machine: the copies are held to the build's
    budget, so a budget too small for them fails them (and changes nothing)."""
    import duckdb

    from cpfft.entrepot import postgresql, sql

    assert load(files, pg.url, pg.env).returncode == 0
    local = files / "copie.duckdb"
    with pg.connect() as conn:
        if step == "upload":
            assert postgresql.download(conn, "cpfft", local)
        monkeypatch.setattr(sql, "MEMORY_LIMIT", "1KB")
        copy = getattr(postgresql, step)
        with pytest.raises(duckdb.OutOfMemoryException):
            copy(conn, "cpfft", local)
        assert conn.execute("SELECT id FROM cpfft.offres ORDER BY id").fetchall() == [
            ("A",), ("B",)]  # fmt: skip
    assert not (files / "copie.duckdb.spill").exists()
