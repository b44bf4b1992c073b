"""Typed Parquet feeds: ``scrapy crawl cpf -O formations.parquet``.

Registered in ``FEED_EXPORTERS`` for the ``parquet`` format. Columns are the
item's **field names** (the offers too: no French CSV headers), typed from the
declared field types (:func:`cpfft.items.field_types`):

============  ==================================================
``text``      ``string``
``code``      ``string`` (``01``, ``2A``, a SIRET: never a number)
``int``       ``int64``
``float``     ``float64``
``bool``      ``bool``
``date``      ``date32``
``datetime``  ``timestamp[ms, tz=UTC]``
``records``   ``list<struct<part: string, …>>``: one struct per record, a
              ``string`` per part (``exigence``: ``E`` or ``S``)
============  ==================================================

Empty values are nulls. Each column carries its French description in its
Parquet field metadata (``description``).

**Streamed in row groups**: at most :data:`ROW_GROUP_ROWS` rows are held in
memory; then they are converted to Arrow arrays, written as one row group and
released. The file is written to the file object the feed storage gives (a
local file, or Scrapy's temporary file for remote storage); it is only valid
once closed, which is why ``-o`` (append) and ``JOBDIR`` (resume) cannot take
a Parquet output (see :mod:`cpfft.run.feeds`).

**A value that its column type cannot hold is never dropped silently**: an
``int`` field with a fractional value (cleaning keeps ``7.5`` hours as a float
rather than round it), or a date that is not an ISO 8601 date, cannot go in
an ``int64`` or ``date32`` column. Such a cell is left null, counted in the
``cpfft/parquet/unfit_cells`` stat, and the first one is logged at ERROR with
its column, row and value: the run is then *incomplete* (exit code 1, no
descriptor written), and the CSV of the same crawl holds the value.

pyarrow is only imported when a Parquet output is written; without it, the
checks before the crawl refuse a ``.parquet`` output in one line
(:func:`require_pyarrow`).
"""

from __future__ import annotations

import logging
import math
from array import array
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields, is_dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from itemadapter import ItemAdapter
from scrapy.exporters import BaseItemExporter

from cpfft.errors import ANALYSIS_EXTRA, analysis_module
from cpfft.exporters import declared_records, declared_types, format_float
from cpfft.items import Records
from cpfft.run.state import mark_incomplete

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

#: Rows held in memory before they are written as one row group. A catalogue row is
#: ~3 KB of text: ~6 MB per group as Python objects, as much again as Arrow buffers and
#: the encoded pages (bench/xlsx_bench.py measures it); 100 groups for 200 000 rows,
#: which DuckDB and pandas read in parallel.
ROW_GROUP_ROWS = 2_000
#: Stat: cells left null because their column's type cannot hold the value.
UNFIT_CELLS = "cpfft/parquet/unfit_cells"
#: Stat: rows written to Parquet outputs.
PARQUET_ROWS = "cpfft/parquet/rows"


def require_pyarrow(what: str) -> None:
    """Raise ConfigurationError (one line) if pyarrow cannot be imported."""
    analysis_module("pyarrow", what)
    analysis_module("pyarrow.parquet", what)  # a pyarrow built without Parquet support


def _descriptions(item_class: Any) -> dict[str, str]:
    if item_class is None or not is_dataclass(item_class):
        return {}
    return {f.name: f.metadata.get("description", "") for f in fields(item_class)}


def arrow_type(type_: str, spec: Records | None = None) -> Any:
    """The Arrow type of a declared field type (:data:`cpfft.items.TYPES`); ``spec``: what
    a ``records`` field's records hold."""
    import pyarrow as pa

    if type_ == "records":
        assert spec is not None
        return pa.list_(pa.struct([pa.field(name, pa.string()) for name in spec.names]))
    return {
        "int": pa.int64(),
        "float": pa.float64(),
        "bool": pa.bool_(),
        "date": pa.date32(),
        "datetime": pa.timestamp("ms", tz="UTC"),
    }.get(type_, pa.string())


