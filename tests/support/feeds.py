"""``scrapy crawl`` with any feed options, and reading back a CSV it wrote."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from cpfft.exporters import format_float, neutralise_formula
from cpfft.items import Records
from cpfft.records import render_cell
from tests.support.crawling import BOM, clean_env, scrapy_command


def as_csv_cell(value: object, spec: Records | None = None) -> str:
    """What the CSV holds for a (cleaned) value: floats as the exporter writes them,
    booleans as ``true``/``false``, a list field's records as one readable cell
    (``spec`` says what they hold), formula-like text guarded, None empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list) and spec is not None:
        return neutralise_formula(render_cell(spec, value) or "")
    if isinstance(value, float):
        return format_float(value)
    if isinstance(value, str):
        return neutralise_formula(value)
    return str(value)


@dataclass
class Run:
    returncode: int
    log: str
    cwd: Path

    def errors(self) -> list[str]:
        return [line for line in self.log.splitlines() if " ERROR: " in line]


def scrapy_crawl(cwd: Path, spider: str, *options: str, env: dict[str, str] | None = None) -> Run:
    """``scrapy crawl <spider> <options>`` in ``cwd``, e.g. ``"-O", "a.csv", "-o", "b.json"``."""
    proc = scrapy_command(cwd, "crawl", spider, *options, env=clean_env(env))
    return Run(proc.returncode, proc.stderr, cwd)


def csv_dicts(path: Path, delimiter: str = ",") -> list[dict[str, str]]:
    data = path.read_bytes()
    assert data.startswith(BOM)
    assert data.count(BOM) == 1
    rows = list(csv.reader(io.StringIO(data[3:].decode(), newline=""), delimiter=delimiter))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def exported(exporter_class: type, items, *, fields=None, item_class=None, crawler=None,
             **options) -> bytes:  # fmt: skip
    """The bytes ``exporter_class`` writes for ``items``, run as Scrapy's feed exports do."""
    stream = io.BytesIO()
    exporter = exporter_class(
        stream, fields_to_export=fields, item_class=item_class, crawler=crawler, **options
    )
    exporter.start_exporting()
    for item in items:
        exporter.export_item(item)
    exporter.finish_exporting()
    return stream.getvalue()
