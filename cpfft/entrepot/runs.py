"""Which runs a load takes, and in what order: the kept runs of a query folder, chosen
against the warehouse's last load of the source.

No DuckDB: it reads file names, headers and descriptors (:mod:`cpfft.entrepot.inputs`)
and gives lists of runs, or a one-line :class:`~cpfft.entrepot.inputs.InputError`.

A scheduled run writes ``<stamp>[_<job>].csv`` (a whole extraction) or
``<stamp>[_<job>].depuis.csv`` (offres ``-a depuis=dernier``: the offers created since
the previous run), its changes file ``….changes.csv`` beside it; the stamps sort in run
order. The mirror as of the newest run is the last whole extraction, then every later
``depuis`` run in order. So a load takes, for each source:

- with the warehouse's history (table ``chargements``): every kept run newer than the
  last one loaded, in order;
- without it (a first load): the last whole extraction and the runs after it;
- ``--reconstruire``: the first whole extraction kept and every run after it, so a
  lost warehouse never loses the history its runs still hold.

A file given on the command line is one run: loaded when it is newer than the last
one loaded, skipped when it is that same run (loading a run twice changes nothing),
refused when it is older (history is written forwards only).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cpfft.entrepot.inputs import (
    Changes,
    Input,
    InputError,
    check_input,
    latest_changes,
    latest_output,
    read_changes,
)
from cpfft.run.output import CHANGES_SUFFIX, STAMP

#: ``20261207T020000.123Z[_job][.depuis].csv``: a scheduled run's own file.
RUN_FILE = re.compile(rf"({STAMP.pattern})(_[^.]+)?(\.depuis)?\.csv")


def kept_runs(folder: Path) -> list[Path]:
    """The scheduled runs' files in a query folder, oldest first (incomplete ones, named
    ``….incomplete.csv``, and changes files are not runs)."""
    return sorted(p for p in folder.glob("*.csv") if RUN_FILE.fullmatch(p.name))


def run_changes(path: Path) -> Path | None:
    """The changes file written with the run ``path`` (same stamp), if there is one."""
    changes = path.with_name(path.name.removesuffix(".csv") + CHANGES_SUFFIX)
    return changes if changes.is_file() else None


@dataclass
class Run:
    """One run to load: its file, checked, and (offres) its changes file."""

    input: Input
    changes: Changes | None = None


@dataclass
class Candidates:
    """What a load is given for one source: a file on the command line (``given``), or
    the runs kept in its query folder under CPFFT_OUTPUT_DIR."""

    runs: list[Run]
    given: bool
    #: Lines for the user: the query folders not taken, the kept runs that are not loadable.
    notes: list[str] = field(default_factory=list)


def scheduled(base: Path, source: str) -> Candidates:
    """The kept runs of ``source``'s query under ``base`` (CPFFT_OUTPUT_DIR), oldest first.

    The query folder is :func:`latest_output`'s. A run whose file is not a complete
    run's (no descriptor: stopped, killed, or written by an older cpfft) is left out,
    with a note. A folder without timestamped files (an older cpfft kept only
    ``latest.csv``) gives its ``latest.csv`` and ``latest.changes.csv``.
    """
    found = latest_output(base, source)
    notes = [
        f"note : requête {query} ignorée (prise : {found.path}) ; --{source} FICHIER pour en "
        "charger une autre"
        for query in found.ignored
    ]
    files = kept_runs(found.path.parent)
    if not files:
        latest = check_input(found.path, source)
        changes = latest_changes(found.path) if source == "offres" else None
        return Candidates([Run(latest, read_changes(changes) if changes else None)], False,
                          notes)  # fmt: skip
    runs = []
    for path in files:
        try:
            checked = check_input(path, source)
        except InputError as exc:
            notes.append(f"note : exécution {path.name} ignorée : {exc}")
            continue
        if checked.descriptor is None:
            notes.append(
                f"note : exécution {path.name} ignorée : pas de descripteur (exécution "
                "interrompue, ou écrite par une version ancienne de cpfft) ; --"
                f"{source} {path} pour la charger quand même"
            )
            continue
        changes = run_changes(path) if source == "offres" else None
        runs.append(Run(checked, read_changes(changes) if changes else None))
    return Candidates(runs, False, notes)


def moment(value: datetime) -> str:
    """A run's extraction time as the summary and errors show it (UTC, to the second)."""
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


@dataclass
class Choice:
    """The runs a load takes for one source, oldest first, and what it left out."""

    runs: list[Run]
    #: Runs already in the warehouse's history (given again, or kept before the last load).
    already: list[Run] = field(default_factory=list)
    #: Kept runs before the first one taken (no whole extraction to start from, or older
    #: than the last whole one on a first load).
    earlier: list[Run] = field(default_factory=list)


def choose_kept(runs: list[Run], last: datetime | None, rebuild: bool) -> Choice:
    """Of a folder's kept runs (oldest first), those to load given the last run loaded
    (``last``: None without history); see the module doc."""
    if last is not None and not rebuild:
        newer = [r for r in runs if r.input.extracted_at > last]
        return Choice(newer, already=[r for r in runs if r.input.extracted_at <= last])
    whole = [i for i, r in enumerate(runs) if not r.input.partial]
    if not whole:
        return Choice([], earlier=list(runs))
    start = whole[0] if rebuild else whole[-1]
    return Choice(runs[start:], earlier=runs[:start])


def choose_given(run: Run, last: datetime | None, loaded: set[datetime]) -> Choice:
    """A run given on the command line: taken, skipped (already loaded) or refused."""
    given = run.input
    if last is None or given.extracted_at > last:
        return Choice([run])
    if given.extracted_at in loaded:
        return Choice([], already=[run])
    raise InputError(
        f"{given.option} {given.path} was extracted on {moment(given.extracted_at)}, before "
        f"the last {given.source} run the warehouse holds ({moment(last)}): runs load in "
        "the order they ran; load a newer run, or rebuild the history from the kept runs "
        "with --reconstruire"
    )