# ------------------------------------------------------------------ cell conversion
# Each converter takes one value that is not None and returns what the Arrow column
# stores (text, a number; days or milliseconds since 1970 for dates and instants), or
# raises ValueError (TypeError, OverflowError) when the column type cannot hold it.

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_DAY = _EPOCH.date().toordinal()
_MILLISECOND = timedelta(milliseconds=1)
#: array module type codes of the fixed-width columns (int64, float64, int32 days, int64 ms).
_PHYSICAL = {"int": ("q", 0), "float": ("d", 0.0), "date": ("i", 0), "datetime": ("q", 0)}


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format_float(value)
    return str(value)


def _whole(value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError("true/false is not a number")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return int(value)
        raise ValueError("not a whole number")
    text = str(value).strip()
    try:
        return int(text)
    except ValueError:
        number = float(text)  # raises ValueError for text that is not a number
        if math.isfinite(number) and number.is_integer():
            return int(number)
        raise ValueError("not a whole number") from None


def _as_int(value: Any) -> int:
    number = _whole(value)
    if not INT64_MIN <= number <= INT64_MAX:
        raise OverflowError("beyond int64")
    return number


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise TypeError("not true or false")


def _as_records(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, list) and all(isinstance(r, dict) for r in value):
        return value
    raise TypeError("not a list of records")


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool):
        raise TypeError("true/false is not a number")
    number = float(value)
    return number if math.isfinite(number) else None  # as the CSV: empty


@lru_cache(maxsize=4096)
def _parse_date(text: str) -> date:
    return date.fromisoformat(text.strip())


def _as_date(value: Any) -> int:
    """Days since 1970-01-01 (date32)."""
    if isinstance(value, datetime):
        day = value.date()
    elif isinstance(value, date):
        day = value
    else:
        day = _parse_date(str(value))
    return day.toordinal() - _EPOCH_DAY


