"""Every feed format Scrapy offers gives a valid file, and ``-o`` appends or refuses.

Real ``scrapy crawl`` runs against the emulators, several outputs at once
(``-O a.csv -O a.json …``): each file is parsed back and compared with the CSV.
"""

from __future__ import annotations

import json
import marshal
import pickle
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from cpfft.items import (
    FORMATION_FIELDS,
    OFFRE_HEADERS,
    Formation,
    Offre,
    Records,
    field_records,
)
from tests.support.crawling import BOM, ft_env
from tests.support.feeds import as_csv_cell, csv_dicts, scrapy_crawl

pytestmark = pytest.mark.crawl


def no_bom(path: Path) -> bytes:
    data = path.read_bytes()
    assert BOM not in data, f"{path.name} holds a BOM"
    return data


def xml_value(element: ET.Element | None, spec: Records | None):
    """An XML cell's value: its text, or for a list field one record per ``<value>``."""
    if spec is None:
        return None if element is None else element.text or ""
    if element is None or not len(element):
        return None
    return [{name: value.findtext(name) for name in spec.names} for value in element]


def parse_all(cwd: Path, headers: list[str], names: list[str], specs) -> dict[str, list[dict]]:
    """Each output parsed back, as rows keyed by the CSV headers."""
    parsed = {
        "json": json.loads(no_bom(cwd / "out.json")),
        "jsonl": [json.loads(line) for line in no_bom(cwd / "out.jsonl").splitlines()],
    }
    root = ET.fromstring(no_bom(cwd / "out.xml"))  # noqa: S314 - our own output
    assert root.tag == "items"
    parsed["xml"] = [
        {h: xml_value(item.find(n), specs.get(n)) for h, n in zip(headers, names, strict=True)}
        for item in root
    ]
    for item in root:
        assert [child.tag for child in item] == names
    for fmt, load in (("pickle", pickle.load), ("marshal", marshal.load)):
        records = []
        with (cwd / f"out.{fmt}").open("rb") as file:
            while True:
                try:
                    records.append(load(file))  # our own output
                except EOFError:
                    break
        parsed[fmt] = records
    return parsed


FORMATS = ("-O", "out.csv", "-O", "out.json", "-O", "out.jsonl", "-O", "out.xml",
           "-O", "out.pickle", "-O", "out.marshal")  # fmt: skip


def check_same_rows(cwd: Path, item_class: type, headers: list[str], names: list[str],
                    key: tuple[str, ...]) -> int:  # fmt: skip
    """Every format holds the CSV's rows, cell for cell (XML as text, without the
    formula guard; a list field as its records, the same in every format)."""
    specs = field_records(item_class)
    by_header = {h: specs.get(n) for h, n in zip(headers, names, strict=True)}
    rows = {tuple(r[k] for k in key): r for r in csv_dicts(cwd / "out.csv")}
    for fmt, parsed in parse_all(cwd, headers, names, specs).items():
        assert len(parsed) == len(rows), fmt
        for row in parsed:
            assert list(row) == headers, fmt
            written = rows[tuple(as_csv_cell(row[k]) for k in key)]
            assert {h: as_csv_cell(v, by_header[h]) for h, v in row.items()} == written, fmt
    return len(rows)


def test_cpf_json_jsonl_xml_pickle_marshal_hold_the_csv_rows(ods, tmp_path):
    api = ods(rows=400, hostile_every=3)
    run = scrapy_crawl(tmp_path, "cpf", *FORMATS, env={"CPF_API_URL": api.url})
    assert run.returncode == 0, run.log
    key = ("numero_formation", "code_departement")
    assert check_same_rows(tmp_path, Formation, FORMATION_FIELDS, FORMATION_FIELDS, key) == 400
    rows = json.loads((tmp_path / "out.json").read_text("utf-8"))
    # Typed values (a sparse row leaves some empty: null, never "").
    assert {type(r["nb_action"]) for r in rows} <= {int, type(None)}
    assert any(isinstance(r["nb_action"], int) for r in rows)
    assert {type(r["code_departement"]) for r in rows} <= {str, type(None)}
    assert any(isinstance(r["code_departement"], str) for r in rows)


def test_offres_json_jsonl_xml_pickle_marshal_hold_the_csv_rows(ft, tmp_path):
    api = ft(offers=400)
    run = scrapy_crawl(tmp_path, "offres", *FORMATS, env=ft_env(api))
    assert run.returncode == 0, run.log
    headers, names = list(OFFRE_HEADERS.values()), list(OFFRE_HEADERS)
    assert check_same_rows(tmp_path, Offre, headers, names, ("id",)) == 400
    rows = json.loads((tmp_path / "out.json").read_text("utf-8"))
    # Booleans and lists of records stay typed outside the CSV.
    assert {type(r["alternance"]) for r in rows} == {bool}
    skills = [r["competences"] for r in rows if r["competences"]]
    assert skills
    assert all(isinstance(s, list) and isinstance(s[0], dict) for s in skills)


