"""The partition plan: packing, limits, and ODSQL that selects each row exactly once."""

from collections import Counter

import pytest

from cpfft.cpf.plan import (
    GROUP_LIMIT,
    GROUP_LIMIT_STEPS,
    LEVELS,
    Group,
    GroupLimit,
    Partition,
    Schema,
    SchemaError,
    api_message,
    condition,
    counted_by,
    cut_departements,
    departement_count,
    filters,
    finer_count,
    is_limit_refusal,
    limit_rule,
    next_group_limit,
    one_count,
    parse_groups,
    parse_limit_bound,
    parse_metadata,
    plan_partitions,
    quota_warning,
    quote,
    refine,
)
from cpfft.items import FORMATION_FIELDS
from tests.fakeapi.cpfdata import INDEX, CpfDataset, CpfDatasetConfig
from tests.fakeapi.ods import OdsEmulator
from tests.fakeapi.odsql import compile_where


def test_quote_escapes():
    assert quote('l\'info "x" \\ y') == '"l\'info \\"x\\" \\\\ y"'


def test_metadata_aliases_map_back_to_stable_columns():
    emulator = OdsEmulator(rows=10, schema="alias")
    schema = parse_metadata(emulator.metadata_v21())
    assert schema.actual["date_extract"] == "date_chargement"
    assert schema.actual["code_inventaire"] == "code_rs"
    assert schema.actual["siret"] == "siret_of"
    assert schema.rename["siret_of"] == "siret"
    assert schema.missing == []
    assert schema.extra == []
    assert schema.records_count == 10


def test_metadata_reports_missing_and_new_fields():
    payload = {"fields": [{"name": "numero_formation"}, {"name": "nouveau_champ"}]}
    schema = parse_metadata(payload)
    assert "code_departement" in schema.missing
    assert schema.extra == ["nouveau_champ"]
    with pytest.raises(SchemaError, match="no 'code_departement' field"):
        schema.field("code_departement")
    with pytest.raises(SchemaError):
        parse_metadata({"fields": []})


def test_parse_groups_accepts_the_count_spellings():
    payload = {
        "results": [{"code_departement": "75", "n": 3}, {"code_departement": None, "count(*)": 2}]
    }
    assert parse_groups(payload, ("code_departement",)) == [(("75",), 3), ((None,), 2)]
    with pytest.raises(SchemaError):
        parse_groups({"results": [{"code_departement": "75"}]}, ("code_departement",))


def test_packing_respects_the_target_and_keeps_big_groups_alone():
    groups = [Group((f"{i:02d}",), 3000) for i in range(1, 8)] + [
        Group(("75",), 25000),
        Group((None,), 40),
    ]
    parts = plan_partitions(groups, 10000)
    assert sum(p.expected for p in parts) == 7 * 3000 + 25000 + 40
    assert [p.expected for p in parts if p.expected > 10000] == [25000]
    assert all(len(p.groups) == 1 for p in parts if p.expected > 10000)
    assert len(parts) == 4  # 25000 | 3×3000+40 | 3×3000 | 3000
    seen = Counter(g.departement for p in parts for g in p.groups)
    assert all(n == 1 for n in seen.values())


def test_max_records_keeps_only_what_is_needed():
    groups = [Group((f"{i:02d}",), 3000) for i in range(1, 8)]
    parts = plan_partitions(groups, 10000, max_records=7000)
    assert [p.expected for p in parts] == [7000]
    assert parts[0].limit == 7000
    parts = plan_partitions(groups, 10000, max_records=9000)
    assert [p.expected for p in parts] == [9000]
    assert parts[0].limit is None


