"""Feed exporters: CSV for Excel, pandas and dashboards; XML; typed Excel workbooks.

Every format Scrapy offers gives a valid file; JSON and JSON Lines are Scrapy's
own exporters, in UTF-8 (``FEED_EXPORT_ENCODING``); typed Parquet files for
analysis tools are written by :mod:`cpfft.parquet`. The ones here:

:class:`CsvExporter`
    Scrapy's CSV exporter writes nothing for a run without items and lets cells
    such as ``=HYPERLINK(...)`` through, which Excel would execute. This one:

    - writes UTF-8 **with** a BOM (the only format that gets one: Excel needs it
      to show accents); another ``FEED_EXPORT_ENCODING`` is used as given;
    - writes the header as soon as the file is opened, so a run that matched zero
      rows still yields a valid CSV with its columns; appending to a file that
      already has content (``-o``, or a resumed run) writes neither BOM nor
      header again (the feed extension, :mod:`cpfft.run.feeds`, checks
      beforehand that the file's header is this run's);
    - takes its delimiter from ``CPFFT_CSV_DELIMITER`` (``,``; ``;`` for a French Excel);
    - neutralises formula-looking text (leading ``=``, ``+``, ``-``, ``@``, tab, CR)
      by prefixing an apostrophe, unless ``CPFFT_CSV_FORMULA_GUARD`` is off; plain
      numbers such as ``-1`` are left alone. The cells so prefixed are counted in
      the ``cpfft/csv/formula_guarded`` stat;
    - writes floats with a ``.`` and without exponent notation;
    - hands the file **whole rows only**: rows are gathered in memory and written
      and flushed together (every 64 KiB, every second, and at the end), so a run
      killed at any moment leaves a file whose every line is a whole row (see
      :mod:`cpfft.run.resume` for the rare torn write of a killed process).

:class:`XmlExporter`
    Scrapy's XML exporter, with element names that are always valid (the
    field names, not the French CSV headers of the offers), empty elements
    for missing values (not the text ``None``) and floats written as in the CSV.

:class:`XlsxExporter`
    An Excel workbook (``-O formations.xlsx``), written with XlsxWriter in its
    constant-memory mode (one row in memory; the sheet goes through a temporary
    file until the end). Cells are typed from the item's declared field types
    (:func:`cpfft.items.field_types`): codes and texts are text cells (Excel
    never runs a text cell as a formula, so nothing is prefixed), counts and
    amounts are numbers, dates and instants (UTC) are dates. The header row is
    frozen, has filters, and columns are sized to their content. A sheet holds
    at most ``CPFFT_XLSX_MAX_ROWS`` rows including its header (Excel's limit by
    default); the feed extension refuses a run that expects more before it
    fetches them.
"""

from __future__ import annotations

import codecs
import csv
import gc
import io
import logging
import math
import re
import sys
import time
from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from itemadapter import ItemAdapter
from scrapy.exporters import BaseItemExporter, CsvItemExporter, XmlItemExporter

from cpfft.items import Records, field_records
from cpfft.records import render_cell
from cpfft.run.state import mark_incomplete

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?")
#: First characters of a text cell that the formula guard must look at ('' too: cheap).
_CHECK_FIRST = frozenset([*FORMULA_TRIGGERS, " ", ""])
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
FLUSH_CHARS = 64 * 1024
FLUSH_SECONDS = 1.0
#: Stat: how many CSV cells the formula guard prefixed with an apostrophe.
FORMULA_GUARDED = "cpfft/csv/formula_guarded"

#: Rows an Excel sheet holds, its header included.
EXCEL_MAX_ROWS = 1_048_576
#: Stat: text cells cut to Excel's 32 767 characters.
XLSX_TRUNCATED = "cpfft/xlsx/truncated_cells"
#: Above this much sheet XML (about 580 000 catalogue rows), the workbook's zip container
#: needs ZIP64 (Python's zipfile refuses the sheet without it from ~2.04 GB on); used only
#: then, because Excel may offer to "repair" a ZIP64 workbook (harmlessly).
XLSX_ZIP64_ABOVE = 1_900_000_000


