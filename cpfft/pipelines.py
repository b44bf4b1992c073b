"""Item pipelines: clean every cell, drop rows without their key, drop duplicates.

Each item class declares how its fields are cleaned (``kind`` metadata, see
:mod:`cpfft.items`) and which fields form its key (``KEY`` class attribute), so
the same three pipelines serve every spider. Every dropped row is counted
under ``cpfft/dropped/<reason>`` and shows in the end-of-run summary.

Rows are read and written as attributes of their dataclass, not through
``ItemAdapter`` (which the exporters use): 47 cells per catalogue row, where an
adapter would cost more than the cleaning itself.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import fields
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import DropItem

from cpfft.cleaning import CLEANERS, BadNumber, clean_bool, clean_number
from cpfft.records import clean_records
from cpfft.run.resume import existing_rows, unguard
from cpfft.run.rows import Rows, rows_of

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

DROPPED = "cpfft/dropped/"
ALREADY_WRITTEN = "already_in_file"


@cache
def _cleaners(item_class: type) -> tuple[tuple[str, str, Any], ...]:
    """(name, cleaning kind, what a ``records`` field's records hold) of each field."""
    return tuple(
        (f.name, f.metadata.get("kind", "text"), f.metadata.get("records"))
        for f in fields(item_class)
    )


def _level(level: int | str) -> int:
    """A logging level given as Scrapy accepts it: a number or a name ("INFO")."""
    return level if isinstance(level, int) else logging.getLevelName(str(level).upper())


class _Pipeline:
    """Applies :meth:`process_row` to an item, or to each row of a :class:`Rows` batch.

    A row dropped from a batch is counted and logged as Scrapy does for a dropped
    item (``item_dropped_count``, ``Dropped: …`` at DEFAULT_DROPITEM_LOG_LEVEL).
    """

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.drop_level = _level(crawler.settings.get("DEFAULT_DROPITEM_LOG_LEVEL", "WARNING"))

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Any:
        return cls(crawler)

    def drop(self, reason: str, message: str) -> DropItem:
        self.crawler.stats.inc_value(DROPPED + reason)
        return DropItem(message)

    def process_item(self, item: Any) -> Any:
        if type(item) is not Rows:
            return self.process_row(item)
        kept = []
        for row in item.rows:
            try:
                kept.append(self.process_row(row))
            except DropItem as exc:
                stats = self.crawler.stats
                stats.inc_value("item_dropped_count")
                stats.inc_value(f"item_dropped_reasons_count/{type(exc).__name__}")
                level = getattr(exc, "log_level", None)  # DropItem(…, log_level=…), as Scrapy
                logger.log(self.drop_level if level is None else _level(level),
                           "Dropped: %s\n%s", exc, row)  # fmt: skip
        item.rows = kept
        return item

    def process_row(self, row: Any) -> Any:
        raise NotImplementedError


class CleanPipeline(_Pipeline):
    """Normalise every field by its kind; an unparsable number becomes empty (counted).

    The cleaning function of each field is chosen once per item class, not per value.
    """

    def __init__(self, crawler: Crawler):
        super().__init__(crawler)
        self.plans: dict[type, tuple[tuple[str, Any], ...]] = {}

    def plan(self, item_class: type) -> tuple[tuple[str, Any], ...]:
        plan = []
        for name, kind, spec in _cleaners(item_class):
            if kind in ("int", "float"):
                clean = self.number_cleaner(name, kind)
            elif kind == "bool":
                clean = self.counted(name, clean_bool)
            elif kind == "records":
                clean = partial(clean_records, spec)
            else:
                clean = CLEANERS[kind]
            plan.append((name, clean))
        self.plans[item_class] = tuple(plan)
        return self.plans[item_class]

    def number_cleaner(self, name: str, kind: str) -> Any:
        return self.counted(name, partial(clean_number, kind=kind))

    def counted(self, name: str, parse: Any) -> Any:
        """``parse``, with a value it refuses emptied and counted (``cpfft/blanked/…``)."""
        stats = self.crawler.stats

        def clean(value: Any) -> Any:
            try:
                return parse(value)
            except BadNumber:
                stats.inc_value(f"cpfft/blanked/{name}")
                return None

        return clean

    def process_item(self, item: Any) -> Any:
        # Nothing is dropped here: one loop over the rows, without the base's try.
        for row in rows_of(item):
            self.process_row(row)
        return item

    def process_row(self, row: Any) -> Any:
        plan = self.plans.get(type(row)) or self.plan(type(row))
        for name, clean in plan:
            value = getattr(row, name)
            if value is not None:
                setattr(row, name, clean(value))
        return row


class RequireKeyPipeline(_Pipeline):
    """Drop rows whose key fields (``KEY``, first one mandatory) are empty."""

    def process_row(self, row: Any) -> Any:
        first = row.KEY[0]
        if not getattr(row, first):
            raise self.drop(f"missing_{first}", f"row without {first}")
        return row


def digest(values: Any) -> bytes:
    key = "\x1f".join(str(v or "") for v in values)
    return hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()


class DedupePipeline(_Pipeline):
    """Keep the first row for each key; later ones are counted as duplicates.

    A resumed run (see :mod:`cpfft.run.resume`) first loads the keys of the rows
    already in its output file: those rows are skipped, counted apart.
    Keys are kept as 8-byte digests, so 1 million rows cost about 70 MB at most.
    """

    def __init__(self, crawler: Crawler):
        super().__init__(crawler)
        self.seen: set[bytes] = set()
        self.written_before: set[bytes] = set()

    def open_spider(self) -> None:
        settings = self.crawler.settings
        resumed = settings.get("CPFFT_RESUME_FROM")
        item_class = getattr(self.crawler.spider, "item_class", None)
        if not resumed or item_class is None:
            return
        exported = settings.get("FEED_EXPORT_FIELDS") or []
        headers = exported if isinstance(exported, dict) else {}
        columns = [headers.get(name, name) for name in item_class.KEY]
        rows = existing_rows(Path(resumed), settings.get("CPFFT_CSV_DELIMITER", ","))
        self.written_before = {digest(unguard(row.get(c) or "") for c in columns) for row in rows}
        logger.info(
            "Resuming from JOBDIR: %d rows already in %s%s; they are not written again",
            len(self.written_before),
            resumed,
            f" (a torn last row of {settings.getint('CPFFT_RESUME_REPAIRED')} bytes was cut)"
            if settings.getint("CPFFT_RESUME_REPAIRED")
            else "",
        )

    def process_row(self, item: Any) -> Any:
        key = digest(getattr(item, name) for name in item.KEY)
        if key in self.written_before:
            raise self.drop(ALREADY_WRITTEN, "already in the output file (resumed run)")
        if key in self.seen:
            raise self.drop("duplicate", "duplicate of " + ", ".join(
                str(getattr(item, name)) for name in item.KEY))  # fmt: skip
        self.seen.add(key)
        return item
