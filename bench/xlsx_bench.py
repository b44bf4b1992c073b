"""Benchmark: the xlsx and Parquet exporters on a whole synthetic catalogue — time and memory.

Generates the emulator's catalogue (tests/fakeapi/cpfdata.py), cleans each row
as the crawl does (cpfft.pipelines.CleanPipeline) and exports it through
cpfft's feed exporter, once as CSV, once as xlsx and once as Parquet, each in
its own process. Memory must not grow with the number of rows: the xlsx
exporter keeps one row in memory (XlsxWriter's constant-memory mode), the
Parquet one a row group (cpfft.parquet.ROW_GROUP_ROWS rows), so both are
measured for two catalogue sizes.

    python bench/xlsx_bench.py                 # 50 000 and 200 000 rows
    python bench/xlsx_bench.py --rows 200000 --format parquet

Per run: peak RSS of the process (``ru_maxrss``), what loading the format's
library costs (XlsxWriter; pyarrow), RSS once the rows are generated and the
library loaded (before any export), the difference (what exporting the rows costs), the exporter's own
time (cleaning and generation left out), and the file's size.
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FORMATS = ("csv", "xlsx", "parquet")


def rss_mb() -> float:
    """Current resident set size, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def load_library(fmt: str) -> None:
    """Load what the exporter imports when it starts (a fixed cost, whatever the rows)."""
    if fmt == "xlsx":
        import xlsxwriter  # noqa: F401
    elif fmt == "parquet":
        import pyarrow.parquet  # noqa: F401


def child(rows: int, fmt: str, output: Path) -> dict:
    sys.path.insert(0, str(REPO))
    from scrapy.utils.test import get_crawler

    from cpfft.exporters import CsvExporter, XlsxExporter
    from cpfft.items import FORMATION_FIELDS, Formation
    from cpfft.parquet import ParquetExporter
    from cpfft.pipelines import CleanPipeline
    from tests.fakeapi.cpfdata import FIELDS, CpfDataset, CpfDatasetConfig

    dataset = CpfDataset(CpfDatasetConfig(rows=rows))
    crawler = get_crawler(settings_dict={"CPFFT_XLSX_MAX_ROWS": 1_048_576})
    crawler.stats.open_spider()
    clean = CleanPipeline(crawler)
    before_library = rss_mb()
    load_library(fmt)
    baseline = rss_mb()
    exporter_cls = {"xlsx": XlsxExporter, "parquet": ParquetExporter}.get(fmt, CsvExporter)
    spent = 0.0
    with output.open("wb") as file:
        stream = io.BufferedWriter(file) if fmt == "csv" else file
        started = time.perf_counter()
        if fmt == "parquet":  # typed from the item class, as in a crawl of the cpf spider
            exporter = ParquetExporter(
                stream, item_class=Formation, crawler=crawler, fields_to_export=FORMATION_FIELDS
            )
        else:
            exporter = exporter_cls.from_crawler(
                crawler, stream, fields_to_export=FORMATION_FIELDS, encoding="utf-8"
            )
        exporter.start_exporting()
        spent += time.perf_counter() - started
        for row in dataset.rows:
            item = clean.process_item(Formation(**dict(zip(FIELDS, row, strict=True))))
            started = time.perf_counter()
            exporter.export_item(item)
            spent += time.perf_counter() - started
        started = time.perf_counter()
        exporter.finish_exporting()
        stream.flush()
        spent += time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "format": fmt,
        "rows": len(dataset.rows),
        "seconds": spent,
        "peak_mb": peak,
        "baseline_mb": baseline,
        "library_mb": baseline - before_library,
        "size_mb": output.stat().st_size / 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, action="append", help="catalogue size (repeatable)")
    parser.add_argument("--format", action="append", choices=FORMATS,
                        help="only this format (repeatable; default: all)")  # fmt: skip
    parser.add_argument("--child", nargs=3, metavar=("ROWS", "FORMAT", "OUTPUT"),
                        help=argparse.SUPPRESS)  # fmt: skip
    args = parser.parse_args()
    if args.child:
        rows, fmt, output = args.child
        print(json.dumps(child(int(rows), fmt, Path(output))))
        return
    results = []
    with tempfile.TemporaryDirectory() as workdir:
        for rows in args.rows or [50_000, 200_000]:
            for fmt in args.format or FORMATS:
                output = Path(workdir) / f"formations_{rows}.{fmt}"
                cmd = [sys.executable, __file__, "--child", str(rows), fmt, str(output)]
                done = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=REPO)
                results.append(json.loads(done.stdout.splitlines()[-1]))
                output.unlink()
    print("| rows | format | exporter time | time per 1 000 rows | peak RSS | library "
          "loaded | RSS before export (data + library) | export's share | file size |")  # fmt: skip
    print("|" + "---|" * 9)
    for r in results:
        print(
            f"| {r['rows']:,} | {r['format']} | {r['seconds']:.1f} s "
            f"| {r['seconds'] / r['rows'] * 1000:.3f} s | {r['peak_mb']:.0f} MB "
            f"| {r['library_mb']:+.0f} MB "
            f"| {r['baseline_mb']:.0f} MB | {r['peak_mb'] - r['baseline_mb']:+.0f} MB "
            f"| {r['size_mb']:.0f} MB |"
        )


if __name__ == "__main__":
    main()
