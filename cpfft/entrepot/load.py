"""Build the DuckDB warehouse: today's ``formations``, ``offres``, ``sources``, ``metiers``,
and the history tables.

:func:`build` loads the checked inputs (:mod:`cpfft.entrepot.inputs`) into a new
file beside the warehouse, ``.<name>.<pid>.tmp``, then replaces the warehouse with
it in one ``os.replace``: a reader sees the old load or the new one, never half
of one, and any failure (a damaged input, a full disk, an interruption) leaves
the previous warehouse exactly as it was.

Columns are the items' field names, typed from :func:`cpfft.items.field_types`
(codes stay text). A CSV cell is the real value: the formula guard's apostrophe
is taken off (as :func:`cpfft.run.resume.unguard` does) and an empty cell is
NULL. ``offres`` also gets ``region``, the region's INSEE code from
``departement``, or from ``lieu`` when an offer is located at region level only.

The daily mirror, run by run in the order they ran (:mod:`cpfft.entrepot.runs`
chooses them against the previous warehouse's ``chargements``):

- a **full** offres run replaces the table; the ids its changes file marks
  ``retirée`` must not be in it (else the two files are not from the same run:
  refused);
- a **partial** one (``-a depuis=dernier``: ``….depuis.csv``, or a descriptor
  saying ``partial``) completes the table before it (the previous warehouse's, or
  the run loaded just before): its rows replace or add theirs (by id), and the
  ``retirée`` ids of its changes file are removed.

Each run also updates the history (:mod:`cpfft.entrepot.history`), read from the
previous warehouse and carried into the new one; when no run is new, the
warehouse is left as it is.
"""

# SQL is built here from field names (quoted by ident()) and file paths (quoted by
# sql_string()), never from cell values: S608 does not apply.
# ruff: noqa: S608
from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cpfft.entrepot import children, history, runs
from cpfft.entrepot.inputs import HEADERS, WIDTHS, Input, InputError
from cpfft.entrepot.metiers import BridgeSummary, build_metiers, write_metiers_csv
from cpfft.entrepot.runs import Candidates
from cpfft.entrepot.sql import SQL_TYPES, bound, catalog_columns, ident, spill_folder
from cpfft.entrepot.sql import literal as sql_string
from cpfft.errors import analysis_module, first_line
from cpfft.exporters import FORMULA_TRIGGERS
from cpfft.geo import DEPARTEMENTS, REGIONS, UnknownPlace, find_region
from cpfft.items import Formation, Offre, field_names, field_types
from cpfft.rapport.fr import date
from cpfft.sources import SOURCES

TYPE_WORDS = {"int": "a count", "float": "a number", "bool": "true or false",
              "date": "a date", "datetime": "a date and time"}  # fmt: skip
ITEMS = {"formations": Formation, "offres": Offre}
#: The offres table's columns: every field but the lists (see cpfft.entrepot.children).
OFFRES_COLUMNS: dict[str, str] = {n: t for n, t in field_types(Offre).items() if t != "records"}
#: A DuckDB file has these 4 bytes at offset 8.
DUCKDB_MAGIC = b"DUCK"


_UNTOUCHED = (
    "is left as it was. Free memory or disk space, or close the programs using the folder, "
    "and run again"
)


class BuildError(Exception):
    """The warehouse could not be built for a reason other than its inputs (memory, disk);
    ``str()`` is one line."""


@dataclass
class RunSummary:
    """What loading one run did."""

    input: Input
    partial: bool = False
    kept: int = 0  # partial: today's offers kept
    upserted: int = 0  # offres: rows of the file
    removed: int = 0  # partial: offers removed as its changes file withdraws them
    withdrawn_listed: int = 0
    changed_listed: int = 0
    changed_found: int = 0
    step: history.Step | None = None