def neutralise_formula(value: str) -> str:
    """Prefix an apostrophe to text a spreadsheet would evaluate as a formula.

    Returns ``value`` itself (the same object) when it is left alone.
    """
    stripped = value.lstrip(" ")
    if stripped.startswith(FORMULA_TRIGGERS) and not _PLAIN_NUMBER.fullmatch(stripped):
        return "'" + value
    return value


def format_float(value: float) -> str:
    if not math.isfinite(value):
        return ""
    text = repr(value)
    if "e" in text or "E" in text:
        text = f"{value:.15f}".rstrip("0").rstrip(".")
    return text


def _codec(encoding: str | None) -> str:
    return codecs.lookup(encoding or "utf-8").name


def _position(file: Any) -> int:
    """Where writing starts in ``file``: its size when opened for appending; 0 if unknown."""
    try:
        return int(file.tell())
    except (AttributeError, OSError, ValueError):
        return 0


class CsvExporter(CsvItemExporter):
    def __init__(
        self,
        file: Any,
        *,
        formula_guard: bool = True,
        stats: Any = None,
        item_class: type | None = None,
        **kwargs: Any,
    ):
        kwargs.setdefault("delimiter", ",")
        if _codec(kwargs.get("encoding")) == "utf-8":
            kwargs["encoding"] = "utf-8-sig"  # the BOM; not written when appending (io does that)
        # A file that has content already (-o, resumed run) has its BOM and header.
        self.appending = _position(file) > 0
        super().__init__(file, **kwargs)
        self.formula_guard = formula_guard
        self.stats = stats
        self.guarded = 0  # cells prefixed since the last flush
        # Rows go to a buffer first; only whole rows reach the file (see flush_rows).
        self.pending = io.StringIO()
        self.csv_writer = csv.writer(self.pending, **self._kwargs)
        self.flushed_at = time.monotonic()
        #: The list fields: each becomes one readable cell (cpfft.records).
        self.records = declared_records(item_class)
        self.record_columns: list[tuple[int, Records]] | None = None  # set on the first row

    @classmethod
    def from_crawler(cls, crawler: Crawler, file: Any, **kwargs: Any) -> CsvExporter:
        settings = crawler.settings
        kwargs.setdefault("delimiter", settings.get("CPFFT_CSV_DELIMITER", ","))
        return cls(
            file,
            formula_guard=settings.getbool("CPFFT_CSV_FORMULA_GUARD", True),
            stats=crawler.stats,
            item_class=getattr(crawler.spider, "item_class", None),
            **kwargs,
        )

    def start_exporting(self) -> None:
        if self.appending or not self.include_headers_line:
            self._headers_not_written = False  # the file has its header already
        elif self.fields_to_export and self._headers_not_written:
            # Header first, even if no item ever comes (Scrapy writes it on the first item).
            self._headers_not_written = False
            self._write_headers_and_set_fields_to_export(None)
            self.flush_rows()

    def export_item(self, item: Any) -> None:
        if self._headers_not_written or not self.fields_to_export:
            super().export_item(item)
        else:
            # Fast path (the generic one costs ~40 µs per row through ItemAdapter).
            if isinstance(item, dict):
                values = [item.get(name) for name in self.fields_to_export]
            else:
                values = [getattr(item, name, None) for name in self.fields_to_export]
            if self.record_columns is None:
                self.record_columns = [
                    (index, self.records[name])
                    for index, name in enumerate(self.fields_to_export)
                    if name in self.records
                ]
            for index, spec in self.record_columns:
                if values[index] is not None:
                    values[index] = render_cell(spec, values[index])
            cell, guard = self.cell, self.formula_guard
            # Most cells are text that starts with neither a space nor a formula trigger,
            # an empty cell or an integer: written as they are (the csv module writes None
            # as nothing and an int as str() does); cell() decides for the others.
            self.csv_writer.writerow([
                v if ((t := type(v)) is str and not (guard and v[:1] in _CHECK_FIRST))
                or v is None or t is int else cell(v)
                for v in values
            ])  # fmt: skip
        if self.pending.tell() >= FLUSH_CHARS or time.monotonic() - self.flushed_at > FLUSH_SECONDS:
            self.flush_rows()

    def flush_rows(self) -> None:
        """Write the buffered whole rows and push them to the operating system."""
        text = self.pending.getvalue()
        if text:
            self.stream.write(text)
            self.pending.seek(0)
            self.pending.truncate()
        self.stream.flush()
        self.flushed_at = time.monotonic()
        if self.guarded and self.stats is not None:
            self.stats.inc_value(FORMULA_GUARDED, self.guarded)
        self.guarded = 0

    def finish_exporting(self) -> None:
        self.flush_rows()
        super().finish_exporting()

    def serialize_field(self, field: Any, name: str, value: Any) -> Any:
        if name in self.records and value is not None:
            value = render_cell(self.records[name], value)
        return self.cell(super().serialize_field(field, name, value))

    def cell(self, value: Any) -> Any:
        if value is None:
            return ""
        if isinstance(value, str):
            if not self.formula_guard:
                return value
            guarded = neutralise_formula(value)
            if guarded is not value:
                self.guarded += 1
            return guarded
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, float):
            return format_float(value)
        if isinstance(value, (list, tuple)):
            return self._join_multivalued.join(str(self.cell(v)) for v in value)
        return value


