"""``-O formations.xlsx``: typed cells, a usable sheet, and never more rows than Excel holds."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime

import openpyxl
import pytest
from scrapy.utils.test import get_crawler

from cpfft import exporters
from cpfft.exporters import XLSX_TRUNCATED, XlsxExporter, neutralise_formula
from cpfft.items import FORMATION_FIELDS, OFFRE_HEADERS, Formation, Offre, field_types
from cpfft.run.state import INCOMPLETE
from tests.support.crawling import ft_env
from tests.support.feeds import csv_dicts, exported, scrapy_crawl


def export(items, *, fields=FORMATION_FIELDS, item_class=Formation, crawler=None, **options):
    return exported(XlsxExporter, items, fields=fields, item_class=item_class, crawler=crawler,
                    **options)  # fmt: skip


def sheet(data):
    return openpyxl.load_workbook(io.BytesIO(data)).active


def row_of(ws, row, headers):
    return {h: ws.cell(row, col).value for col, h in enumerate(headers, 1)}


def read_rows(path):
    """(sheet title, rows as tuples of values) of an xlsx file."""
    workbook = openpyxl.load_workbook(path, read_only=True)
    try:
        return workbook.active.title, list(workbook.active.iter_rows(values_only=True))
    finally:
        workbook.close()


def sheet_xml(data):
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.read("xl/worksheets/sheet1.xml").decode()


HOSTILE = '=HYPERLINK("http://evil.example","clic")'


def test_cells_are_typed_from_the_declared_field_types():
    item = Formation(
        date_extract="2026-11-28",
        nom_of=HOSTILE,
        intitule_formation="-Formation- @home",
        code_departement="02",
        code_region="84",
        siret="01234567890123",
        code_rncp="-1",
        numero_formation="01234567890123_0000001-RS4260",
        points_forts="• Études de cas\n• Projet",
        nb_action=3,
        nombre_heures_total_mean=52.5,
        frais_ttc_tot_mean=1466.25,
    )
    data = export([item])
    ws = sheet(data)
    row = row_of(ws, 2, FORMATION_FIELDS)
    assert row["date_extract"] == datetime(2026, 11, 28)
    assert ws["A2"].is_date
    for code in ("code_departement", "siret", "code_rncp", "numero_formation", "code_region"):
        assert isinstance(row[code], str), code
    assert row["code_departement"] == "02"
    assert row["siret"] == "01234567890123"
    assert row["code_rncp"] == "-1"
    assert row["nb_action"] == 3
    assert isinstance(row["nb_action"], int)
    assert row["nombre_heures_total_mean"] == 52.5
    assert row["frais_ttc_tot_mean"] == 1466.25
    # Text cells are never formulas: no apostrophe needed, none added.
    assert row["nom_of"] == HOSTILE
    assert row["intitule_formation"] == "-Formation- @home"
    assert row["points_forts"] == "• Études de cas\n• Projet"
    assert "<f>" not in sheet_xml(data)
    assert row["nom_departement"] is None  # empty stays empty


def test_the_header_is_frozen_filtered_and_columns_are_sized():
    items = [
        Formation(numero_formation=str(n), siret="12345678901234", nb_action=n) for n in (1, 2)
    ]
    ws = sheet(export(items))
    assert [c.value for c in ws[1]] == FORMATION_FIELDS
    assert all(c.font.b for c in ws[1])
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:AU3"
    width = {ws.cell(1, i).value: ws.column_dimensions[ws.cell(1, i).column_letter].width
             for i in range(1, 48)}  # fmt: skip
    assert width["siret"] >= 14
    assert width["nb_action"] >= len("nb_action")
    assert all(6 <= w <= 61 for w in width.values())


def test_offer_instants_are_utc_dates_under_the_french_headers():
    offer = Offre(
        id="201ABCD",
        intitule="Développeur Python (H/F)",
        date_publication="2026-11-28T09:15:00.000Z",
        date_actualisation="2026-11-28T11:20:30+02:00",
        code_postal="01000",
        latitude=45.2,
    )
    ws = sheet(export([offer], fields=OFFRE_HEADERS, item_class=Offre))
    headers = list(OFFRE_HEADERS.values())
    assert [c.value for c in ws[1]] == headers
    row = row_of(ws, 2, headers)
    assert row["Date de publication"] == datetime(2026, 11, 28, 9, 15)
    assert row["date_actualisation"] == datetime(2026, 11, 28, 9, 20, 30)
    assert row["code_postal"] == "01000"
    assert row["latitude"] == 45.2


def test_offer_flags_are_booleans_and_lists_one_readable_cell():
    offer = Offre(
        id="201ABCD",
        alternance=True,
        competences=[
            {"libelle": "Souder à l'arc", "code": "125731", "exigence": "E"},
            {"libelle": "Lire un plan", "code": None, "exigence": None},
        ],
        permis=[{"libelle": "B - Véhicule léger", "exigence": "S"}],
    )
    ws = sheet(export([offer, Offre(id="2", alternance=False)], fields=OFFRE_HEADERS,
                      item_class=Offre))  # fmt: skip
    headers = list(OFFRE_HEADERS.values())
    first, second = row_of(ws, 2, headers), row_of(ws, 3, headers)
    assert first["alternance"] is True
    assert second["alternance"] is False
    assert first["competences"] == (
        "Souder à l'arc · 125731 (exigée) ; Lire un plan (non précisée)"
    )
    assert first["permis"] == "B - Véhicule léger (souhaité)"
    assert second["competences"] is None


def test_a_date_that_does_not_parse_stays_text():
    ws = sheet(export([Formation(date_extract="bientôt", numero_formation="1")]))
    assert ws["A2"].value == "bientôt"


def test_zero_rows_give_the_header_only():
    ws = sheet(export([]))
    assert [c.value for c in ws[1]] == FORMATION_FIELDS
    assert ws.max_row == 1


def test_text_longer_than_excel_allows_is_cut_and_counted():
    crawler = get_crawler()
    crawler.stats.open_spider()
    long = "é" * 40_000
    ws = sheet(export([Formation(contenu_formation=long)], crawler=crawler))
    assert ws.cell(2, FORMATION_FIELDS.index("contenu_formation") + 1).value == long[:32_767]
    assert crawler.stats.get_value(XLSX_TRUNCATED) == 1


def test_rows_beyond_the_sheet_are_not_written_and_the_run_is_incomplete():
    crawler = get_crawler()
    crawler.stats.open_spider()
    items = [Formation(numero_formation=str(n)) for n in range(5)]
    ws = sheet(export(items, crawler=crawler, max_rows=3))
    assert [c.value for c in ws["AC"]] == ["numero_formation", "0", "1"]
    assert crawler.stats.get_value(INCOMPLETE) == 1


def test_a_huge_sheet_gets_a_zip64_container(monkeypatch):
    monkeypatch.setattr(exporters, "XLSX_ZIP64_ABOVE", -1)
    data = export([Formation(numero_formation="1")])
    assert sheet(data)["AC2"].value == "1"


def test_every_declared_type_is_one_the_exporter_writes():
    for item_class in (Formation, Offre):
        assert set(field_types(item_class).values()) <= {"text", "code", "int", "float", "bool",
                                                         "date", "datetime", "records"}  # fmt: skip
    assert field_types(Formation)["siret"] == "code"
    assert field_types(Offre)["date_publication"] == "datetime"
    assert field_types(Offre)["alternance"] == "bool"
    assert field_types(Offre)["competences"] == "records"


# ------------------------------------------------------------------ crawls


def same_as_csv(value, cell, header):
    """Whether an xlsx value is what the CSV holds (a number as the same number)."""
    if value is None:
        return cell == ""
    if isinstance(value, datetime):
        return value.date().isoformat() == cell if header == "date_extract" else False
    if isinstance(value, (int, float)):
        return float(cell) == value
    return neutralise_formula(value) == cell


@pytest.mark.crawl
def test_cpf_xlsx_holds_the_csv_rows(ods, tmp_path):
    api = ods(rows=500, hostile_every=3)
    run = scrapy_crawl(
        tmp_path, "cpf", "-O", "out.csv", "-O", "formations.xlsx", env={"CPF_API_URL": api.url}
    )
    assert run.returncode == 0, run.log
    written = csv_dicts(tmp_path / "out.csv")
    title, rows = read_rows(tmp_path / "formations.xlsx")
    assert title == "formations"
    assert list(rows[0]) == FORMATION_FIELDS
    assert len(rows) == len(written) + 1 == 501
    typed = field_types(Formation)
    for cells, csv_row in zip(rows[1:], written, strict=True):
        for header, value in zip(FORMATION_FIELDS, cells, strict=True):
            assert same_as_csv(value, csv_row[header], header), (header, value, csv_row[header])
            if value is not None and typed[header] in ("code", "text"):
                assert isinstance(value, str)
    # float cells as floats, codes such as a SIRET as text
    assert any(isinstance(r[FORMATION_FIELDS.index("frais_ttc_tot_mean")], float) for r in rows[1:])
    assert all(isinstance(r[FORMATION_FIELDS.index("siret")], str) for r in rows[1:])


@pytest.mark.crawl
def test_cpf_with_more_rows_than_a_sheet_stops_before_fetching_them(ods, tmp_path):
    api = ods(rows=300)
    path = tmp_path / "formations.xlsx"
    path.write_bytes(b"yesterday's workbook")
    run = scrapy_crawl(
        tmp_path, "cpf", "-O", "formations.xlsx", "-s", "CPFFT_XLSX_MAX_ROWS=300",
        env={"CPF_API_URL": api.url},
    )  # fmt: skip
    assert run.returncode == 1
    first = run.errors()[0]
    assert "formations.xlsx: the run expects 300 rows, more than the 299" in first
    assert "nothing was fetched" in first
    assert "-O formations.csv" in first
    assert "Traceback" not in run.log
    assert path.read_bytes() == b"yesterday's workbook"
    assert api.stats()["by_route"].get("v21_export", 0) == 0, "no row may be fetched"

    # Exactly as many rows as the sheet holds below its header: written whole.
    run = scrapy_crawl(
        tmp_path, "cpf", "-O", "formations.xlsx", "-s", "CPFFT_XLSX_MAX_ROWS=301",
        env={"CPF_API_URL": api.url},
    )  # fmt: skip
    assert run.returncode == 0, run.log
    assert len(read_rows(path)[1]) == 301


@pytest.mark.crawl
def test_offres_xlsx_and_its_row_limit(ft, tmp_path):
    api = ft(offers=400)
    run = scrapy_crawl(tmp_path, "offres", "-O", "offres.xlsx", env=ft_env(api))
    assert run.returncode == 0, run.log
    _, rows = read_rows(tmp_path / "offres.xlsx")
    headers = list(OFFRE_HEADERS.values())
    assert list(rows[0]) == headers
    assert len(rows) == 401
    published = headers.index("Date de publication")
    assert all(isinstance(r[published], datetime) for r in rows[1:])

    searches = len([c for c in api.calls if c["path"].endswith("/offres/search")])
    (tmp_path / "offres.xlsx").unlink()
    run = scrapy_crawl(
        tmp_path, "offres", "-O", "offres.xlsx", "-s", "CPFFT_XLSX_MAX_ROWS=200", env=ft_env(api)
    )
    assert run.returncode == 1
    assert "offres.xlsx: the run expects 400 rows, more than the 199" in run.errors()[0]
    assert not (tmp_path / "offres.xlsx").exists()
    after = len([c for c in api.calls if c["path"].endswith("/offres/search")])
    assert after - searches == 1, "only the first page (the total) may be fetched"


def test_the_sheet_is_named_after_the_output_not_its_working_file():
    class Named:
        def __init__(self, name: str) -> None:
            self.name = name

    # Rows go to formations.incomplete.xlsx until the run is complete, then it is renamed.
    assert exporters.sheet_name(Named("/data/formations.incomplete.xlsx")) == "formations"
    assert exporters.sheet_name(Named("/data/formations.xlsx")) == "formations"
    assert exporters.sheet_name(Named("/data/a:b[1].xlsx")) == "a_b_1_"
    assert exporters.sheet_name(object()) == "cpfft"