@dataclass
class LoadSummary:
    target: Path | str
    #: The warehouse's name in messages.
    shown_as: str = ""
    rows: dict[str, int] = field(default_factory=dict)
    loaded_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    #: The runs loaded, in the order they were applied (formations first, then offres).
    runs: list[RunSummary] = field(default_factory=list)
    #: Per source: runs skipped because the warehouse's history already holds them.
    already: dict[str, int] = field(default_factory=dict)
    #: No run was new: the warehouse was left as it was.
    unchanged: bool = False
    #: The previous warehouse's history was carried forward (False: history starts now).
    history_kept: bool = False
    notes: list[str] = field(default_factory=list)
    rounded: dict[str, int] = field(default_factory=dict)
    bridge: BridgeSummary | None = None
    exports: list[Path] = field(default_factory=list)

    def rounded_add(self, counts: dict[str, int]) -> None:
        for name, count in counts.items():
            self.rounded[name] = self.rounded.get(name, 0) + count


_TRIGGERS = ", ".join(sql_string(t) for t in FORMULA_TRIGGERS)


def unguarded(column: str) -> str:
    """SQL: the CSV cell without the formula guard's apostrophe, NULL when empty."""
    c = ident(column)
    return (
        f"NULLIF(CASE WHEN starts_with({c}, '''') AND left(ltrim(substr({c}, 2), ' '), 1) "
        f"IN ({_TRIGGERS}) THEN substr({c}, 2) ELSE {c} END, '')"
    )


def duckdb_module() -> Any:
    """duckdb (the ``analyse`` extra), or the one-line error that says how to install it."""
    return analysis_module("duckdb", "scrapy entrepot")


# ------------------------------------------------------------------ the target file


def check_target(target: Path) -> None:
    """The warehouse path must be creatable, and an existing file must be a warehouse."""
    parent = target.parent
    if not parent.is_dir():
        raise InputError(f"{target}: the folder {parent} does not exist; create it first")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"{target}: cannot write in {parent}; choose another folder")
    if target.is_dir():
        raise InputError(f"{target} is a folder; give the warehouse file's name, e.g. cpfft.duckdb")
    if target.exists():
        try:
            with target.open("rb") as file:
                head = file.read(12)
        except OSError as exc:
            raise InputError(
                f"{target}: cannot read it ({exc.strerror}); check its rights"
            ) from None
        if head[8:12] != DUCKDB_MAGIC:
            raise InputError(
                f"{target} exists and is not a DuckDB file: it would be replaced; give the "
                "warehouse's name (e.g. cpfft.duckdb) or move the file away"
            )
    wal = target.with_name(target.name + ".wal")
    if wal.exists():
        raise InputError(
            f"{target} has a write-ahead log ({wal.name}): a program has it open for writing, "
            "or was stopped while writing; close it (or open the file once with duckdb to "
            "finish its writes) and run again"
        )


def _scratch(target: Path) -> Path:
    return target.with_name(f".{target.name}.{os.getpid()}.tmp")


def _remove(path: Path) -> None:
    for leftover in (path, path.with_name(path.name + ".wal")):
        leftover.unlink(missing_ok=True)


# ------------------------------------------------------------------ reading one input


def _raw_relation(found: Input) -> str:
    """SQL of the input's rows, as it is (CSV: text cells under the field names), with
    every field: those an older release's file lacks are NULL."""
    path = sql_string(str(found.path))
    names = list(field_types(ITEMS[found.source]))
    width = found.width or len(names)
    absent = [f"NULL AS {ident(n)}" for n in names[width:]]
    if found.format == "parquet":
        present = [ident(n) for n in names[:width]]
        return f"(SELECT {', '.join(present + absent)} FROM read_parquet({path}))"
    headers = HEADERS[found.source][:width]
    columns = ", ".join(f"{sql_string(h)}: 'VARCHAR'" for h in headers)
    reader = (
        f"read_csv({path}, header = true, auto_detect = false, delim = "
        f"{sql_string(found.delimiter)}, quote = '\"', escape = '\"', "
        f"columns = {{{columns}}}, strict_mode = true, null_padding = false)"
    )
    renamed = [f"{ident(h)} AS {ident(n)}" for h, n in zip(headers, names, strict=False)]
    return f"(SELECT {', '.join(renamed + absent)} FROM {reader})"


