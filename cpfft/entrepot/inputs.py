"""The files the warehouse loads: found, checked and described before anything is read in.

An input is a ``scrapy crawl cpf|offres`` output, CSV or Parquet, as the spiders
write them. It is refused, with a one-line :class:`InputError`, when it is missing,
when it is not a cpfft output (its header, or its descriptor, says another file)
or when it is half-written:

- a CSV must end with a line break (the CSV exporter writes whole rows only: a
  file whose last line is cut is a run still writing, or a killed one); the
  loader then refuses a row cut inside a quoted field or with missing cells;
- a Parquet file must have its footer (the ``PAR1`` mark at both ends);
- when the output has its descriptor beside it, ``X.csv.datapackage.json`` for
  ``X.csv`` (``X.datapackage.json`` from earlier versions, if it names the file),
  it must be a complete run of the right spider, and
  the loader checks the file's row count against the one it gives.

The descriptor also gives the extraction time and whether the run was partial
(``-a depuis=dernier``); without one, the extraction time is the file's
modification time and a partial run is known by its name (``….depuis.csv``). A
descriptor none of whose resources is the file (``X.parquet``'s, beside an
``X.csv`` written by another run) is not the file's and is not used; ``latest.csv``
takes ``latest.csv.datapackage.json``, published with it.

Without file options the query folder under ``CPFFT_OUTPUT_DIR`` is
:func:`latest_output`'s: ``<spider>/`` (the query without arguments) when it has a
``latest.csv``, else the only query folder that has one; with several and none
without arguments, the user must choose. :mod:`cpfft.entrepot.runs` then takes its
kept runs.
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cpfft.datapackage import descriptor_name, legacy_descriptor_name
from cpfft.errors import ConfigurationError, shown
from cpfft.exporters import DELIMITERS
from cpfft.items import FORMATION_FIELDS, OFFRE_FIRST_FIELDS, OFFRE_HEADERS
from cpfft.offres.incremental import ADDED, CHANGES_HEADERS, UPDATED, WITHDRAWN
from cpfft.run.output import LATEST, LATEST_CHANGES
from cpfft.run.resume import unguard
from cpfft.sources import SOURCES

PARQUET_MAGIC = b"PAR1"
PARTIAL_LABEL = ".depuis"
#: The CSV header of each source, as the spiders write it.
HEADERS: dict[str, list[str]] = {
    "formations": list(FORMATION_FIELDS),
    "offres": list(OFFRE_HEADERS.values()),
}
#: How many of those columns the files of each cpfft release have, newest first: an
#: offres file written before the columns after ``partenaire`` were added loads too,
#: those columns empty.
WIDTHS: dict[str, tuple[int, ...]] = {
    "formations": (len(FORMATION_FIELDS),),
    "offres": (len(OFFRE_HEADERS), OFFRE_FIRST_FIELDS),
}
OPTIONS = {"formations": "--formations", "offres": "--offres"}


class InputError(ConfigurationError):
    """An input the warehouse cannot load; ``str()`` is one line naming the fix."""


@dataclass
class Input:
    source: str  # "formations" | "offres"
    path: Path
    format: str  # "csv" | "parquet"
    delimiter: str = ","
    #: Rows the descriptor gives (None without a descriptor).
    rows: int | None = None
    extracted_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    #: Where extracted_at comes from: "descriptor" or "mtime".
    extracted_from: str = "mtime"
    partial: bool = False
    descriptor: Path | None = None
    #: How many of the source's columns the file has (an older release's file has fewer).
    width: int = 0

    @property
    def option(self) -> str:
        return OPTIONS[self.source]


@dataclass
class Changes:
    """An offres changes file: the ids of each kind of change."""

    path: Path
    withdrawn: set[str]
    added_or_updated: set[str]


def _existing_file(path: Path, option: str, what: str) -> None:
    try:
        if path.is_dir():
            raise InputError(f"{option} {path} is a folder; give the {what} file itself")
        if not path.exists():
            raise InputError(f"{option} {path}: no such file; give the path of {what}")
        with path.open("rb"):
            pass
    except OSError as exc:
        raise InputError(f"{option} {path}: cannot read it ({exc.strerror})") from None


def check_input(path: Path, source: str) -> Input:
    """Check ``path`` as an output of ``source``'s spider (raises :class:`InputError`)."""
    spider = SOURCES[source].spider
    option = OPTIONS[source]
    _existing_file(path, option, f"a `scrapy crawl {spider} -O …` output (CSV or Parquet)")
    with path.open("rb") as file:
        head = file.read(4)
    is_parquet = path.suffix.lower() == ".parquet" or head == PARQUET_MAGIC
    found = Input(source, path, "parquet" if is_parquet else "csv")
    if is_parquet:
        _check_parquet(found)
    else:
        _check_csv(found)
    found.partial = path.name.rsplit(".", 1)[0].endswith(PARTIAL_LABEL)
    _read_descriptor(found, spider)
    if found.extracted_from == "mtime":
        found.extracted_at = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    return found


