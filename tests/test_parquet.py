"""``-O formations.parquet`` / ``-O offres.parquet``: typed columns, row groups, same rows
as the CSV of the same crawl (read back with pyarrow and with DuckDB), and the usage errors."""

from __future__ import annotations

import io
import math
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scrapy.utils.test import get_crawler

from cpfft.exporters import format_float, neutralise_formula
from cpfft.items import (
    FORMATION_FIELDS,
    OFFRE_HEADERS,
    Formation,
    Offre,
    field_records,
    field_types,
)
from cpfft.parquet import UNFIT_CELLS, ParquetExporter
from cpfft.records import render_cell
from cpfft.run.state import INCOMPLETE, PROBLEMS
from tests.support.crawling import ft_env
from tests.support.feeds import csv_dicts, exported, scrapy_crawl

ARROW = {
    "text": pa.string(),
    "code": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "date": pa.date32(),
    "datetime": pa.timestamp("ms", tz="UTC"),
    "bool": pa.bool_(),
}
OFFRE_FIELDS = list(OFFRE_HEADERS)


def export(items, *, item_class=Formation, fields=FORMATION_FIELDS, crawler=None, **options):
    data = exported(ParquetExporter, items, fields=fields, item_class=item_class,
                    crawler=crawler, **options)  # fmt: skip
    return pq.ParquetFile(io.BytesIO(data))


def stats_crawler():
    crawler = get_crawler()
    crawler.stats.open_spider()
    return crawler


# ------------------------------------------------------------------ the exporter


def test_columns_are_typed_from_the_declared_field_types():
    item = Formation(
        date_extract="2026-11-28",
        code_departement="02",
        siret="01234567890123",
        code_rncp="-1",
        nb_action=3,
        nombre_heures_total_min=14.0,  # a whole float in an int field: the int
        frais_ttc_tot_mean=1466.25,
        nombre_heures_total_mean=52,  # an int in a float field: the float
    )
    file = export([item, Formation(numero_formation="2")])
    schema = file.schema_arrow
    assert schema.names == FORMATION_FIELDS
    for name, type_ in field_types(Formation).items():
        assert schema.field(name).type == ARROW[type_], name
    assert b"description" in schema.field("siret").metadata
    first, second = file.read().to_pylist()
    assert first["date_extract"] == date(2026, 11, 28)
    assert first["code_departement"] == "02"
    assert first["siret"] == "01234567890123"
    assert first["code_rncp"] == "-1"
    assert first["nb_action"] == 3
    assert first["nombre_heures_total_min"] == 14
    assert first["frais_ttc_tot_mean"] == 1466.25
    assert first["nombre_heures_total_mean"] == 52.0
    assert all(v is None for k, v in second.items() if k != "numero_formation")


def test_offres_columns_are_field_names_and_instants_utc():
    offer = Offre(
        id="201ABCD",
        intitule="Développeur Python (H/F)",
        date_publication="2026-11-28T09:15:00.123Z",
        date_actualisation="2026-11-28T11:20:30+02:00",
        code_postal="01000",
        latitude=45.2,
    )
    file = export([offer], item_class=Offre, fields=OFFRE_HEADERS)
    assert file.schema_arrow.names == OFFRE_FIELDS  # not the CSV's French headers
    row = file.read().to_pylist()[0]
    assert row["date_publication"] == datetime(2026, 11, 28, 9, 15, 0, 123000, tzinfo=UTC)
    assert row["date_actualisation"] == datetime(2026, 11, 28, 9, 20, 30, tzinfo=UTC)
    assert row["code_postal"] == "01000"
    assert row["latitude"] == 45.2


def test_rows_are_written_in_bounded_row_groups():
    items = [Formation(numero_formation=str(n), nb_action=n) for n in range(25)]
    file = export(items, row_group_rows=10)
    assert [file.metadata.row_group(i).num_rows for i in range(file.num_row_groups)] == [10, 10, 5]
    assert file.read().column("nb_action").to_pylist() == list(range(25))


def test_zero_rows_give_the_schema_only():
    file = export([])
    assert file.schema_arrow.names == FORMATION_FIELDS
    assert file.metadata.num_rows == 0


def test_a_fractional_count_is_never_lost_silently():
    crawler = stats_crawler()
    items = [
        Formation(numero_formation="1", nombre_heures_total_min=7),
        Formation(numero_formation="2", nombre_heures_total_min=7.5),  # cleaning keeps it
        Formation(numero_formation="3", nombre_heures_total_min=8.25),
    ]
    file = export(items, crawler=crawler)
    assert file.schema_arrow.field("nombre_heures_total_min").type == pa.int64()
    # Never rounded nor truncated (pyarrow alone would write 7 and 8): left empty...
    assert file.read().column("nombre_heures_total_min").to_pylist() == [7, None, None]
    # ... and said: counted, and the run is incomplete, the first cell named.
    assert crawler.stats.get_value(UNFIT_CELLS) == 2
    assert crawler.stats.get_value(INCOMPLETE) == 1
    problem = crawler.stats.get_value(PROBLEMS)[0]
    assert "nombre_heures_total_min = 7.5 in row 2" in problem
    assert "int64" in problem
    assert "the CSV" in problem