def _check_parquet_columns(con: Any, found: Input) -> None:
    duckdb = duckdb_module()
    types = field_types(ITEMS[found.source])
    try:
        described = con.execute(
            f"DESCRIBE SELECT * FROM read_parquet({sql_string(str(found.path))})"
        ).fetchall()
    except duckdb.Error as exc:  # a damaged file
        raise InputError(
            f"{found.option} {found.path} is not a readable Parquet file ({_first_line(exc)}); "
            "give a complete `-O ….parquet` output"
        ) from None
    have = {row[0]: str(row[1]) for row in described}
    names = list(types)
    # An older release's file has the first columns only.
    found.width = next(
        (w for w in WIDTHS[found.source] if all(n in have for n in names[:w])), len(names)
    )
    missing = [n for n in names[: found.width] if n not in have]
    if missing:
        raise InputError(
            f"{found.option} {found.path} is not a cpfft {found.source} output: it lacks the "
            f"column(s) {', '.join(missing[:5])}; give the file the spider wrote"
        )
    for name in names[: found.width]:
        kind = types[name]
        got = have[name]
        textual = got == "VARCHAR"
        numeric = re.fullmatch(r"(U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?|DOUBLE|FLOAT|DECIMAL.*)",
                               got) is not None  # fmt: skip
        ok = {
            "text": textual,
            "code": textual,
            "int": numeric,
            "float": numeric,
            "bool": textual or got == "BOOLEAN",
            "date": textual or got.startswith(("DATE", "TIMESTAMP")),
            "datetime": textual or got.startswith("TIMESTAMP"),
            "records": got.startswith("STRUCT(") and got.endswith("[]"),
        }[kind]
        if not ok:
            raise InputError(
                f"{found.option} {found.path}: column {name} is {got}, not "
                f"{SQL_TYPES.get(kind, 'a list of records')}: not a cpfft output; give the file "
                "the spider wrote"
            )


def _first_line(exc: BaseException) -> str:
    return first_line(exc)[:200]


