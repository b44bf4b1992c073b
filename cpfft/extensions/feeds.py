"""Scrapy's FeedExporter, except that a failed run never replaces a file with an empty one.

With ``FEED_STORE_EMPTY`` (needed so a query matching zero rows still yields a
CSV with its header), Scrapy's exporter creates the output file at the end of
*every* run, so ``scrapy crawl cpf -O formations.csv`` with the API down would
overwrite yesterday's complete file with a header. Here an empty feed is only
stored when the run did not fail (see :mod:`cpfft.runstate`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from scrapy.extensions.feedexport import FeedExporter as ScrapyFeedExporter

from cpfft.runstate import INCOMPLETE

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.extensions.feedexport import FeedSlot

logger = logging.getLogger(__name__)


class FeedExporter(ScrapyFeedExporter):
    async def _close_slot(self, slot: FeedSlot, spider: Spider) -> None:
        stats = self.crawler.stats
        failed = (
            stats.get_value(INCOMPLETE)
            or stats.get_value("spider_exceptions/count")  # e.g. start() raised
            or getattr(spider, "unfinished_work", list)()
        )
        if not slot.itemcount and failed:
            logger.warning("No row extracted and the run failed: %s left untouched", slot.uri)
            return
        await super()._close_slot(slot, spider)