class XmlExporter(XmlItemExporter):
    def __init__(self, file: Any, **kwargs: Any):
        if _codec(kwargs.get("encoding")) == "utf-8-sig":
            kwargs["encoding"] = "utf-8"  # the BOM would come before the XML declaration
        exported = kwargs.get("fields_to_export")
        if isinstance(exported, Mapping):
            # Headers such as "Date de publication" are not XML names; field names are.
            kwargs["fields_to_export"] = list(exported)
        super().__init__(file, **kwargs)

    def serialize_field(self, field: Any, name: str, value: Any) -> Any:
        value = super().serialize_field(field, name, value)
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, float):
            return format_float(value)
        if isinstance(value, list):
            # A list field: one <value> element per record, an element per part it has.
            return [
                {k: v for k, v in record.items() if v is not None}
                if isinstance(record, dict)
                else record
                for record in value
            ]
        return value


# ------------------------------------------------------------------ xlsx


def declared_types(item_class: Any) -> dict[str, str]:
    """Each field's declared type (see cpfft.items), ``{}`` for a class that is not a dataclass."""
    if item_class is None or not is_dataclass(item_class):
        return {}
    return {f.name: f.metadata.get("type", "text") for f in fields(item_class)}


def declared_records(item_class: Any) -> dict[str, Records]:
    """What each list field's records hold (see cpfft.items), ``{}`` for other classes."""
    if item_class is None or not is_dataclass(item_class):
        return {}
    return field_records(item_class)


@lru_cache(maxsize=4096)
def parse_moment(value: str) -> date | datetime | None:
    """ISO 8601 text → a date, or a naive UTC datetime (Excel has no time zones)."""
    text = value.strip()
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def sheet_name(file: Any) -> str:
    """The output file's name without extension, as Excel allows a sheet name. The rows
    are written to ``X.incomplete.xlsx`` until the run is complete (cpfft.run.output,
    ``working_file``): the sheet is named after ``X.xlsx``, the name it ends up with."""
    name = getattr(file, "name", None)
    stem = Path(name).stem.removesuffix(".incomplete") if isinstance(name, str) else ""
    stem = re.sub(r"[\[\]:*?/\\]", "_", stem).strip("'")[:31]
    return stem or "cpfft"


