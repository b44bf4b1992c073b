"""The feed exporter never replaces a previous output with an empty file after a failure."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from scrapy.extensions.feedexport import FeedExporter as ScrapyFeedExporter
from scrapy.utils.test import get_crawler

from cpfft.run.contract import ApiSpider
from cpfft.run.feeds import FeedExporter
from cpfft.run.state import INCOMPLETE


class Unfinished(ApiSpider):
    """A spider of the run contract whose unfinished work is given."""

    name = "cpf"
    item_class = dict

    def __init__(self, unfinished):
        super().__init__()
        self.unfinished = list(unfinished)

    def unfinished_work(self):
        return self.unfinished


@pytest.mark.parametrize(
    ("stats", "unfinished", "items", "stored"),
    [
        ({}, [], 0, True),  # a query matching nothing: the header-only file is the truth
        ({INCOMPLETE: 1}, [], 0, False),
        ({"spider_exceptions/count": 1}, [], 0, False),  # e.g. start() raised
        ({}, ["partition 3: HTTP 500"], 0, False),
        ({INCOMPLETE: 1}, [], 10, True),  # rows were extracted: they are kept
    ],
)
def test_empty_feed_after_a_failure_is_not_stored(stats, unfinished, items, stored, monkeypatch):
    calls = []

    async def store(self, slot, spider):
        calls.append(slot.uri)

    monkeypatch.setattr(ScrapyFeedExporter, "_close_slot", store)
    crawler = get_crawler(settings_dict={"FEEDS": {"out.csv": {"format": "csv"}}})
    crawler.stats.open_spider()
    for key, value in stats.items():
        crawler.stats.set_value(key, value)
    exporter = FeedExporter(crawler)
    spider = Unfinished(unfinished)
    slot = SimpleNamespace(itemcount=items, uri="out.csv")
    asyncio.run(exporter._close_slot(slot, spider))
    assert calls == (["out.csv"] if stored else [])
