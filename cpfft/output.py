"""Where a run writes when no ``-O``/``-o`` is given: timestamped files and ``latest.csv``.

Scheduled runs (scrapyd, cron) give no output option. With ``CPFFT_OUTPUT_DIR``
set (an absolute directory), each run writes
``<CPFFT_OUTPUT_DIR>/<spider>/<UTC timestamp>.csv``, so runs never overwrite
each other. When the run is complete, ``<spider>/latest.csv`` is made to point
at that file (a hard link, replaced atomically: readers never see a half file);
an incomplete run's file is renamed ``<timestamp>.incomplete.csv`` and
``latest.csv`` keeps pointing at the last complete one.

Runs that write only part of a dataset on purpose (``offres -a depuis=dernier``)
are labelled, ``<timestamp>.depuis.csv``, and do not move ``latest.csv``, which
always holds a whole extraction. A run's changes file (see
:mod:`cpfft.incremental`), ``<timestamp>.changes.csv``, is published as
``latest.changes.csv`` in the same way.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from cpfft.params import ConfigurationError, shown

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

logger = logging.getLogger(__name__)

LATEST = "latest.csv"
LATEST_CHANGES = "latest.changes.csv"
CHANGES_SUFFIX = ".changes.csv"


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


def timestamped_output(
    settings: BaseSettings, spider: str, job: str | None = None, label: str | None = None
) -> Path:
    """The file this run writes under ``CPFFT_OUTPUT_DIR`` (raises if it is not set)."""
    base = output_dir(settings)
    if base is None:
        raise ConfigurationError(
            "no output: give -O file.csv, or set CPFFT_OUTPUT_DIR to an absolute directory for "
            "timestamped files and a latest.csv (scheduled runs)"
        )
    folder = base / spider
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigurationError(f"cannot create {folder}: {exc.strerror}") from None
    if not os.access(folder, os.W_OK):
        raise ConfigurationError(f"cannot write in {folder}")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    if job:
        stamp += "_" + re.sub(r"[^A-Za-z0-9]", "", job)[:12]
    suffix = f".{label}.csv" if label else ".csv"
    path = folder / f"{stamp}{suffix}"
    n = 1
    while any(p.exists() for p in (path, set_aside_name(path), changes_file(path))):
        n += 1
        path = folder / f"{stamp}-{n}{suffix}"
    return path


def changes_file(path: Path) -> Path:
    """``<timestamp>.csv`` → ``<timestamp>.changes.csv``."""
    return path.with_name(path.name.removesuffix(".csv") + CHANGES_SUFFIX)


def set_aside_name(path: Path) -> Path:
    return path.with_name(path.name.removesuffix(".csv") + ".incomplete.csv")


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
