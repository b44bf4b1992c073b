"""Resuming an interrupted run with ``-s JOBDIR=…``: what was written stays, the rest is fetched.

Scrapy's own JOBDIR support saves the pending requests to disk. That does not
fit cpfft: its spiders plan their work in memory (partitions, creation-date
windows) so a request saved by one process means nothing to the next, and a
request in flight when the process dies is lost from the queue. So cpfft keeps
requests in memory (:class:`MemoryScheduler`, :class:`MemoryDupeFilter`; the
settings also turn off Scrapy's ``spider.state`` file: nothing, tokens included,
is written under JOBDIR) and keeps its own journal there, ``cpfft-run.json``:
spider, arguments, output file, status, and what the spider needs to plan the
same work again (the offres spider's creation-date bound ``t0``).

A run started with a JOBDIR whose journal is unfinished, for the same spider,
arguments and output, **resumes**:

- the output file is kept; if a kill tore its last row, the file is cut back to
  the last whole row; new rows are appended, without a second header;
- the keys of the rows already in it are loaded, so they are not written again;
- the spider plans the whole work again (offres: with the same ``t0``); cpf
  skips the partitions whose rows are all in the file, offres fetches its
  windows again; rows already in the file are skipped.

A finished journal starts a fresh run; a journal of another spider, other
arguments or another output is refused (one line, exit 2).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy.core.scheduler import Scheduler
from scrapy.dupefilters import RFPDupeFilter

from cpfft.errors import ConfigurationError, shown
from cpfft.exporters import FORMULA_TRIGGERS

if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Self

    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings

JOURNAL = "cpfft-run.json"
_QUOTE_OR_NEWLINE = re.compile(rb'["\n]')
RUNNING, COMPLETE = "running", "complete"


class MemoryScheduler(Scheduler):
    """Scrapy's scheduler, but pending requests never go to JOBDIR (see the module doc)."""

    def _dqdir(self, jobdir: str | None) -> str | None:
        return None


class MemoryDupeFilter(RFPDupeFilter):
    """Scrapy's duplicate filter, but its fingerprints never go to JOBDIR (``requests.seen``).

    cpfft's requests are all sent with ``dont_filter``; a fingerprint kept from
    a previous process would only make a resumed run skip work it must redo.
    """

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        debug = crawler.settings.getbool("DUPEFILTER_DEBUG")
        return cls(None, debug, fingerprinter=crawler.request_fingerprinter)


class Journal:
    def __init__(self, jobdir: Path):
        self.path = jobdir / JOURNAL
        self.data: dict[str, Any] = {}

    @classmethod
    def of(cls, settings: BaseSettings) -> Journal | None:
        jobdir = str(settings.get("JOBDIR") or "").strip()
        if not jobdir:
            return None
        journal = cls(Path(jobdir).expanduser().absolute())
        journal.load()
        return journal

    def load(self) -> None:
        try:
            self.data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            self.data = {}
        except (OSError, ValueError) as exc:
            raise ConfigurationError(
                f"JOBDIR journal {self.path} is unreadable ({exc}); delete it or use another JOBDIR"
            ) from None

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.data, ensure_ascii=False, indent=1), "utf-8")
        temporary.replace(self.path)

    def get(self, name: str) -> Any:
        return self.data.get(name)

    def set(self, name: str, value: Any) -> None:
        self.data[name] = value
        self.save()

    def begin(self, spider: str, arguments: dict[str, str], output: str) -> bool:
        """Start or resume; return True when resuming (raises if the JOBDIR is another run's)."""
        if self.resumes(spider, arguments, output):
            return True
        self.data = {"spider": spider, "arguments": arguments, "output": output,
                     "status": RUNNING}  # fmt: skip
        self.save()
        return False

    def resumes(self, spider: str, arguments: dict[str, str], output: str) -> bool:
        """Whether this run resumes the one recorded; raises
        :class:`~cpfft.errors.ConfigurationError` if an unfinished run of another command
        is recorded. Writes nothing."""
        run = {"spider": spider, "arguments": arguments, "output": output}
        previous = {k: self.data.get(k) for k in run}
        if self.data.get("status") == RUNNING:
            if previous != run:
                names = {"spider": "spider", "arguments": "arguments", "output": "output file"}
                differ = [names[k] for k in run if previous[k] != run[k]]
                what = " and ".join([", ".join(differ[:-1]), differ[-1]] if differ[1:] else differ)
                raise ConfigurationError(
                    f"JOBDIR {self.path.parent} holds an unfinished run of another command "
                    f"(other {what}): "
                    f"recorded {describe_run(**previous)}, given {describe_run(**run)}. Resume "
                    "it with the recorded command, or use another JOBDIR"
                )
            return True
        return False

    def finish(self) -> None:
        self.set("status", COMPLETE)


def describe_run(spider: Any, arguments: Any, output: Any) -> str:
    """``cpf -a q=python → /data/out.csv``: a journal's run on one short line."""
    words = [shown_word(spider)]
    if isinstance(arguments, dict):
        words += [f"-a {shown_word(f'{k}={v}')}" for k, v in arguments.items()]
    elif arguments:
        words.append(shown_word(arguments))
    return " ".join(words) + f" → {shown_word(output)}"


def shown_word(value: Any) -> str:
    """A value as a shell would need it typed; shortened and escaped when unprintable or huge."""
    text = str(value) if value is not None else "(none)"
    if text.isprintable() and len(text) <= 200:
        return shlex.quote(text) if text != "(none)" else text
    return shown(text)


# ------------------------------------------------------------------ the output file


def repair_tail(path: Path) -> int:
    """Cut ``path`` back to its last whole CSV row; return the bytes removed.

    A row is whole when it ends with a line break outside any quoted field.
    """
    data = path.read_bytes()
    end = whole_rows_end(data)
    if end < len(data):
        with path.open("r+b") as file:
            file.truncate(end)
            file.flush()
            os.fsync(file.fileno())
    return len(data) - end


def whole_rows_end(data: bytes) -> int:
    """Offset just after the last line break that ends a record (quotes balanced)."""
    quoted = False
    end = 0
    for match in _QUOTE_OR_NEWLINE.finditer(data):  # C-speed scan: only these bytes matter
        if match.group() == b'"':  # doubled quotes toggle twice, which is right
            quoted = not quoted
        elif not quoted:
            end = match.end()
    return end


def count_rows(path: Path) -> int:
    """Data rows of a CSV with a header: line breaks outside quoted fields, minus one."""
    quoted, ends = False, 0
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            if b'"' not in chunk and not quoted:
                ends += chunk.count(b"\n")
                continue
            for match in _QUOTE_OR_NEWLINE.finditer(chunk):
                if match.group() == b'"':
                    quoted = not quoted
                elif not quoted:
                    ends += 1
    return max(0, ends - 1)


def existing_rows(path: Path, delimiter: str) -> Iterator[dict[str, str]]:
    """Rows of a CSV written by cpfft (BOM, header), as dicts of raw cell text."""
    with path.open(encoding="utf-8-sig", newline="") as file:
        yield from csv.DictReader(file, delimiter=delimiter)


def unguard(value: str) -> str:
    """Undo the formula guard of :func:`cpfft.exporters.neutralise_formula`."""
    if value.startswith("'") and value[1:].lstrip(" ").startswith(FORMULA_TRIGGERS):
        return value[1:]
    return value


def header_of(path: Path, delimiter: str) -> list[str]:
    with path.open(encoding="utf-8-sig", newline="") as file:
        return next(csv.reader(io.StringIO(file.readline()), delimiter=delimiter), [])
