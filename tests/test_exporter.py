import csv
import io
import xml.etree.ElementTree as ET

import pytest
from scrapy.utils.test import get_crawler

from cpfft.exporters import (
    FORMULA_GUARDED,
    CsvExporter,
    XmlExporter,
    format_float,
    neutralise_formula,
)
from cpfft.items import FORMATION_FIELDS, OFFRE_HEADERS, Formation, Offre


def export(items, *, fields=None, **settings):
    crawler = get_crawler(settings_dict=settings)
    stream = io.BytesIO()
    exporter = CsvExporter.from_crawler(
        crawler, stream, fields_to_export=fields or FORMATION_FIELDS, encoding="utf-8-sig"
    )
    exporter.start_exporting()
    for item in items:
        exporter.export_item(item)
    exporter.finish_exporting()
    return stream.getvalue()


def parse(data, delimiter=","):
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data[3:].decode(), newline=""), delimiter=delimiter))


def test_zero_rows_still_has_bom_and_header():
    data = export([])
    assert parse(data) == [FORMATION_FIELDS]


def test_header_is_the_47_dataset_columns_in_order():
    rows = parse(export([Formation(numero_formation="1_A", code_departement="01")]))
    assert rows[0] == FORMATION_FIELDS
    assert len(rows[0]) == 47
    assert rows[1][FORMATION_FIELDS.index("code_departement")] == "01"


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+33 1 23 45", "'+33 1 23 45"),
        ("-Formation-", "'-Formation-"),
        ("@Home", "'@Home"),
        ("\tTab", "'\tTab"),
        ("\rCR", "'\rCR"),
        ("  =1+1", "'  =1+1"),
        ("-1", "-1"),
        ("+2.5", "+2.5"),
        ("-0,75", "-0,75"),
        ("Dupont; Fils", "Dupont; Fils"),
        ("", ""),
    ],
)
def test_formula_guard(value, cell):
    assert neutralise_formula(value) == cell


def test_formula_guard_in_file_and_switch():
    item = Formation(nom_of="=1+1", numero_formation="X", code_rncp="-1", nb_action=-1)
    guarded = dict(zip(FORMATION_FIELDS, parse(export([item]))[1], strict=True))
    assert guarded["nom_of"] == "'=1+1"
    assert guarded["code_rncp"] == "-1"
    assert guarded["nb_action"] == "-1"
    raw = dict(
        zip(FORMATION_FIELDS, parse(export([item], CPFFT_CSV_FORMULA_GUARD=False))[1], strict=True)
    )
    assert raw["nom_of"] == "=1+1"


def test_delimiter_setting_and_quoting():
    item = Formation(
        nom_of='L\'atelier "X"; Fils, Cie', contenu_formation="a\nb", numero_formation="1"
    )
    data = export([item], CPFFT_CSV_DELIMITER=";")
    assert data.splitlines()[0].count(b";") == 46
    row = dict(zip(FORMATION_FIELDS, parse(data, ";")[1], strict=True))
    assert row["nom_of"] == 'L\'atelier "X"; Fils, Cie'
    assert row["contenu_formation"] == "a\nb"


@pytest.mark.parametrize(
    ("value", "text"),
    [(2090.0, "2090.0"), (1490.5, "1490.5"), (1e-07, "0.0000001"), (1.5e16, "15000000000000000")],
)
def test_floats_use_dot_and_no_exponent(value, text):
    assert format_float(value) == text


def test_utf8_gets_the_bom_only_csv_needs():
    data = export([Formation(numero_formation="1")], fields=["numero_formation"])
    assert data.startswith(b"\xef\xbb\xbf")
    crawler = get_crawler()
    stream = io.BytesIO()
    exporter = CsvExporter.from_crawler(crawler, stream, fields_to_export=["a"], encoding="utf-8")
    exporter.start_exporting()
    exporter.finish_exporting()
    assert stream.getvalue() == b"\xef\xbb\xbfa\r\n"


def test_appending_writes_neither_bom_nor_a_second_header(tmp_path):
    path = tmp_path / "out.csv"
    path.write_bytes(b"\xef\xbb\xbfnumero_formation,nom_of\r\n1,A\r\n")
    crawler = get_crawler()
    with path.open("ab") as file:  # what -o opens
        exporter = CsvExporter.from_crawler(
            crawler, file, fields_to_export=["numero_formation", "nom_of"], encoding="utf-8"
        )
        exporter.start_exporting()
        exporter.export_item(Formation(numero_formation="2", nom_of="B"))
        exporter.finish_exporting()
    assert path.read_bytes() == b"\xef\xbb\xbfnumero_formation,nom_of\r\n1,A\r\n2,B\r\n"


def test_guarded_cells_are_counted_in_a_stat():
    crawler = get_crawler()
    crawler.stats.open_spider()
    stream = io.BytesIO()
    exporter = CsvExporter.from_crawler(crawler, stream, fields_to_export=FORMATION_FIELDS)
    exporter.start_exporting()
    exporter.export_item(Formation(nom_of="=1+1", intitule_formation="@x", code_rncp="-1"))
    exporter.export_item(Formation(nom_of="-Formation-", numero_formation="+33 1 23"))
    exporter.export_item(Formation(nom_of="Plain"))
    exporter.finish_exporting()
    assert crawler.stats.get_value(FORMULA_GUARDED) == 4
    assert crawler.stats.get_value(FORMULA_GUARDED) == data_guarded(stream.getvalue())


def data_guarded(data):
    return sum(cell.startswith("'") for row in parse(data)[1:] for cell in row)


def test_no_stat_without_a_guarded_cell():
    crawler = get_crawler(settings_dict={"CPFFT_CSV_FORMULA_GUARD": False})
    crawler.stats.open_spider()
    exporter = CsvExporter.from_crawler(crawler, io.BytesIO(), fields_to_export=FORMATION_FIELDS)
    exporter.start_exporting()
    exporter.export_item(Formation(nom_of="=1+1"))
    exporter.finish_exporting()
    assert crawler.stats.get_value(FORMULA_GUARDED) is None


# ------------------------------------------------------------------ XML


def test_xml_is_valid_with_french_headers_and_empty_values():
    stream = io.BytesIO()
    exporter = XmlExporter(stream, fields_to_export=OFFRE_HEADERS, encoding="utf-8-sig")
    exporter.start_exporting()
    exporter.export_item(
        Offre(id="1", intitule="Développeur <Python> & co", latitude=1.5e-07, lieu=None)
    )
    exporter.finish_exporting()
    data = stream.getvalue()
    assert data.startswith(b"<?xml")  # no BOM before the declaration
    root = ET.fromstring(data)  # noqa: S314 - our own output
    offer = root.find("item")
    assert [child.tag for child in offer] == list(OFFRE_HEADERS)  # field names: valid XML
    assert offer.findtext("intitule") == "Développeur <Python> & co"
    assert offer.findtext("lieu") == ""
    assert offer.findtext("latitude") == "0.00000015"
