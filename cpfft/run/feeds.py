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
- **A Parquet output** is one document too (valid once closed): ``-o`` on an
  existing Parquet file is refused like JSON, XML or xlsx, and so is resuming
  (``JOBDIR``) into one; without pyarrow it is refused before the crawl.
- **An output is written whole or not at all.** The rows of ``-O X.csv`` (``-o``
  too) go to ``X.incomplete.csv`` beside it (:func:`cpfft.run.output.working_file`),
  renamed onto ``X.csv`` only when the run is complete (:func:`promote_outputs`); an
  incomplete or interrupted run leaves the previous ``X.csv`` and its descriptor
  untouched, byte for byte, and keeps its own rows as ``X.incomplete.csv``, with a
  descriptor that says ``incomplete``. ``-o`` appends to a copy of ``X.csv``.
- **A write error fails the run, in one line.** A file that cannot be opened,
  written or closed (no such folder, disk full, ``-O /dev/full``…) stops the run
  with ``cannot write <path>: <OS error>`` and the outcome FAILED (exit 1), instead
  of Scrapy's tracebacks and a COMPLETE summary over an output that is not there.
- **A complete run describes its outputs**: each local output file ``X.csv``
  (``.parquet``, ``.xlsx``, ``.json``, ``.jsonl``) gets its own
  ``X.csv.datapackage.json`` beside it (see :mod:`cpfft.datapackage`), written by
  :func:`write_descriptors` once the run is known to be complete; an incomplete
  run describes its ``X.incomplete.csv`` instead (``incomplete``), and one that
  wrote in place (a scheduled run's file) removes the stale descriptor there. A
  descriptor of an earlier version naming ``X.csv`` (``X.datapackage.json``) is
  removed when ``X.csv`` is replaced: it no longer describes it.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PureWindowsPath
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from scrapy import signals
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
from scrapy.extensions.feedexport import FileFeedStorage, apply_uri_params
from w3lib.url import file_uri_to_path

from cpfft import datapackage
from cpfft.config import check_xlsx_rows
from cpfft.errors import ConfigurationError, shown_uri
from cpfft.exporters import DELIMITERS, XlsxExporter
from cpfft.parquet import ParquetExporter, require_pyarrow
from cpfft.run.contract import contract, rows_expected
from cpfft.run.output import working_file, write_atomically
from cpfft.run.resume import count_rows
from cpfft.run.rows import Rows
from cpfft.run.state import INCOMPLETE, STOP_REASON, mark_incomplete, stop_crawl

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler
    from scrapy.extensions.feedexport import FeedSlot
    from scrapy.settings import BaseSettings

logger = logging.getLogger(__name__)

#: Exporters whose files are streams of records: appending more gives a valid file.
APPENDABLE = (JsonLinesItemExporter, PickleItemExporter, MarshalItemExporter)
#: Exporters whose files are one document: appending would break it.
WHOLE_DOCUMENTS = {
    JsonItemExporter: "JSON",
    XmlItemExporter: "XML",
    XlsxExporter: "xlsx",
    ParquetExporter: "Parquet",
}
TOO_MANY_ROWS = "too_many_rows"
#: The one line of the first write error (an output that cannot be written): the run FAILED.
WRITE_FAILED = "cpfft/write_failed"


class OutputWriteError(OSError):
    """An output could not be stored; the run has said so in one line already."""


def write_failed(crawler: Crawler, where: str, exc: OSError, *, closing: bool = False) -> None:
    """Record the first write error in one line (``cannot write <where>: <OS error>``) and
    stop the run; while the spider closes, only record it (it is stopping anyway)."""
    if crawler.stats.get_value(WRITE_FAILED):
        return
    message = f"cannot write {exc.filename or where}: {exc.strerror or exc}"
    crawler.stats.set_value(WRITE_FAILED, message)
    if closing or crawler.stats.get_value(STOP_REASON):
        mark_incomplete(crawler, message)  # the summary's headline says it, once
    else:
        stop_crawl(crawler, "write_failed", message)


class FileStorage(FileFeedStorage):
    """Scrapy's local file storage, writing to the output's working file (``X.incomplete.csv``,
    see the module doc) and telling its errors at close (a disk full shows when the last
    buffer is flushed) in one line (:func:`write_failed`), not as a traceback."""

    def __init__(self, uri: str, *, feed_options: dict[str, Any] | None = None, crawler=None):
        super().__init__(uri, feed_options=feed_options)
        self.crawler = crawler
        settings = crawler.settings if crawler is not None else None
        self.feed_format = str((feed_options or {}).get("format", ""))
        self.appended_to = 0  # records the file held before this run appended to it (-o)
        self.working = (
            None
            if settings is None
            else working_file(Path(self.path), settings.get("CPFFT_RUN_OUTPUT"))
        )

    def open(self, spider: Spider) -> Any:
        if self.working is None:
            return super().open(spider)
        assert self.crawler is not None
        self.working.parent.mkdir(parents=True, exist_ok=True)
        resumed = self.crawler.settings.get("CPFFT_RESUME_FROM")
        resuming = bool(resumed) and Path(resumed).absolute() == self.working.absolute()
        if self.write_mode == "ab" and not resuming:
            # -o: more rows after a copy of the file, which stays as it is until the end.
            target = Path(self.path)
            if target.is_file():
                shutil.copyfile(target, self.working)
                self.appended_to = records_in(self.working, self.feed_format)
            else:
                self.working.unlink(missing_ok=True)
        return self.working.open(self.write_mode)

    @classmethod
    def from_crawler(
        cls, crawler: Crawler, uri: str, *, feed_options: dict[str, Any] | None = None
    ) -> FileStorage:
        return cls(uri, feed_options=feed_options, crawler=crawler)

    def store(self, file: Any) -> None:
        try:
            file.close()
        except OSError as exc:
            if self.crawler is not None:
                write_failed(self.crawler, self.path, exc, closing=True)
            raise OutputWriteError(exc.errno, exc.strerror, self.path) from None


def records_in(path: Path, feed_format: str) -> int:
    """Records of a file an ``-o`` run appends to: CSV rows, JSON Lines lines; 0 for the
    formats no descriptor describes."""
    if feed_format == "csv":
        return count_rows(path)
    if feed_format in ("jsonl", "jsonlines", "jl"):
        with path.open("rb") as file:
            return sum(1 for line in file if line.strip())
    return 0


class NoTracebackForToldErrors(logging.Filter):
    """Drop Scrapy's "Error storing …" traceback when the error was told in one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], OutputWriteError))


@dataclass(frozen=True)
class StoredFeed:
    """An output this run wrote (or rewrote): what its descriptor needs."""

    path: Path | None  # None: stdout or remote storage
    format: str
    rows: int  # rows this run exported to it
    options: Mapping[str, Any]
    working: Path | None = None  # where the rows are until the run is complete (see above)
    appended_to: int = 0  # records already in the file this run appended to (-o)


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
        #: The outputs this run wrote, in the order they were closed.
        self.stored: list[StoredFeed] = []

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FeedExporter:
        exporter = super().from_crawler(crawler)
        scrapy_logger = logging.getLogger("scrapy.extensions.feedexport")
        if not any(isinstance(f, NoTracebackForToldErrors) for f in scrapy_logger.filters):
            scrapy_logger.addFilter(NoTracebackForToldErrors())
        crawler.signals.connect(exporter.rows_expected, signal=rows_expected)
        crawler.signals.connect(exporter.feed_slot_closed, signal=signals.feed_slot_closed)
        return exporter

    def feed_slot_closed(self, slot: FeedSlot) -> None:
        """Scrapy wrote (or tried to write) this output: its descriptor will say what it holds."""
        storage = slot.storage
        self.stored.append(
            StoredFeed(
                local_path(slot.uri),
                slot.format,
                slot.itemcount,
                slot.feed_options,
                getattr(storage, "working", None),
                getattr(storage, "appended_to", 0),
            )
        )

    def item_scraped(self, item: Any, spider: Spider) -> None:
        """Write each row of a batch (see :mod:`cpfft.run.rows`) as Scrapy writes an item:
        item filters, FEED_EXPORT_BATCH_ITEM_COUNT and the files' counts are about rows.
        A write error stops the run (:func:`write_failed`); no row is written after it."""
        if self.crawler.stats.get_value(WRITE_FAILED):
            return
        rows = item.rows if type(item) is Rows else [item]
        write = super().item_scraped
        try:
            for row in rows:
                write(row, spider)
        except OSError as exc:
            write_failed(self.crawler, ", ".join(map(str, self.feeds)), exc)

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
        shown = path.name if path is not None else shown_uri(uri)
        if issubclass(exporter, XlsxExporter):
            self.note_row_limit(shown)
        if issubclass(exporter, ParquetExporter):
            try:  # also checked before the crawl by `scrapy crawl` (cpfft.config)
                require_pyarrow(f"output {shown}")
            except ConfigurationError as exc:
                raise ValueError(str(exc)) from None
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
        delimiter = csv_delimiter(self.settings, options)
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
        if stats.get_value(WRITE_FAILED):  # told already; the file is not this run's output
            with contextlib.suppress(OSError, AttributeError):
                slot.file.close()
            return
        if not slot.itemcount and failed:
            # The summary says so ("… left untouched").
            logger.debug("No row extracted and the run failed: %s left untouched", slot.uri)
            return
        try:
            await super()._close_slot(slot, spider)
        except OSError as exc:  # finishing the document (xlsx, Parquet, JSON's "]")
            write_failed(self.crawler, slot.uri, exc, closing=True)


# ------------------------------------------------------------------ outcome


def promote_outputs(crawler: Crawler, complete: bool) -> list[tuple[Path, Path]]:
    """Once the outcome is known: a complete run's working files renamed onto their
    outputs; an incomplete run's kept as they are, the outputs untouched. Returns the
    (working file, output) pairs kept; raises OSError if a rename fails."""
    feeds = crawler.get_extension(FeedExporter)
    if not isinstance(feeds, FeedExporter):
        return []
    kept = []
    for feed in feeds.stored:
        if feed.working is None or feed.path is None or not feed.working.exists():
            continue
        if complete:
            feed.working.replace(os.path.realpath(feed.path))
        else:
            kept.append((feed.working, feed.path))
    return kept


# ------------------------------------------------------------------ descriptors


def write_descriptors(
    crawler: Crawler, spider: Spider, complete: bool, rows_before: int = 0
) -> list[str]:
    """Once the outcome is known (and the outputs promoted), for each local output this
    run wrote: describe it in ``X.csv.datapackage.json`` beside it if the run is complete;
    else describe its working file ``X.incomplete.csv`` as incomplete, or, written in
    place, remove the (stale) descriptor there. ``rows_before``: rows a resumed run's file held before this run.
    Returns summary lines; raises OSError if a descriptor cannot be written."""
    feeds = crawler.get_extension(FeedExporter)
    if not isinstance(feeds, FeedExporter):
        return []
    spider_name = spider.name if spider.name in datapackage.OUTPUTS else None
    resumed = crawler.settings.get("CPFFT_RESUME_FROM")
    groups: dict[Path, list[datapackage.Output]] = {}
    for feed in feeds.stored:
        if feed.path is None or feed.format not in datapackage.FORMATS:
            continue
        # An incomplete run's rows: in its working file (the output untouched, and so its
        # descriptor), else (written in place) in the output, whose descriptor is stale.
        written = feed.working if feed.working is not None and feed.working.exists() else None
        if complete or written is None:
            written = feed.path
            remove_legacy_descriptor(feed.path)
        target = written.with_name(datapackage.descriptor_name(written.name))
        if spider_name is None or (not complete and written == feed.path):
            target.unlink(missing_ok=True)
            continue
        rows = feed.rows + feed.appended_to
        if resumed and Path(resumed).absolute() in (
            feed.path.absolute(),
            (feed.working or feed.path).absolute(),
        ):
            rows += rows_before
        groups.setdefault(target, []).append(
            datapackage.Output(
                written.name,
                feed.format,
                rows,
                delimiter=csv_delimiter(crawler.settings, feed.options),
                encoding=feed_encoding(crawler, feed),
            )
        )
    if not groups or spider_name is None:
        return []
    started = crawler.stats.get_value("start_time")
    extracted = started if isinstance(started, datetime) else datetime.now(UTC)
    if extracted.tzinfo is None:
        extracted = extracted.replace(tzinfo=UTC)
    notes = []
    for target, outputs in groups.items():
        package = datapackage.descriptor(
            spider_name,
            outputs,
            extracted_at=extracted,
            partial=contract(spider).partial_output,
            outcome="complete" if complete else "incomplete",
        )
        write_json(target, package)
        notes.append(f"  descriptor:         {target}")
    return notes


def remove_legacy_descriptor(path: Path) -> None:
    """Remove ``X.datapackage.json`` (an earlier version's name) beside ``X.csv`` if it
    describes ``X.csv``: the file was rewritten, that descriptor would lie about it."""
    legacy = path.with_name(datapackage.legacy_descriptor_name(path.name))
    if legacy == path.with_name(datapackage.descriptor_name(path.name)):
        return
    try:
        resources = json.loads(legacy.read_text("utf-8")).get("resources")
    except (OSError, ValueError, AttributeError):
        return  # none, or not a descriptor of ours
    if isinstance(resources, list) and any(
        isinstance(r, dict) and r.get("path") == path.name for r in resources
    ):
        legacy.unlink(missing_ok=True)


def csv_delimiter(settings: BaseSettings, options: Mapping[str, Any]) -> str:
    """The delimiter of a CSV output: its feed options', else CPFFT_CSV_DELIMITER."""
    kwargs = options.get("item_export_kwargs") or {}
    return str(kwargs.get("delimiter") or settings.get("CPFFT_CSV_DELIMITER", ","))


def feed_encoding(crawler: Crawler, feed: StoredFeed) -> str:
    encoding = str(
        feed.options.get("encoding") or crawler.settings.get("FEED_EXPORT_ENCODING") or "utf-8"
    )
    if feed.format == "csv" and encoding.replace("_", "-").lower() in ("utf-8", "utf8"):
        return "utf-8-sig"  # the CSV exporter adds the BOM
    return encoding


def write_json(path: Path, content: Any) -> None:
    """Write ``path`` whole or not at all."""
    write_atomically(path, json.dumps(content, ensure_ascii=False, indent=2) + "\n")
