"""The offres lines of the run summary (cpfft.offres.summary), word for word."""

from __future__ import annotations

from cpfft.offres.bounds import PARIS, Reading
from cpfft.offres.calibration import Calibration
from cpfft.offres.cursor import Accounts
from cpfft.offres.incremental import Changes
from cpfft.offres.summary import (
    calibration_line,
    change_stats,
    changes_lines,
    checks_line,
    summary_lines,
    withdrawn_line,
)

OLDEST = "2000-01-01T00:00:00Z"


def calibration(reading: Reading | None, failure: str | None = None) -> Calibration:
    return Calibration(0, OLDEST, reading=reading, cap=1000, calls=5, failure=failure)


def test_the_calibration_line_names_the_reading_or_the_failure():
    assert calibration_line(calibration(Reading(PARIS))) == (
        "  calibration:        5 calls: bounds read as Paris time, maxCreationDate inclusive, "
        "compared to the second; windows up to 1000"
    )
    assert calibration_line(calibration(None, "a calibration call failed: HTTP 500")) == (
        "  calibration:        5 calls: failed (a calibration call failed: HTTP 500); windows "
        "up to 1000"
    )


def test_the_checks_line_adds_refetches_and_counts_only_when_there_were_some():
    plain = Accounts(windows=3, checks_passed=4, whole=1)
    assert checks_line(plain) == (
        "  checks:             4 passed against the API's counts over 3 windows (2 calls on "
        "the whole query)"
    )
    busy = Accounts(windows=7, checks_passed=8, refetched=2, counts=3, whole=0)
    assert checks_line(busy) == (
        "  checks:             8 passed against the API's counts over 7 windows (2 pages "
        "fetched again after withdrawals, 3 counts asked, 1 calls on the whole query)"
    )


def test_withdrawals_are_told_only_for_a_complete_whole_run_that_wrote_fewer():
    line = (
        "  withdrawn meanwhile: 3 of the 100 offers matching at the start were withdrawn "
        "before their turn (the checks account for them)"
    )
    assert withdrawn_line("complete", 100, 97, sample=False) == line
    assert withdrawn_line("incomplete", 100, 97, sample=False) is None
    assert withdrawn_line("complete", 100, 100, sample=False) is None
    assert withdrawn_line("complete", 100, 101, sample=False) is None
    assert withdrawn_line("complete", 100, 97, sample=True) is None
    assert withdrawn_line("complete", None, 0, sample=False) is None
    assert withdrawn_line("complete", 0, 0, sample=False) is None


def test_summary_lines_in_order_and_only_those_that_apply():
    cal, accounts = calibration(Reading()), Accounts(windows=1, checks_passed=2, whole=1)
    lines = summary_lines(cal, accounts, "complete", 100, 98, sample=False)
    assert lines == [
        calibration_line(cal),
        checks_line(accounts),
        withdrawn_line("complete", 100, 98, sample=False),
    ]
    assert summary_lines(None, None, "complete", 100, 100, sample=False) == []
    assert summary_lines(None, accounts, "failed", 100, 0, sample=False) == [checks_line(accounts)]


def test_changes_lines_and_stats():
    full = Changes(added=3, updated=1, withdrawn=2)
    assert changes_lines(full, "20261201T120000.000Z.changes.csv", None) == [
        "  changes:            3 added, 1 updated, withdrawn: 2 → 20261201T120000.000Z.changes.csv"
    ]
    assert change_stats(full) == {
        "cpfft/changes/added": 3,
        "cpfft/changes/updated": 1,
        "cpfft/changes/withdrawn": 2,
    }
    incremental = Changes(added=0, updated=4, withdrawn=None)
    assert changes_lines(incremental, "x.changes.csv", 12) == [
        (
            "  changes:            0 added, 4 updated, withdrawn: not checked (incremental run) "
            "→ x.changes.csv"
        ),
        "  already known:      12 offers of the overlap, not written again",
    ]
    assert change_stats(incremental) == {"cpfft/changes/added": 0, "cpfft/changes/updated": 4}
    assert changes_lines(incremental, "x.changes.csv", 0) == changes_lines(
        incremental, "x.changes.csv", None
    )