def load_input(con: Any, found: Input, table: str) -> dict[str, int]:
    """Create ``table`` from ``found``, typed; returns the rounded counts per int column.

    Two streaming passes over the file, nothing held in memory: the first counts the
    rows and the values their column's type cannot hold, the second writes the table.
    """
    duckdb = duckdb_module()
    types = field_types(ITEMS[found.source])
    if found.format == "parquet":
        _check_parquet_columns(con, found)
    relation = _raw_relation(found)
    typed: list[str] = []
    checks: list[tuple[str, str, str, str]] = []  # (column, what, SQL count, SQL condition)
    for name, kind in types.items():
        c = ident(name)
        if found.format == "csv":
            textual = kind in ("text", "code", "records")
            value = unguarded(name) if textual else f"NULLIF(trim({c}), '')"
        else:
            value = c
        if kind in ("text", "code"):
            typed.append(f"CAST({value} AS VARCHAR) AS {c}")
            continue
        if kind == "records":  # the cell, or the list of structs: read by children.py
            typed.append(f"{value} AS {c}")
            continue
        sql_type = SQL_TYPES[kind]
        read_as = "DOUBLE" if kind == "int" else sql_type
        unfit = f"{value} IS NOT NULL AND TRY_CAST({value} AS {read_as}) IS NULL"
        checks.append((name, kind, f"count(*) FILTER (WHERE {unfit})", unfit))
        if kind == "int":
            typed.append(f"CAST(TRY_CAST({value} AS DOUBLE) AS BIGINT) AS {c}")
            number = f"TRY_CAST({value} AS DOUBLE)"
            rounded = f"{number} <> round({number})"
            checks.append((name, "rounded", f"count(*) FILTER (WHERE {rounded})", rounded))
        else:
            typed.append(f"TRY_CAST({value} AS {sql_type}) AS {c}")
    try:
        count, *results = con.execute(
            f"SELECT count(*), {', '.join(c[2] for c in checks)} FROM {relation}"
        ).fetchone()
        if found.rows is not None and count != found.rows:
            raise InputError(
                f"{found.option} {found.path} holds {count} rows but its descriptor "
                f"{found.descriptor.name if found.descriptor else ''} says {found.rows}: the "
                "file is half-written or not the run's own; wait for the run to end, or load "
                "its last complete output"
            )
        rounded_counts: dict[str, int] = {}
        for (name, kind, _, condition), bad in zip(checks, results, strict=True):
            if not bad:
                continue
            if kind == "rounded":
                rounded_counts[name] = bad
                continue
            sample = con.execute(
                f"SELECT CAST({ident(name)} AS VARCHAR) FROM {relation} WHERE {condition} LIMIT 1"
            ).fetchone()[0]
            raise InputError(
                f"{found.option} {found.path}: column {name} holds {bad} value(s) that are not "
                f"{TYPE_WORDS[kind]} (e.g. {_shown(sample)}): not a cpfft output, or a damaged "
                "file; give the file the spider wrote"
            )
        con.execute(f"CREATE TABLE {table} AS SELECT {', '.join(typed)} FROM {relation}")
    except (duckdb.InvalidInputException, duckdb.ConversionException, duckdb.IOException) as exc:
        line = re.search(r"Line: (\d+)", str(exc))
        where = f" near line {line.group(1)}" if line else ""
        raise InputError(
            f"{found.option} {found.path} is half-written or damaged{where} "
            f"({_first_line(exc).removeprefix('Invalid Input Error: ')}); wait for the run to "
            "end, or load its last complete output"
        ) from None
    return rounded_counts


def _shown(value: Any) -> str:
    text = repr(str(value))
    return text if len(text) <= 60 else text[:60] + "…"


# ------------------------------------------------------------------ geography


def _geography(con: Any, *offres: str) -> None:
    """Temp tables ``geo_departements``, ``geo_regions``, and ``lieu_regions`` (region-level
    place names found in the offers, with their code)."""
    con.execute("CREATE TEMP TABLE geo_regions (code VARCHAR, nom VARCHAR)")
    con.executemany("INSERT INTO geo_regions VALUES (?, ?)", [(r.code, r.name) for r in REGIONS])
    con.execute("CREATE TEMP TABLE geo_departements (code VARCHAR, nom VARCHAR, region VARCHAR)")
    con.executemany(
        "INSERT INTO geo_departements VALUES (?, ?, ?)",
        [(d.code, d.name, d.region) for d in DEPARTEMENTS],
    )
    if offres:
        _lieu_regions(con, *offres)


def _lieu_regions(con: Any, *offres: str) -> None:
    """(Re)make the temp table ``lieu_regions``: the region-level place names of ``offres``."""
    places = con.execute(
        " UNION ".join(
            f"SELECT DISTINCT lieu FROM {table} WHERE departement IS NULL AND lieu IS NOT NULL"
            for table in offres
        )
    ).fetchall()
    named = []
    for (lieu,) in places:
        if any(ch.isdigit() for ch in lieu):
            continue  # a code, a "NN - commune" label: not a region's name
        try:
            named.append((lieu, find_region(lieu)))
        except UnknownPlace:
            continue
    con.execute("DROP TABLE IF EXISTS lieu_regions")
    con.execute("CREATE TEMP TABLE lieu_regions (lieu VARCHAR, region VARCHAR)")
    if named:
        con.executemany("INSERT INTO lieu_regions VALUES (?, ?)", named)


# ------------------------------------------------------------------ the build