def test_partitions_select_every_row_exactly_once():
    data = CpfDataset(CpfDatasetConfig(rows=6000, heavy_share=0.5, null_location_share=0.03))
    emulator = OdsEmulator(rows=6000)
    schema = emulator.schema
    dep, nsf, formacode = (INDEX[name] for name in LEVELS)
    by_dep = data.count_by("code_departement")
    assert by_dep["75"] > 2000
    assert by_dep[None] > 0
    groups = [Group((d,), n) for d, n in by_dep.items() if d != "75"]
    # Split the heavy département by NSF code, the null NSF included, and its biggest
    # NSF code by Formacode, down to the third level.
    pairs = Counter(r[nsf] for r in data.rows if r[dep] == "75")
    assert None in pairs
    biggest = max(pairs, key=lambda code: pairs[code] if code else 0)
    groups += [Group(("75", code), n) for code, n in pairs.items() if code != biggest]
    triples = Counter(r[formacode] for r in data.rows if r[dep] == "75" and r[nsf] == biggest)
    assert len(triples) > 1
    groups += [Group(("75", biggest, code), n) for code, n in triples.items()]
    parts = plan_partitions(groups, 1000)
    assert any(len(g.key) == 3 for p in parts for g in p.groups)
    hits = Counter()
    for part in parts:
        where = part.where(LEVELS)
        predicate = compile_where([where], schema)
        matched = [i for i, row in enumerate(data.rows) if predicate(row)]
        assert len(matched) == part.expected, where
        hits.update(matched)
    assert len(hits) == len(data.rows)
    assert set(hits.values()) == {1}


def test_condition_groups_keys_by_level():
    fields = ("d", "n", "f")
    assert condition([("75",), (None,), ("13",)], fields) == '(d in ("13", "75") or d is null)'
    assert condition([("75", "326"), ("75", None)], fields) == (
        'd = "75" and (n in ("326") or n is null)'
    )
    assert condition(
        [("13",), (None, "326", "31026"), (None, "326", None), (None, "100")], fields
    ) == (
        '(d in ("13") or d is null and (n in ("100") or n = "326" and (f in ("31026") or f is null)))'
    )


def test_partition_label_and_description():
    part = Partition(3, [Group(("75",), 10012), Group((None,), 3)])
    assert part.label() == "partition 3 (départements 75, sans département)"
    assert part.describe() == "partition 3 (départements 75, sans département; 10015 rows)"
    many = Partition(1, [Group((f"{i:02d}",), 1) for i in range(1, 9)])
    assert many.label() == "partition 1 (départements 01, 02, 03, 04, 05, 06 and 2 more)"


# ------------------------------------------------------------------ grouped limit refusals


@pytest.mark.parametrize(
    ("message", "bound"),
    [
        # strict "<": the bound itself is refused
        (
            (
                "Invalid value for limit API parameter: 20000 was found but -1 <= limit < 20000 "
                "is expected."
            ),
            19999,
        ),
        (
            (
                "Invalid value for limit API parameter: 20000 was found but -1 <= limit <= 19999 "
                "is expected."
            ),
            19999,
        ),
        (
            (
                "Invalid value for limit API parameter: 20000 was found but -1 <= limit < 5000 "
                "is expected."
            ),
            4999,
        ),
        (
            (
                "Invalid value for sum of offset + limit API parameter: 20000 was found but "
                "< 20000 is expected."
            ),
            19999,
        ),
        (
            (
                "Invalid value for sum of offset + limit API parameter: 30001 was found but "
                "<= 30000 is expected."
            ),
            30000,
        ),
        ("limit must be ≤ 1000", 1000),
        ("limit<100", 99),
        ("Invalid value for limit API parameter.", None),
        ("Invalid value for limit API parameter: 20000 was found but -1 <= limit", None),
        ("", None),
    ],
)
def test_parse_limit_bound(message, bound):
    assert parse_limit_bound(message) == bound


@pytest.mark.parametrize(
    ("message", "rule"),
    [
        ("… but -1 <= limit < 20000 is expected.", ("<", 20000)),
        ("… was found but <= 30000 is expected.", ("<=", 30000)),
        ("limit must be ≤ 1000", ("<=", 1000)),
        ("Invalid value for limit API parameter.", None),
    ],
)
def test_limit_rule_keeps_the_operator_for_the_probe(message, rule):
    assert limit_rule(message) == rule


