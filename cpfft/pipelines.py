"""Item pipelines: clean every cell, drop rows without their key, drop duplicates.

Each item class declares how its fields are cleaned (``kind`` metadata, see
:mod:`cpfft.items`) and which fields form its key (``KEY`` class attribute), so
the same three pipelines serve every spider. Every dropped row is counted
under ``cpfft/dropped/<reason>`` and shows in the end-of-run summary.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import fields
from functools import cache
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import DropItem

from cpfft.cleaning import CLEANERS, BadNumber, clean_number

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

DROPPED = "cpfft/dropped/"


@cache
def _cleaners(item_class: type) -> tuple[tuple[str, str], ...]:
    return tuple((f.name, f.metadata.get("kind", "text")) for f in fields(item_class))


class _Pipeline:
    def __init__(self, crawler: Crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Any:
        return cls(crawler)

    def drop(self, reason: str, message: str) -> DropItem:
        self.crawler.stats.inc_value(DROPPED + reason)
        return DropItem(message)


class CleanPipeline(_Pipeline):
    """Normalise every field by its kind; an unparsable number becomes empty (counted)."""

    def process_item(self, item: Any) -> Any:
        for name, kind in _cleaners(type(item)):
            value = getattr(item, name)
            if value is None:
                continue
            if kind in ("int", "float"):
                try:
                    value = clean_number(value, kind)
                except BadNumber:
                    self.crawler.stats.inc_value(f"cpfft/blanked/{name}")
                    value = None
            else:
                value = CLEANERS[kind](value)
            setattr(item, name, value)
        return item


class RequireKeyPipeline(_Pipeline):
    """Drop rows whose key fields (``KEY``, first one mandatory) are empty."""

    def process_item(self, item: Any) -> Any:
        first = item.KEY[0]
        if not getattr(item, first):
            raise self.drop(f"missing_{first}", f"row without {first}")
        return item


class DedupePipeline(_Pipeline):
    """Keep the first row for each key; later ones are counted as duplicates.

    Keys are kept as 8-byte digests, so 1 million rows cost about 70 MB at most.
    """

    def __init__(self, crawler: Crawler):
        super().__init__(crawler)
        self.seen: set[bytes] = set()

    def process_item(self, item: Any) -> Any:
        key = "\x1f".join(str(getattr(item, name) or "") for name in item.KEY)
        digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
        if digest in self.seen:
            raise self.drop("duplicate", f"duplicate of {key!r}")
        self.seen.add(digest)
        return item