def build(
    target: Path,
    formations: Candidates,
    offres: Candidates,
    exports: dict[str, Path] | None = None,
    csv_delimiter: str = ",",
    rebuild: bool = False,
    shown_as: str | None = None,
) -> LoadSummary:
    """Load the runs into a new warehouse and put it at ``target`` (see the module doc).

    Each source's runs are chosen against the previous warehouse's history
    (:mod:`cpfft.entrepot.runs`); ``rebuild``: the previous warehouse is not read, the
    history starts again from the kept runs. When no run is new, the warehouse is left
    as it is (``summary.unchanged``). ``exports``: ``{"csv": path, "parquet": path}``
    for the ``metiers`` table; ``shown_as``: the warehouse's name in messages (a
    PostgreSQL schema built from this file).
    Raises :class:`InputError` (one line) on bad input, :class:`BuildError` when DuckDB or
    the file system fails (memory, disk); ``target`` is then untouched.
    """
    duckdb = duckdb_module()
    check_target(target)
    previous = target if target.exists() and not rebuild else None
    scratch = _scratch(target)
    _remove(scratch)
    summary = LoadSummary(target, shown_as=shown_as or str(target))
    staged: list[tuple[Path, Path]] = []
    try:
        con = duckdb.connect(str(scratch))
    except (duckdb.Error, OSError) as exc:
        raise BuildError(f"cannot create {scratch} ({_first_line(exc)}); {_UNTOUCHED}") from None
    try:
        bound(con, spill_folder(scratch))  # tables go to the file as they are written
        tables = _attach(con, previous) if previous else set()
        summary.history_kept = bool(tables) and not history.missing_in(con, "previous")
        last = history.last_runs(con, "previous") if summary.history_kept else {}
        chosen = {}
        for source, candidates in (("formations", formations), ("offres", offres)):
            chosen[source] = _choose(source, candidates, last.get(source), rebuild, summary)
            if not chosen[source].runs and source not in tables:
                _nothing_to_load(source, candidates, previous)
            if candidates.given:
                for run in chosen[source].already:
                    _check_again(con, run, summary)
        if not chosen["formations"].runs and not chosen["offres"].runs:
            summary.unchanged = True
        else:
            _picture(con, chosen, tables, previous, summary)
            for table in ("formations", "offres", *children.TABLES):
                summary.rows[table] = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            _sources(con, chosen, summary)
            history.make_jours(con)
            summary.bridge = build_metiers(con)
            if previous:
                con.execute("DETACH previous")
            con.execute("CHECKPOINT")
        if summary.unchanged:  # the bridge is the previous warehouse's
            con.execute("USE previous")
        for kind, path in (exports or {}).items():
            staged.append((_export(con, kind, path, csv_delimiter), path))
        con.close()
        for temporary, path in staged:
            temporary.replace(path)
            summary.exports.append(path)
        if summary.unchanged:
            _remove(scratch)
        else:
            scratch.replace(target)
        shutil.rmtree(spill_folder(scratch), ignore_errors=True)
    except BaseException as exc:
        con.close()
        _remove(scratch)
        shutil.rmtree(spill_folder(scratch), ignore_errors=True)
        for temporary, _ in staged:
            temporary.unlink(missing_ok=True)
        if isinstance(exc, duckdb.Error | OSError):
            name = summary.shown_as
            raise BuildError(
                f"the warehouse {name} could not be built ({_first_line(exc)}); {name} {_UNTOUCHED}"
            ) from None
        raise
    return summary


def _attach(con: Any, previous: Path) -> set[str]:
    """Attach the previous warehouse read-only as ``previous``; its tables' names."""
    duckdb = duckdb_module()
    try:
        con.execute(f"ATTACH {sql_string(str(previous))} AS previous (READ_ONLY)")
        return {table for table, _ in catalog_columns(con, "previous")}
    except duckdb.OutOfMemoryException:
        raise  # not the file's fault: a BuildError
    except duckdb.Error as exc:
        raise InputError(
            f"cannot read the previous warehouse {previous} ({_first_line(exc)}); close the "
            "programs using it, or rebuild it with --reconstruire"
        ) from None