def test_zero_rows_give_valid_empty_documents(ods, tmp_path):
    api = ods(rows=200)
    run = scrapy_crawl(
        tmp_path, "cpf", *FORMATS, "-a", "q=zzzznothing", env={"CPF_API_URL": api.url}
    )
    assert run.returncode == 0, run.log
    assert json.loads(no_bom(tmp_path / "out.json")) == []
    assert no_bom(tmp_path / "out.jsonl") == b""
    assert len(ET.fromstring(no_bom(tmp_path / "out.xml"))) == 0  # noqa: S314
    assert csv_dicts(tmp_path / "out.csv") == []


# ------------------------------------------------------------------ -o (append)


def keys(path: Path) -> list[tuple[str, str]]:
    return [(r["numero_formation"], r["code_departement"]) for r in csv_dicts(path)]


def test_o_appends_rows_to_a_csv_without_a_second_header(ods, tmp_path):
    api = ods(rows=600)
    env = {"CPF_API_URL": api.url}
    first = scrapy_crawl(tmp_path, "cpf", "-a", "departement=75", "-O", "out.csv", env=env)
    assert first.returncode == 0, first.log
    before = keys(tmp_path / "out.csv")
    second = scrapy_crawl(tmp_path, "cpf", "-a", "departement=13", "-o", "out.csv", env=env)
    assert second.returncode == 0, second.log
    data = (tmp_path / "out.csv").read_bytes()
    assert data.count(b"numero_formation") == 1  # one header
    after = keys(tmp_path / "out.csv")  # one BOM, every row whole (csv_dicts checks)
    assert after[: len(before)] == before
    added = after[len(before) :]
    assert added
    assert {d for _, d in added} == {"13"}


def test_o_refuses_a_csv_with_another_delimiter_or_columns(ods, tmp_path):
    api = ods(rows=300)
    env = {"CPF_API_URL": api.url}
    path = tmp_path / "out.csv"
    path.write_bytes(BOM + ";".join(FORMATION_FIELDS).encode() + b"\r\n")
    before = path.read_bytes()
    run = scrapy_crawl(tmp_path, "cpf", "-o", "out.csv", env=env)
    assert run.returncode != 0
    assert len(run.errors()) == 1, run.log
    assert "separated by ';'" in run.errors()[0]
    assert "CPFFT_CSV_DELIMITER=';'" in run.errors()[0]
    assert path.read_bytes() == before
    assert api.stats()["calls"] == 0, "nothing may be fetched"
    assert "Traceback" not in run.log

    path.write_bytes(BOM + b"Intitul\xc3\xa9,Lieu\r\nx,y\r\n")  # an offres CSV, say
    before = path.read_bytes()
    run = scrapy_crawl(tmp_path, "cpf", "-o", "out.csv", env=env)
    assert run.returncode != 0
    assert "its header is not this run's 47 columns" in run.log
    assert path.read_bytes() == before
    assert api.stats()["calls"] == 0


def test_o_refuses_a_csv_whose_last_row_is_cut(ods, tmp_path):
    api = ods(rows=200)
    path = tmp_path / "out.csv"
    path.write_bytes(BOM + ",".join(FORMATION_FIELDS).encode() + b'\r\n2026-11-28,"AF')
    before = path.read_bytes()
    run = scrapy_crawl(tmp_path, "cpf", "-o", "out.csv", env={"CPF_API_URL": api.url})
    assert run.returncode != 0
    assert "does not end with a line break" in run.log
    assert path.read_bytes() == before


@pytest.mark.parametrize("name", ["out.json", "out.xml", "out.xlsx"])
def test_o_refuses_to_append_to_a_whole_document(ods, tmp_path, name):
    api = ods(rows=200)
    env = {"CPF_API_URL": api.url}
    first = scrapy_crawl(tmp_path, "cpf", "-O", name, env=env)
    assert first.returncode == 0, first.log
    before = (tmp_path / name).read_bytes()
    calls = api.stats()["calls"]
    run = scrapy_crawl(tmp_path, "cpf", "-o", name, env=env)
    assert run.returncode != 0
    assert len(run.errors()) == 1, run.log
    assert f"use -O {name} to replace it" in run.errors()[0]
    assert (tmp_path / name).read_bytes() == before
    assert api.stats()["calls"] == calls, "nothing may be fetched"


def test_o_appends_to_json_lines(ods, tmp_path):
    api = ods(rows=600)
    env = {"CPF_API_URL": api.url}
    first = scrapy_crawl(tmp_path, "cpf", "-a", "departement=75", "-O", "out.jsonl", env=env)
    assert first.returncode == 0, first.log
    n = len(no_bom(tmp_path / "out.jsonl").splitlines())
    second = scrapy_crawl(tmp_path, "cpf", "-a", "departement=13", "-o", "out.jsonl", env=env)
    assert second.returncode == 0, second.log
    rows = [json.loads(line) for line in no_bom(tmp_path / "out.jsonl").splitlines()]
    assert len(rows) > n
    assert {r["code_departement"] for r in rows[n:]} == {"13"}
