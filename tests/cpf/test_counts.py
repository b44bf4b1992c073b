"""The counts before the exports: from the metadata to the groups to pack (pure, no Scrapy)."""

import json
import logging

import pytest

from cpfft.cpf.counts import Count, Counts, Unusable
from cpfft.cpf.plan import Group, parse_metadata
from tests.fakeapi.ods import OdsEmulator

ARGS = {"q": None, "theme": None, "region": ["11"], "departement": None,
        "type_referentiel": None, "max_records": None}  # fmt: skip
METADATA = OdsEmulator(rows=10).metadata_v21()


def counts(partition_rows: int = 100, **args) -> Counts:
    made = Counts({**ARGS, **args}, {}, partition_rows, [])
    made.metadata(lambda: METADATA)
    made.notes.clear()
    return made


def answer(*results: dict) -> object:
    return lambda: {"total_count": len(results), "results": list(results)}


def test_the_metadata_gives_the_filters_and_the_count_per_departement():
    made = Counts(ARGS, {}, 100, [])
    first = made.metadata(lambda: METADATA)
    assert made.schema == parse_metadata(METADATA)
    assert made.where == 'code_region in ("11")'
    assert first == Count(
        {"select": "code_departement, count(*) as n", "group_by": "code_departement",
         "where": 'code_region in ("11")'},
        "row count per département",
    )  # fmt: skip
    assert made.notes == []  # today's schema: nothing to say
    assert made.params(first) == {**first.params, "limit": 20_000}


def test_metadata_that_cannot_be_used_is_one_reason_and_one_log_line():
    made = Counts(ARGS, {}, 100, [])
    fields = [f for f in METADATA["fields"] if f["name"] != "numero_formation"]
    with pytest.raises(Unusable) as caught:
        made.metadata(lambda: {**METADATA, "fields": fields})
    assert caught.value.reason == (
        "cannot use the dataset metadata: the dataset has no 'numero_formation' field any "
        "more (aliases tried: none)"
    )
    assert caught.value.line == "C" + caught.value.reason[1:]
    with pytest.raises(Unusable, match=r"^cannot use the dataset metadata: Expecting value"):
        made.metadata(lambda: json.loads("not json"))


def test_schema_notes_are_handed_to_the_spider_in_order():
    made = Counts(ARGS, {}, 100, [])
    extra = {**METADATA, "fields": [*METADATA["fields"], {"name": "nouveau"}]}
    made.metadata(lambda: extra)
    assert made.notes == [
        (logging.WARNING, "New dataset fields not exported (the columns stay stable): ['nouveau']")
    ]


def test_small_departements_are_packed_as_counted():
    made = counts()
    first = made.metadata(lambda: METADATA)
    groups = made.answered(first, 20_000, answer({"code_departement": "75", "n": 60},
                                                 {"code_departement": None, "n": 3}))  # fmt: skip
    assert groups == [Group(("75",), 60), Group((None,), 3)]
    partitions, queries = made.partitions(groups)
    assert [p.expected for p in partitions] == [63]
    assert queries == {
        1: '(code_region in ("11")) and ((code_departement in ("75") or code_departement is null))'
    }


def test_a_big_departement_is_counted_again_by_nsf_code_then_split():
    made = counts(partition_rows=50)
    first = made.metadata(lambda: METADATA)
    big = made.answered(first, 20_000, answer({"code_departement": "75", "n": 60},
                                              {"code_departement": "92", "n": 10}))  # fmt: skip
    assert isinstance(big, Count)
    assert big.step == "row count per département and NSF code"
    assert big.groups == [Group(("75",), 60), Group(("92",), 10)]
    assert big.params["group_by"] == "code_departement, code_nsf_1"
    pairs = made.answered(big, 20_000, answer(
        {"code_departement": "75", "code_nsf_1": "326", "n": 40},
        {"code_departement": "75", "code_nsf_1": None, "n": 20},
    ))  # fmt: skip
    assert pairs == [Group(("92",), 10), Group(("75", "326"), 40),
                     Group(("75", None), 20)]  # fmt: skip
    assert made.warnings == []