def _as_datetime(value: Any) -> int:
    """Milliseconds since 1970-01-01T00:00Z (timestamp[ms, UTC])."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).strip())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # instants of the outputs are UTC
    return (moment - _EPOCH) // _MILLISECOND


CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "text": _as_text,
    "code": _as_text,
    "int": _as_int,
    "float": _as_float,
    "bool": _as_bool,
    "records": _as_records,
    "date": _as_date,
    "datetime": _as_datetime,
}


def _bitmap(flags: Sequence[bool]) -> Any:
    """Arrow's bit-packed buffer of ``flags`` (validity, booleans): least significant first."""
    import pyarrow as pa

    bits = 0
    for position, flag in enumerate(flags):
        if flag:
            bits |= 1 << position
    return pa.py_buffer(bits.to_bytes((len(flags) + 7) // 8, "little"))


def _strings(cells: list[Any]) -> Any:
    from pyarrow.lib import StringBuilder

    builder = StringBuilder()
    builder.append_values(cells)
    return builder.finish()


def _records_array(arrow: Any, cells: list[Any]) -> Any:
    """``list<struct<…>>`` from lists of records (dicts of text) and Nones."""
    import pyarrow as pa

    struct_type = arrow.value_type
    names = [struct_type.field(i).name for i in range(struct_type.num_fields)]
    offsets, flat = [0], []
    for records in cells:
        flat.extend(records or ())
        offsets.append(len(flat))
    children = [_strings([record.get(name) for record in flat]) for name in names]
    values = pa.StructArray.from_arrays(children, fields=list(struct_type))
    nulls = cells.count(None)
    validity = _bitmap([c is not None for c in cells]) if nulls else None
    offset_buffer = pa.py_buffer(array("i", offsets))
    return pa.ListArray.from_buffers(
        arrow, len(cells), [validity, offset_buffer], null_count=nulls, children=[values]
    )


def build_array(type_: str, arrow: Any, cells: list[Any]) -> Any:
    """An Arrow array of ``cells`` (converted values and Nones), built from buffers.

    Not with ``pyarrow.array()``: its first call imports pandas when installed (~50 MB
    of memory for nothing), and it would truncate a float in an int64 column.
    """
    import pyarrow as pa

    if type_ == "records":
        return _records_array(arrow, cells)
    nulls = cells.count(None)
    validity = _bitmap([v is not None for v in cells]) if nulls else None
    if type_ == "bool":
        data = _bitmap([v is True for v in cells])
        return pa.Array.from_buffers(arrow, len(cells), [validity, data], null_count=nulls)
    if type_ not in _PHYSICAL:
        return _strings(cells)
    code_, zero = _PHYSICAL[type_]
    data = pa.py_buffer(array(code_, [zero if v is None else v for v in cells]))
    return pa.Array.from_buffers(arrow, len(cells), [validity, data], null_count=nulls)


class ParquetExporter(BaseItemExporter):
    """A typed Parquet file, written one row group at a time (see the module doc)."""

    def __init__(
        self,
        file: Any,
        *,
        item_class: type | None = None,
        crawler: Crawler | None = None,
        row_group_rows: int = ROW_GROUP_ROWS,
        compression: str = "zstd",
        **kwargs: Any,
    ):
        super().__init__(dont_fail=True, **kwargs)
        self.file = file
        self.item_class = item_class
        self.crawler = crawler
        self.row_group_rows = max(1, row_group_rows)
        self.compression = compression
        self.names: list[str] = []
        self.types: list[str] = []
        self.specs: dict[str, Records] = {}
        self.rows: list[list[Any]] = []  # the row group being gathered
        self.written = 0  # rows written to the file so far
        self.unfit = 0
        self.schema: Any = None
        self.writer: Any = None

    @classmethod
    def from_crawler(cls, crawler: Crawler, file: Any, **kwargs: Any) -> ParquetExporter:
        return cls(
            file,
            item_class=getattr(crawler.spider, "item_class", None),
            crawler=crawler,
            **kwargs,
        )

    # ------------------------------------------------------------ layout

    def columns_from(self, item_class: type | None) -> bool:
        """Set the columns from fields_to_export or the item class; False if unknown."""
        exported = self.fields_to_export
        if isinstance(exported, Mapping):
            names = list(exported)  # field names, not the CSV's headers
        elif exported is not None:
            names = list(exported)
        elif item_class is not None and is_dataclass(item_class):
            names = [f.name for f in fields(item_class)]
        else:
            return False
        declared = declared_types(item_class)
        self.names = names
        self.types = [declared.get(name, "text") for name in names]
        self.specs = declared_records(item_class)
        self.open_writer(_descriptions(item_class))
        return True

    def open_writer(self, descriptions: Mapping[str, str]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        # Arrow's default allocator (mimalloc) keeps the pages of each finished row group for
        # reuse; the system one gives them back: 279 MB instead of 300 MB at the peak of a
        # 200 000-row crawl. Nothing else in a crawl allocates through Arrow.
        pa.set_memory_pool(pa.system_memory_pool())

        columns = []
        for name, type_ in zip(self.names, self.types, strict=True):
            description = descriptions.get(name)
            metadata = {"description": description} if description else None
            arrow = arrow_type(type_, self.specs.get(name))
            columns.append(pa.field(name, arrow, nullable=True, metadata=metadata))
        self.schema = pa.schema(columns)
        # Min/max statistics (what lets DuckDB skip row groups) for codes, numbers and dates:
        # those of long texts would be kept in memory until the footer, up to 8 KB per
        # column and row group, to filter on nobody does.
        statistics = [
            n for n, t in zip(self.names, self.types, strict=True) if t not in ("text", "records")
        ]
        self.writer = pq.ParquetWriter(
            self.file, self.schema, compression=self.compression, write_statistics=statistics
        )

    def start_exporting(self) -> None:
        try:
            import pyarrow  # noqa: F401  (only runs that write Parquet need it)
        except ImportError:
            raise RuntimeError(
                f"a Parquet output needs the analysis extra (pyarrow): {ANALYSIS_EXTRA}"
            ) from None
        self.columns_from(self.item_class)

    # ------------------------------------------------------------ rows

    def export_item(self, item: Any) -> None:
        if self.writer is None and not self.columns_from(type(item)):
            # Neither fields_to_export nor a dataclass: the first item's fields, as text.
            self.names = list(ItemAdapter(item).keys())
            self.types = ["text"] * len(self.names)
            self.open_writer({})
        if isinstance(item, dict):
            values = [item.get(name) for name in self.names]
        elif is_dataclass(item):
            values = [getattr(item, name, None) for name in self.names]
        else:
            adapter = ItemAdapter(item)
            values = [adapter.get(name) for name in self.names]
        self.rows.append(values)
        if len(self.rows) >= self.row_group_rows:
            self.write_row_group()

    def write_row_group(self) -> None:
        """Convert the gathered rows to Arrow columns, write them as one row group, release."""
        if not self.rows:
            return
        import pyarrow as pa

        first = self.written
        columns = list(zip(*self.rows, strict=True))
        self.rows = []
        arrays = [self.column(index, values, first) for index, values in enumerate(columns)]
        del columns
        table = pa.Table.from_arrays(arrays, schema=self.schema)
        self.writer.write_table(table, row_group_size=table.num_rows)
        self.written += table.num_rows

    def column(self, index: int, values: Sequence[Any], first: int) -> Any:
        """One column of a row group as an Arrow array (``first``: the group's first row)."""
        type_ = self.types[index]
        # Fast paths: the cleaned values are already of the column's type.
        if type_ in ("text", "code"):
            ready = all(v is None or type(v) is str for v in values)
        elif type_ == "float":
            # NaN and infinities are empty in the CSV: _as_float makes them nulls.
            ready = all(v is None or (type(v) in (int, float) and math.isfinite(v)) for v in values)
        elif type_ == "int":
            # Only ints: 7.5 is refused by _as_int, never truncated to 7.
            ready = all(v is None or (type(v) is int and INT64_MIN <= v <= INT64_MAX)
                        for v in values)  # fmt: skip
        elif type_ == "bool":
            ready = all(v is None or type(v) is bool for v in values)
        else:
            ready = False
        if ready:
            cells = list(values)
        else:
            convert = CONVERTERS[type_]
            cells = []
            for offset, value in enumerate(values):
                if value is None:
                    cells.append(None)
                    continue
                try:
                    cells.append(convert(value))
                except (ValueError, TypeError, OverflowError) as exc:
                    cells.append(None)
                    self.refuse_cell(self.names[index], type_, value, first + offset + 1, exc)
        return build_array(type_, self.schema.field(index).type, cells)

    def refuse_cell(self, name: str, type_: str, value: Any, row: int, exc: Exception) -> None:
        """A value the column cannot hold: null in the file, never silently."""
        self.unfit += 1
        if self.unfit > 1:
            return
        output = self.output_name()
        shown = repr(value)
        if len(shown) > 60:
            shown = shown[:60] + "…"
        column = {"int": "an int64", "date": "a date32", "datetime": "a timestamp",
                  "float": "a float64", "bool": "a bool",
                  "records": "a list of records"}.get(type_, "a string")  # fmt: skip
        message = (
            f"{output}: {name} = {shown} in row {row} does not fit {column} column "
            f"({exc}); the cell is left empty and the run is incomplete (the CSV of the same "
            "crawl holds the value)"
        )
        logger.error("%s", message)
        if self.crawler is not None:
            mark_incomplete(self.crawler, message)

    def output_name(self) -> str:
        name = getattr(self.file, "name", None)
        return Path(name).name if isinstance(name, str) else "the Parquet output"

    # ------------------------------------------------------------ end

    def finish_exporting(self) -> None:
        if self.writer is None:
            # No column known and no row: a file with no column at all.
            import pyarrow as pa
            import pyarrow.parquet as pq

            self.schema = pa.schema([])
            self.writer = pq.ParquetWriter(self.file, self.schema, compression=self.compression)
        self.write_row_group()
        self.writer.close()
        stats = self.crawler.stats if self.crawler is not None else None
        if stats is not None:
            stats.inc_value(PARQUET_ROWS, self.written)
        if self.unfit:
            if self.unfit > 1:
                logger.error(
                    "%s: %d cells in all did not fit their column type and were left empty",
                    self.output_name(),
                    self.unfit,
                )
            if stats is not None:
                stats.inc_value(UNFIT_CELLS, self.unfit)
