import csv
import io

import pytest
from scrapy.utils.test import get_crawler

from cpfft.exporters import CsvExporter, format_float, neutralise_formula
from cpfft.items import FORMATION_FIELDS, Formation


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