def test_a_pair_still_too_big_is_counted_again_by_formacode_then_split():
    """Real rows without a place form one group per NSF code; the biggest outgrows a
    partition on its own: a third count splits it by main Formacode."""
    made = counts(partition_rows=50)
    big = Count({}, "row count per département and NSF code",
                [Group(("75",), 30), Group((None,), 130)], depth=2)  # fmt: skip
    pairs = made.answered(big, 20_000, answer(
        {"code_departement": None, "code_nsf_1": "326", "n": 110},
        {"code_departement": None, "code_nsf_1": "100", "n": 20},
    ))  # fmt: skip
    assert isinstance(pairs, Count)
    assert pairs.step == "row count per département, NSF code and Formacode"
    assert pairs.depth == 3
    assert pairs.params == {
        "select": "code_departement, code_nsf_1, code_formacode_1, count(*) as n",
        "group_by": "code_departement, code_nsf_1, code_formacode_1",
        "where": '(code_region in ("11")) and (code_departement is null and code_nsf_1 in ("326"))',
    }
    groups = made.answered(pairs, 20_000, answer(
        {"code_departement": None, "code_nsf_1": "326", "code_formacode_1": "31026", "n": 45},
        {"code_departement": None, "code_nsf_1": "326", "code_formacode_1": "31054", "n": 40},
        {"code_departement": None, "code_nsf_1": "326", "code_formacode_1": None, "n": 25},
    ))  # fmt: skip
    assert groups == [Group(("75",), 30), Group((None, "100"), 20),
                      Group((None, "326", "31026"), 45), Group((None, "326", "31054"), 40),
                      Group((None, "326", None), 25)]  # fmt: skip
    partitions, queries = made.partitions(groups)
    assert max(p.expected for p in partitions) <= 50
    assert sum(p.expected for p in partitions) == 160
    assert queries[1] == (
        '(code_region in ("11")) and (code_departement is null and code_nsf_1 = "326" and '
        'code_formacode_1 in ("31026"))'
    )
    assert made.warnings == []


def test_without_a_formacode_field_big_pairs_are_exported_whole():
    fields = [f for f in METADATA["fields"] if f["name"] != "code_formacode_1"]
    made = Counts(ARGS, {}, 50, [])
    made.metadata(lambda: {**METADATA, "fields": fields})
    made.notes.clear()
    big = Count({}, "row count per département and NSF code", [Group(("75",), 60)], depth=2)
    groups = made.answered(big, 20_000, answer(
        {"code_departement": "75", "code_nsf_1": "326", "n": 55},
        {"code_departement": "75", "code_nsf_1": None, "n": 5},
    ))  # fmt: skip
    assert groups == [Group(("75", "326"), 55), Group(("75", None), 5)]
    line = (
        "the dataset has no 'code_formacode_1' field any more (aliases tried: none): groups "
        "bigger than CPF_PARTITION_ROWS are exported whole, not split by Formacode"
    )
    assert made.warnings == [line]


def test_a_pair_count_as_long_as_its_limit_exports_the_big_departements_whole():
    made = counts(partition_rows=50)
    big = Count({}, "row count per département and NSF code", [Group(("75",), 60)], depth=2)
    groups = made.answered(big, 2, answer(
        {"code_departement": "75", "code_nsf_1": "326", "n": 40},
        {"code_departement": "75", "code_nsf_1": "100", "n": 20},
    ))  # fmt: skip
    assert groups == [Group(("75",), 60)]
    assert made.warnings == [
        (
            "the count per département and NSF code gave 2 groups, as many as limit=2 "
            "allows, so it may be cut: départements 75 are exported whole, not split by NSF code"
        )
    ]
    assert made.notes == [(logging.WARNING, "T" + made.warnings[0][1:])]