def _check_parquet(found: Input) -> None:
    size = found.path.stat().st_size
    with found.path.open("rb") as file:
        head = file.read(4)
        if size >= 12:
            file.seek(size - 4)
        tail = file.read(4)
    if head != PARQUET_MAGIC:
        raise InputError(
            f"{found.option} {found.path} is not a Parquet file (no Parquet mark at its "
            "start); give a cpfft output (.csv or .parquet)"
        )
    if size < 12 or tail != PARQUET_MAGIC:
        raise InputError(
            f"{found.option} {found.path} is a half-written Parquet file (no footer: the run "
            "is still writing it, or was stopped); wait for the run to end or load its last "
            "complete output"
        )


def header_line(path: Path) -> str:
    """The first line of a CSV, decoded (BOM dropped); raises InputError if not UTF-8."""
    with path.open("rb") as file:
        raw = file.readline(1 << 20)
    try:
        return raw.decode("utf-8-sig").rstrip("\r\n")
    except UnicodeDecodeError:
        raise InputError(
            f"{path} is not UTF-8 text: not a cpfft CSV output; give the file the spider wrote"
        ) from None


def split_header(line: str, expected: list[str]) -> str | None:
    """The delimiter with which ``line`` is exactly ``expected``; None if none fits."""
    for delimiter in DELIMITERS:
        cells = next(csv.reader(io.StringIO(line), delimiter=delimiter), [])
        if cells == expected:
            return delimiter
    return None


def source_header(line: str, source: str) -> tuple[str, int] | None:
    """(delimiter, width) with which ``line`` is the header of a release's ``source`` file."""
    for width in WIDTHS[source]:
        delimiter = split_header(line, HEADERS[source][:width])
        if delimiter is not None:
            return delimiter, width
    return None


def _check_csv(found: Input) -> None:
    line = header_line(found.path)
    header = source_header(line, found.source)
    if header is None:
        other = "offres" if found.source == "formations" else "formations"
        spider = SOURCES[found.source].spider
        if source_header(line, other) is not None:
            raise InputError(
                f"{found.option} {found.path} is the {other} output (its header is the "
                f"{SOURCES[other].spider} spider's); give it with {OPTIONS[other]}, and a "
                f"`scrapy crawl {spider}` output with {found.option}"
            )
        raise InputError(
            f"{found.option} {found.path} is not a cpfft {found.source} output: its header "
            f"{shown(line)} is not the {spider} spider's; give the file `scrapy crawl {spider}` "
            "wrote, with all its columns"
        )
    found.delimiter, found.width = header
    with found.path.open("rb") as file:
        file.seek(-1, os.SEEK_END)
        last = file.read(1)
    if last != b"\n":
        raise InputError(
            f"{found.option} {found.path} is half-written: its last line is cut (the run is "
            "still writing it, or was stopped); wait for the run to end, or load its last "
            "complete output (latest.csv)"
        )


