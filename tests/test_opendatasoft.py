"""The partition plan: packing, limits, and ODSQL that selects each row exactly once."""

from collections import Counter

import pytest

from cpfft.opendatasoft import (
    Group,
    SchemaError,
    parse_groups,
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