def _choose(source: str, candidates: Candidates, last: tuple | None, rebuild: bool,
            summary: LoadSummary) -> runs.Choice:  # fmt: skip
    summary.notes.extend(candidates.notes)
    moment, loaded = last if last else (None, set())
    if candidates.given:
        (run,) = candidates.runs
        choice = runs.choose_given(run, moment, loaded)
    else:
        choice = runs.choose_kept(candidates.runs, moment, rebuild)
    for run in choice.already:
        if candidates.given:
            summary.notes.append(
                f"note : {run.input.path} est déjà dans l'entrepôt (extraction du "
                f"{date(run.input.extracted_at)}) : pas rechargé"
            )
    if choice.earlier and not rebuild:
        summary.notes.append(
            f"note : {source} : {len(choice.earlier)} exécution(s) plus ancienne(s) gardée(s) "
            "sous CPFFT_OUTPUT_DIR, antérieure(s) à l'historique ; --reconstruire pour "
            "l'historique complet"
        )
    summary.already[source] = len(choice.already)
    return choice


def _picture(con: Any, chosen: dict[str, runs.Choice], tables: set[str], previous: Path | None,
             summary: LoadSummary) -> None:  # fmt: skip
    """Today's tables and the history, from the previous warehouse and the chosen runs."""
    history.create(con)
    if summary.history_kept:
        history.carry(con, "previous")
    _geography(con)
    new_formations = chosen["formations"].runs
    if new_formations:
        for run in new_formations:
            _checked(con, run, summary)
            con.execute("DROP TABLE IF EXISTS formations")
            con.execute("ALTER TABLE new_formations RENAME TO formations")
            _record(con, "formations", run, "SELECT * FROM formations", True, None, summary)
    else:
        _need(previous, tables, "formations", "--formations FILE")
        con.execute("CREATE TABLE formations AS SELECT * FROM previous.formations")
    columns = ", ".join(f"{ident(n)} {SQL_TYPES[k]}" for n, k in OFFRES_COLUMNS.items())
    con.execute(f"CREATE TABLE offres ({columns})")
    children.create_tables(con)
    new_offres = chosen["offres"].runs
    if not new_offres or new_offres[0].input.partial:
        if new_offres and previous is None:
            found = new_offres[0].input
            raise InputError(
                f"--offres {found.path} is a partial run (depuis=dernier: only the offers "
                f"created since the last full run), and there is no warehouse "
                f"{summary.shown_as} to complete: load a full offres file first (latest.csv), "
                "then the partial ones"
            )
        _previous_offres(con, previous, tables)
    for run in new_offres:
        _offres_run(con, run, summary)


def _nothing_to_load(source: str, candidates: Candidates, previous: Path | None) -> None:
    """No run of ``source`` to load and no previous table of it: say what to run."""
    spider = SOURCES[source].spider
    kept = [r.input.path for r in candidates.runs]
    if kept:
        raise InputError(
            f"no whole {spider} extraction kept in {kept[0].parent} (only partial "
            f"depuis=dernier runs, which complete one): run `scrapy crawl {spider}` without "
            "depuis first"
        )
    where = f"the previous warehouse {previous} has none" if previous else "no warehouse yet"
    raise InputError(
        f"no complete {spider} run to load ({where}); run `scrapy crawl {spider}` first, or "
        f"give --{source} FILE"
    )


def _need(previous: Path | None, tables: set[str], table: str, option: str) -> None:
    if previous is None or table not in tables:
        where = f"the previous warehouse {previous}" if previous else "no previous warehouse"
        raise InputError(
            f"no new {table} run to load, and {where} has no {table} table; give {option}"
        )


