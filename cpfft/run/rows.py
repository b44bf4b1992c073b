"""Rows travel in batches: a spider yields one :class:`Rows` per page or export chunk.

Scrapy's item path costs about as much per item as cleaning and writing a whole
catalogue row (a task, three pipeline hops, the spider middlewares' generators,
an ``item_scraped`` signal to five receivers, a log record): on a 200 000-row
catalogue, most of the run. A batch pays it once for hundreds of rows, and the
row path itself stays plain Python (:mod:`cpfft.pipelines`, the exporters).

Batches are an envelope only: every count, limit and file is still about rows.

- pipelines clean, check and drop each row of a batch (a dropped row is
  counted and logged as Scrapy would have for a single item);
- the feed exporter writes each row (:class:`cpfft.run.feeds.FeedExporter`);
- :class:`RowStats` keeps Scrapy's ``item_scraped_count`` a count of rows;
- :class:`CloseSpider` counts rows for ``CLOSESPIDER_ITEMCOUNT``;
- :class:`LogFormatter` logs one DEBUG line per batch, not its whole content.

A component also accepts a single item (a spider of another project, a test):
:func:`rows_of` gives the rows of either.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.extensions import closespider
from scrapy.logformatter import LogFormatter as ScrapyLogFormatter

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

#: Rows in one batch at most: large enough that Scrapy's cost per item vanishes, small
#: enough that a batch's rows reach the output file within a fraction of a second.
BATCH_ROWS = 500


@dataclass(slots=True)
class Rows:
    """Output rows (items of the spider's ``item_class``), in output order."""

    rows: list[Any] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)


def rows_of(item: Any) -> list[Any]:
    """The rows an item carries: a batch's rows, or the item itself."""
    return item.rows if type(item) is Rows else [item]


class RowStats:
    """Keeps ``item_scraped_count`` a count of rows: Scrapy adds 1 per batch, this adds
    the rest (an emptied batch, all its rows dropped, counts 0)."""

    def __init__(self, crawler: Crawler):
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RowStats:
        ext = cls(crawler)
        crawler.signals.connect(ext.item_scraped, signal=signals.item_scraped)
        return ext

    def item_scraped(self, item: Any) -> None:
        if type(item) is Rows:
            self.stats.inc_value("item_scraped_count", len(item.rows) - 1)


class CloseSpider(closespider.CloseSpider):
    """Scrapy's CloseSpider, with ``CLOSESPIDER_ITEMCOUNT`` counted in rows."""

    def item_scraped(self, item: Any, spider: Any) -> None:
        rows = len(rows_of(item))
        if not rows:  # a batch whose rows were all dropped: no item was scraped
            return
        before = self.counter["itemcount"]
        self.counter["itemcount"] += rows
        self.counter["pagecount_since_last_item"] = 0
        limit = self.close_on["itemcount"]
        if limit and before < limit <= self.counter["itemcount"]:
            self._close_spider("closespider_itemcount")

    def item_scraped_no_item(self, item: Any, spider: Any) -> None:
        self.items_in_period += len(rows_of(item))


class LogFormatter(ScrapyLogFormatter):
    """A batch's DEBUG line names its size, not its hundreds of rows."""

    def scraped(self, item: Any, response: Any, spider: Any) -> Any:
        if type(item) is Rows:
            return {
                "level": logging.DEBUG,
                "msg": "Scraped %(count)d rows from %(src)s",
                "args": {"count": len(item.rows), "src": response},
            }
        return super().scraped(item, response, spider)
