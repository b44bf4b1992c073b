"""Chaos suite: both spiders against emulators injecting combined faults.

Every cell is a real ``scrapy crawl`` and states its outcome in advance:

- a cell not built to fail must exit 0, its summary say COMPLETE and "N of N
  expected", and the CSV parsed back hold exactly the emulator's truth set (no
  row missing, none twice);
- a cell built to fail (``BUILT_TO_FAIL``: the API goes away, or no second
  attempt is allowed) must exit 1, its summary say INCOMPLETE with the rows
  written and expected equal to the CSV's and the truth's counts, and list under
  ``missing:`` the partitions (CPF) or creation-date windows (offres) the absent
  rows belong to, each for the reason the cell causes: for CPF the rows of the
  listed partitions are exactly the rows absent (truth minus written); for offres
  every absent offer falls in a listed window.

Either way every line of the CSV is a whole row. The matrix is printed at the
end of the test session (``pytest -m chaos`` runs it alone).
"""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from tests.fakeapi.cpfdata import INDEX
from tests.support.crawling import ft_env

pytestmark = [pytest.mark.chaos, pytest.mark.crawl]

ALL_CPF = {"fail_rate_5xx": 0.05, "burst_per_second": 4, "slow_rate": 0.05, "slow_ms": 2500,
           "truncate_exports": 2, "malformed_rate": 0.05, "reset_rate": 0.05, "cut_rate": 0.05}  # fmt: skip
ALL_FT = {"fail_rate_5xx": 0.05, "storm_every": 9, "storm_calls": 2, "storm_retry_after": 1,
          "token_lifetime": 5, "revoke_tokens_every": 25, "slow_rate": 0.05, "slow_ms": 2500,
          "malformed_rate": 0.05, "reset_rate": 0.05, "cut_rate": 0.05}  # fmt: skip
SHORT_TIMEOUT = {"CPFFT_DOWNLOAD_TIMEOUT": "1"}
NO_RETRY = {"CPFFT_RETRY_TIMES": "0", "CPF_PARTITION_ATTEMPTS": "1"}

# (cell name, emulator knobs, environment)
CPF_CELLS = [
    ("no fault", {}, {}),
    ("5xx 5 %", {"fail_rate_5xx": 0.05}, {}),
    ("5xx 20 %", {"fail_rate_5xx": 0.2}, {}),
    ("429 bursts (4 calls/s)", {"burst_per_second": 4}, {}),
    ("20 % slower than the timeout", {"slow_rate": 0.2, "slow_ms": 2500}, SHORT_TIMEOUT),
    ("3 exports cut (connection dropped)", {"truncate_exports": 3}, {}),
    ("2 exports cut mid-row", {"truncate_exports": 2, "truncate_mode": "clean"}, {}),
    ("20 % bodies cut short", {"cut_rate": 0.2}, {}),
    ("20 % malformed JSON", {"malformed_rate": 0.2}, {}),
    ("20 % connection resets", {"reset_rate": 0.2}, {}),
    ("all of the above", ALL_CPF, {**SHORT_TIMEOUT, "CPFFT_RETRY_TIMES": "8"}),
    ("API down after 6 calls", {"down_after": 6}, {"CPFFT_RETRY_TIMES": "1"}),
    ("3 exports cut, no second attempt", {"truncate_exports": 3}, NO_RETRY),
]
FT_CELLS = [
    ("no fault", {}, {}),
    ("5xx 5 %", {"fail_rate_5xx": 0.05}, {}),
    ("5xx 20 %", {"fail_rate_5xx": 0.2}, {}),
    (
        "429 storms with Retry-After",
        {"storm_every": 6, "storm_calls": 3, "storm_retry_after": 1},
        {},
    ),
    (
        "tokens expire every 5 s, revoked every 25 calls",
        {"token_lifetime": 5, "revoke_tokens_every": 25},
        {},
    ),
    ("10 % slower than the timeout", {"slow_rate": 0.1, "slow_ms": 2500}, SHORT_TIMEOUT),
    ("10 % bodies cut short", {"cut_rate": 0.1}, {}),
    ("10 % malformed JSON", {"malformed_rate": 0.1}, {}),
    ("10 % connection resets", {"reset_rate": 0.1}, {}),
    ("all of the above", ALL_FT, {**SHORT_TIMEOUT, "CPFFT_RETRY_TIMES": "8"}),
    ("API down after 12 calls", {"down_after": 12}, {"CPFFT_RETRY_TIMES": "1"}),
]

#: The cells built to fail (the API goes away, or no second attempt is allowed), with the
#: reason every ``missing:`` line must give and, where the cell fixes it, how many lines.
#: Every other cell must end COMPLETE with exactly the truth set, not merely "explained".
BUILT_TO_FAIL: dict[str, tuple[str, int | None]] = {
    "API down after 6 calls": ("HTTP 503", None),  # how many exports passed first varies
    "3 exports cut, no second attempt": ("ResponseDataLossError", 3),
    "API down after 12 calls": ("HTTP 503", None),
}

