"""The partition plan: packing, limits, and ODSQL that selects each row exactly once."""

from collections import Counter

import pytest

from cpfft.cpf.plan import (
    GROUP_LIMIT_STEPS,
    Group,
    Partition,
    SchemaError,
    is_limit_refusal,
    limit_rule,
    next_group_limit,
    parse_groups,
    parse_limit_bound,
    parse_metadata,
    plan_partitions,
    quote,
)
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
    groups = [Group(f"{i:02d}", 3000) for i in range(1, 8)] + [Group("75", 25000), Group(None, 40)]
    parts = plan_partitions(groups, 10000)
    assert sum(p.expected for p in parts) == 7 * 3000 + 25000 + 40
    assert [p.expected for p in parts if p.expected > 10000] == [25000]
    assert all(len(p.groups) == 1 for p in parts if p.expected > 10000)
    assert len(parts) == 4  # 25000 | 3×3000+40 | 3×3000 | 3000
    seen = Counter(g.departement for p in parts for g in p.groups)
    assert all(n == 1 for n in seen.values())


def test_max_records_keeps_only_what_is_needed():
    groups = [Group(f"{i:02d}", 3000) for i in range(1, 8)]
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
    by_dep = data.count_by("code_departement")
    assert by_dep["75"] > 2000
    assert by_dep[None] > 0
    groups = [Group(dep, n) for dep, n in by_dep.items() if dep != "75"]
    # Split the heavy département by NSF code, the null NSF included.
    nsf = Counter(r[INDEX["code_nsf_1"]] for r in data.rows if r[INDEX["code_departement"]] == "75")
    assert None in nsf
    groups += [Group("75", n, nsf=code, by_nsf=True) for code, n in nsf.items()]
    parts = plan_partitions(groups, 1000)
    hits = Counter()
    for part in parts:
        where = part.where("code_departement", "code_nsf_1")
        predicate = compile_where([where], schema)
        matched = [i for i, row in enumerate(data.rows) if predicate(row)]
        assert len(matched) == part.expected, where
        hits.update(matched)
    assert len(hits) == len(data.rows)
    assert set(hits.values()) == {1}


def test_partition_label_and_description():
    part = Partition(3, [Group("75", 10012), Group(None, 3)])
    assert part.label() == "partition 3 (départements 75, sans département)"
    assert part.describe() == "partition 3 (départements 75, sans département; 10015 rows)"
    many = Partition(1, [Group(f"{i:02d}", 1) for i in range(1, 9)])
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