@pytest.mark.parametrize(
    ("current", "message", "following"),
    [
        (20000, "… but -1 <= limit < 20000 is expected.", 19999),
        (20000, "… but -1 <= limit < 5000 is expected.", 4999),
        (20000, "… but -1 <= limit <= 5000 is expected.", 5000),
        # no bound stated: the next step down
        (20000, "Invalid value for limit API parameter.", 19999),
        (19999, "Invalid value for limit API parameter.", 10000),
        (10000, "Invalid value for limit API parameter.", 1000),
        (1000, "Invalid value for limit API parameter.", None),
        (4999, "Invalid value for limit API parameter.", 1000),
        # a stated bound the refused limit already meets is not believed: step down
        (19999, "… but -1 <= limit < 20000 is expected.", 10000),
        (20000, "… but -1 <= limit <= 30000 is expected.", 19999),
        # a bound of nothing: step down
        (20000, "… but -1 <= limit < 1 is expected.", 19999),
    ],
)
def test_next_group_limit(current, message, following):
    assert next_group_limit(current, message) == following


def test_group_limit_steps_go_down():
    assert list(GROUP_LIMIT_STEPS) == sorted(GROUP_LIMIT_STEPS, reverse=True)
    assert GROUP_LIMIT_STEPS[-1] > 102  # more than the départements (and the null one)


def test_is_limit_refusal():
    message = "Invalid value for limit API parameter: 20000 was found but -1 <= limit < 20000"
    assert is_limit_refusal(400, message)
    assert is_limit_refusal(400, "Invalid value for sum of offset + limit API parameter: 20000")
    assert not is_limit_refusal(500, message)
    assert not is_limit_refusal(400, "ODSQL query is malformed: Unknown field: limits.")
    assert not is_limit_refusal(400, "")


# ------------------------------------------------------------------ counts and filters


EVERY_FIELD = Schema({f: f for f in FORMATION_FIELDS}, [], [])
NO_FILTER = {"q": None, "theme": [], "region": [], "departement": [], "type_referentiel": None}


def test_filters_as_one_odsql_condition():
    assert filters(EVERY_FIELD, NO_FILTER, {}) == ""
    assert filters(EVERY_FIELD, {**NO_FILTER, "q": 'data "x"'}, {}) == 'search("data \\"x\\"")'
    args = {
        **NO_FILTER,
        "theme": ["a", "b"],
        "region": ["11"],
        "departement": ["75"],
        "type_referentiel": "RS",
    }
    assert filters(EVERY_FIELD, args, {"a": ("326", "100"), "b": ("326",)}) == (
        '((code_nsf_1 in ("100", "326") or code_nsf_2 in ("100", "326") or code_nsf_3 in '
        '("100", "326"))) and (code_region in ("11")) and (code_departement in ("75")) and '
        '(type_referentiel = "RS")'
    )
    renamed = Schema({**EVERY_FIELD.actual, "type_referentiel": "rsrncp"}, [], [])
    assert filters(renamed, {**NO_FILTER, "type_referentiel": "RS"}, {}) == 'rsrncp = "RS"'
    without = Schema({f: f for f in FORMATION_FIELDS if f != "code_region"}, [], [])
    with pytest.raises(SchemaError, match="code_region"):
        filters(without, {**NO_FILTER, "region": ["11"]}, {})


