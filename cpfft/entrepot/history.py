"""The warehouse's history: what each run loaded showed, carried from load to load.

Tables (French names, like the rest of the warehouse):

- ``chargements``: one row per run loaded, oldest first: source, file, extraction
  time, its day (Europe/Paris), whether it was partial, rows in the file, rows online
  after it, and how many were added, updated and withdrawn by it. A load reads the
  last one of each source to take only newer runs.
- ``offres_historique``: one row per offer and version (``date_actualisation``):
  ``premiere_vue`` and ``derniere_vue`` (the first and last run whose file held that
  version), ``fin`` (the run that showed it replaced by a newer version, or
  withdrawn: then ``retiree_le`` too), their days ``jour_debut`` and ``jour_fin``, and
  what counts the market: creation date, ROME code, département, région, contract
  type. No text and no employer: the France Travail licence asks that withdrawn
  offers a re-user keeps be anonymised.
- ``formations_historique``: one row per catalogue row (``numero_formation``,
  ``code_departement``) and version (its lowest and highest price and hours), with the
  same dates, its title, training body, first ROME code and région.
- ``jours``: per source and day of the kept period, rows online at the end of the
  day, and rows added, updated and withdrawn that day (NULL on the day history
  starts, when every row is new to it).

A version is online at the end of day D when ``jour_debut <= D AND (jour_fin IS NULL
OR jour_fin > D)``: that is the mirror as the last run loaded up to D left it.

A whole extraction proves what is online (what it lacks is withdrawn); a partial run
(offres ``depuis=dernier``) adds and updates only, and withdraws what its changes
file lists.
"""

# ruff: noqa: S608 - SQL from the tables' own column names, never from cell values
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from cpfft.entrepot.sql import SQL_TYPES, catalog_columns, ident
from cpfft.items import Formation, Offre, field_types

#: The day a run belongs to: France Travail and the Caisse des Dépôts work in French time.
PARIS = ZoneInfo("Europe/Paris")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DATES = {
    "premiere_vue": "TIMESTAMPTZ",
    "derniere_vue": "TIMESTAMPTZ",
    "fin": "TIMESTAMPTZ",
    "retiree_le": "TIMESTAMPTZ",
    "jour_debut": "DATE",
    "jour_fin": "DATE",
}


def _typed(cls: type, names: tuple[str, ...]) -> dict[str, str]:
    types = field_types(cls)
    return {name: SQL_TYPES[types[name]] for name in names}


#: What an offer's version keeps: its key, its version, and what counts the market.
OFFRE_KEY = ("id",)
OFFRE_VERSION = ("date_actualisation",)
OFFRE_KEPT = ("date_publication", "code_rome", "departement", "region", "type_contrat")
#: What a catalogue row's version keeps.
FORMATION_KEY = ("numero_formation", "code_departement")
FORMATION_VERSION = ("frais_ttc_tot_min", "frais_ttc_tot_max",
                     "nombre_heures_total_min", "nombre_heures_total_max")  # fmt: skip
FORMATION_KEPT = ("intitule_formation", "nom_of", "code_rome_1", "code_region")


@dataclass(frozen=True)
class Kind:
    """One source's history table: its key, what makes a new version, what else it keeps."""

    table: str
    picture: str  # today's table
    key: tuple[str, ...]
    version: tuple[str, ...]
    kept: tuple[str, ...]
    #: Kept columns refreshed from each run that sees the version again.
    refreshed: tuple[str, ...]
    columns: dict[str, str]


def _kind(table: str, picture: str, cls: type, key: tuple[str, ...], version: tuple[str, ...],
          kept: tuple[str, ...], refreshed: tuple[str, ...]) -> Kind:  # fmt: skip
    columns = _typed(cls, key + version + kept) | DATES
    return Kind(table, picture, key, version, kept, refreshed, columns)


