"""The offres lines of the run summary: the calibration, the checks, the offers withdrawn
meanwhile, and what changed since the previous run. Pure: no Scrapy, no I/O."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cpfft.offres.calibration import Calibration
    from cpfft.offres.cursor import Accounts
    from cpfft.offres.incremental import Changes

CHANGE_KINDS = ("added", "updated", "withdrawn")


def calibration_line(calibration: Calibration) -> str:
    reading = calibration.reading
    what = reading.describe() if reading else f"failed ({calibration.failure})"
    return (
        f"  calibration:        {calibration.calls} calls: {what}; windows up to {calibration.cap}"
    )


def checks_line(accounts: Accounts) -> str:
    extra = []
    if accounts.refetched:
        extra.append(f"{accounts.refetched} pages fetched again after withdrawals")
    if accounts.counts:
        extra.append(f"{accounts.counts} counts asked")
    extra.append(f"{accounts.whole + 1} calls on the whole query")
    return (
        f"  checks:             {accounts.checks_passed} passed against the API's counts "
        f"over {accounts.windows} windows" + (f" ({', '.join(extra)})" if extra else "")
    )


def withdrawn_line(outcome: str, expected: int | None, written: int, sample: bool) -> str | None:
    """A complete run that wrote fewer offers than matched at the start (``expected``):
    the others were withdrawn before their turn. ``written`` counts the offers of an
    incremental run's overlap not written again; a sample (``sample``) says nothing."""
    if outcome != "complete" or not expected or written >= expected or sample:
        return None
    return (
        f"  withdrawn meanwhile: {expected - written} of the {expected} offers matching at the "
        "start were withdrawn before their turn (the checks account for them)"
    )


def summary_lines(
    calibration: Calibration | None,
    accounts: Accounts | None,
    outcome: str,
    expected: int | None,
    written: int,
    sample: bool,
) -> list[str]:
    """The calibration (if the run had one), the checks (if the cursor ran) and the
    withdrawals, for the run summary."""
    lines = []
    if calibration is not None:
        lines.append(calibration_line(calibration))
    if accounts is not None:
        lines.append(checks_line(accounts))
    withdrawn = withdrawn_line(outcome, expected, written, sample)
    return [*lines, withdrawn] if withdrawn else lines


def change_stats(changes: Changes) -> dict[str, int]:
    """The stats of a committed state: how many offers were added, updated, withdrawn
    (each when known)."""
    counts = {name: getattr(changes, name) for name in CHANGE_KINDS}
    return {f"cpfft/changes/{name}": n for name, n in counts.items() if n is not None}


def changes_lines(changes: Changes, changes_name: str, known: int | None) -> list[str]:
    """What changed since the previous run (written to ``changes_name``), and the offers
    of an incremental run's overlap that were already known (``known``)."""
    lines = [f"  changes:            {changes.describe()} → {changes_name}"]
    if known:
        lines.append(f"  already known:      {known} offers of the overlap, not written again")
    return lines