def test_a_departement_count_as_long_as_its_limit_is_unusable():
    made = counts()
    first = made.metadata(lambda: METADATA)
    with pytest.raises(Unusable) as caught:
        made.answered(first, 1, answer({"code_departement": "75", "n": 60}))
    assert caught.value.reason.startswith("row count per département: 1 groups came back")
    assert caught.value.line == f"Cannot plan the partitions: {caught.value.reason}"
    with pytest.raises(Unusable, match=r"^cannot read the row counts: the count answer has no"):
        made.answered(first, 20_000, lambda: {"results": None})


def test_without_an_nsf_field_big_departements_are_exported_whole():
    fields = [f for f in METADATA["fields"] if f["name"] != "code_nsf_1"]
    made = Counts(ARGS, {}, 50, [])
    first = made.metadata(lambda: {**METADATA, "fields": fields})
    made.notes.clear()
    groups = made.answered(first, 20_000, answer({"code_departement": "75", "n": 60}))
    assert groups == [Group(("75",), 60)]
    line = (
        "The dataset has no 'code_nsf_1' field any more (aliases tried: none): départements "
        "bigger than CPF_PARTITION_ROWS are exported whole, not split by NSF code"
    )
    assert made.notes == [(logging.WARNING, line)]
    assert made.warnings == ["t" + line[1:]]  # in the run summary too: it cost no row
    _, queries = made.partitions(groups)
    assert queries == {1: '(code_region in ("11")) and (code_departement in ("75"))'}


def test_a_refused_limit_is_tried_smaller_and_the_accepted_one_told_once():
    made = counts()
    first = made.metadata(lambda: METADATA)
    refusal = json.dumps({"error_code": "InvalidRESTParameterError",
                          "message": "Invalid value for limit: -1 <= limit < 10000 is expected."})  # fmt: skip
    line = made.refused(20_000, 400, refusal.encode())
    assert line == (
        "Grouped limit=20000 refused (Invalid value for limit: -1 <= limit < 10000 is "
        "expected.); trying limit=9999"
    )
    assert made.params(first)["limit"] == 9999
    made.answered(first, 9999, answer({"code_departement": "75", "n": 6}))
    told = (
        "The portal refused group_by limit=20000 (Invalid value for limit: -1 <= limit < "
        "10000 is expected.); limit=9999 accepted and used for every count by group"
    )
    assert made.notes == [(logging.INFO, told)]
    made.notes.clear()
    made.answered(first, 9999, answer({"code_departement": "75", "n": 6}))
    assert made.notes == []


def test_a_count_failed_for_good_names_the_limits_refused_after_a_400():
    made = counts()
    assert made.failed("HTTP 400", 400) == "HTTP 400"
    query_error = json.dumps({"error_code": "ODSQLError", "message": "bad limit query"})
    assert made.refused(20_000, 400, query_error.encode()) is None  # the query, not the limit
    assert made.refused(20_000, 500, b"{}") is None
    made.refused(20_000, 400, b'{"message": "limit too big"}')
    assert made.failed("HTTP 400", 400) == "HTTP 400 (group_by limits refused: 20000)"
    assert made.failed("HTTP 503", 503) == "HTTP 503"


def test_without_an_nsf_field_departements_that_fit_are_planned_as_usual():
    fields = [f for f in METADATA["fields"] if f["name"] != "code_nsf_1"]
    made = Counts(ARGS, {}, 1000, [])
    first = made.metadata(lambda: {**METADATA, "fields": fields})
    made.notes.clear()
    groups = made.answered(first, 20_000, answer({"code_departement": "75", "n": 150},
                                                 {"code_departement": "13", "n": 30}))  # fmt: skip
    assert made.notes == []
    partitions, queries = made.partitions(groups)
    assert [p.expected for p in partitions] == [180]
    assert queries == {1: '(code_region in ("11")) and (code_departement in ("13", "75"))'}
