"""`scrapy crawl cpf` end to end against the emulator: completeness, columns, arguments."""

from __future__ import annotations

import pytest
from scrapy.utils.project import get_project_settings

from cpfft.cleaning import CLEANERS, clean_number
from cpfft.items import FORMATION_FIELDS, Formation, field_kinds
from tests.fakeapi.cpfdata import FIELDS, INDEX, TEXT_SEARCH_FIELDS
from tests.fakeapi.odsql import fulltext_match
from tests.support.feeds import as_csv_cell
from tests.support.formations import keys, truth

pytestmark = pytest.mark.crawl


def env_for(emulator, **extra):
    return {"CPF_API_URL": emulator.url, **extra}


def test_whole_catalogue_past_the_10000_cap(ods, crawl):
    api = ods(rows=13000, heavy_share=0.95, null_location_share=0.02)
    by_dep = api.dataset.count_by("code_departement")
    assert by_dep["75"] > 10000, "the emulator must hold a département above the paging cap"
    assert by_dep[None] > 0

    result = crawl("cpf", env=env_for(api))

    assert result.returncode == 0, result.log
    header, rows = result.rows()
    assert header == list(FIELDS) == FORMATION_FIELDS
    assert keys(result) == truth(api)
    assert len(rows) == 13000
    assert sum(1 for r in result.dicts() if r["code_departement"] == "") == by_dep[None]
    calls = api.stats()
    exports = calls["by_route"]["v21_export"]
    # metadata + count per département + count per (département, NSF) + one export per partition
    assert calls["calls"] == 3 + exports
    assert exports <= 13000 // int(get_project_settings()["CPF_PARTITION_ROWS"]) + 3
    assert "Run summary (cpf): COMPLETE" in result.log
    assert "rows written:       13 000 of 13 000 expected → out.csv" in result.log
    assert "Traceback" not in result.log


def test_codes_stay_text_and_numbers_use_dots(ods, crawl):
    api = ods(rows=400, heavy_departement="2A", heavy_share=0.3)
    result = crawl("cpf", env=env_for(api))
    assert result.returncode == 0, result.log
    rows = result.dicts()
    assert {"2A", "01", "971"} & {r["code_departement"] for r in rows} >= {"2A"}
    assert any(r["code_departement"].startswith("0") for r in rows)
    assert all(r["code_rncp"] == "-1" or r["code_rncp"].isdigit() for r in rows)
    prices = [r["frais_ttc_tot_mean"] for r in rows if r["frais_ttc_tot_mean"]]
    assert all("," not in p and float(p) > 0 for p in prices)
    assert any("." in p for p in prices)


def test_alias_schema_keeps_the_columns(ods, crawl):
    api = ods(rows=300, schema="alias")
    result = crawl("cpf", env=env_for(api))
    assert result.returncode == 0, result.log
    header, _ = result.rows()
    assert header == FORMATION_FIELDS
    rows = result.dicts()
    assert {r["date_extract"] for r in rows} == {api.config.snapshot_date}
    assert all(r["siret"] for r in rows)
    assert any(r["code_inventaire"] not in ("", "-1") for r in rows)
    assert "mapped back to stable column names" in result.log


def test_hostile_text_round_trip(ods, crawl):
    """The CSV parsed back equals the cleaned source, row for row and cell for cell."""
    api = ods(rows=1200, hostile_every=2)
    result = crawl("cpf", env=env_for(api))
    assert result.returncode == 0, result.log
    written = {(r["numero_formation"], r["code_departement"]): r for r in result.dicts()}
    kinds = field_kinds(Formation)
    checked = 0
    for source in api.dataset.rows:
        row = written[(source[INDEX["numero_formation"]], source[INDEX["code_departement"]] or "")]
        for name, value in zip(FIELDS, source, strict=True):
            assert row[name] == expected_cell(value, kinds[name]), (name, value)
            checked += 1
    assert checked == 1200 * 47
    # The hostile values really went through.
    names = {r["nom_of"] for r in written.values()}
    assert '\'=HYPERLINK("http://evil.example","clic")' in names
    assert "Formation 🚀 Python ☕ 日本語" in names
    assert "Dupont; Fils & Cie" in names
    assert "-1" in names