class XlsxExporter(BaseItemExporter):
    """A typed Excel workbook, one sheet, streamed row by row (see the module doc)."""

    #: Widths (in characters) columns are sized between.
    MIN_WIDTH, MAX_WIDTH = 6, 60
    DATE_WIDTH, DATETIME_WIDTH = 11, 17

    def __init__(
        self,
        file: Any,
        *,
        max_rows: int = EXCEL_MAX_ROWS,
        item_class: type | None = None,
        crawler: Crawler | None = None,
        **kwargs: Any,
    ):
        super().__init__(dont_fail=True, **kwargs)
        self.file = file
        self.max_rows = max_rows
        self.item_class = item_class
        self.crawler = crawler
        self.row = 0  # index of the last row written; 0 is the header
        self.over_limit = 0
        self.truncated = 0
        self.names: list[str] = []  # item field of each column
        self.headers: list[str] = []
        self.types: list[str] = []
        self.specs: list[Records | None] = []  # what a list field's records hold
        self.widths: list[int] = []
        self.workbook: Any = None
        self.sheet: Any = None

    @classmethod
    def from_crawler(cls, crawler: Crawler, file: Any, **kwargs: Any) -> XlsxExporter:
        return cls(
            file,
            max_rows=crawler.settings.getint("CPFFT_XLSX_MAX_ROWS", EXCEL_MAX_ROWS),
            item_class=getattr(crawler.spider, "item_class", None),
            crawler=crawler,
            **kwargs,
        )

    # ------------------------------------------------------------ layout

    def columns_from(self, item_class: type | None) -> bool:
        """Set the columns from fields_to_export or the item class; False if unknown."""
        exported = self.fields_to_export
        if isinstance(exported, Mapping):
            names, headers = list(exported), [str(h) for h in exported.values()]
        elif exported is not None:
            names = headers = list(exported)
        elif item_class is not None and is_dataclass(item_class):
            names = headers = [f.name for f in fields(item_class)]
        else:
            return False
        declared = declared_types(item_class)
        records = declared_records(item_class)
        self.names, self.headers = names, headers
        self.types = [declared.get(name, "") for name in names]
        self.specs = [records.get(name) for name in names]
        self.widths = [len(h) for h in headers]
        return True

    def start_exporting(self) -> None:
        import xlsxwriter  # only runs that write xlsx need it

        self.workbook = xlsxwriter.Workbook(
            self.file,
            {
                "constant_memory": True,
                # Text stays text: never a formula, a link or a number.
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "strings_to_numbers": False,
            },
        )
        self.sheet = self.workbook.add_worksheet(sheet_name(self.file))
        self.header_format = self.workbook.add_format({"bold": True})
        # Excel's built-in short date (14) and date-time (22) follow the reader's locale.
        self.date_format = self.workbook.add_format({"num_format": 14})
        self.datetime_format = self.workbook.add_format({"num_format": 22})
        self.sheet.freeze_panes(1, 0)
        if self.columns_from(self.item_class):
            self.write_header()

    def write_header(self) -> None:
        for col, header in enumerate(self.headers):
            self.sheet.write_string(0, col, header, self.header_format)

    # ------------------------------------------------------------ rows

    def export_item(self, item: Any) -> None:
        if not self.names:
            # Neither fields_to_export nor the spider's item class: the first item's fields.
            if not self.columns_from(type(item)):
                self.columns_from_values(item)
            self.write_header()
        if self.row + 1 >= self.max_rows:
            self.refuse_row()
            return
        self.row += 1
        if isinstance(item, dict):
            values = [item.get(name) for name in self.names]
        elif is_dataclass(item):
            values = [getattr(item, name, None) for name in self.names]
        else:
            adapter = ItemAdapter(item)
            values = [adapter.get(name) for name in self.names]
        row, sheet, widths, types = self.row, self.sheet, self.widths, self.types
        for col, value in enumerate(values):
            if value is None:
                continue
            kind = types[col]
            if kind == "records" and isinstance(value, list) and self.specs[col] is not None:
                value = render_cell(self.specs[col], value) or ""
            if isinstance(value, bool):
                sheet.write_boolean(row, col, value)
                widths[col] = max(widths[col], 5)
                continue
            if isinstance(value, str):
                if kind in ("date", "datetime") and (moment := parse_moment(value)) is not None:
                    self.write_moment(col, moment)
                    continue
                if sheet.write_string(row, col, value) == -2:
                    self.truncated += 1
                width = len(value)
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                if not math.isfinite(value):
                    continue
                sheet.write_number(row, col, value)
                width = len(format_float(value) if isinstance(value, float) else str(value))
            else:
                text = str(value).lower() if isinstance(value, bool) else str(value)
                if sheet.write_string(row, col, text) == -2:
                    self.truncated += 1
                width = len(text)
            widths[col] = max(widths[col], width)

    def write_moment(self, col: int, moment: date | datetime) -> None:
        if moment.year < 1900:  # before Excel's calendar: kept as text
            self.sheet.write_string(self.row, col, moment.isoformat())
            return
        is_datetime = isinstance(moment, datetime)
        self.sheet.write_datetime(
            self.row, col, moment, self.datetime_format if is_datetime else self.date_format
        )
        width = self.DATETIME_WIDTH if is_datetime else self.DATE_WIDTH
        self.widths[col] = max(self.widths[col], width)

    def columns_from_values(self, item: Any) -> None:
        names = list(ItemAdapter(item).keys())
        self.names, self.headers, self.types = names, names, [""] * len(names)
        self.specs = [None] * len(names)
        self.widths = [len(n) for n in names]

    def refuse_row(self) -> None:
        """A row beyond what the sheet holds: not written, and the run is incomplete."""
        self.over_limit += 1
        if self.over_limit > 1 or self.crawler is None:
            return
        name = getattr(self.file, "name", None)
        output = Path(name).name if isinstance(name, str) else "the xlsx output"
        message = (
            f"{output} holds at most {self.max_rows - 1} rows below its header: the rows "
            "beyond are not written (write a CSV for the whole extraction)"
        )
        logger.error("%s", message)
        mark_incomplete(self.crawler, message)

    # ------------------------------------------------------------ end

    def close_workbook(self) -> None:
        """Write the workbook; a file that cannot be written raises OSError, as every other
        exporter does (xlsxwriter wraps it in its own FileCreateError), so the run fails
        in one line. The half-written zip then fails again as it is collected: that second
        report is not shown."""
        from xlsxwriter.exceptions import FileCreateError

        failure: OSError | None = None
        hook = sys.unraisablehook
        sys.unraisablehook = lambda _: None
        try:
            try:
                self.workbook.close()
            except FileCreateError as exc:
                cause = exc.args[0] if exc.args else None
                failure = (
                    OSError(cause.errno, cause.strerror)
                    if isinstance(cause, OSError)
                    else OSError(str(exc))
                )
                del cause  # its traceback holds the zip: let it go now, quietly
            gc.collect()
        finally:
            sys.unraisablehook = hook
        if failure is not None:
            raise failure

    def finish_exporting(self) -> None:
        sheet = self.sheet
        for col, width in enumerate(self.widths):
            sheet.set_column(col, col, min(self.MAX_WIDTH, max(self.MIN_WIDTH, width + 2)))
        if self.names:
            sheet.autofilter(0, 0, self.row, len(self.names) - 1)
        if self.sheet_data_size() > XLSX_ZIP64_ABOVE:
            self.workbook.use_zip64()
        self.close_workbook()
        stats = self.crawler.stats if self.crawler is not None else None
        if self.truncated:
            logger.warning(
                "%d text cells longer than Excel's 32 767 characters were cut in the xlsx "
                "(the CSV has them whole)",
                self.truncated,
            )
            if stats is not None:
                stats.inc_value(XLSX_TRUNCATED, self.truncated)
        if self.over_limit and stats is not None:
            stats.inc_value("cpfft/xlsx/rows_over_limit", self.over_limit)

    def sheet_data_size(self) -> int:
        """Bytes of sheet XML written so far (its temporary file in constant-memory mode)."""
        try:
            return Path(self.sheet.row_data_filename).stat().st_size
        except (AttributeError, TypeError, OSError):
            return 0
