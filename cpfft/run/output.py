"""Where a run writes when no ``-O``/``-o`` is given: timestamped files and ``latest.csv``.

Scheduled runs (scrapyd, cron) give no output option. With ``CPFFT_OUTPUT_DIR``
set (an absolute directory), each run writes a file named after the UTC time it
started, in its **query's folder**::

    <CPFFT_OUTPUT_DIR>/<spider>/[<query>/]<stamp>[_<job>].csv

- ``<query>`` (see :func:`query_folder`) names the query's arguments, e.g.
  ``motsCles=python,region=11``; a run without arguments writes in
  ``<spider>/`` itself. So two scheduled queries of one spider never share a
  ``latest.csv``. Arguments that only change how a run goes, not which rows a
  whole extraction holds (:data:`RUN_ARGUMENTS`), do not count: an offres
  ``-a depuis=dernier`` run writes beside the full runs of its query.
- ``<stamp>`` is fixed width with milliseconds, ``20261201T220512.345Z``, and
  greater than every stamp already in the folder (one millisecond later if the
  clock has not moved on, or went back). So the names sort in run order
  whatever follows the stamp: the newest run is the greatest name, in Python
  as in ``ls``.
- ``<job>`` is the scrapyd job id, whole (the job's log is
  ``logs_dir/<project>/<spider>/<job>.log``).

When the run is complete, ``latest.csv`` in that folder is made to point at its
file (a hard link, replaced atomically: readers never see a half file); an
incomplete run's file is renamed ``….incomplete.csv`` and ``latest.csv`` keeps
pointing at the last complete one.

Runs that write only part of a dataset on purpose (``offres -a depuis=dernier``)
are labelled, ``<stamp>[_<job>].depuis.csv``, and do not move ``latest.csv``,
which always holds a whole extraction. A run's changes file (see
:mod:`cpfft.offres.incremental`), ``….changes.csv``, is published as
``latest.changes.csv`` in the same way, and a complete run's data-package
descriptor, ``<stamp>….csv.datapackage.json`` (see :mod:`cpfft.datapackage`), as
``latest.csv.datapackage.json`` beside ``latest.csv``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cpfft.errors import ConfigurationError, NoOutputError, shown

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

logger = logging.getLogger(__name__)

LATEST = "latest.csv"
LATEST_CHANGES = "latest.changes.csv"
LATEST_DESCRIPTOR = LATEST + ".datapackage.json"  # cpfft.datapackage.descriptor_name
CHANGES_SUFFIX = ".changes.csv"

#: Spider arguments that change how a run goes but not which rows a whole extraction of
#: the query holds: runs with or without them share the query's folder (and its
#: latest.csv, and the offres query state). ``depuis``: an incremental offres run
#: continues its query; ``sort``: ignored by the offres spider.
RUN_ARGUMENTS = frozenset({"depuis", "sort"})

#: UTC, fixed width, milliseconds: 20261201T220512.345Z.
STAMP_FORMAT = "%Y%m%dT%H%M%S.%f"
STAMP = re.compile(r"\d{8}T\d{6}\.\d{3}Z")
STAMP_STEP = timedelta(milliseconds=1)
#: Characters kept as they are in a name made from user text; any other run becomes "_".
_UNSAFE = re.compile(r"[^\w.,@+=-]+")
_UNSAFE_VALUE = re.compile(r"[^\w.,@+-]+")  # "=" too: it separates a name from its value
_MAX_NAME_BYTES = 150  # of the readable part; file systems allow 255 bytes per name


class OutputError(Exception):
    """A complete run's output could not be finished (e.g. its changes file); one line."""