def test_counts_cut_and_split():
    assert departement_count("dep", "x = 1") == {
        "select": "dep, count(*) as n",
        "group_by": "dep",
        "where": "x = 1",
    }
    assert cut_departements(101, 102) is None
    assert cut_departements(102, 102) == (
        "row count per département: 102 groups came back, as many as limit=102 allows, so "
        "some may be missing; nothing was fetched"
    )
    groups = [Group(("75",), 30), Group((None,), 20), Group(("13",), 5)]
    assert finer_count(groups, 1, 30, EVERY_FIELD, "") is None
    assert finer_count(groups, 1, 10, EVERY_FIELD, "q") == {
        "select": "code_departement, code_nsf_1, count(*) as n",
        "group_by": "code_departement, code_nsf_1",
        "where": '(q) and ((code_departement in ("75") or code_departement is null))',
    }
    counts = [(("75", "326"), 25), (("75", None), 5), ((None, "100"), 20)]
    finer, warning = refine(groups, counts, 10, limit=4)
    assert warning is None
    assert finer == [
        Group(("13",), 5),
        Group(("75", "326"), 25),
        Group(("75", None), 5),
        Group((None, "100"), 20),
    ]
    same, warning = refine(groups, counts, 10, limit=3)
    assert same == groups
    assert warning == (
        "the count per département and NSF code gave 3 groups, as many as limit=3 allows, "
        "so it may be cut: départements 75, sans département are exported whole, not split "
        "by NSF code"
    )
    # The pairs still bigger than a partition are counted by Formacode, within themselves;
    # the département left whole (13) and the small pairs are not counted again.
    assert finer_count(finer, 1, 10, EVERY_FIELD, "q") is None  # no whole département is big
    assert finer_count(finer, 2, 10, EVERY_FIELD, "q") == {
        "select": "code_departement, code_nsf_1, code_formacode_1, count(*) as n",
        "group_by": "code_departement, code_nsf_1, code_formacode_1",
        "where": (
            '(q) and ((code_departement is null and code_nsf_1 in ("100") or '
            'code_departement = "75" and code_nsf_1 in ("326")))'
        ),
    }
    counts = [(("75", "326", "31026"), 15), (("75", "326", None), 10), ((None, "100", "15254"), 20)]
    finest, warning = refine(finer, counts, 10, limit=4)
    assert warning is None
    assert finest == [
        Group(("13",), 5),
        Group(("75", None), 5),
        *(Group(key, n) for key, n in counts),
    ]
    # No fourth level: a triple bigger than a partition is packed alone.
    assert finer_count(finest, 3, 10, EVERY_FIELD, "q") is None
    assert [p.expected for p in plan_partitions(finest, 10)] == [20, 15, 10, 10]
    same, warning = refine(finer, counts, 10, limit=3)
    assert same == finer
    assert warning == (
        "the count per département, NSF code and Formacode gave 3 groups, as many as limit=3 "
        "allows, so it may be cut: groups 75 · NSF code 326, sans département · NSF code 100 "
        "are exported whole, not split by Formacode"
    )
    assert counted_by(1) == "row count per département"
    assert counted_by(3) == "row count per département, NSF code and Formacode"
    without = Schema({f: f for f in FORMATION_FIELDS if f != "code_formacode_1"}, [], [])
    with pytest.raises(SchemaError, match="code_formacode_1"):
        finer_count(finer, 2, 10, without, "")


def test_one_count_quota_warning_and_api_message():
    assert one_count({"results": [{"n": 7}]}) == 7
    with pytest.raises(ValueError, match="not enough values"):
        one_count({"results": []})
    assert quota_warning(None, 3) is None
    assert quota_warning(3, 3) is None
    assert quota_warning(2, 3) == (
        "Only 2 API calls left in today's quota for 3 exports: the run may stop early"
    )
    assert api_message(b'{"error_code": "ODSQLError", "message": "bad"}') == ("ODSQLError", "bad")
    assert api_message(b"[1]") == ("", "")
    assert api_message(b"<html>") == ("", "")


def test_group_limit_shrinks_on_refusals_and_says_so_once():
    limits = GroupLimit()
    assert limits.current == GROUP_LIMIT
    assert limits.accepted(GROUP_LIMIT) is None  # nothing refused: nothing to say
    query = b'{"error_code": "ODSQLError", "message": "limit is wrong"}'
    assert limits.smaller(GROUP_LIMIT, 400, query) is None  # the query, not the limit
    assert limits.smaller(GROUP_LIMIT, 500, b'{"message": "limit"}') is None
    refusal = b'{"error_code": "InvalidRESTParameterError", "message": "-1 <= limit < 15000"}'
    assert limits.smaller(GROUP_LIMIT, 400, refusal) == (14_999, "-1 <= limit < 15000")
    assert limits.current == 14_999
    assert limits.smaller(14_999, 400, b'{"message": "limit too big"}') == (10_000, "limit too big")
    assert limits.tried() == "20000, 14999"
    assert limits.accepted(10_000) == (
        "The portal refused group_by limit=20000 (-1 <= limit < 15000); limit=10000 accepted "
        "and used for every count by group"
    )
    assert limits.accepted(10_000) is None
    last = GroupLimit(1_000)
    assert last.smaller(1_000, 400, b'{"message": "bad limit"}') is None  # none smaller left
    assert last.tried() == "1000"
    assert GroupLimit(5).smaller(5, 400, b"") is None  # no message: not about the limit
