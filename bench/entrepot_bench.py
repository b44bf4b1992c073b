"""Benchmark: the DuckDB warehouse (``scrapy entrepot``) and its ``metiers`` bridge.

Writes a synthetic catalogue (200 000 rows) and 25 000 offers, from the
emulators' own data generators (tests/fakeapi: realistic texts, départements,
ROME codes, salaries), through the project's CSV exporter, exactly as a crawl
writes them; then measures, each in its own process:

1. ``scrapy entrepot`` from the two CSV files (load, checks, bridge, atomic replace);
2. the same from Parquet files of the same rows (written with DuckDB, typed as the
   Parquet exporter types them);
3. the bridge alone, recomputed on the loaded warehouse;
4. the next morning's partial run: a ``….depuis.csv`` of 1 000 offers (half of them
   updates) and a changes file withdrawing 500, applied to the warehouse.

    pip install -e '.[analyse]'
    python bench/entrepot_bench.py                       # 200 000 rows + 25 000 offers
    python bench/entrepot_bench.py --rows 20000 --offers 5000

Peak RSS is the child's own ``ru_maxrss`` (os.wait4): the data generation, done in
this process beforehand, is not counted.
"""

# ruff: noqa: S608 - SQL on the bench's own files
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO, measure_command

sys.path.insert(0, str(REPO))


def write_inputs(work: Path, rows: int, offers: int) -> dict[str, int]:
    from cpfft.items import Formation
    from cpfft.offres.search import offre_from_api
    from tests.entrepot.files import write_changes, write_csv
    from tests.fakeapi.cpfdata import CpfDataset, CpfDatasetConfig
    from tests.fakeapi.ftdata import FtDataset, FtDatasetConfig

    catalogue = CpfDataset(CpfDatasetConfig(rows=rows))
    formations = [
        Formation(*(str(v) if isinstance(v, int) else v for v in row)) for row in catalogue.rows
    ]
    write_csv(work / "formations.csv", formations)
    del formations, catalogue
    stock = FtDataset(FtDatasetConfig(offers=offers))
    write_csv(work / "offres.csv", [offre_from_api(o.data) for o in stock.offers])
    # The next morning: 500 withdrawn, 500 updated, 500 published.
    changes = stock.evolve(withdraw=500, update=500, publish=500)
    changed = set(changes["updated"]) | set(changes["published"])
    morning = [offre_from_api(o.data) for o in stock.offers if o.data["id"] in changed]
    write_csv(work / "matin.depuis.csv", morning)
    write_changes(work / "matin.depuis.changes.csv",
                  [("retirée", i) for i in changes["withdrawn"]]
                  + [("modifiée", i) for i in changes["updated"]]
                  + [("ajoutée", i) for i in changes["published"]])  # fmt: skip
    return {"formations.csv": (work / "formations.csv").stat().st_size,
            "offres.csv": (work / "offres.csv").stat().st_size}  # fmt: skip


def write_parquet(work: Path) -> None:
    """Parquet copies of the loaded tables (typed columns, field names)."""
    import duckdb

    from cpfft.items import Offre, field_records, field_types

    lists = field_records(Offre)

    def column(name: str) -> str:
        """A column of the offers' Parquet file; a list field as the Parquet exporter writes
        it (a list of structs), rebuilt from its child table."""
        spec = lists.get(name)
        if spec is None:
            return name
        parts = ", ".join(f'"{n}" := c."{n}"' for n in spec.names)
        return (f"(SELECT list(struct_pack({parts}) ORDER BY c.rang) FROM {spec.table} c "
                f"WHERE c.id = o.id) AS {name}")  # fmt: skip

    with duckdb.connect(str(work / "csv.duckdb"), read_only=True) as con:
        con.execute(f"COPY formations TO '{work / 'formations.parquet'}' (FORMAT parquet)")
        names = ", ".join(column(n) for n in field_types(Offre))
        con.execute(
            f"COPY (SELECT {names} FROM offres o) TO '{work / 'offres.parquet'}' (FORMAT parquet)"
        )


def bridge_only(path: str) -> None:
    """(Child process) recompute the bridge of a loaded warehouse."""
    import duckdb

    from cpfft.entrepot.load import _geography
    from cpfft.entrepot.metiers import build_metiers
    from cpfft.entrepot.sql import bound, spill_folder

    with duckdb.connect(path) as con:
        bound(con, spill_folder(Path(path)))  # as scrapy entrepot does
        _geography(con, "offres")
        con.execute("DROP TABLE metiers")
        summary = build_metiers(con)
    print(f"bridge rows: {summary.rows}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--offers", type=int, default=25_000)
    parser.add_argument("--bridge-only", metavar="WAREHOUSE", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.bridge_only:
        bridge_only(options.bridge_only)
        return 0
    scrapy = [sys.executable, "-m", "scrapy", "entrepot"]
    results = []
    with tempfile.TemporaryDirectory(prefix="cpfft-entrepot-bench-") as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        sizes = write_inputs(work, options.rows, options.offers)
        print(f"inputs written in {time.perf_counter() - started:.1f} s: "
              + ", ".join(f"{n} {s / 1e6:.0f} MB" for n, s in sizes.items()))  # fmt: skip
        runs = [
            ("load from CSV + bridge", [*scrapy, "csv.duckdb", "--formations", "formations.csv",
                                        "--offres", "offres.csv"]),
            ("load from Parquet + bridge", [*scrapy, "parquet.duckdb", "--formations",
                                            "formations.parquet", "--offres", "offres.parquet"]),
            ("bridge alone", [sys.executable, str(REPO / "bench" / "entrepot_bench.py"),
                              "--bridge-only", "csv.duckdb"]),
            ("next morning: partial run + changes", [
                *scrapy, "csv.duckdb", "--formations", "formations.csv",
                "--offres", "matin.depuis.csv", "--changements", "matin.depuis.changes.csv"]),
        ]  # fmt: skip
        for label, cmd in runs:
            if label.startswith("load from Parquet"):
                write_parquet(work)
            wall, rss, code, out = measure_command(cmd, work)
            results.append((label, wall, rss, code))
            if code:
                print(out)
            else:
                print(f"{label}: " + " / ".join(out.strip().splitlines()[:2]))
    print(f"\n{options.rows:,} catalogue rows, {options.offers:,} offers".replace(",", " "))
    print("| step | wall time | peak RSS | exit |")
    print("|---|---|---|---|")
    for label, wall, rss, code in results:
        print(f"| {label} | {wall:.1f} s | {rss:.0f} MB | {code} |")
    print(f"\nmachine: {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