def _previous_offres(con: Any, previous: Path | None, tables: set[str]) -> None:
    """Today's offers from the previous warehouse: the base a partial run completes."""
    _need(previous, tables, "offres", "--offres FILE")
    have = catalog_columns(con, "previous")
    missing = [n for n in OFFRES_COLUMNS if ("offres", n) not in have]
    missing += [t for t in children.TABLES if (t, "id") not in have]
    if missing:
        raise InputError(
            f"the previous warehouse {previous} has no complete offres table (missing "
            f"{', '.join(missing[:3]) or 'offres'}: built by an older cpfft, or by hand); "
            "load a full offres file first"
        )
    fields = ", ".join(ident(n) for n in OFFRES_COLUMNS)
    con.execute(f"INSERT INTO offres SELECT {fields} FROM previous.offres")
    children.keep_records(con, "previous", "true")


def _checked(con: Any, run: runs.Run, summary: LoadSummary) -> RunSummary:
    """Load the run's file into ``new_<source>``, checked (offres: one row per id, and none
    its changes file withdraws, then in temp table ``withdrawn``)."""
    found, changes = run.input, run.changes
    summary.rounded_add(load_input(con, found, f"new_{found.source}"))
    done = RunSummary(found, partial=found.partial)
    if found.source != "offres":
        return done
    duplicates = con.execute(
        "SELECT count(*) - count(DISTINCT id), count(*) FILTER (WHERE id IS NULL) FROM new_offres"
    ).fetchone()
    if duplicates[0] or duplicates[1]:
        raise InputError(
            f"--offres {found.path} is not one row per offer ({duplicates[0]} repeated id(s), "
            f"{duplicates[1]} without id): not a cpfft offres output; give the file the spider "
            "wrote"
        )
    con.execute("CREATE TEMP TABLE withdrawn (id VARCHAR PRIMARY KEY)")
    if changes is None:
        return done
    done.withdrawn_listed = len(changes.withdrawn)
    done.changed_listed = len(changes.added_or_updated)
    if changes.withdrawn:
        con.executemany("INSERT INTO withdrawn VALUES (?)", [(i,) for i in changes.withdrawn])
    both = con.execute("SELECT count(*) FROM new_offres JOIN withdrawn USING (id)").fetchone()
    if both[0]:
        raise InputError(
            f"--changements {changes.path} marks {both[0]} offer(s) withdrawn that --offres "
            f"{found.path} still holds: the two files are not from the same run; give the "
            "changes file written with the offres file (same stamp)"
        )
    if changes.added_or_updated:
        con.execute("CREATE TEMP TABLE changed (id VARCHAR)")
        con.executemany("INSERT INTO changed VALUES (?)", [(i,) for i in changes.added_or_updated])
        done.changed_found = con.execute(
            "SELECT count(*) FROM new_offres JOIN changed USING (id)"
        ).fetchone()[0]
        con.execute("DROP TABLE changed")
    return done


def _check_again(con: Any, run: runs.Run, summary: LoadSummary) -> None:
    """A run given again, already loaded: checked as if it were new (a bad file, or a changes
    file of another run, is still refused), then left out."""
    _checked(con, run, LoadSummary(summary.target))
    con.execute(f"DROP TABLE new_{run.input.source}")
    con.execute("DROP TABLE IF EXISTS withdrawn")