def expected_cell(value, kind):
    if kind in ("int", "float"):
        value = clean_number(value, kind)
    elif value is not None:
        value = CLEANERS[kind](value)
    return as_csv_cell(value)


# ------------------------------------------------------------------ arguments


def has_nsf(*codes):
    return lambda r: any(r[INDEX[f"code_nsf_{i}"]] in codes for i in (1, 2, 3))


ARGUMENT_CASES = {
    "theme numerique": ({"theme": "numerique"}, has_nsf("326")),
    "theme santé (accented)": ({"theme": "Santé"}, has_nsf("330", "331")),
    "two themes": ({"theme": "numerique,sante"}, has_nsf("326", "330", "331")),
    "region by name": ({"region": "bretagne"}, lambda r: r[INDEX["code_region"]] == "53"),
    "region by code": ({"region": "11"}, lambda r: r[INDEX["code_region"]] == "11"),
    "departements by code and name": (
        {"departement": "Paris,2a,971"},
        lambda r: r[INDEX["code_departement"]] in ("75", "2A", "971"),
    ),
    "type_referentiel": (
        {"type_referentiel": "rncp"},
        lambda r: r[INDEX["type_referentiel"]] == "RNCP",
    ),
    "q full text": (
        {"q": "python"},
        lambda r: fulltext_match([r[INDEX[f]] for f in TEXT_SEARCH_FIELDS], "python"),
    ),
    "combined": (
        {"theme": "numerique", "region": "Île-de-France", "type_referentiel": "RS"},
        lambda r: (
            has_nsf("326")(r)
            and r[INDEX["code_region"]] == "11"
            and r[INDEX["type_referentiel"]] == "RS"
        ),
    ),
}


@pytest.mark.parametrize("case", list(ARGUMENT_CASES))
def test_arguments_select_exactly_the_matching_rows(ods, crawl, case):
    args, keep = ARGUMENT_CASES[case]
    api = ods(rows=2500)
    expected = truth(api, keep)
    assert 0 < len(expected) < 2500
    result = crawl("cpf", args, env=env_for(api))
    assert result.returncode == 0, result.log
    assert keys(result) == expected


def test_max_records(ods, crawl):
    api = ods(rows=3000)
    result = crawl("cpf", {"max_records": "250", "departement": "75,13"}, env=env_for(api))
    assert result.returncode == 0, result.log
    found = keys(result)
    assert len(found) == 250
    assert found <= truth(api, lambda r: r[INDEX["code_departement"]] in ("75", "13"))
    assert "250 of 250 expected" in result.log


def test_scrapyd_job_argument_is_accepted(ods, crawl):
    api = ods(rows=50)
    result = crawl("cpf", {"_job": "6487ec79947edab326d6db28a2d86511"}, env=env_for(api))
    assert result.returncode == 0, result.log
    assert len(result.rows()[1]) == 50


def test_zero_rows_gives_header_only(ods, crawl):
    api = ods(rows=200)
    result = crawl("cpf", {"q": "zzqqxxwwyy"}, env=env_for(api))
    assert result.returncode == 0, result.log
    assert result.rows() == (FORMATION_FIELDS, [])
    assert "No row matches the filters" in result.log


def test_semicolon_delimiter_and_formula_guard_off(ods, crawl):
    api = ods(rows=300, hostile_every=2)
    result = crawl(
        "cpf",
        env=env_for(api, CPFFT_CSV_DELIMITER=";"),
        settings={"CPFFT_CSV_FORMULA_GUARD": "false"},
    )
    assert result.returncode == 0, result.log
    assert result.csv_bytes()[3:].startswith(b"date_extract;nom_of;")
    names = {r["nom_of"] for r in result.dicts(";")}
    assert '=HYPERLINK("http://evil.example","clic")' in names


def test_progress_lines_with_total_rate_and_eta(ods, crawl):
    api = ods(rows=2500, latency_ms=1200)
    result = crawl("cpf", env=env_for(api, CPF_PARTITION_ROWS="400"))
    assert result.returncode == 0, result.log
    progress = [line for line in result.log.splitlines() if "progress:" in line]
    assert progress, result.log
    assert any("/2 500 rows (" in line and "rows/s, ETA" in line for line in progress)
