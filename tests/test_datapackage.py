"""Data-package descriptors beside the outputs (validated with Frictionless against the
files of real crawls), and the README's data dictionary generated from cpfft/items.py."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import frictionless
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cpfft import datapackage
from cpfft.datapackage import Output, descriptor, markdown
from cpfft.items import (
    FORMATION_FIELDS,
    OFFRE_HEADERS,
    Formation,
    Offre,
    field_descriptions,
    field_types,
)
from cpfft.sources import FORMATIONS, OFFRES
from tests.support.crawling import BOM, REPO, ft_env
from tests.support.feeds import scrapy_crawl


def load(path: Path) -> dict:
    return json.loads(path.read_text("utf-8"))


def validate(path: Path) -> frictionless.Report:
    return frictionless.validate(str(path))


def problems(report: frictionless.Report) -> list:
    return report.flatten(["rowNumber", "fieldName", "type", "note"])


# ------------------------------------------------------------------ pure


def test_every_column_has_a_type_and_a_french_description():
    for item_class in (Formation, Offre):
        descriptions = field_descriptions(item_class)
        assert list(descriptions) == list(field_types(item_class))
        assert all(len(d) > 10 for d in descriptions.values())


def test_the_schema_follows_the_file_it_describes():
    moment = datetime(2026, 12, 1, 22, 5, 12, 345000, tzinfo=UTC)
    package = descriptor(
        "offres",
        [Output("offres.csv", "csv", 12, delimiter=";", encoding="utf-8-sig"),
         Output("offres.parquet", "parquet", 12)],
        extracted_at=moment,
        partial=True,
    )  # fmt: skip
    as_csv, as_parquet = package["resources"]
    assert [f["name"] for f in as_csv["schema"]["fields"]] == list(OFFRE_HEADERS.values())
    assert as_csv["schema"]["fields"][0]["cpfft_name"] == "intitule"
    assert as_csv["dialect"]["delimiter"] == ";"
    assert as_csv["encoding"] == "utf-8-sig"
    assert [f["name"] for f in as_parquet["schema"]["fields"]] == list(OFFRE_HEADERS)
    assert "dialect" not in as_parquet
    types = {f["name"]: f["type"] for f in as_parquet["schema"]["fields"]}
    assert types["date_publication"] == "datetime"
    assert types["latitude"] == "number"
    assert types["code_postal"] == "string"
    assert package["cpfft"] == {"spider": "offres", "outcome": "complete", "rows": 12,
                                "extracted_at": "2026-12-01T22:05:12Z", "partial": True}  # fmt: skip
    # The France Travail licence: source, update time and the licence's link.
    assert package["licenses"] == [
        {"name": datapackage.slug(OFFRES.licence), "path": OFFRES.licence_url,
         "title": OFFRES.licence}
    ]  # fmt: skip
    assert package["sources"][0]["path"] == OFFRES.url
    assert OFFRES.licence_url in package["description"]
    assert "2026-12-01T22:05:12Z" in package["description"]
    assert OFFRES.obligations in package["description"]


def test_descriptor_names():
    assert datapackage.descriptor_name("formations.csv") == "formations.csv.datapackage.json"
    assert datapackage.descriptor_name("formations.parquet") == (
        "formations.parquet.datapackage.json"
    )
    assert datapackage.descriptor_name("20261201T220512.345Z.depuis.csv") == (
        "20261201T220512.345Z.depuis.csv.datapackage.json"
    )
    assert datapackage.legacy_descriptor_name("formations.csv") == "formations.datapackage.json"
    assert datapackage.slug("20261201T220512.345Z_Job 1.csv") == "20261201t220512.345z_job-1.csv"


# ------------------------------------------------------------------ the README


def test_the_readme_dictionary_is_the_generated_one():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(
        r"<!-- Dictionnaire généré par `python -m cpfft\.datapackage --markdown`[^\n]*-->\n(.*?)"
        r"<!-- Fin du dictionnaire généré\. -->",
        readme,
        re.DOTALL,
    )
    assert block, "the README has no generated data dictionary"
    assert block.group(1) == markdown(), "run python -m cpfft.datapackage --markdown and paste it"
    for name in [*FORMATION_FIELDS, *OFFRE_HEADERS]:
        assert f"| `{name}`" in block.group(1), name


# ------------------------------------------------------------------ crawls


@pytest.mark.crawl
def test_cpf_csv_and_parquet_descriptor_validates_and_a_wrong_file_does_not(ods, tmp_path):
    api = ods(rows=300, hostile_every=3)
    run = scrapy_crawl(
        tmp_path, "cpf", "-O", "formations.csv", "-O", "formations.parquet",
        env={"CPF_API_URL": api.url},
    )  # fmt: skip
    assert run.returncode == 0, run.log
    for name in ("formations.csv", "formations.parquet"):
        package = load(tmp_path / f"{name}.datapackage.json")
        assert [r["path"] for r in package["resources"]] == [name]
        assert package["name"] == "formations"
        assert package["cpfft"]["spider"] == "cpf"
        assert package["cpfft"]["rows"] == 300
        assert package["cpfft"]["partial"] is False
        assert package["licenses"][0]["path"] == FORMATIONS.licence_url
    package = load(tmp_path / "formations.csv.datapackage.json")
    assert package["sources"][0]["path"] == FORMATIONS.url
    assert datetime.fromisoformat(package["created"]) >= datetime.fromisoformat(
        package["cpfft"]["extracted_at"]
    )
    as_csv = package["resources"][0]
    assert as_csv["encoding"] == "utf-8-sig"
    assert as_csv["dialect"]["delimiter"] == ","
    path = tmp_path / "formations.csv.datapackage.json"
    of_parquet = tmp_path / "formations.parquet.datapackage.json"
    for described in (path, of_parquet):
        report = validate(described)
        assert report.valid, problems(report)
        assert len(report.tasks) == 1  # its own file, read and checked

    # A CSV whose integer cell is not a number: invalid.
    data = (tmp_path / "formations.csv").read_bytes()
    rows = list(csv.reader(io.StringIO(data[3:].decode(), newline="")))
    rows[5][FORMATION_FIELDS.index("nb_action")] = "beaucoup"
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    (tmp_path / "formations.csv").write_bytes(BOM + out.getvalue().encode())
    report = validate(path)
    assert not report.valid
    assert ["nb_action", "type-error"] in [p[1:3] for p in problems(report)]

    # A Parquet file with a column of another type: invalid.
    table = pq.read_table(tmp_path / "formations.parquet")
    index = table.schema.get_field_index("date_extract")
    table = table.set_column(index, "date_extract", pa.array(["hier"] * table.num_rows))
    pq.write_table(table, tmp_path / "formations.parquet")
    (tmp_path / "formations.csv").write_bytes(data)  # the CSV back as it was
    assert validate(path).valid
    report = validate(of_parquet)
    assert not report.valid
    assert {p[1] for p in problems(report)} == {"date_extract"}


@pytest.mark.crawl
def test_offres_descriptor_matches_the_french_headers_and_the_delimiter(ft, tmp_path):
    api = ft(offers=300)
    run = scrapy_crawl(
        tmp_path, "offres", "-O", "offres.csv", "-O", "offres.parquet",
        "-s", "CPFFT_CSV_DELIMITER=;", env=ft_env(api),
    )  # fmt: skip
    assert run.returncode == 0, run.log
    path = tmp_path / "offres.csv.datapackage.json"
    package = load(path)
    (as_csv,) = package["resources"]
    (as_parquet,) = load(tmp_path / "offres.parquet.datapackage.json")["resources"]
    assert as_csv["dialect"]["delimiter"] == ";"
    assert [f["name"] for f in as_csv["schema"]["fields"]][:2] == ["Intitulé", "Lieu"]
    assert [f["name"] for f in as_parquet["schema"]["fields"]][:2] == ["intitule", "lieu"]
    assert package["licenses"][0]["path"] == OFFRES.licence_url
    assert package["cpfft"]["rows"] == 300
    for described in (path, tmp_path / "offres.parquet.datapackage.json"):
        report = validate(described)
        assert report.valid, problems(report)
        assert len(report.tasks) == 1

    # A header that is not the schema's: invalid (Frictionless checks header names).
    data = (tmp_path / "offres.csv").read_bytes()
    (tmp_path / "offres.csv").write_bytes(data.replace("Intitulé".encode(), b"intitule", 1))
    report = validate(path)
    assert not report.valid
    assert "incorrect-label" in {p[2] for p in problems(report)}


@pytest.mark.crawl
def test_separate_runs_to_outputs_of_one_name_each_keep_their_descriptor(ods, tmp_path):
    """-O formations.csv, then .xlsx, .parquet, .json in separate runs: before, the one
    formations.datapackage.json described only the last file, and the CSV lost the row
    count the warehouse checks. Now each file has its own; an earlier version's shared
    descriptor naming the CSV is removed when the CSV is rewritten."""
    api = ods(rows=120)
    legacy = tmp_path / "formations.datapackage.json"
    legacy.write_text(json.dumps({"cpfft": {"spider": "cpf", "outcome": "complete", "rows": 7},
                                  "resources": [{"path": "formations.csv"}]}), "utf-8")  # fmt: skip
    names = ["formations.csv", "formations.xlsx", "formations.parquet", "formations.json"]
    for name in names:
        run = scrapy_crawl(tmp_path, "cpf", "-O", name, env={"CPF_API_URL": api.url})
        assert run.returncode == 0, run.log
    assert not legacy.exists()
    for name in names:
        package = load(tmp_path / f"{name}.datapackage.json")
        assert [r["path"] for r in package["resources"]] == [name]
        assert package["cpfft"]["rows"] == 120
    for name in ("formations.csv", "formations.parquet"):
        report = validate(tmp_path / f"{name}.datapackage.json")
        assert report.valid, problems(report)


@pytest.mark.crawl
def test_an_incomplete_run_leaves_the_output_and_its_descriptor_and_describes_its_own_rows(
    ods, tmp_path
):
    api = ods(rows=300)
    env = {"CPF_API_URL": api.url}
    run = scrapy_crawl(tmp_path, "cpf", "-O", "formations.csv", env=env)
    assert run.returncode == 0, run.log
    path = tmp_path / "formations.csv.datapackage.json"
    before = path.read_bytes()

    # Nothing fetched: the file is left untouched, and so is the descriptor that describes it.
    run = scrapy_crawl(tmp_path, "cpf", "-O", "formations.csv", env={})
    assert run.returncode == 1
    assert path.read_bytes() == before
    assert validate(path).valid

    # Some rows, not all: they go to formations.incomplete.csv, with a descriptor that says
    # incomplete; formations.csv and its descriptor stay as they were, byte for byte.
    good = (tmp_path / "formations.csv").read_bytes()
    run = scrapy_crawl(
        tmp_path, "cpf", "-O", "formations.csv", "-s", "CLOSESPIDER_ITEMCOUNT=5", env=env
    )
    assert run.returncode == 1
    assert (tmp_path / "formations.csv").read_bytes() == good
    assert path.read_bytes() == before
    kept = load(tmp_path / "formations.incomplete.csv.datapackage.json")
    assert kept["cpfft"]["outcome"] == "incomplete"
    assert [r["path"] for r in kept["resources"]] == ["formations.incomplete.csv"]
    rows = (tmp_path / "formations.incomplete.csv").read_bytes().count(b"\r\n") - 1
    assert kept["cpfft"]["rows"] == rows > 0


@pytest.mark.crawl
def test_scheduled_runs_publish_latest_datapackage_beside_latest_csv(ods, tmp_path):
    api = ods(rows=200)
    out = tmp_path / "out"
    env = {"CPF_API_URL": api.url, "CPFFT_OUTPUT_DIR": str(out)}
    run = scrapy_crawl(tmp_path, "cpf", env=env)
    assert run.returncode == 0, run.log
    folder = out / "cpf"
    (stamped,) = list(folder.glob("2*.csv"))
    own = folder / datapackage.descriptor_name(stamped.name)
    latest = folder / "latest.csv.datapackage.json"
    assert load(own)["resources"][0]["path"] == stamped.name
    assert latest.read_bytes() == own.read_bytes()
    assert (folder / "latest.csv").read_bytes() == stamped.read_bytes()
    assert load(latest)["cpfft"]["rows"] == 200
    report = validate(latest)
    assert report.valid, problems(report)

    # An incomplete run writes no descriptor and leaves latest.* on the complete run.
    run = scrapy_crawl(tmp_path, "cpf", "-s", "CLOSESPIDER_ITEMCOUNT=5", env=env)
    assert run.returncode == 1
    assert sorted(p.name for p in folder.glob("*.datapackage.json")) == sorted(
        [own.name, latest.name]
    )
    assert load(latest)["resources"][0]["path"] == stamped.name
