"""The warehouse day after day: scheduled full and ``depuis=dernier`` runs kept under
CPFFT_OUTPUT_DIR, loaded without options after each one; the mirror of the newest run,
the history tables, idempotent and in-order loads, and ``--reconstruire``.

The market is simulated here: every offer has its creation time, the time the API
indexed it (a late-indexed offer is created before a run but shows after it) and its
versions; every run's file is what that run would have returned. The expected mirror
and the offers online on each day are computed from that simulation, independently of
the warehouse's code.
"""

# ruff: noqa: S608 - SQL on the test's own tables
from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

from cpfft.run.output import LATEST_CHANGES, LATEST_DESCRIPTOR, publish
from tests.entrepot.files import entrepot, formation, offer, write_changes, write_csv

PARIS = ZoneInfo("Europe/Paris")
START = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%S.") + f"{moment.microsecond // 1000:03d}Z"


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def describe(path: Path, spider: str, rows: int, moment: datetime, partial: bool) -> None:
    """The run's descriptor, as a complete scheduled run writes it, and its publication: a
    whole extraction becomes latest.csv (with its descriptor); every run's changes file
    becomes latest.changes.csv."""
    own = {"spider": spider, "outcome": "complete", "rows": rows,
           "extracted_at": moment.isoformat(), "partial": partial}  # fmt: skip
    descriptor = {"cpfft": own, "resources": [{"path": path.name}]}
    described = path.with_name(path.name + ".datapackage.json")
    described.write_text(json.dumps(descriptor), "utf-8")
    if not partial:
        publish(path)
        publish(described, LATEST_DESCRIPTOR)


@dataclass
class Posting:
    id: str
    created: datetime
    indexed: datetime  # when the API starts returning it (late-indexed: after a run)
    updated: datetime
    rome: str
    departement: str


@dataclass
class Market:
    """The offers online, and the warehouse's expected mirror after each run."""

    base: Path
    rng: random.Random = field(default_factory=lambda: random.Random(21))
    online: dict[str, Posting] = field(default_factory=dict)
    count: int = 0
    #: The mirror the newest run proves: id → dateActualisation (ISO).
    mirror: dict[str, str] = field(default_factory=dict)
    last_run: datetime | None = None
    #: (moment, mirror after the run): to know what was online at the end of each day.
    history: list[tuple[datetime, dict[str, str]]] = field(default_factory=list)
    #: Per Paris day: offers added, updated and withdrawn by its runs.
    events: dict[date, list[int]] = field(default_factory=dict)

    def publish(self, at: datetime, indexed: datetime | None = None) -> str:
        self.count += 1
        offer_id = f"{self.count:06d}A"
        rome = self.rng.choice(["M1805", "J1501", "K2204"])
        dept = self.rng.choice(["75", "69", "13", "2A"])
        self.online[offer_id] = Posting(offer_id, at, indexed or at, at, rome, dept)
        return offer_id

    def withdraw(self, n: int) -> None:
        for offer_id in self.rng.sample(sorted(self.online), n):
            del self.online[offer_id]

    def update(self, n: int, at: datetime) -> None:
        for offer_id in self.rng.sample(sorted(self.online), n):
            self.online[offer_id].updated = at

    def visible(self, at: datetime) -> list[Posting]:
        return [p for p in self.online.values() if p.indexed <= at]

    def run(self, at: datetime, partial: bool) -> Path:
        """Write the run's file, descriptor and changes file as a scheduled run does."""
        seen = self.visible(at)
        if partial:  # only the offers created since the previous run
            assert self.last_run is not None
            seen = [p for p in seen if p.created >= self.last_run]
        folder = self.base / "offres"
        folder.mkdir(parents=True, exist_ok=True)
        name = stamp(at) + (".depuis.csv" if partial else ".csv")
        rows = [offer(p.id, code_rome=p.rome, departement=p.departement,
                      date_publication=iso(p.created), date_actualisation=iso(p.updated))
                for p in sorted(seen, key=lambda p: p.id)]  # fmt: skip
        path = write_csv(folder / name, rows)
        describe(path, "offres", len(rows), at, partial)
        new = {p.id: iso(p.updated) for p in seen}
        before = dict(self.mirror)
        after = before | new if partial else new
        added = [i for i in after if i not in before]
        updated = [i for i in new if i in before and before[i] != new[i]]
        withdrawn = [] if partial else [i for i in before if i not in after]
        changes = [("ajoutée", i) for i in added] + [("modifiée", i) for i in updated]
        changes += [("retirée", i) for i in withdrawn]
        publish(write_changes(path.with_name(name.removesuffix(".csv") + ".changes.csv"),
                              changes), LATEST_CHANGES)  # fmt: skip
        day = at.astimezone(PARIS).date()
        if self.history:  # the first run starts the history: its rows are not "added"
            counts = self.events.setdefault(day, [0, 0, 0])
            for i, n in enumerate((added, updated, withdrawn)):
                counts[i] += len(n)
        self.mirror = after
        self.last_run = at
        self.history.append((at, dict(after)))
        return path

    def online_at_end_of(self, day: date) -> set[str]:
        proved: dict[str, str] = {}
        for moment, mirror in self.history:
            if moment.astimezone(PARIS).date() <= day:
                proved = mirror
        return set(proved)


def catalogue(base: Path, at: datetime, prices: dict[str, float]) -> Path:
    """A catalogue snapshot: one row per training (département 75), its price."""
    folder = base / "cpf"
    folder.mkdir(parents=True, exist_ok=True)
    rows = [formation(n, "75", code_rome_1="M1805", frais_ttc_tot_min=p, frais_ttc_tot_max=p,
                      nombre_heures_total_min=35, nombre_heures_total_max=35)
            for n, p in sorted(prices.items())]  # fmt: skip
    path = write_csv(folder / (stamp(at) + ".csv"), rows)
    describe(path, "cpf", len(rows), at, False)
    return path


def query(db: Path, sql: str, *params):
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


def online_on(db: Path, day: date) -> set[str]:
    """The README's query: the offers online at the end of ``day``."""
    rows = query(db, "SELECT id FROM offres_historique WHERE jour_debut <= ? AND "
                 "(jour_fin IS NULL OR jour_fin > ?)", day, day)  # fmt: skip
    return {r[0] for r in rows}


def mirror(db: Path) -> dict[str, str]:
    rows = query(db, "SELECT id, strftime(date_actualisation, '%Y-%m-%dT%H:%M:%S.%gZ') "
                 "FROM offres")  # fmt: skip
    return dict(rows)


def load(work: Path, base: Path, *extra: str, name: str = "w.duckdb"):
    return entrepot(work, name, *extra, env={"CPFFT_OUTPUT_DIR": str(base)})


class Backend:
    """Where ``scrapy entrepot`` puts the warehouse: a DuckDB file, or a PostgreSQL schema
    (read back here through a copy into DuckDB, and with SQL on the server itself)."""

    def __init__(self, kind: str, work: Path, base: Path, request):
        self.kind, self.work, self.base = kind, work, base
        self.server = request.getfixturevalue("pg") if kind == "postgresql" else None
        self.copies = 0

    def target(self, name: str) -> tuple[str, dict[str, str]]:
        env = {"CPFFT_OUTPUT_DIR": str(self.base)}
        if self.server is None:
            return f"{name}.duckdb", env
        return self.server.url, env | self.server.env | {"CPFFT_POSTGRESQL_SCHEMA": name}

    def load(self, *extra: str, name: str = "w"):
        where, env = self.target(name)
        return entrepot(self.work, where, *extra, env=env)

    def db(self, name: str = "w") -> Path:
        """A DuckDB file holding the warehouse's tables."""
        if self.server is None:
            return self.work / f"{name}.duckdb"
        from cpfft.entrepot.postgresql import download

        self.copies += 1
        copy = self.work / f"copy{self.copies}.duckdb"
        with self.server.connect() as conn:
            assert download(conn, name, copy)
        return copy

    def state(self) -> object:
        """What must not change when a load changes nothing."""
        if self.server is None:
            return (self.work / "w.duckdb").read_bytes()
        with self.server.connect() as conn:
            return conn.execute(
                "SELECT n.oid, array_agg(c.oid ORDER BY c.oid) FROM pg_namespace n JOIN "
                "pg_class c ON c.relnamespace = n.oid WHERE n.nspname = 'w' GROUP BY n.oid"
            ).fetchall()

    def online_on_server(self, day: date) -> set[str] | None:
        """The README's query, run by PostgreSQL itself."""
        if self.server is None:
            return None
        with self.server.connect() as conn:
            rows = conn.execute(
                "SELECT id FROM w.offres_historique WHERE jour_debut <= %s AND "
                "(jour_fin IS NULL OR jour_fin > %s)", [day, day]
            ).fetchall()  # fmt: skip
        return {r[0] for r in rows}


#: The schedule: (day offset, UTC hour, partial) — nightly full runs, day-time depuis runs,
#: a day without a run, two depuis runs on one day, a run at 23:30 UTC (the next Paris day).
SCHEDULE = [
    (0, 1, False), (0, 13, True),
    (1, 1, False), (1, 9, True), (1, 15, True),
    (3, 1, False),  # day 2: no run at all
    (3, 23.5, True),  # 00:30 in Paris: the next day's
    (4, 13, False), (5, 1, False), (5, 12, True),
]  # fmt: skip


@pytest.mark.parametrize("kind", ["duckdb", "postgresql"])
def test_day_after_day_the_warehouse_holds_the_newest_run_s_mirror_and_its_history(
    tmp_path, kind, request
):
    base = tmp_path / "out"
    backend = Backend(kind, tmp_path, base, request)
    market = Market(base)
    for _ in range(60):
        market.publish(START - timedelta(days=3))
    prices = {f"F{i}": 1000.0 + i for i in range(8)}
    catalogue(base, START - timedelta(hours=1), prices)
    previous = START - timedelta(hours=1)
    for number, (offset, hour, partial) in enumerate(SCHEDULE):
        at = START.replace(hour=0) + timedelta(days=offset, hours=hour)
        # Between two runs: publications (one of them indexed late), updates, withdrawals.
        if number:
            gap = at - previous
            for k in range(4):
                market.publish(previous + gap * (k + 1) / 6)
            market.publish(previous - timedelta(hours=2), indexed=previous + gap / 2)  # late
            market.update(3, previous + gap / 3)
            market.withdraw(2)
            if (
                offset in (1, 4) and not partial
            ):  # the catalogue changes too: one price, one added, one gone
                prices["F1"] += 100
                prices[f"N{offset}"] = 500.0
                prices.pop(f"F{offset + 3}")
                catalogue(base, at - timedelta(minutes=30), prices)
        market.run(at, partial)
        previous = at
        proc = backend.load()
        assert proc.returncode == 0, proc.stderr
        assert "Traceback" not in proc.stderr
        # Exactly the offers (and versions) the newest complete run proves.
        assert mirror(backend.db()) == market.mirror, (number, at)

    db = backend.db()
    first = market.history[0][0].astimezone(PARIS).date()
    last = market.history[-1][0].astimezone(PARIS).date()
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    assert len(days) == 6  # day 2 without a run included
    jours = {r[0]: r[1:] for r in query(db, "SELECT jour, en_ligne, ajoutees, modifiees, "
                                        "retirees FROM jours WHERE source = 'offres'")}  # fmt: skip
    assert sorted(jours) == days
    for day in days:
        expected = market.online_at_end_of(day)
        assert online_on(db, day) == expected, day
        assert backend.online_on_server(day) in (None, expected), day
        assert jours[day][0] == len(expected), day
        counts = market.events.get(day, [0, 0, 0])
        assert list(jours[day][1:]) == ([None] * 3 if day == first and not market.events.get(
            first) else counts), day  # fmt: skip
    assert query(db, "SELECT count(*), count(DISTINCT extrait_le) FROM chargements WHERE "
                 "source = 'offres'") == [(len(SCHEDULE), len(SCHEDULE))]  # fmt: skip

    # No text, no employer in the history: only what counts the market.
    columns = [r[0] for r in query(db, "DESCRIBE offres_historique")]
    assert columns == ["id", "date_actualisation", "date_publication", "code_rome",
                       "departement", "region", "type_contrat", "premiere_vue",
                       "derniere_vue", "fin", "retiree_le", "jour_debut", "jour_fin"]  # fmt: skip
    # Days online of the withdrawn offers: from creation to the run that saw them gone.
    withdrawn = query(db, "SELECT count(*) FROM offres_historique WHERE retiree_le IS NOT NULL")
    assert withdrawn[0][0] == sum(c[2] for c in market.events.values())

    # The catalogue: a price change is a new version, a removed training is withdrawn.
    assert query(db, "SELECT frais_ttc_tot_min, jour_fin IS NOT NULL, retiree_le IS NULL FROM "
                 "formations_historique WHERE numero_formation = 'F1' ORDER BY premiere_vue") == [
        (1001.0, True, True), (1101.0, True, True), (1201.0, False, True)]  # fmt: skip
    assert query(db, "SELECT count(*) FROM formations_historique WHERE retiree_le IS NOT NULL "
                 "AND numero_formation IN ('F4', 'F7')") == [(2,)]  # fmt: skip
    assert {r[0] for r in query(db, "SELECT numero_formation FROM formations")} == set(prices)

    # Loading again changes nothing, byte for byte (PostgreSQL: the same schema and tables).
    before = backend.state()
    proc = backend.load()
    assert proc.returncode == 0, proc.stderr
    assert "déjà à jour" in proc.stdout
    assert backend.state() == before

    # A run given again is skipped; an older one never loaded is refused in one line.
    again = sorted((base / "offres").glob("*Z.csv"))[1]
    proc = backend.load("--formations", str(base / "cpf" / "latest.csv"), "--offres",
                        str(again))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert f"{again} est déjà dans l'entrepôt" in proc.stderr
    assert "déjà à jour" in proc.stdout
    assert backend.state() == before
    older = write_csv(tmp_path / "older.csv", [offer("OLD")])
    describe(older, "offres", 1, START + timedelta(days=1, hours=20), False)
    proc = backend.load("--formations", str(base / "cpf" / "latest.csv"), "--offres",
                        str(older))  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert "before the last offres run the warehouse holds" in proc.stderr
    assert backend.state() == before

    # A lost warehouse: --reconstruire replays every kept run into the same history.
    proc = backend.load("--reconstruire", name="r")
    assert proc.returncode == 0, proc.stderr
    rebuilt = backend.db("r")
    with duckdb.connect() as con:
        con.execute(f"ATTACH '{db}' AS w (READ_ONLY)")
        con.execute(f"ATTACH '{rebuilt}' AS r (READ_ONLY)")
        for table in ("offres_historique", "formations_historique", "jours", "chargements",
                      "offres", "formations"):  # fmt: skip
            names = [c[0] for c in con.execute(f"DESCRIBE w.{table}").fetchall()]
            kept = ", ".join(n for n in names if n != "charge_le")  # when: not what
            for a, b in (("w", "r"), ("r", "w")):
                assert con.execute(f"SELECT count(*) FROM (SELECT {kept} FROM {a}.{table} "
                                   f"EXCEPT ALL SELECT {kept} FROM {b}.{table})").fetchone() == (
                    0,), (table, a)  # fmt: skip
            assert con.execute(f"SELECT count(*) FROM r.{table}").fetchone()[0] > 0, table


def test_a_first_load_starts_at_the_last_full_run_and_says_what_it_left(tmp_path):
    base = tmp_path / "out"
    market = Market(base)
    for _ in range(10):
        market.publish(START - timedelta(days=1))
    catalogue(base, START, {"F1": 10.0})
    market.run(START, False)
    market.publish(START + timedelta(hours=2))
    market.run(START + timedelta(hours=4), True)
    market.withdraw(3)
    market.run(START + timedelta(days=1), False)
    market.publish(START + timedelta(days=1, hours=2))
    market.run(START + timedelta(days=1, hours=4), True)
    # A run killed while writing: its file has no descriptor.
    killed = base / "offres" / (stamp(START + timedelta(days=1, hours=6)) + ".csv")
    write_csv(killed, [offer("ZZZZZZ")])
    proc = load(tmp_path, base)
    assert proc.returncode == 0, proc.stderr
    assert mirror(tmp_path / "w.duckdb") == market.mirror
    assert "offres : 2 exécution(s) plus ancienne(s)" in proc.stderr
    assert "--reconstruire" in proc.stderr
    assert f"exécution {killed.name} ignorée : pas de descripteur" in proc.stderr
    assert query(tmp_path / "w.duckdb", "SELECT count(*) FROM chargements WHERE source = "
                 "'offres'") == [(2,)]  # fmt: skip


@pytest.mark.parametrize("only", ["depuis runs", "no run"])
def test_without_a_whole_extraction_kept_the_error_says_what_to_run(tmp_path, only):
    base = tmp_path / "out"
    catalogue(base, START, {"F1": 10.0})
    (base / "offres").mkdir()
    path = write_csv(base / "offres" / (stamp(START) + ".depuis.csv"), [offer("A")])
    if only == "depuis runs":
        describe(path, "offres", 1, START, True)
    (base / "offres" / "latest.csv").hardlink_to(path)
    proc = load(tmp_path, base)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1, proc.stderr
    if only == "depuis runs":
        assert "only partial depuis=dernier runs" in proc.stderr
        assert "run `scrapy crawl offres` without depuis first" in proc.stderr
    else:  # the file without a descriptor is no complete run
        assert "no complete offres run to load (no warehouse yet)" in proc.stderr
    assert not (tmp_path / "w.duckdb").exists()
