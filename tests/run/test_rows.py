"""Rows in batches (cpfft.run.rows): every count, limit and file stays in rows."""

import logging
from types import SimpleNamespace

import pytest
from scrapy.exceptions import DropItem
from scrapy.http import Response
from scrapy.utils.test import get_crawler

from cpfft.items import Formation
from cpfft.pipelines import CleanPipeline, DedupePipeline, RequireKeyPipeline
from cpfft.run.feeds import FeedExporter
from cpfft.run.rows import CloseSpider, LogFormatter, Rows, RowStats, rows_of


def row(number, departement="75", **fields):
    return Formation(numero_formation=number, code_departement=departement, **fields)


@pytest.fixture
def crawler():
    crawler = get_crawler(settings_dict={"DEFAULT_DROPITEM_LOG_LEVEL": "INFO"})
    crawler.stats.open_spider()
    return crawler


def test_rows_of_a_batch_and_of_a_single_row():
    assert rows_of(Rows([0, 1, 2])) == [0, 1, 2]
    assert rows_of(Rows([])) == []
    single = row("1_A")
    assert rows_of(single) == [single]


def test_pipelines_clean_check_and_drop_each_row_of_a_batch(crawler, caplog):
    batch = Rows([
        row("1_A", nom_of=" A&amp;B "),
        row(None),
        row("1_A"),  # duplicate of the first
        row("2_B", departement="92"),
    ])  # fmt: skip
    with caplog.at_level(logging.INFO, logger="cpfft.pipelines"):
        for pipeline in (CleanPipeline, RequireKeyPipeline, DedupePipeline):
            batch = pipeline(crawler).process_item(batch)
    assert [(r.numero_formation, r.code_departement) for r in batch.rows] == [
        ("1_A", "75"),
        ("2_B", "92"),
    ]
    assert batch.rows[0].nom_of == "A&B"
    stats = crawler.stats
    assert stats.get_value("cpfft/dropped/missing_numero_formation") == 1
    assert stats.get_value("cpfft/dropped/duplicate") == 1
    # As Scrapy counts and logs a dropped item, at DEFAULT_DROPITEM_LOG_LEVEL:
    assert stats.get_value("item_dropped_count") == 2
    assert stats.get_value("item_dropped_reasons_count/DropItem") == 2
    dropped = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Dropped")]
    assert len(dropped) == 2
    assert dropped[0].startswith("Dropped: row without numero_formation\nFormation(")
    assert dropped[1].startswith("Dropped: duplicate of 1_A, 75\n")


def test_a_single_item_still_goes_through_as_before(crawler):
    pipeline = DedupePipeline(crawler)
    first = row("1_A")
    assert pipeline.process_item(first) is first
    with pytest.raises(DropItem):
        pipeline.process_item(row("1_A"))


def test_item_scraped_count_counts_rows(crawler):
    stats = RowStats(crawler)
    crawler.stats.inc_value("item_scraped_count")  # Scrapy's own +1 for the batch
    stats.item_scraped(Rows([row("1"), row("2"), row("3")]))
    crawler.stats.inc_value("item_scraped_count")  # a batch whose rows were all dropped
    stats.item_scraped(Rows([]))
    crawler.stats.inc_value("item_scraped_count")  # a plain item
    stats.item_scraped(row("4"))
    assert crawler.stats.get_value("item_scraped_count") == 4


def test_closespider_itemcount_counts_rows():
    crawler = get_crawler(settings_dict={"CLOSESPIDER_ITEMCOUNT": 5})
    extension = CloseSpider(crawler)
    reasons = []
    extension._close_spider = reasons.append
    extension.item_scraped(Rows([row("1"), row("2"), row("3")]), None)
    assert reasons == []
    extension.item_scraped(Rows([row("4"), row("5"), row("6")]), None)  # passes 5
    extension.item_scraped(Rows([row("7")]), None)
    assert reasons == ["closespider_itemcount"]


def test_a_batch_whose_rows_were_all_dropped_is_no_item_for_closespider():
    # CLOSESPIDER_PAGECOUNT_NO_ITEM counts pages since the last item: a batch left empty by
    # the pipelines (every row already written, say) must not reset it.
    crawler = get_crawler(settings_dict={"CLOSESPIDER_PAGECOUNT_NO_ITEM": 3})
    extension = CloseSpider(crawler)
    extension.counter["pagecount_since_last_item"] = 2
    extension.item_scraped(Rows([]), None)
    assert extension.counter["pagecount_since_last_item"] == 2
    assert extension.counter["itemcount"] == 0
    extension.item_scraped(Rows([row("1")]), None)
    assert extension.counter["pagecount_since_last_item"] == 0


@pytest.mark.parametrize("level", [20, "INFO", "info"])
def test_a_dropped_row_is_logged_at_a_level_given_as_number_or_name(level, caplog):
    crawler = get_crawler(settings_dict={"DEFAULT_DROPITEM_LOG_LEVEL": level})
    crawler.stats.open_spider()
    with caplog.at_level(logging.DEBUG, logger="cpfft.pipelines"):
        batch = RequireKeyPipeline(crawler).process_item(Rows([row(None), row("1_A")]))
    assert [r.numero_formation for r in batch.rows] == ["1_A"]
    dropped = [r for r in caplog.records if r.getMessage().startswith("Dropped")]
    assert [r.levelno for r in dropped] == [logging.INFO]


def test_a_batch_logs_one_short_line():
    response = Response("http://127.0.0.1/exports/jsonl")
    entry = LogFormatter().scraped(Rows([row("1"), row("2")]), response, None)
    assert entry["level"] == logging.DEBUG
    assert entry["msg"] % entry["args"] == (
        "Scraped 2 rows from <200 http://127.0.0.1/exports/jsonl>"
    )
    assert "Formation(" not in entry["msg"] % entry["args"]


def test_the_feed_exporter_writes_each_row_of_a_batch():
    crawler = get_crawler(settings_dict={"FEEDS": {"out.csv": {"format": "csv"}}})
    crawler.stats.open_spider()
    feeds = FeedExporter(crawler)
    written = []
    slot = SimpleNamespace(
        itemcount=0,
        uri_template="out.csv",
        filter=SimpleNamespace(accepts=lambda item: item.numero_formation != "2"),
        exporter=SimpleNamespace(export_item=written.append),
        start_exporting=lambda: None,
    )
    feeds.slots = [slot]
    feeds.item_scraped(Rows([row("1"), row("2"), row("3")]), None)
    feeds.item_scraped(row("4"), None)
    # Each row goes through the feed's item filter and counts for the file, as an item.
    assert [r.numero_formation for r in written] == ["1", "3", "4"]
    assert slot.itemcount == 3