def output_dir(settings: BaseSettings) -> Path | None:
    raw = str(settings.get("CPFFT_OUTPUT_DIR") or "").strip()
    if not raw:
        return None
    try:
        path = Path(raw).expanduser()
    except RuntimeError:  # ~user of an unknown user
        path = Path(raw)
    if not path.is_absolute():
        raise ConfigurationError(
            f"setting CPFFT_OUTPUT_DIR={shown(raw)} must be an absolute directory (scrapyd and "
            "cron run from other working directories)"
        )
    try:
        is_file = path.exists() and not path.is_dir()
    except (OSError, ValueError) as exc:  # name too long, NUL character…
        reason = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise ConfigurationError(f"setting CPFFT_OUTPUT_DIR={shown(raw)}: {reason}") from None
    if is_file:
        raise ConfigurationError(
            f"setting CPFFT_OUTPUT_DIR={shown(raw)} is a file, not a directory"
        )
    return path


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple | set | frozenset):
        return ",".join(_text(v) for v in value)
    return str(value)


def _named(readable: str, exact: str) -> str:
    """``readable`` if it is ``exact`` and short enough; otherwise shortened, with ``~``
    and a hash of ``exact`` (two different texts never get the same name)."""
    cut = readable.encode()[:_MAX_NAME_BYTES].decode(errors="ignore")
    if cut == exact:
        return exact
    digest = hashlib.sha256(exact.encode(errors="surrogatepass")).hexdigest()[:8]
    return f"{cut}~{digest}"


def safe_name(text: str) -> str:
    """``text`` as one file-system-safe name: letters, digits and ``_ . , @ + = -`` kept,
    any other run of characters (space, ``/``, ``:``…) turned into ``_``."""
    return _named(_UNSAFE.sub("_", unicodedata.normalize("NFC", text)), text)


def query_folder(arguments: Mapping[str, Any]) -> str | None:
    """The folder of a query, named from its (parsed) arguments: ``name=value`` pairs
    sorted by name and joined by ``,``, e.g. ``motsCles=python,region=11``.

    Unset arguments (``None``), scrapyd's own (``_job``…) and :data:`RUN_ARGUMENTS` do
    not count; ``None`` when nothing is left (the query without arguments writes in its
    spider's folder). In a value, any run of characters other than letters, digits and
    ``_ . , @ + -`` becomes ``_``, and then the name ends with ``~`` and a short hash.
    """
    pairs = sorted(
        (name, _text(value))
        for name, value in arguments.items()
        if value is not None and not name.startswith("_") and name not in RUN_ARGUMENTS
    )
    if not pairs:
        return None
    exact = ",".join(f"{name}={value}" for name, value in pairs)
    readable = ",".join(
        f"{name}={_UNSAFE_VALUE.sub('_', unicodedata.normalize('NFC', value))}"
        for name, value in pairs
    )
    return _named(readable, exact)


