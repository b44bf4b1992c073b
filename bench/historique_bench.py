"""Benchmark: the daily warehouse load with a long history, into DuckDB and PostgreSQL.

National scale: about 720 000 offers online (a public ``Content-Range`` of the
national query showed it) and 15 000 added and 15 000 withdrawn each day. The bench
measures the real daily load (``scrapy entrepot`` without options, over scheduled
runs under ``CPFFT_OUTPUT_DIR``) on day 1, day 30 and day 60:

- day 1 loads a whole extraction of the stock (history starts);
- before day 30 and day 60, the history of the days in between is added to the
  warehouse as those loads would have left it (15 000 withdrawn offers per day in
  ``offres_historique``, one ``chargements`` row per day): generating 58 national
  files would take hours and measure nothing more, since a load only reads the
  history and writes it forward;
- day 30 and day 60 then load a new whole extraction: the stock after a day of
  15 000 withdrawals, 5 000 updates and 15 000 publications.

Offers are the emulator's (tests/fakeapi: realistic texts, places, ROME codes,
salaries): a base of distinct offers, repeated under new ids and dates to reach the
stock, written by the project's CSV exporter as a crawl writes them. The same runs
are loaded into a DuckDB file and into a PostgreSQL schema (a server started here on
127.0.0.1, as the tests do). Reported per day: wall time, peak RSS of the
``scrapy entrepot`` process (PostgreSQL's own server processes not included),
warehouse size (file, or the schema's tables and indexes), history rows.

    pip install -e '.[analyse,postgresql]'
    python bench/historique_bench.py                      # 720 000 offers, 15 000 a day
    python bench/historique_bench.py --offers 72000 --churn 1500
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import REPO, measure_command

sys.path.insert(0, str(REPO))

DAY0 = datetime(2026, 10, 1, 1, 0, tzinfo=UTC)


class Stock:
    """The offers online: a base of distinct emulator offers, repeated under new ids."""

    def __init__(self, offers: int, base: int = 20_000):
        from tests.fakeapi.ftdata import FtDataset, FtDatasetConfig

        self.base = [o.data for o in FtDataset(FtDatasetConfig(offers=min(base, offers))).offers]
        self.online: dict[int, tuple[int, int]] = {i: (i, 0) for i in range(offers)}
        self.next = offers

    def evolve(self, withdraw: int, update: int, publish: int, day: int) -> None:
        keys = list(self.online)
        for key in keys[:withdraw]:  # the oldest go
            del self.online[key]
        for key in keys[withdraw : withdraw + update]:
            self.online[key] = (self.online[key][0], day)
        for _ in range(publish):
            self.online[self.next] = (self.next, day)
            self.next += 1

    def offer(self, key: int, updated_day: int, at: datetime):
        from cpfft.offres.search import offre_from_api

        data = dict(self.base[key % len(self.base)])
        data["id"] = f"{key:07d}X"
        data["dateActualisation"] = (DAY0 + timedelta(days=updated_day)).strftime(
            "%Y-%m-%dT%H:%M:%S.000Z")  # fmt: skip
        return offre_from_api(data)

    def write_run(self, folder: Path, at: datetime) -> Path:
        """A whole extraction as a scheduled run leaves it: file, descriptor, latest.csv."""
        from cpfft.exporters import CsvExporter
        from cpfft.items import OFFRE_HEADERS
        from cpfft.run.output import LATEST_DESCRIPTOR, publish

        folder.mkdir(parents=True, exist_ok=True)
        path = folder / (at.strftime("%Y%m%dT%H%M%S.000Z") + ".csv")
        with path.open("wb") as file:
            exporter = CsvExporter(file, fields_to_export=OFFRE_HEADERS)
            exporter.start_exporting()
            for key, (_, day) in self.online.items():
                exporter.export_item(self.offer(key, day, at))
            exporter.finish_exporting()
        describe(path, "offres", len(self.online), at)
        publish(path)
        publish(path.with_name(path.name + ".datapackage.json"), LATEST_DESCRIPTOR)
        return path


def describe(path: Path, spider: str, rows: int, at: datetime) -> None:
    own = {"spider": spider, "outcome": "complete", "rows": rows,
           "extracted_at": at.isoformat(), "partial": False}  # fmt: skip
    path.with_name(path.name + ".datapackage.json").write_text(
        json.dumps({"cpfft": own, "resources": [{"path": path.name}]}), "utf-8")  # fmt: skip


def write_catalogue(folder: Path, rows: int, at: datetime) -> None:
    from cpfft.items import Formation
    from cpfft.run.output import LATEST_DESCRIPTOR, publish
    from tests.entrepot.files import write_csv
    from tests.fakeapi.cpfdata import CpfDataset, CpfDatasetConfig

    folder.mkdir(parents=True, exist_ok=True)
    catalogue = CpfDataset(CpfDatasetConfig(rows=rows))
    formations = [
        Formation(*(str(v) if isinstance(v, int) else v for v in row)) for row in catalogue.rows
    ]
    path = write_csv(folder / (at.strftime("%Y%m%dT%H%M%S.000Z") + ".csv"), formations)
    describe(path, "cpf", rows, at)
    publish(path)
    publish(path.with_name(path.name + ".datapackage.json"), LATEST_DESCRIPTOR)


#: The history of days ``first``..``last`` as their loads leave it: per day, ``churn``
#: offers withdrawn (versions closed), and one chargements row.
HISTORY_SQL = [
    """INSERT INTO {s}offres_historique (id, date_actualisation, date_publication, code_rome,
       departement, region, type_contrat, premiere_vue, derniere_vue, fin, retiree_le,
       jour_debut, jour_fin)
       SELECT 'H' || d || '-' || i, t - INTERVAL '5 days', t - INTERVAL '20 days',
              'M' || (1000 + i % 500), lpad(CAST(1 + i % 95 AS VARCHAR), 2, '0'), '11', 'CDI',
              t - INTERVAL '19 days', t - INTERVAL '1 day', t, t,
              CAST(t - INTERVAL '19 days' AS DATE), CAST(t AS DATE)
       FROM (SELECT d, TIMESTAMPTZ '{day0}' + d * INTERVAL '1 day' AS t
             FROM {range_days}) days, {range_churn}""",
    """INSERT INTO {s}chargements SELECT 'offres', 'jour' || d || '.csv',
       TIMESTAMPTZ '{day0}' + d * INTERVAL '1 day', CAST(TIMESTAMPTZ '{day0}' + d * INTERVAL
       '1 day' AS DATE), false, false, {online}, {online}, {churn}, {update}, {churn}, now()
       FROM {range_days}""",
]


def add_history(run_sql, first: int, last: int, churn: int, online: int, pg: bool) -> None:
    if pg:
        days, churned = (f"generate_series({first}, {last}) AS r(d)",
                         f"generate_series(0, {churn - 1}) AS c(i)")  # fmt: skip
    else:
        days, churned = f"range({first}, {last + 1}) r(d)", f"range({churn}) c(i)"
    for sql in HISTORY_SQL:
        run_sql(sql.format(s="cpfft." if pg else "", day0=DAY0.isoformat(), range_days=days,
                           range_churn=churned, churn=churn, update=churn // 3,
                           online=online))  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--offers", type=int, default=720_000)
    parser.add_argument("--churn", type=int, default=15_000, help="added and withdrawn a day")
    parser.add_argument("--formations", type=int, default=20_000)
    parser.add_argument("--only", choices=["duckdb", "postgresql"])
    options = parser.parse_args()
    import duckdb

    from tests.support import postgresql as pgsupport

    work = Path(tempfile.mkdtemp(prefix="cpfft-bench-historique-"))
    base = work / "out"
    print(f"folder: {work}")
    started = time.perf_counter()
    stock = Stock(options.offers)
    write_catalogue(base / "cpf", options.formations, DAY0)
    server = process = None
    backends = [options.only] if options.only else ["duckdb", "postgresql"]
    if "postgresql" in backends:
        server, process = pgsupport.start(work / "pg")
    scrapy = [sys.executable, "-m", "scrapy", "entrepot"]
    results: dict[str, list[tuple]] = {b: [] for b in backends}
    previous_day = 0
    try:
        for day in (1, 30, 60):
            if day > 1:
                stock.evolve(options.churn, options.churn // 3, options.churn, day)
            at = DAY0 + timedelta(days=day, hours=1)
            for old in (base / "offres").glob("*.csv*"):
                if old.name.endswith(".csv") and not old.name.startswith("latest"):
                    old.unlink()  # keep one run on disk: the bench loads only the newest
            t0 = time.perf_counter()
            run = stock.write_run(base / "offres", at)
            print(f"day {day}: wrote {run.stat().st_size / 1e9:.2f} GB "
                  f"({len(stock.online)} offers) in {time.perf_counter() - t0:.0f} s")  # fmt: skip
            for backend in backends:
                if previous_day and day - 1 > previous_day:  # the days in between
                    if backend == "duckdb":
                        with duckdb.connect(str(work / "w.duckdb")) as con:
                            add_history(con.execute, previous_day + 1, day - 1, options.churn,
                                        len(stock.online), pg=False)  # fmt: skip
                    else:
                        assert server is not None
                        with server.connect() as conn:
                            add_history(conn.execute, previous_day + 1, day - 1,
                                        options.churn, len(stock.online), pg=True)  # fmt: skip
                env = {"CPFFT_OUTPUT_DIR": str(base)}
                if backend == "duckdb":
                    target = "w.duckdb"
                else:
                    assert server is not None
                    target, env = server.url, env | server.env
                wall, rss, code, out = measure_command([*scrapy, target], work, env)
                if code != 0:
                    print(out)
                    return 1
                size, history = sizes(backend, work, server)
                results[backend].append((day, wall, rss, size, history))
                print(f"  {backend}: {wall:.1f} s, {rss:.0f} MB, {size / 1e9:.2f} GB, "
                      f"{history} history rows")  # fmt: skip
            previous_day = day
    finally:
        if server is not None and process is not None:
            pgsupport.stop(server, process)
    print(f"\n{options.offers} offers online, {options.churn} added and withdrawn a day "
          f"(bench: {time.perf_counter() - started:.0f} s)\n")  # fmt: skip
    print(
        "| entrepôt | jour | durée du chargement | pic de mémoire | taille | lignes d'historique |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for backend, rows in results.items():
        for day, wall, rss, size, history in rows:
            print(f"| {backend} | {day} | {wall:.0f} s | {rss:.0f} Mo | {size / 1e9:.2f} Go | "
                  f"{history:,} |".replace(",", "\u202f"))  # fmt: skip
    return 0


def sizes(backend: str, work: Path, server) -> tuple[int, int]:
    """Warehouse size in bytes, and rows of offres_historique."""
    import duckdb

    if backend == "duckdb":
        with duckdb.connect(str(work / "w.duckdb"), read_only=True) as con:
            rows = con.execute("SELECT count(*) FROM offres_historique").fetchone()[0]
        return (work / "w.duckdb").stat().st_size, rows
    with server.connect() as conn:
        size = conn.execute(
            "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n ON "
            "n.oid = c.relnamespace WHERE n.nspname = 'cpfft' AND c.relkind = 'r'"
        ).fetchone()[0]
        rows = conn.execute("SELECT count(*) FROM cpfft.offres_historique").fetchone()[0]
    return int(size), rows


if __name__ == "__main__":
    sys.exit(main())
