"""List fields (skills, qualities, trainings, languages, licences): cleaned records, one
readable cell, read back exactly by :func:`cpfft.records.parse_cell` and by the
warehouse's SQL twin (:mod:`cpfft.entrepot.children`)."""

from __future__ import annotations

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cpfft.entrepot.children import records_sql
from cpfft.items import COMPETENCES, FORMATIONS_DEMANDEES, PERMIS, QUALITES
from cpfft.records import clean_records, from_api, parse_cell, render_cell


def test_a_skill_cell_reads_as_an_analyst_expects():
    raw = [
        {"code": "124137", "libelle": "Concevoir une application web", "exigence": "S"},
        {"code": "108712", "libelle": "Anglais technique", "exigence": "E"},
        {"code": "100001", "libelle": "Travail en équipe"},
    ]
    records = clean_records(COMPETENCES, from_api(COMPETENCES, raw))
    assert render_cell(COMPETENCES, records) == (
        "Concevoir une application web · 124137 (souhaitée) ; "
        "Anglais technique · 108712 (exigée) ; Travail en équipe · 100001 (non précisée)"
    )


def test_a_licence_agrees_in_the_masculine():
    records = clean_records(PERMIS, [{"libelle": "B - Véhicule léger", "exigence": "E"}])
    assert render_cell(PERMIS, records) == "B - Véhicule léger (exigé)"


def test_empty_parts_at_the_end_are_left_out_inner_ones_kept():
    raw = [{"niveauLibelle": "Bac+2 ou équivalents", "codeFormation": "31054", "exigence": "S"}]
    records = clean_records(FORMATIONS_DEMANDEES, from_api(FORMATIONS_DEMANDEES, raw))
    assert (
        render_cell(FORMATIONS_DEMANDEES, records) == "Bac+2 ou équivalents ·  · 31054 (souhaitée)"
    )
    assert parse_cell(FORMATIONS_DEMANDEES, render_cell(FORMATIONS_DEMANDEES, records)) == records


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        # Separators inside a part cannot break the cell.
        ("Autonomie ; rigueur", "Autonomie; rigueur"),
        ("Word · Excel", "Word - Excel"),
        ("à suivre ;", "à suivre"),
        ("· puce", "puce"),
        # Parts are cleaned text: one line, no tag, no entity, Windows-1252 letters read.
        ("<b>Rigueur</b>\nsens du d&eacute;tail", "Rigueur sens du détail"),
        ("l\u0092équipe", "l’équipe"),
    ],
)
def test_parts_are_clean_one_line_text_without_separators(raw, clean):
    records = clean_records(QUALITES, [{"libelle": raw, "description": "x"}])
    assert records == [{"libelle": clean, "description": "x"}]


def test_no_text_no_record_unknown_exigence_is_none_empty_list_is_no_value():
    raw = [{"libelle": " ", "code": None, "exigence": "E"}, {"libelle": "Vendre", "exigence": "X"},
           "not a record"]  # fmt: skip
    assert clean_records(COMPETENCES, raw) == [{"libelle": "Vendre", "code": None,
                                                "exigence": None}]  # fmt: skip
    assert clean_records(COMPETENCES, []) is None
    assert clean_records(COMPETENCES, None) is None
    assert render_cell(COMPETENCES, None) is None
    assert parse_cell(COMPETENCES, "") == []


# ------------------------------------------------------------------ round trip

# Texts as hostile as the API's: separators and their signs, brackets that look like
# the exigence group, line breaks, entities, tags, C1 controls, spaces.
PIECES = st.sampled_from([" ; ", " · ", ";", "·", " (exigée)", "(souhaité)", " (non précisée)",
                          "\n", "&amp;", "<br>", "\u0092", "  ", "(", ")", "-", " "])  # fmt: skip
TEXT = st.lists(st.one_of(PIECES, st.text(min_size=1, max_size=6)), max_size=6).map("".join)
PART = st.one_of(st.none(), TEXT)


def raw_records(spec):
    fields = {part.api: PART for part in spec.parts}
    if spec.exigence:
        fields["exigence"] = st.sampled_from([None, "E", "S", "e", " S ", "X", ""])
    return st.lists(st.fixed_dictionaries(fields), max_size=4)


SPECS = [COMPETENCES, QUALITES, FORMATIONS_DEMANDEES, PERMIS]


@pytest.fixture(scope="module")
def con():
    connection = duckdb.connect()
    yield connection
    connection.close()


@pytest.mark.parametrize("spec", SPECS, ids=[s.table for s in SPECS])
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_a_cell_reads_back_as_its_records_in_python_and_in_sql(con, spec, data):
    records = clean_records(spec, from_api(spec, data.draw(raw_records(spec))))
    cell = render_cell(spec, records)
    assert parse_cell(spec, cell) == (records or [])
    if cell is not None:
        assert "\n" not in cell
    # The warehouse reads the CSV cell with SQL: the same records.
    con.execute("CREATE OR REPLACE TEMP TABLE t (id VARCHAR, cell VARCHAR)")
    con.execute("INSERT INTO t VALUES ('1', ?)", [cell])
    rows = con.execute(records_sql(spec, "cell", "t", "csv") + " ORDER BY rang").fetchall()
    want = [("1", rang, *(r[n] for n in spec.names)) for rang, r in enumerate(records or [], 1)]
    assert rows == want
