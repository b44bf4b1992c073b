"""`scrapy crawl cpf` against the portal's unsettled behaviours, each plausible answer emulated.

1. The grouped ``limit``: the portal's OpenAPI text wants ``offset + limit``
   strictly below 20 000 with ``group_by``; portals accept 20 000; a lower cap is
   possible; a refusal may or may not state the bound. Every variant must give
   the whole catalogue, and a count answer that may be cut (as many groups as
   the limit) must never drop rows silently.
2. Counts that keep disagreeing with the exports (the portal reindexing): the
   run says precisely which partition disagrees and by how much, writes each
   row the export gives once, and is complete only when a fresh count agrees.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest

from cpfft.run.report import count as spaced
from tests.fakeapi.cpfdata import INDEX

pytestmark = pytest.mark.crawl

MISSING = re.compile(r"^\s+missing:\s+(.*)$", re.MULTILINE)
#: A run that fetched nothing says its cause in the headline, anything else on one line.
SHORT_CAUSE = re.compile(r"Run summary \(cpf\): FAILED: (.*)$", re.MULTILINE)
ALSO_MISSING = re.compile(r"^  also missing: (.*)$", re.MULTILINE)


def reported(log: str) -> list[str]:
    """Everything the summary says is missing, whichever form it takes."""
    if MISSING.search(log):
        return MISSING.findall(log)
    also = ALSO_MISSING.findall(log)
    return SHORT_CAUSE.findall(log) + (also[0].split("; ") if also else [])


WARNING = re.compile(r"^\s+warning:\s+(.*)$", re.MULTILINE)
SUMMARY_CALLS = re.compile(r"API calls:\s+([\d ]+) \(")


def truth(emulator, keep=lambda row: True):
    """(numero_formation, code_departement) of every row the exports give."""
    i, j = INDEX["numero_formation"], INDEX["code_departement"]
    return {(r[i], r[j] or "") for r in emulator.dataset.rows if r[i] and keep(r)}


def keys(result):
    if not result.output.exists():
        return set()
    found = [(r["numero_formation"], r["code_departement"]) for r in result.dicts()]
    assert len(found) == len(set(found)), "a row was written twice"
    return set(found)


def summary_calls(log: str) -> int:
    m = SUMMARY_CALLS.search(log)
    assert m, log[-3000:]
    return int(m.group(1).replace(" ", ""))


def in_dep(code):
    return lambda r: r[INDEX["code_departement"]] == code


# ------------------------------------------------------------------ 1. grouped limit

# (id, emulator knobs, the limit the spider must end up with, group_by calls refused)
GROUP_LIMITS = [
    ("20000 accepted", {"group_limit_max": 20000}, 20000, 0),
    ("30000 accepted", {"group_limit_max": 30000}, 20000, 0),
    ("strict < 20000", {"group_limit_max": 20000, "group_limit_strict": True}, 19999, 1),
    ("strict < 5000", {"group_limit_max": 5000, "group_limit_strict": True}, 4999, 1),
    ("<= 5000", {"group_limit_max": 5000}, 5000, 1),
    (
        "< 5000, the refusal states no bound",
        {
            "group_limit_max": 5000,
            "group_limit_strict": True,
            "group_limit_message": "Invalid value for limit API parameter.",
        },
        1000,
        3,  # 20000, 19999, 10000 refused; 1000 accepted
    ),
]


@pytest.mark.parametrize(
    ("knobs", "accepted", "refused"),
    [g[1:] for g in GROUP_LIMITS],
    ids=[g[0] for g in GROUP_LIMITS],
)
def test_grouped_limit_variants_give_the_whole_catalogue(ods, crawl, knobs, accepted, refused):
    api = ods(rows=3000, **knobs)
    # One group (the rows without location, real catalogue sparseness) is split by NSF
    # code, and its biggest pair again by Formacode: 3 counts.
    assert max(api.dataset.count_by("code_departement").values()) > 300
    pairs = Counter(
        (r[INDEX["code_departement"]], r[INDEX["code_nsf_1"]]) for r in api.dataset.rows
    )
    assert max(pairs.values()) > 300
    result = crawl("cpf", env={"CPF_API_URL": api.url, "CPF_PARTITION_ROWS": "300"})

    assert result.returncode == 0, result.log
    assert keys(result) == truth(api)
    assert "Run summary (cpf): COMPLETE" in result.log
    grouped = [u for u in api.requests if "group_by=" in u]
    limits = [int(re.search(r"[?&]limit=(\d+)", u).group(1)) for u in grouped]
    # The refused limits, then the accepted one for the département count and the
    # same for the (département, NSF) and (département, NSF, Formacode) counts: no
    # second refusal.
    assert limits[refused:] == [accepted] * 3, limits
    assert len(limits) == refused + 3
    assert "Plan: 3000 rows in " in result.log
    assert "partition(s) of at most 300 rows, one export call each\n" in result.log
    exports = api.stats()["by_route"]["v21_export"]
    assert api.stats()["calls"] == 1 + refused + 3 + exports
    assert summary_calls(result.log) == api.stats()["calls"]  # refusals are API calls too
    told = [line for line in result.log.splitlines() if "limit=" in line and "accepted" in line]
    if refused:
        assert len(told) == 1, told
        assert "INFO: The portal refused group_by limit=20000 (" in told[0]
        assert f"limit={accepted} accepted and used for every count by group" in told[0]
    else:
        assert told == []


def test_cut_count_by_nsf_is_not_used_big_departements_stay_whole(ods, crawl):
    api = ods(rows=3000, group_limit_max=10, group_limit_strict=True)
    nsf_pairs = {
        (r[INDEX["code_departement"]], r[INDEX["code_nsf_1"]])
        for r in api.dataset.rows
        if r[INDEX["code_departement"]] in ("75", "13")
    }
    assert len(nsf_pairs) > 9  # the answer by (département, NSF) is cut at 9 groups
    keep = lambda r: r[INDEX["code_departement"]] in ("75", "13")
    result = crawl(
        "cpf", {"departement": "75,13"}, env={"CPF_API_URL": api.url, "CPF_PARTITION_ROWS": "100"}
    )
    assert result.returncode == 0, result.log
    assert keys(result) == truth(api, keep)
    assert WARNING.findall(result.log) == [
        (
            "the count per département and NSF code gave 9 groups, as many as limit=9 allows, "
            "so it may be cut: départements 75 are exported whole, not split by NSF code"
        )
    ]
    # 75 is one export, bigger than CPF_PARTITION_ROWS, rather than pieces of unknown size.
    assert api.stats()["by_route"]["v21_export"] == 2


def test_cut_count_by_departement_fails_clearly(ods, crawl):
    api = ods(rows=3000, group_limit_max=50, group_limit_strict=True)
    assert len(api.dataset.count_by("code_departement")) > 49
    result = crawl("cpf", env={"CPF_API_URL": api.url})
    assert result.returncode == 1, result.log
    assert reported(result.log) == [
        (
            "row count per département: 49 groups came back, as many as limit=49 allows, "
            "so some may be missing; nothing was fetched"
        )
    ]
    assert "Run summary (cpf): FAILED" in result.log
    assert api.stats()["by_route"].get("v21_export", 0) == 0
    assert "Traceback" not in result.log


def test_grouped_limit_refused_all_the_way_down_fails_clearly(ods, crawl):
    vague = "Invalid value for limit API parameter."
    api = ods(rows=300, group_limit_max=500, group_limit_message=vague)
    result = crawl("cpf", env={"CPF_API_URL": api.url})
    assert result.returncode == 1, result.log
    assert reported(result.log) == [
        (
            f"row count per département: HTTP 400: {vague} "
            "(group_by limits refused: 20000, 19999, 10000, 1000)"
        )
    ]
    assert "Traceback" not in result.log


# ------------------------------------------------------------------ 2. count vs export drift


#: Rows nearly all located, so that the heavy département 75, not the rows without location
#: (46 % of real rows), is the biggest group: these tests follow one named partition.
LOCATED = {"null_location_share": 0.01}


def alone(api, drift):
    """CPF_PARTITION_ROWS that puts the heavy département 75 alone in partition 1: its
    count, drift included (the biggest group is packed first and fills the partition)."""
    true = api.dataset.count_by("code_departement")["75"]
    assert true > 2 * max(
        n for d, n in api.dataset.count_by("code_departement").items() if d != "75"
    )
    return true, str(true + drift)


def test_export_always_shorter_than_count_is_written_and_reported(ods, crawl):
    api = ods(rows=6000, heavy_share=0.3, count_drift=12, **LOCATED)
    true, rows = alone(api, 12)
    result = crawl(
        "cpf",
        env={"CPF_API_URL": api.url, "CPF_PARTITION_ROWS": rows, "CPF_PARTITION_ATTEMPTS": "3"},
    )
    assert result.returncode == 1, result.log
    assert reported(result.log) == [
        (
            f"partition 1 (départements 75): the count says {spaced(true + 12)} rows, every export "
            f"gave {spaced(true)} (the portal may be reindexing; run again later); those "
            f"{spaced(true)} rows are written"
        )
    ]
    assert "Run summary (cpf): INCOMPLETE" in result.log
    assert true > 1000  # numbers are shown with a thousands separator
    assert "rows written:       6 000 of 6 012 expected" in result.log
    assert keys(result) == truth(api)  # what the exports give, each row once
    # 3 exports of partition 1, each short one counted again before the next.
    assert sum(1 for u in api.requests if "exports/jsonl" in u and "%2275%22" in u) == 3
    assert "Traceback" not in result.log


def test_export_always_longer_than_count_is_written_and_reported(ods, crawl):
    api = ods(rows=3000, count_drift=-12, **LOCATED)
    true, rows = alone(api, -12)
    result = crawl("cpf", env={"CPF_API_URL": api.url, "CPF_PARTITION_ROWS": rows})
    assert result.returncode == 1, result.log
    assert reported(result.log) == [
        (
            f"partition 1 (départements 75): the count says {spaced(true - 12)} rows, the export "
            f"gave {spaced(true)}, all written; a fresh count still says {spaced(true - 12)} "
            "(the portal may be reindexing; run again later)"
        )
    ]
    assert WARNING.findall(result.log) == []
    assert "Run summary (cpf): INCOMPLETE" in result.log
    assert keys(result) == truth(api)
    # One export per partition, and one fresh count for the longer one: no refetch.
    exports = api.stats()["by_route"]["v21_export"]
    assert api.stats()["calls"] == 2 + exports + 1
    assert "Traceback" not in result.log


def test_export_longer_than_a_stale_count_is_complete_once_recounted(ods, crawl):
    api = ods(
        rows=3000, count_drift=-12, count_drift_times=1, **LOCATED
    )  # only the first count drifts
    true, rows = alone(api, -12)
    result = crawl("cpf", env={"CPF_API_URL": api.url, "CPF_PARTITION_ROWS": rows})
    assert result.returncode == 0, result.log
    assert reported(result.log) == []
    assert WARNING.findall(result.log) == [
        (
            f"partition 1 (départements 75): the count said {spaced(true - 12)} rows, the export "
            f"gave {spaced(true)}, all written; a fresh count agrees ({spaced(true)})"
        )
    ]
    assert "Run summary (cpf): COMPLETE" in result.log
    assert "rows written:       3 000 of 3 000 expected" in result.log
    assert keys(result) == truth(api)


def test_export_shorter_than_a_stale_count_is_fetched_again(ods, crawl):
    api = ods(rows=3000, count_drift=12, count_drift_times=1, **LOCATED)
    _, rows = alone(api, 12)
    result = crawl("cpf", env={"CPF_API_URL": api.url, "CPF_PARTITION_ROWS": rows})
    assert result.returncode == 0, result.log
    assert keys(result) == truth(api)
    assert "the catalogue changed during the run" in result.log
    assert reported(result.log) == WARNING.findall(result.log) == []


def test_drift_in_a_departement_split_by_nsf(ods, crawl):
    api = ods(rows=3000, count_drift=7, **LOCATED)
    result = crawl(
        "cpf",
        env={"CPF_API_URL": api.url, "CPF_PARTITION_ROWS": "200", "CPF_PARTITION_ATTEMPTS": "2"},
    )
    assert result.returncode == 1, result.log
    (line,) = reported(result.log)
    m = re.fullmatch(
        r"partition \d+ \(départements [^)]*75[^)]*\): the count says (\d+) rows, every export "
        r"gave (\d+) \(the portal may be reindexing; run again later\); those \2 rows are written",
        line,
    )
    assert m, line
    assert int(m.group(1)) == int(m.group(2)) + 7
    assert keys(result) == truth(api)


def test_export_cut_once_then_short_is_not_written(ods, crawl):
    """Exports that differ were cut: the partition is listed with its counted rows, none written."""
    api = ods(rows=3000, count_drift=12, truncate_exports=1, truncate_mode="rows")
    true = api.dataset.count_by("code_departement")["75"]
    result = crawl(
        "cpf",
        {"departement": "75"},
        env={"CPF_API_URL": api.url, "CPF_PARTITION_ATTEMPTS": "3"},
    )
    assert result.returncode == 1, result.log
    exported = [u for u in api.requests if "exports/jsonl" in u]
    assert len(exported) == 3
    half = int(true * 0.5)
    assert reported(result.log) == [
        (
            f"partition 1 (départements 75; {true + 12} rows): the count says {spaced(true + 12)} "
            f"rows, the 3 whole exports gave {spaced(half)}, {spaced(true)} and {spaced(true)} rows "
            "(cut short, or the portal is reindexing; run again later); none written"
        )
    ]
    assert keys(result) == set()
    assert "Run summary (cpf): FAILED" in result.log