def _writable_folder(folder: Path, create: bool) -> None:
    if create:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigurationError(f"cannot create {folder}: {exc.strerror}") from None
        existing = folder
    else:
        existing = folder
        try:
            while not existing.exists() and existing != existing.parent:
                existing = existing.parent
        except OSError as exc:  # a name too long for the file system
            raise ConfigurationError(f"cannot use {folder}: {exc.strerror}") from None
        if not existing.is_dir():
            raise ConfigurationError(f"cannot create {folder}: {existing} is not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigurationError(f"cannot write in {existing}")


def next_stamp(folder: Path, now: datetime | None = None) -> str:
    """The stamp of a new run in ``folder``: now (UTC), unless a file of the folder has
    that stamp or a later one; then one millisecond after the latest stamp there."""
    moment = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
    latest = None
    try:
        names = [entry.name for entry in os.scandir(folder)]
    except FileNotFoundError:
        names = []
    for name in names:
        match = STAMP.match(name)
        if match and (latest is None or match.group() > latest):
            latest = match.group()
    if latest is not None:
        previous = datetime.strptime(latest[:-1] + "000", STAMP_FORMAT)
        moment = max(moment, previous + STAMP_STEP)
    return moment.strftime(STAMP_FORMAT)[:-3] + "Z"


def run_folder(settings: BaseSettings, spider: str, query: str | None) -> Path | None:
    """The folder of a query's timestamped files under ``CPFFT_OUTPUT_DIR`` (None without
    it); ``query``: :func:`query_folder`."""
    base = output_dir(settings)
    if base is None:
        return None
    return base / spider / query if query else base / spider


def timestamped_output(
    settings: BaseSettings,
    spider: str,
    job: str | None = None,
    label: str | None = None,
    query: str | None = None,
    create: bool = True,
    now: datetime | None = None,
) -> Path:
    """The file this run writes under ``CPFFT_OUTPUT_DIR`` (raises if it is not set).

    ``query``: the query's folder (:func:`query_folder`). With ``create=False`` nothing is
    created (a check before the run): the folder only has to be creatable. ``now``: the
    run's start (default: the clock).
    """
    folder = run_folder(settings, spider, query)
    if folder is None:
        raise NoOutputError(
            "no output: give -O file.csv, or set CPFFT_OUTPUT_DIR to an absolute directory for "
            "timestamped files and a latest.csv (scheduled runs)"
        )
    _writable_folder(folder, create)
    stamp = next_stamp(folder, now)
    if job:
        stamp += "_" + safe_name(job)
    suffix = f".{label}.csv" if label else ".csv"
    return folder / f"{stamp}{suffix}"


def changes_file(path: Path) -> Path:
    """``<stamp>.csv`` → ``<stamp>.changes.csv``."""
    return path.with_name(path.name.removesuffix(".csv") + CHANGES_SUFFIX)


def set_aside_name(path: Path) -> Path:
    """``formations.csv`` → ``formations.incomplete.csv`` (``.parquet``… likewise): the
    name of an incomplete run's rows."""
    stem, dot, suffix = path.name.rpartition(".")
    if not dot or not stem:
        return path.with_name(path.name + ".incomplete")
    return path.with_name(f"{stem}.incomplete.{suffix}")


def working_file(target: Path, run_output: str | None) -> Path | None:
    """Where a run writes the rows of the output ``target`` (``-O``/``-o``) until it is
    complete: ``X.incomplete.csv`` beside ``X.csv`` (beside a symlink's target), renamed
    onto ``X.csv`` only then, so an incomplete or interrupted run leaves the previous
    ``X.csv`` as it was and keeps its own rows under a name that says what they are.
    None when the run writes ``target`` itself: a device or pipe (``-O /dev/stdout``),
    or the scheduled run's timestamped file (``run_output``), always a new name."""
    try:
        if run_output and Path(run_output).absolute() == target.absolute():
            return None
        if target.exists() and not target.is_file():
            return None
        return set_aside_name(Path(os.path.realpath(target)))
    except (OSError, ValueError):
        return None


def publish(path: Path, name: str = LATEST) -> Path:
    """Point ``latest.csv`` (or ``name``) beside ``path`` at it, atomically."""
    latest = path.parent / name
    temporary = path.parent / f".{name}.{os.getpid()}"
    temporary.unlink(missing_ok=True)
    try:
        os.link(path, temporary)
    except OSError:
        shutil.copyfile(path, temporary)  # file systems without hard links
    temporary.replace(latest)
    return latest


def set_aside(path: Path) -> Path:
    """Rename an incomplete run's file so nobody takes it for a complete one."""
    target = set_aside_name(path)
    path.replace(target)
    return target


def write_atomically(output: Path, text: str) -> None:
    """Write to a temporary file beside ``output``, then rename it over ``output`` (over
    a symlink's target, not the link); a device or pipe (``-O /dev/stdout``) is written
    to as it is."""
    output = Path(os.path.realpath(output))
    if output.exists() and not output.is_file():
        with output.open("w", encoding="utf-8") as handle:
            handle.write(text)
        return
    fd, temp = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".tmp", dir=output.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(temp, 0o644)  # noqa: PTH101 - mkstemp's 0600 is not what an output wants
        Path(temp).replace(output)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
