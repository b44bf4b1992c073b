"""Scrapy's FeedExporter, made safe for the files it writes to.

- **A failed run never replaces a file with an empty one.** With
  ``FEED_STORE_EMPTY`` (needed so a query matching zero rows still yields a
  CSV with its header), Scrapy's exporter creates the output file at the end
  of *every* run, so ``scrapy crawl cpf -O formations.csv`` with the API down
  would overwrite yesterday's complete file with a header. Here an empty feed
  is only stored when the run did not fail (see :mod:`cpfft.run.state`).
- **``-o`` (append) gives a valid file or nothing.** Before anything is
  fetched, each local output that ``-o`` would append to is checked: a CSV
  takes more rows only if its header is this run's (same columns, same
  delimiter) and it ends with a whole row, and then gets no second header; a
  JSON Lines, pickle or marshal file is a stream of records and takes more; a
  JSON, XML or xlsx file cannot (it would no longer be valid). A refused
  output stops the run with one line, the file untouched.
- **An xlsx output never gets more rows than a sheet holds**
  (``CPFFT_XLSX_MAX_ROWS``, Excel's 1 048 576 rows with the header, by
  default): as soon as the spider knows how many rows the run expects (the
  :data:`cpfft.run.contract.rows_expected` signal, before the rows are
  fetched), a run that expects more is stopped with one line, and no file is
  written.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Mapping
from pathlib import Path, PureWindowsPath
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from scrapy.exceptions import CloseSpider
from scrapy.exporters import (
    CsvItemExporter,
    JsonItemExporter,
    JsonLinesItemExporter,
    MarshalItemExporter,
    PickleItemExporter,
    XmlItemExporter,
)
from scrapy.extensions.feedexport import FeedExporter as ScrapyFeedExporter
from scrapy.extensions.feedexport import apply_uri_params
from w3lib.url import file_uri_to_path

from cpfft.config import check_xlsx_rows
from cpfft.errors import ConfigurationError
from cpfft.exporters import DELIMITERS, XlsxExporter
from cpfft.run.contract import contract, rows_expected
from cpfft.run.rows import Rows
from cpfft.run.state import INCOMPLETE, mark_incomplete, stop_crawl

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler
    from scrapy.extensions.feedexport import FeedSlot

logger = logging.getLogger(__name__)

#: Exporters whose files are streams of records: appending more gives a valid file.
APPENDABLE = (JsonLinesItemExporter, PickleItemExporter, MarshalItemExporter)
#: Exporters whose files are one document: appending would break it.
WHOLE_DOCUMENTS = {JsonItemExporter: "JSON", XmlItemExporter: "XML", XlsxExporter: "xlsx"}
TOO_MANY_ROWS = "too_many_rows"


def _count(n: int) -> str:
    return f"{n:,}".replace(",", " ")


def local_path(uri: str) -> Path | None:
    """The file a feed URI names, or None for stdout and remote storage."""
    if uri.startswith("file:"):
        return Path(file_uri_to_path(uri))
    if uri == "-" or uri.startswith("stdout:"):
        return None
    if urlparse(uri).scheme and not PureWindowsPath(uri).drive:
        return None
    return Path(uri)


class FeedExporter(ScrapyFeedExporter):
    def __init__(self, crawler: Crawler):
        super().__init__(crawler)
        #: (rows a sheet holds below its header, output) for the smallest xlsx output.
        self.row_limit: tuple[int, str] | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FeedExporter:
        exporter = super().from_crawler(crawler)
        crawler.signals.connect(exporter.rows_expected, signal=rows_expected)
        return exporter

    def item_scraped(self, item: Any, spider: Spider) -> None:
        """Write each row of a batch (see :mod:`cpfft.run.rows`) as Scrapy writes an item:
        item filters, FEED_EXPORT_BATCH_ITEM_COUNT and the files' counts are about rows."""
        if type(item) is not Rows:
            super().item_scraped(item, spider)
            return
        write = super().item_scraped
        for row in item.rows:
            write(row, spider)

    # ------------------------------------------------------------ before the crawl

    def open_spider(self, spider: Spider) -> None:
        try:
            for uri, options in self.feeds.items():
                if "%(" in uri:
                    params = self._get_uri_params(spider, options["uri_params"])
                    uri = apply_uri_params(uri, params)
                self.check_output(spider, uri, options)
        except ValueError as exc:
            message = str(exc)
            logger.error("%s", message)
            mark_incomplete(self.crawler, message)
            raise CloseSpider("output_refused") from None
        super().open_spider(spider)

    def check_output(self, spider: Spider, uri: str, options: dict[str, Any]) -> None:
        """Raise ValueError (one line) if this run cannot write ``uri`` as asked."""
        exporter = self.exporters[options["format"]]
        path = local_path(uri)
        shown = path.name if path is not None else uri
        if issubclass(exporter, XlsxExporter):
            self.note_row_limit(shown)
        if path is None or options.get("overwrite") or not path.is_file():
            return
        if path.stat().st_size == 0 or issubclass(exporter, APPENDABLE):
            return
        if issubclass(exporter, CsvItemExporter):
            self.check_csv_append(spider, path, options)
            return
        kind = next((k for cls, k in WHOLE_DOCUMENTS.items() if issubclass(exporter, cls)), None)
        what = f"a {kind} file" if kind else f"a {options['format']} file"
        hint = " (JSON Lines, -o file.jsonl, can be appended to)" if kind == "JSON" else ""
        if self.settings.get("CPFFT_RESUME_FROM"):
            raise ValueError(
                f"-s JOBDIR: resuming appends to {shown}, and {what} cannot take more rows at "
                "its end without becoming invalid; resume runs that write a CSV, or delete "
                "the JOBDIR to start again"
            )
        raise ValueError(
            f"-o {shown}: -o appends, and {what} cannot take more rows at its end without "
            f"becoming invalid; use -O {shown} to replace it, or -o on a new file{hint}"
        )

    def check_csv_append(self, spider: Spider, path: Path, options: dict[str, Any]) -> None:
        """A CSV that -o appends to must have this run's header and end with a whole row."""
        fields = options.get("fields")
        if isinstance(fields, Mapping):
            header = [str(h) for h in fields.values()]
        elif fields:
            header = [str(f) for f in fields]
        else:
            item_class = getattr(spider, "item_class", None)
            header = list(getattr(item_class, "__dataclass_fields__", {}))
        kwargs = options.get("item_export_kwargs") or {}
        delimiter = kwargs.get("delimiter") or self.settings.get("CPFFT_CSV_DELIMITER", ",")
        name = path.name
        replace = f"use -O {name} to replace it, or another file name"
        encoding = options.get("encoding") or "utf-8"
        if encoding.replace("_", "-").lower() in ("utf-8", "utf8"):
            encoding = "utf-8-sig"  # reads the file with or without its BOM
        try:
            with path.open(encoding=encoding, newline="") as file:
                first = file.readline()
            with path.open("rb") as raw:
                raw.seek(-1, 2)
                last = raw.read(1)
        except (OSError, UnicodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else f"it is not {encoding} text"
            raise ValueError(f"-o {name}: cannot append to it ({reason}); {replace}") from None
        if not header:
            return  # nothing to compare with
        found = next(csv.reader([first], delimiter=delimiter), [])
        if found != header:
            other = next(
                (
                    d
                    for d in DELIMITERS
                    if d != delimiter and next(csv.reader([first], delimiter=d), []) == header
                ),
                None,
            )
            if other is not None:
                raise ValueError(
                    f"-o {name}: its columns are separated by {other!r}, this run's by "
                    f"{delimiter!r}; add -s CPFFT_CSV_DELIMITER={other!r} to append to it, or "
                    f"use -O {name} to replace it"
                )
            raise ValueError(
                f"-o {name}: its header is not this run's {len(header)} columns (another "
                f"spider, or another version?); {replace}"
            )
        if last != b"\n":
            raise ValueError(
                f"-o {name}: it does not end with a line break, so its last row may be cut; "
                f"repair it, or {replace}"
            )

    def note_row_limit(self, output: str) -> None:
        try:  # the settings' own check (run before the crawl too, by scrapy crawl)
            most = check_xlsx_rows(self.settings, "CPFFT_XLSX_MAX_ROWS")
        except ConfigurationError as exc:
            raise ValueError(str(exc)) from None
        if self.row_limit is None or most - 1 < self.row_limit[0]:
            self.row_limit = (most - 1, output)

    # ------------------------------------------------------------ during the crawl

    def rows_expected(self, spider: Spider, total: int) -> None:
        """The spider knows how many rows the run writes: stop now if a sheet cannot hold them."""
        if self.row_limit is None or total <= self.row_limit[0]:
            return
        most, output = self.row_limit
        fetched = any(slot.itemcount for slot in self.slots)
        message = (
            f"{output}: the run expects {_count(total)} rows, more than the {_count(most)} an "
            f"Excel sheet holds below its header; "
            + ("the run stops there" if fetched else "nothing was fetched, no file written")
            + f". Narrow the query (-a …), or write a CSV (-O {Path(output).stem}.csv)"
        )
        stop_crawl(self.crawler, TOO_MANY_ROWS, message)
        raise CloseSpider(TOO_MANY_ROWS)

    async def _close_slot(self, slot: FeedSlot, spider: Spider) -> None:
        stats = self.crawler.stats
        failed = (
            stats.get_value(INCOMPLETE)
            or stats.get_value("spider_exceptions/count")  # e.g. start() raised
            or contract(spider).unfinished_work()
        )
        if not slot.itemcount and failed:
            logger.warning("No row extracted and the run failed: %s left untouched", slot.uri)
            return
        await super()._close_slot(slot, spider)