KINDS = {
    "offres": _kind("offres_historique", "offres", Offre, OFFRE_KEY, OFFRE_VERSION, OFFRE_KEPT,
                    ()),
    "formations": _kind("formations_historique", "formations", Formation, FORMATION_KEY,
                        FORMATION_VERSION, FORMATION_KEPT, FORMATION_KEPT),
}  # fmt: skip
CHARGEMENTS = {
    "source": "VARCHAR",
    "fichier": "VARCHAR",
    "extrait_le": "TIMESTAMPTZ",
    "jour": "DATE",
    "partielle": "BOOLEAN",
    "debut": "BOOLEAN",  # the first run of the source's history: every row is new to it
    "lignes": "BIGINT",
    "en_ligne": "BIGINT",
    "ajoutees": "BIGINT",
    "modifiees": "BIGINT",
    "retirees": "BIGINT",
    "charge_le": "TIMESTAMPTZ",
}
JOURS = {
    "source": "VARCHAR",
    "jour": "DATE",
    "en_ligne": "BIGINT",
    "ajoutees": "BIGINT",
    "modifiees": "BIGINT",
    "retirees": "BIGINT",
    "executions": "BIGINT",
}
TABLES: dict[str, dict[str, str]] = {
    "chargements": CHARGEMENTS,
    **{kind.table: kind.columns for kind in KINDS.values()},
    "jours": JOURS,
}


def paris_day(moment: datetime) -> date:
    return moment.astimezone(PARIS).date()


def _list(names: tuple[str, ...] | list[str], prefix: str = "") -> str:
    return ", ".join(prefix + ident(n) for n in names)


def create(con: Any) -> None:
    """The history tables, empty."""
    for table, columns in TABLES.items():
        defined = ", ".join(f"{ident(n)} {t}" for n, t in columns.items())
        con.execute(f"CREATE TABLE {table} ({defined})")


def missing_in(con: Any, catalog: str) -> list[str]:
    """The history tables (or columns) an attached warehouse lacks: one built by a cpfft
    without history, or by hand, has no history to carry forward."""
    have = catalog_columns(con, catalog)
    return [
        f"{table}.{column}"
        for table, columns in TABLES.items()
        for column in columns
        if (table, column) not in have
    ]


def carry(con: Any, catalog: str) -> None:
    """Copy the history of the attached warehouse ``catalog`` (``jours`` is rebuilt)."""
    for table, columns in TABLES.items():
        if table != "jours":
            names = _list(list(columns))
            con.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {catalog}.{table}")


def last_runs(con: Any, catalog: str) -> dict[str, tuple[datetime, set[datetime]]]:
    """Per source: the last run the attached warehouse ``catalog`` loaded, and every run it
    loaded (extraction times)."""
    found: dict[str, tuple[datetime, set[datetime]]] = {}
    for source, micros in con.execute(  # DuckDB gives TIMESTAMPTZ to Python only with pytz
        f"SELECT source, epoch_us(extrait_le) FROM {catalog}.chargements ORDER BY extrait_le"
    ).fetchall():
        moment = EPOCH + timedelta(microseconds=micros)
        found.setdefault(source, (moment, set()))
        found[source] = (moment, found[source][1] | {moment})
    return found


@dataclass
class Step:
    """What one run changed."""

    online: int
    added: int
    updated: int
    withdrawn: int
    first: bool  # the first run of the source's history


def _matches(kind: Kind, left: str, right: str) -> str:
    return " AND ".join(
        f"{left}.{ident(k)} IS NOT DISTINCT FROM {right}.{ident(k)}" for k in kind.key
    )