def _offres_run(con: Any, run: runs.Run, summary: LoadSummary) -> None:
    """Apply one offres run to today's table and to the history."""
    found = run.input
    done = _checked(con, run, summary)
    fields = ", ".join(ident(n) for n in OFFRES_COLUMNS)
    # An older file has no region column: the département's, or the region its place names.
    selected = ", ".join(
        "COALESCE(m.region, d.region, l.region)" if n == "region" else "m." + ident(n)
        for n in OFFRES_COLUMNS
    )
    _lieu_regions(con, "new_offres")
    replaced = "id IN (SELECT id FROM new_offres) OR id IN (SELECT id FROM withdrawn)"
    if found.partial:
        done.removed = con.execute(
            "SELECT count(*) FROM offres JOIN withdrawn USING (id)"
        ).fetchone()[0]
        con.execute(f"DELETE FROM offres WHERE {replaced}")
        for table in children.TABLES:
            con.execute(f"DELETE FROM {table} WHERE {replaced}")
        done.kept = con.execute("SELECT count(*) FROM offres").fetchone()[0]
    else:
        con.execute("DELETE FROM offres")
        for table in children.TABLES:
            con.execute(f"DELETE FROM {table}")
    con.execute(
        f"INSERT INTO offres SELECT {selected} FROM (SELECT {fields} FROM new_offres) m "
        "LEFT JOIN geo_departements d ON d.code = m.departement "
        "LEFT JOIN lieu_regions l ON m.departement IS NULL AND l.lieu = m.lieu"
    )
    present = field_names(Offre)[: found.width or None]
    children.add_records(con, "new_offres", found.format, present)
    done.upserted = con.execute("SELECT count(*) FROM new_offres").fetchone()[0]
    rows = "SELECT * FROM offres WHERE id IN (SELECT id FROM new_offres)"
    _record(con, "offres", run, rows, not found.partial, "withdrawn", summary, done)
    con.execute("DROP TABLE new_offres")
    con.execute("DROP TABLE withdrawn")


def _record(con: Any, source: str, run: runs.Run, rows: str, whole: bool, withdrawn: str | None,
            summary: LoadSummary, done: RunSummary | None = None) -> None:  # fmt: skip
    """The run's step in the history, in ``chargements``, and in the summary."""
    found = run.input
    kind = history.KINDS[source]
    wanted = ", ".join(ident(c) for c in kind.key + kind.version + kind.kept)
    step = history.apply(con, source, f"SELECT {wanted} FROM ({rows})", found.extracted_at,
                         whole, withdrawn)  # fmt: skip
    lines = con.execute(f"SELECT count(*) FROM ({rows})").fetchone()[0]
    history.record(con, source, str(found.path.absolute()), found.extracted_at, found.partial,
                   lines, step, summary.loaded_at)  # fmt: skip
    done = done or RunSummary(found, partial=found.partial)
    done.step = step
    summary.runs.append(done)


def _sources(con: Any, chosen: dict[str, runs.Choice], summary: LoadSummary) -> None:
    con.execute(
        "CREATE TABLE sources (source VARCHAR, fichier VARCHAR, extrait_le TIMESTAMPTZ, "
        "nb_lignes BIGINT, producteur VARCHAR, url_source VARCHAR, licence VARCHAR, "
        "licence_url VARCHAR, charge_le TIMESTAMPTZ)"
    )
    loaded = summary.loaded_at.isoformat()
    for name in ("formations", "offres"):
        if not chosen[name].runs:  # nothing new: the previous load's line
            con.execute(
                f"INSERT INTO sources SELECT * FROM previous.sources WHERE source = '{name}'"
            )
            continue
        found = chosen[name].runs[-1].input
        source = SOURCES[found.source]
        con.execute(
            "INSERT INTO sources VALUES (?, ?, CAST(? AS TIMESTAMPTZ), ?, ?, ?, ?, ?, "
            "CAST(? AS TIMESTAMPTZ))",
            [
                found.source,
                str(found.path.absolute()),
                found.extracted_at.isoformat(),
                summary.rows[found.source],
                source.producer,
                source.url,
                source.licence,
                source.licence_url,
                loaded,
            ],
        )


def _export(con: Any, kind: str, path: Path, delimiter: str) -> Path:
    """Write the metiers table to a temporary file beside ``path``; return that file."""
    temporary = _scratch(path)
    if kind == "parquet":
        con.execute(
            f"COPY (SELECT * FROM metiers) TO {sql_string(str(temporary))} (FORMAT parquet)"
        )
    else:
        write_metiers_csv(con, temporary, delimiter)
    return temporary
