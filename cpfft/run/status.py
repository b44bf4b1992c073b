"""What each scheduled run leaves behind for monitoring, and the verdict over all of them.

Every run under ``CPFFT_OUTPUT_DIR`` (no ``-O``) writes a *status record* beside its
file, ``<stamp>[_<job>].run.json``: ``RUNNING`` when it starts, then its end (COMPLETE,
INCOMPLETE or FAILED, rows in the output, the cause in one line, the exit code, the
log file). A run refused before it started (a bad argument: exit 2, no query folder)
writes one in its spider's folder, ``refused`` set. The same file for scrapyd, cron
and GitHub Actions runs, read by ``scrapy etat`` (:mod:`cpfft.commands.etat`).

The verdict (:func:`alert`), per query, for ``--max-age``: the newest finished run
must be COMPLETE, and the newest complete run younger than the maximum age. A run
still going is not judged unless it started longer ago than the maximum age (killed
without a word). A refused run alerts while it is younger than the maximum age: it
made no query, so nothing would ever clear it.

No Scrapy here: plain files and dates.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cpfft.run.output import write_atomically

RECORD_SUFFIX = ".run.json"
RUNNING, COMPLETE, INCOMPLETE, FAILED = "RUNNING", "COMPLETE", "INCOMPLETE", "FAILED"
FINISHED = (COMPLETE, INCOMPLETE, FAILED)


@dataclass
class RunRecord:
    """One run, as its status file holds it (JSON, every field)."""

    spider: str
    #: The query: its folder under CPFFT_OUTPUT_DIR ("offres/motsCles=python"), or for a
    #: refused run its command line ("cpf -a them=numerique").
    query: str
    started: str  # UTC, ISO 8601
    status: str = RUNNING
    finished: str | None = None
    rows: int | None = None
    output: str | None = None  # the file's name, in the query's folder
    cause: str | None = None  # why it is not COMPLETE, one line
    exit_code: int | None = None
    log: str | None = None  # LOG_FILE (scrapyd gives each job one)
    job: str | None = None
    refused: bool = False
    #: Where the record was read from (not stored).
    path: Path | None = field(default=None, compare=False, repr=False)

    @property
    def started_at(self) -> datetime:
        return parse_time(self.started)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("path")
        return data


def parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def now_text(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")


def record_file(output: Path) -> Path:
    """``<stamp>_<job>.csv`` (or ``….depuis.csv``) → ``<stamp>_<job>.run.json`` beside it."""
    return output.with_name(output.name.removesuffix(".csv") + RECORD_SUFFIX)


def write_record(path: Path, record: RunRecord) -> None:
    """Write ``record`` to ``path`` whole or not at all (a reader never sees half of it)."""
    write_atomically(path, json.dumps(record.as_json(), ensure_ascii=False, indent=1) + "\n")


def read_records(folder: Path) -> tuple[dict[str, list[RunRecord]], list[str]]:
    """Every record under ``folder``, by query, oldest first; and the files that could not
    be read (one line each: the name and why)."""
    queries: dict[str, list[RunRecord]] = {}
    unreadable: list[str] = []
    for path in sorted(folder.rglob(f"*{RECORD_SUFFIX}")):
        if any(part.startswith(".") for part in path.relative_to(folder).parts):
            continue  # the offres query state, temporary files
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            known = {k: data[k] for k in RunRecord.__dataclass_fields__ if k in data}
            record = RunRecord(**known, path=path)
            record.started_at  # noqa: B018 - a record without a readable start is unreadable
        except (OSError, ValueError, TypeError) as exc:
            unreadable.append(f"{path}: {type(exc).__name__}: {exc}")
            continue
        queries.setdefault(record.query, []).append(record)
    for runs in queries.values():
        runs.sort(key=lambda r: (r.started_at, r.path or Path()))
    return queries, unreadable


_DURATION = re.compile(r"(\d+(?:[.,]\d+)?)\s*(s|min|m|h|j|d)", re.IGNORECASE)
_UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600, "j": 86400, "d": 86400}


def parse_duration(text: str) -> timedelta:
    """``26h``, ``90min``, ``2j``/``2d``, ``1h30m``, ``45s`` → a timedelta (ValueError)."""
    rest, seconds = text.strip(), 0.0
    if not rest:
        raise ValueError("empty duration")
    while rest:
        match = _DURATION.match(rest)
        if not match:
            raise ValueError(f"unreadable duration {text!r}")
        seconds += float(match.group(1).replace(",", ".")) * _UNITS[match.group(2).lower()]
        rest = rest[match.end() :].lstrip()
    if seconds <= 0:
        raise ValueError(f"duration {text!r} is not positive")
    return timedelta(seconds=seconds)


def age_text(delta: timedelta) -> str:
    """3 h 05 min, 2 j 4 h, 40 s (French, for the status listing)."""
    seconds = max(0, int(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} j {hours} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min"
    return f"{secs} s"


def alert(
    runs: list[RunRecord], now: datetime, max_age: timedelta, shown: str | None = None
) -> str | None:
    """Why this query needs someone (one French line), or None if all is well. ``shown``:
    the maximum age as the user wrote it (``26h``)."""
    limit = shown or age_text(max_age)
    newest = runs[-1]
    if newest.refused:
        if now - newest.started_at > max_age:
            return None
        return f"exécution refusée avant son début (code {newest.exit_code}) : {newest.cause}"
    finished = [r for r in runs if r.status in FINISHED]
    running = [r for r in runs if r.status == RUNNING and r not in finished]
    if running and running[-1] is newest and now - newest.started_at > max_age:
        return (
            f"en cours depuis {age_text(now - newest.started_at)}, plus que {limit} :"
            " arrêtée sans finir ? (voir son journal)"
        )
    if not finished:
        return None if running else "aucune exécution terminée"
    last = finished[-1]
    if last.status != COMPLETE:
        return f"dernière exécution {last.status} ({when(last.started_at)}) : {last.cause}"
    if now - last.started_at > max_age:
        return (
            f"dernière exécution complète il y a {age_text(now - last.started_at)}, plus que "
            f"{limit} (--max-age)"
        )
    return None


def when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