def apply(con: Any, source: str, rows: str, moment: datetime, whole: bool,
          withdrawn: str | None = None) -> Step:  # fmt: skip
    """Record in the history what the run at ``moment`` showed.

    ``rows``: SQL of the rows of the run's file, as today's table holds them; ``whole``:
    the file is a whole extraction (what it lacks is withdrawn); else ``withdrawn``
    names a table of the ids (``id``) the run's changes file withdraws.
    """
    kind = KINDS[source]
    table = kind.table
    at = [moment.isoformat(), paris_day(moment).isoformat()]
    first = con.execute(f"SELECT count(*) = 0 FROM {table}").fetchone()[0]
    same = " AND ".join(f"h.{ident(v)} IS NOT DISTINCT FROM r.{ident(v)}" for v in kind.version)
    kept = kind.key + kind.version + kind.kept
    # One open version per key at most: the join finds it, or nothing.
    con.execute(
        f"CREATE TEMP TABLE step AS SELECT {_list(kept, 'r.')}, h.hit IS NOT NULL AS known, "
        f"h.hit IS NOT NULL AND {same} AS same FROM (SELECT DISTINCT ON ({_list(kind.key)}) "
        f"* FROM ({rows}) ORDER BY ALL) r LEFT JOIN (SELECT *, true AS hit FROM {table} "
        f"WHERE fin IS NULL) h ON {_matches(kind, 'h', 'r')}"
    )
    added, updated = con.execute(
        "SELECT count(*) FILTER (WHERE NOT known), count(*) FILTER (WHERE known AND NOT same) "
        "FROM step"
    ).fetchone()
    refreshed = "".join(f", {ident(c)} = s.{ident(c)}" for c in kind.refreshed)
    con.execute(
        f"UPDATE {table} h SET derniere_vue = CAST(? AS TIMESTAMPTZ){refreshed} FROM step s "
        f"WHERE h.fin IS NULL AND s.same AND {_matches(kind, 'h', 's')}",
        at[:1],
    )
    con.execute(
        f"UPDATE {table} h SET fin = CAST(? AS TIMESTAMPTZ), jour_fin = CAST(? AS DATE) "
        f"FROM step s WHERE h.fin IS NULL AND s.known AND NOT s.same AND "
        f"{_matches(kind, 'h', 's')}",
        at,
    )
    if whole:
        gone = f"NOT EXISTS (SELECT 1 FROM step s WHERE {_matches(kind, 'h', 's')})"
    elif withdrawn is not None:
        gone = f"h.id IN (SELECT id FROM {withdrawn})"
    else:
        gone = "false"
    withdrawn_count = con.execute(
        f"SELECT count(*) FROM {table} h WHERE h.fin IS NULL AND {gone}"
    ).fetchone()[0]
    con.execute(
        f"UPDATE {table} h SET fin = CAST(? AS TIMESTAMPTZ), jour_fin = CAST(? AS DATE), "
        f"retiree_le = CAST(? AS TIMESTAMPTZ) WHERE h.fin IS NULL AND {gone}",
        [*at, at[0]],
    )
    con.execute(
        f"INSERT INTO {table} ({_list(list(kind.columns))}) SELECT {_list(kept)}, "
        "CAST(? AS TIMESTAMPTZ), CAST(? AS TIMESTAMPTZ), NULL, NULL, CAST(? AS DATE), NULL "
        "FROM step WHERE NOT same ORDER BY ALL",
        [at[0], at[0], at[1]],
    )
    con.execute("DROP TABLE step")
    online = con.execute(f"SELECT count(*) FROM {table} WHERE fin IS NULL").fetchone()[0]
    return Step(online, added, updated, withdrawn_count, bool(first))


def record(con: Any, source: str, path: str, moment: datetime, partial: bool, rows: int,
           step: Step, loaded_at: datetime) -> None:  # fmt: skip
    """Add the run to ``chargements``."""
    con.execute(
        "INSERT INTO chargements VALUES (?, ?, CAST(? AS TIMESTAMPTZ), CAST(? AS DATE), ?, ?, "
        "?, ?, ?, ?, ?, CAST(? AS TIMESTAMPTZ))",
        [source, path, moment.isoformat(), paris_day(moment).isoformat(), partial, step.first,
         rows, step.online, step.added, step.updated, step.withdrawn,
         loaded_at.isoformat()],
    )  # fmt: skip


def make_jours(con: Any) -> None:
    """Fill ``jours`` from ``chargements``: every day from a source's first run to its
    last, a day without a run keeping the previous day's rows online."""
    runs = con.execute(
        "SELECT source, jour, debut, en_ligne, ajoutees, modifiees, retirees FROM chargements "
        "ORDER BY source, extrait_le"
    ).fetchall()
    by_source: dict[str, dict[date, list[tuple]]] = {}
    for run in runs:
        by_source.setdefault(run[0], {}).setdefault(run[1], []).append(run)
    lines = []
    for source, days in by_source.items():
        day, last = min(days), max(days)
        online = 0
        while day <= last:
            today = days.get(day, [])
            counted = [r for r in today if not r[2]]
            if today:
                online = today[-1][3]
            sums: list[int | None] = [sum(r[i] for r in counted) for i in (4, 5, 6)]
            if today and not counted:
                sums = [None, None, None]  # history starts that day
            lines.append((source, day.isoformat(), online, *sums, len(today)))
            day += timedelta(days=1)
    if lines:
        con.executemany("INSERT INTO jours VALUES (?, CAST(? AS DATE), ?, ?, ?, ?, ?)", lines)