def _read_descriptor(found: Input, spider: str) -> None:
    descriptor = found.path.with_name(descriptor_name(found.path.name))
    if not descriptor.is_file():
        descriptor = found.path.with_name(legacy_descriptor_name(found.path.name))
    if not descriptor.is_file():
        return
    where = f"{found.option} {found.path}: its descriptor {descriptor.name}"
    try:
        data = json.loads(descriptor.read_text("utf-8"))
        own = data["cpfft"]
        if not isinstance(own, dict):
            raise TypeError
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError):
        raise InputError(
            f'{where} is not a cpfft data package (unreadable, or no "cpfft" part); '
            "delete it if it is not this file's, or take the run's own files"
        ) from None
    resources = data.get("resources")
    names = {r.get("path") for r in resources if isinstance(r, dict)} if isinstance(
        resources, list) else set()  # fmt: skip
    if found.path.name not in names and found.path.name != LATEST:
        return  # the descriptor of another output of the same name (X.parquet beside X.csv)
    if own.get("spider") != spider:
        raise InputError(
            f"{where} describes a {shown(str(own.get('spider')))} run, not a {spider} one; "
            f"give a `scrapy crawl {spider}` output with {found.option}"
        )
    if own.get("outcome") != "complete":
        raise InputError(
            f"{where} says the run was not complete ({shown(str(own.get('outcome')))}); load "
            "the last complete output (latest.csv) instead"
        )
    rows = own.get("rows")
    if isinstance(rows, int) and not isinstance(rows, bool) and rows >= 0:
        found.rows = rows
    moment = own.get("extracted_at")
    if isinstance(moment, str):
        try:
            parsed = datetime.fromisoformat(moment)
        except ValueError:
            parsed = None
        if parsed is not None:
            found.extracted_at = (
                parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
            ).astimezone(UTC)
            found.extracted_from = "descriptor"
    if own.get("partial") is True:
        found.partial = True
    found.descriptor = descriptor


def read_changes(path: Path) -> Changes:
    """Read an offres changes file (``….changes.csv``); raises InputError."""
    option = "--changements"
    _existing_file(path, option, "an offres changes file (….changes.csv)")
    line = header_line(path)
    delimiter = split_header(line, CHANGES_HEADERS)
    if delimiter is None:
        raise InputError(
            f"{option} {path} is not an offres changes file: its header {shown(line)} is not "
            f"{', '.join(CHANGES_HEADERS)}; give the ….changes.csv written beside the offres file"
        )
    with path.open("rb") as file:
        file.seek(-1, os.SEEK_END)
        if file.read(1) != b"\n":
            raise InputError(
                f"{option} {path} is half-written: its last line is cut; wait for the run to end"
            )
    withdrawn: set[str] = set()
    changed: set[str] = set()
    kinds = {ADDED: changed, UPDATED: changed, WITHDRAWN: withdrawn}
    number = 1
    try:
        with path.open(encoding="utf-8-sig", newline="") as file:
            reader = csv.reader(file, delimiter=delimiter)
            next(reader)
            for number, row in enumerate(reader, 2):
                if len(row) != len(CHANGES_HEADERS) or row[0] not in kinds or not row[1]:
                    raise InputError(
                        f"{option} {path}, line {number}: not a change line "
                        f"({shown(','.join(row))}); each line is {' / '.join(kinds)}, then "
                        "the offer's id"
                    )
                kinds[row[0]].add(unguard(row[1]))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(
            f"{option} {path}, after line {number}: not a changes file written by cpfft "
            f"({type(exc).__name__}); give the ….changes.csv written beside the offres file"
        ) from None
    return Changes(path, withdrawn, changed)


# ------------------------------------------------------------------ CPFFT_OUTPUT_DIR


@dataclass
class Found:
    path: Path
    #: Query folders that also have a latest.csv and were not taken.
    ignored: list[str]


def latest_output(base: Path, source: str) -> Found:
    """The latest complete run of ``source`` under ``base`` (CPFFT_OUTPUT_DIR)."""
    spider = SOURCES[source].spider
    folder = base / spider
    option = OPTIONS[source]
    queries = sorted(
        p.parent.name for p in folder.glob(f"*/{LATEST}") if not p.parent.name.startswith(".")
    )
    root = folder / LATEST
    if root.is_file():
        return Found(root, queries)
    if len(queries) == 1:
        return Found(folder / queries[0] / LATEST, [])
    if queries:
        listing = ", ".join(queries[:5]) + (", …" if len(queries) > 5 else "")
        raise InputError(
            f"{folder} holds several queries ({listing}) and none without arguments; choose "
            f"one: {option} {folder / queries[0] / LATEST}"
        )
    raise InputError(
        f"no complete {spider} run under CPFFT_OUTPUT_DIR ({folder / LATEST} does not exist); "
        f"run `scrapy crawl {spider}` without -O first, or give {option} FILE"
    )


def latest_changes(offres: Path) -> Path | None:
    """``latest.changes.csv`` beside an offres ``latest.csv``, if there is one."""
    path = offres.parent / LATEST_CHANGES
    return path if offres.name == LATEST and path.is_file() else None