def test_a_date_that_does_not_parse_is_never_lost_silently():
    crawler = stats_crawler()
    file = export([Formation(date_extract="bientôt")], crawler=crawler)
    assert file.read().column("date_extract").to_pylist() == [None]
    assert crawler.stats.get_value(UNFIT_CELLS) == 1
    assert "date_extract = 'bientôt' in row 1" in crawler.stats.get_value(PROBLEMS)[0]


def test_non_finite_amounts_are_nulls_as_in_the_csv():
    file = export([Formation(frais_ttc_tot_mean=math.inf), Formation(frais_ttc_tot_mean=2.5)])
    assert file.read().column("frais_ttc_tot_mean").to_pylist() == [None, 2.5]
    assert format_float(math.inf) == ""  # the CSV's cell


# ------------------------------------------------------------------ crawls


def arrow_type(item_class, name, type_):
    """The Parquet type of a field: a list field is a list of structs of its parts (text)."""
    spec = field_records(item_class).get(name)
    if spec is None:
        return ARROW[type_]
    return pa.list_(pa.struct([pa.field(part, pa.string()) for part in spec.names]))


def duckdb_type(item_class, name, type_):
    spec = field_records(item_class).get(name)
    if spec is None:
        return DUCKDB[type_]
    return "STRUCT(" + ", ".join(f"{part} VARCHAR" for part in spec.names) + ")[]"


def csv_cell(value, type_, spec=None):
    """What the CSV of the same crawl holds for a value read back from Parquet/DuckDB."""
    if value is None:
        return ""
    if type_ == "records":
        return neutralise_formula(render_cell(spec, value))
    if type_ == "bool":
        return "true" if value else "false"
    if type_ == "date":
        return value.isoformat()
    if type_ == "datetime" and isinstance(value, str):
        return value  # DuckDB's UTC text
    if type_ == "datetime":
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
            f"{value.microsecond // 1000:03d}Z"
        )
    if type_ == "float":
        return format_float(float(value))
    if type_ == "int":
        return str(value)
    return neutralise_formula(value)


def assert_same_as_csv(rows, csv_rows, names, headers, types, specs=None):
    specs = specs or {}
    assert len(rows) == len(csv_rows)
    for row, written in zip(rows, csv_rows, strict=True):
        assert list(row) == names
        for name, header in zip(names, headers, strict=True):
            cell = csv_cell(row[name], types[name], specs.get(name))
            assert cell == written[header], (name, row[name])


def read_with_duckdb(path: Path, types: dict[str, str]) -> list[dict]:
    """The rows as DuckDB reads them; instants as UTC text, in SQL (a Python datetime with a
    time zone would need pytz)."""
    columns = ", ".join(
        f"strftime({name} AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%gZ') AS {name}"
        if type_ == "datetime"
        else name
        for name, type_ in types.items()
    )
    with duckdb.connect() as con:
        cursor = con.execute(f"SELECT {columns} FROM read_parquet(?)", [str(path)])  # noqa: S608
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]


def duckdb_types(path: Path) -> dict[str, str]:
    with duckdb.connect() as con:
        rows = con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall()
    return {name: type_ for name, type_, *_ in rows}


DUCKDB = {"text": "VARCHAR", "code": "VARCHAR", "int": "BIGINT", "float": "DOUBLE",
          "date": "DATE", "datetime": "TIMESTAMP WITH TIME ZONE", "bool": "BOOLEAN"}  # fmt: skip


@pytest.mark.crawl
def test_cpf_parquet_holds_the_csv_rows(ods, tmp_path):
    api = ods(rows=700, hostile_every=3)
    run = scrapy_crawl(
        tmp_path, "cpf", "-O", "out.csv", "-O", "formations.parquet",
        "-a", "departement=01,2A,75,13", env={"CPF_API_URL": api.url},
    )  # fmt: skip
    assert run.returncode == 0, run.log
    written = csv_dicts(tmp_path / "out.csv")
    assert written
    path = tmp_path / "formations.parquet"
    types = field_types(Formation)
    table = pq.read_table(path)
    assert table.schema.names == FORMATION_FIELDS
    for name, type_ in types.items():
        assert table.schema.field(name).type == ARROW[type_], name
    assert duckdb_types(path) == {name: DUCKDB[t] for name, t in types.items()}
    for rows in (table.to_pylist(), read_with_duckdb(path, types)):
        assert_same_as_csv(rows, written, FORMATION_FIELDS, FORMATION_FIELDS, types)
    rows = table.to_pylist()
    # Codes with leading zeros and SIRETs are text, empty cells are nulls.
    assert {r["code_departement"] for r in rows} >= {"01", "2A"}
    assert all(len(r["siret"]) == 14 and r["siret"].isdigit() for r in rows)
    assert any(r["code_rome_3"] is None for r in rows)
    assert any(isinstance(r["frais_ttc_tot_mean"], float) for r in rows)