SUMMARY_CALLS = re.compile(r"API calls:\s+([\d ]+) \(([\d ]+) retries")
MISSING = re.compile(r"^\s+missing:\s+(.*)$", re.MULTILINE)
ROWS_WRITTEN = re.compile(r"^\s+rows written:\s+([\d ]+) of ([\d ]+) expected → ", re.MULTILINE)


def summary_numbers(log: str) -> tuple[int, int]:
    m = SUMMARY_CALLS.search(log)
    assert m, "the run summary is missing:\n" + log[-3000:]
    return int(m.group(1).replace(" ", "")), int(m.group(2).replace(" ", ""))


def written_keys(result, key: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Keys of the rows written; also checks every line is a whole row."""
    if not result.output.exists():
        return []
    header, rows = result.rows()
    assert all(len(r) == len(header) for r in rows), "a line of the CSV is not a whole row"
    index = [header.index(k) for k in key]
    return [tuple(r[i] for i in index) for r in rows]


def rows_written(log: str) -> tuple[int, int]:
    """The summary's ``rows written: N of M expected`` numbers."""
    m = ROWS_WRITTEN.search(log)
    assert m, "the summary must state the rows written and expected:\n" + log[-3000:]
    return int(m.group(1).replace(" ", "")), int(m.group(2).replace(" ", ""))


def verdict(record_property, spider, cell, result, truth, found) -> list[str]:
    """The cell's stated outcome, checked for both spiders; records the cell. Returns
    the summary's ``missing:`` lines of a cell built to fail ([] for any other cell)."""
    missing = MISSING.findall(result.log)
    report(record_property, spider, cell, result, len(truth), len(found), len(missing))
    tail = result.log[-3000:]
    assert "Traceback" not in result.log, tail
    assert len(found) == len(set(found)), "a row was written twice"
    assert set(found) <= truth
    assert rows_written(result.log) == (len(found), len(truth)), tail
    if cell not in BUILT_TO_FAIL:
        assert result.returncode == 0, tail
        assert f"Run summary ({spider}): COMPLETE" in result.log, tail
        assert set(found) == truth
        assert not missing, tail
        return []
    reason, lines = BUILT_TO_FAIL[cell]
    assert result.returncode == 1, tail
    assert f"Run summary ({spider}): INCOMPLETE" in result.log, tail
    assert len(found) < len(truth)
    assert missing, "an incomplete run must say what is missing"
    assert all(line.endswith(f": {reason}") for line in missing), missing
    if lines is not None:
        assert len(missing) == lines, missing
    return missing


def report(record_property, spider, cell, result, expected, written, missing_lines):
    calls, retries = summary_numbers(result.log)
    record_property(
        "chaos",
        {
            "spider": spider,
            "faults": cell,
            "outcome": "complete" if result.returncode == 0 else "incomplete, explained",
            "expected": expected,
            "written": written,
            "missing_lines": missing_lines,
            "calls": calls,
            "retries": retries,
            "exit": result.returncode,
        },
    )


@pytest.mark.parametrize(("cell", "knobs", "env"), CPF_CELLS, ids=[c[0] for c in CPF_CELLS])
def test_cpf_under_faults(cell, knobs, env, ods, crawl, record_property):
    api = ods(rows=3000, fault_seed=31, **knobs)
    i, j = INDEX["numero_formation"], INDEX["code_departement"]
    truth = {(r[i], r[j] or "") for r in api.dataset.rows if r[i]}
    environment = {"CPF_API_URL": api.url, "CPF_PARTITION_ROWS": "300", **env}
    result = crawl("cpf", env=environment, timeout=200)
    found = written_keys(result, ("numero_formation", "code_departement"))
    missing = verdict(record_property, "cpf", cell, result, truth, found)
    if not missing:
        return
    # Every cell built to fail gets past the plan: each line names a partition and its rows,
    # and the rows of the listed partitions are exactly those absent from the CSV.
    listed = [re.fullmatch(r"partition \d+ \(.*?; (\d+) rows?\): .*", line) for line in missing]
    assert all(listed), missing
    assert sum(int(m.group(1)) for m in listed) == len(truth) - len(found)


@pytest.mark.parametrize(("cell", "knobs", "env"), FT_CELLS, ids=[c[0] for c in FT_CELLS])
def test_offres_under_faults(cell, knobs, env, ft, crawl, record_property):
    api = ft(offers=4000, heavy_share=0.5, fault_seed=31, **knobs)
    created = {o.data["id"]: o.created for o in api.dataset.offers}
    truth = set(created)
    result = crawl("offres", env=ft_env(api, **env), timeout=200)
    found = [k[0] for k in written_keys(result, ("id",))]
    missing = verdict(record_property, "offres", cell, result, truth, found)
    if not missing:
        return
    # Every cell built to fail gets past the calibration: each line names a window.
    listed = [re.match(r"window \d+ \(created (\S+Z) to (\S+Z)\)", line) for line in missing]
    assert all(listed), missing
    windows = [
        (datetime.fromisoformat(m.group(1)), datetime.fromisoformat(m.group(2))) for m in listed
    ]
    for offer_id in truth - set(found):
        when = created[offer_id].replace(microsecond=0)
        assert any(low <= when <= high for low, high in windows), (
            f"offer {offer_id} ({when}) is missing but no listed window covers it"
        )