@pytest.mark.crawl
def test_offres_parquet_holds_the_csv_rows(ft, tmp_path):
    api = ft(offers=400)
    run = scrapy_crawl(tmp_path, "offres", "-O", "out.csv", "-O", "offres.parquet", env=ft_env(api))
    assert run.returncode == 0, run.log
    written = csv_dicts(tmp_path / "out.csv")
    path = tmp_path / "offres.parquet"
    types = field_types(Offre)
    table = pq.read_table(path)
    assert table.schema.names == OFFRE_FIELDS
    for name, type_ in types.items():
        assert table.schema.field(name).type == arrow_type(Offre, name, type_), name
    assert duckdb_types(path) == {n: duckdb_type(Offre, n, t) for n, t in types.items()}
    headers = list(OFFRE_HEADERS.values())
    specs = field_records(Offre)
    for rows in (table.to_pylist(), read_with_duckdb(path, types)):
        assert_same_as_csv(rows, written, OFFRE_FIELDS, headers, types, specs)
    assert len(written) == 400
    rows = table.to_pylist()
    # Real lists of structs: "top skills" is an unnest away, no cell to split.
    skills = [s for r in rows for s in r["competences"] or []]
    assert skills
    assert all(set(s) == {"code", "libelle", "exigence"} for s in skills)
    assert {s["exigence"] for s in skills} <= {"E", "S", None}
    assert {r["alternance"] for r in rows} == {True, False}


@pytest.mark.crawl
def test_zero_rows_give_a_valid_parquet_file(ods, tmp_path):
    api = ods(rows=200)
    run = scrapy_crawl(
        tmp_path, "cpf", "-O", "x.parquet", "-a", "q=zzzznothing", env={"CPF_API_URL": api.url}
    )
    assert run.returncode == 0, run.log
    table = pq.read_table(tmp_path / "x.parquet")
    assert table.num_rows == 0
    assert table.schema.names == FORMATION_FIELDS


# ------------------------------------------------------------------ usage errors


@pytest.mark.crawl
def test_o_refuses_to_append_to_a_parquet_file(ods, tmp_path):
    api = ods(rows=200)
    env = {"CPF_API_URL": api.url}
    first = scrapy_crawl(tmp_path, "cpf", "-O", "x.parquet", env=env)
    assert first.returncode == 0, first.log
    before = (tmp_path / "x.parquet").read_bytes()
    calls = api.stats()["calls"]
    run = scrapy_crawl(tmp_path, "cpf", "-o", "x.parquet", env=env)
    assert run.returncode != 0
    assert len(run.errors()) == 1, run.log
    assert "a Parquet file cannot take more rows" in run.errors()[0]
    assert "use -O x.parquet to replace it" in run.errors()[0]
    assert (tmp_path / "x.parquet").read_bytes() == before
    assert api.stats()["calls"] == calls, "nothing may be fetched"
    assert "Traceback" not in run.log


@pytest.mark.crawl
def test_jobdir_refuses_a_parquet_output(ods, tmp_path):
    api = ods(rows=200)
    (tmp_path / "x.parquet").write_bytes(b"yesterday's file")
    run = scrapy_crawl(
        tmp_path, "cpf", "-O", "x.parquet", "-s", "JOBDIR=job", env={"CPF_API_URL": api.url}
    )
    assert run.returncode == 2
    assert run.log.strip().splitlines()[-1].startswith("cpfft: error: -s JOBDIR:")
    assert "CSV output only, not parquet" in run.log
    assert "Traceback" not in run.log
    assert (tmp_path / "x.parquet").read_bytes() == b"yesterday's file"
    assert api.stats()["calls"] == 0


@pytest.mark.crawl
def test_without_pyarrow_a_parquet_output_is_refused_before_any_request(ods, tmp_path):
    api = ods(rows=200)
    shadow = tmp_path / "no_pyarrow"
    (shadow / "pyarrow").mkdir(parents=True)
    (shadow / "pyarrow" / "__init__.py").write_text("raise ImportError('no pyarrow here')\n")
    from tests.support.crawling import REPO

    run = scrapy_crawl(
        tmp_path, "cpf", "-O", "x.parquet",
        env={"CPF_API_URL": api.url, "PYTHONPATH": f"{shadow}:{REPO}"},
    )  # fmt: skip
    assert run.returncode == 2, run.log
    lines = run.log.strip().splitlines()
    assert len(lines) == 1, run.log
    assert lines[0] == (
        "cpfft: error: output 'x.parquet' needs the analysis extra (pyarrow): "
        "pip install -e '.[analyse]'"
    )
    assert not (tmp_path / "x.parquet").exists()
    assert api.stats()["calls"] == 0
