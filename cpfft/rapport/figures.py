"""The report's numbers, read from the warehouse (pure: a DuckDB connection in, dataclasses out).

Nothing here writes HTML; :mod:`cpfft.rapport.html` renders a :class:`Rapport`.
The connection is any DuckDB connection on a file ``scrapy entrepot`` built
(tables ``formations``, ``offres``, ``sources`` and ``metiers``); this module
never imports duckdb itself.

Scope of each figure, given the filters (:class:`Filtres`):

- the **territory** is the chosen département, else the chosen region, else
  France. Offers are in a département by their ``departement``, in a region by
  the loader's ``region`` column (which also holds the offers located at region
  level only); catalogue rows by ``code_departement`` / ``code_region``, as the
  ``cpf`` spider's ``-a region``/``-a departement`` filter them.
- a **theme** keeps the catalogue rows whose ``code_nsf_1..3`` is one of the
  theme's NSF codes, and the jobs those trainings lead to: the ROME codes of
  their ``code_rome_1..5`` anywhere in the catalogue (offers carry no NSF code).
- a **ROME code** keeps the offers of that code and the catalogue rows listing
  it in ``code_rome_1..5``.

Job-level figures (top jobs, their share of offers open to apprenticeship, gaps,
codes on one side only) come from the bridge table ``metiers`` at the territory's
level; the skills most asked for, from ``offres_competences``; the per-region
comparison and the price and hours distributions come from the catalogue and the
offers directly (a training counts once per region however many jobs it leads to).
The catalogue writes 0 where it gives no price or no hours (half of the real rows
have no hours): a 0 is no value, and each distribution says how many trainings in
scope had none.
"""

# Queries are built from this module's own column names and clauses; every value a user gives
# (a code, a theme's NSF codes) is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from cpfft.geo import DEPARTEMENTS_BY_CODE, REGIONS, REGIONS_BY_CODE

#: The columns the report reads, per table: a file without them is not a warehouse.
REQUIRED: dict[str, tuple[str, ...]] = {
    "formations": (
        "numero_formation",
        "siret",
        "code_departement",
        "code_region",
        "code_nsf_1",
        "code_nsf_2",
        "code_nsf_3",
        "code_rome_1",
        "code_rome_2",
        "code_rome_3",
        "code_rome_4",
        "code_rome_5",
        "frais_ttc_tot_mean",
        "nombre_heures_total_mean",
    ),
    "offres": ("id", "code_rome", "departement", "region"),
    "offres_competences": ("id", "libelle"),
    "sources": ("source", "extrait_le", "nb_lignes"),
    "metiers": (
        "code_rome",
        "libelle_rome",
        "niveau",
        "territoire",
        "nb_offres",
        "nb_offres_alternance",
        "nb_formations",
    ),
}

ROME_COLUMNS = tuple(f"code_rome_{i}" for i in range(1, 6))
NSF_COLUMNS = tuple(f"code_nsf_{i}" for i in range(1, 4))

#: How many jobs the job tables and charts show.
TOP = 15
#: Default offers a job needs to count as "many offers" in the gaps table.
MIN_OFFRES = 10
#: How many skills the skills table shows per job.
TOP_COMPETENCES = 5
#: Withdrawn offers a job needs for its median days online to be shown.
MIN_RETRAITS = 5
#: The history tables ``scrapy entrepot`` writes (a warehouse of an older cpfft has none).
HISTORY = ("chargements", "offres_historique", "formations_historique", "jours")


class NotAWarehouse(ValueError):
    """The file opened is not a warehouse ``scrapy entrepot`` wrote (one-line message)."""


@dataclass(frozen=True)
class Filtres:
    """The report's filters, already checked (codes as in the warehouse)."""

    region: str | None = None
    departement: str | None = None
    theme: str | None = None  # theme id (cpfft.cpf.themes)
    theme_label: str | None = None
    nsf: tuple[str, ...] = ()  # the theme's NSF codes
    rome: str | None = None
    min_offres: int = MIN_OFFRES


@dataclass(frozen=True)
class Territoire:
    niveau: str  # 'pays' | 'region' | 'departement' (as in metiers.niveau)
    code: str  # 'FR', a region code, a département code
    nom: str

    @classmethod
    def of(cls, filtres: Filtres) -> Territoire:
        if filtres.departement:
            return cls("departement", filtres.departement, dep_name(filtres.departement))
        if filtres.region:
            return cls("region", filtres.region, REGIONS_BY_CODE[filtres.region].name)
        return cls("pays", "FR", "France")


def dep_name(code: str) -> str:
    return DEPARTEMENTS_BY_CODE[code].name


@dataclass(frozen=True)
class Extraction:
    """One row of the warehouse's ``sources`` table."""

    source: str  # 'formations' | 'offres'
    extrait_le: datetime | None
    nb_lignes: int | None


@dataclass(frozen=True)
class Metier:
    code_rome: str
    libelle: str | None
    nb_offres: int
    nb_formations: int
    nb_offres_alternance: int = 0  # offers open to apprenticeship

    @property
    def offres_par_formation(self) -> float | None:
        return self.nb_offres / self.nb_formations if self.nb_formations else None

    @property
    def part_alternance(self) -> float | None:
        return self.nb_offres_alternance / self.nb_offres if self.nb_offres else None

    @property
    def nom(self) -> str:
        return f"{self.libelle} ({self.code_rome})" if self.libelle else self.code_rome


@dataclass(frozen=True)
class Region:
    code: str
    nom: str
    nb_offres: int
    nb_formations: int

    @property
    def offres_par_formation(self) -> float | None:
        return self.nb_offres / self.nb_formations if self.nb_formations else None


@dataclass(frozen=True)
class Classe:
    """One histogram bin: ``[bas, haut)``, or ``bas`` and above when ``haut`` is None."""

    bas: float
    haut: float | None
    effectif: int


@dataclass(frozen=True)
class Competence:
    """A skill the offers of one job ask for: in how many of them, and what share."""

    libelle: str
    nb_offres: int
    part: float


@dataclass(frozen=True)
class Distribution:
    """Values of one catalogue column, one per training (``numero_formation``)."""

    colonne: str
    n: int
    minimum: float | None
    q1: float | None
    mediane: float | None
    q3: float | None
    maximum: float | None
    classes: tuple[Classe, ...]
    sans_valeur: int = 0  # trainings in scope without a value (0 or empty): not counted


@dataclass(frozen=True)
class Chiffres:
    nb_offres: int
    nb_formations: int
    nb_organismes: int
    rome_les_deux: int
    rome_offres_seulement: int
    rome_formations_seulement: int

    @property
    def nb_rome(self) -> int:
        return self.rome_les_deux + self.rome_offres_seulement + self.rome_formations_seulement


@dataclass(frozen=True)
class Semaine:
    """Offers added and withdrawn in one week (Monday to Sunday)."""

    debut: date
    ajoutees: int
    retirees: int


@dataclass(frozen=True)
class Duree:
    """How long a job's withdrawn offers stayed online: median days, and how many offers."""

    code_rome: str
    libelle: str | None
    mediane_jours: float
    n: int


@dataclass(frozen=True)
class Instantane:
    """What changed in the catalogue at one snapshot (one catalogue run)."""

    jour: date
    ajoutees: int
    retirees: int
    modifiees: int


@dataclass(frozen=True)
class Historique:
    """The warehouse's history in scope: from its first day of offers to its last."""

    #: (day, offers online at the end of it), every day of the kept period.
    jours: tuple[tuple[date, int], ...]
    semaines: tuple[Semaine, ...]
    durees: tuple[Duree, ...]
    catalogue: tuple[Instantane, ...]
    #: Withdrawn offers a job needs for its median days online to be shown.
    min_retraits: int = 5

    @property
    def debut(self) -> date | None:
        return self.jours[0][0] if self.jours else None

    @property
    def commence(self) -> bool:
        """History starts with the last load: one day, nothing to draw over time."""
        return len(self.jours) < 2


@dataclass(frozen=True)
class Rapport:
    filtres: Filtres
    territoire: Territoire
    extractions: dict[str, Extraction]
    chiffres: Chiffres
    top_metiers: tuple[Metier, ...]
    ecarts: tuple[Metier, ...]  # many offers, few trainings: highest offers per training
    sans_formation: tuple[Metier, ...]  # many offers, no training at all
    regions: tuple[Region, ...]
    prix: Distribution
    heures: Distribution
    #: The skills most asked for, per ROME code of ``top_metiers`` (most offers first).
    competences: dict[str, tuple[Competence, ...]]
    #: Region to highlight in the per-region chart (the chosen one, or the département's).
    region_choisie: str | None = None
    #: The job market over time (None: a warehouse without history tables).
    historique: Historique | None = None


# ---------------------------------------------------------------- checks


def check_warehouse(con: Any) -> None:
    """Raise :class:`NotAWarehouse` unless every table and column the report reads is there."""
    rows = con.execute(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'main'"
    ).fetchall()
    columns: dict[str, set[str]] = {}
    for table, column in rows:
        columns.setdefault(table, set()).add(column)
    missing_tables = [t for t in REQUIRED if t not in columns]
    if missing_tables:
        raise NotAWarehouse(f"it has no table {', '.join(missing_tables)}")
    for table, wanted in REQUIRED.items():
        missing = [c for c in wanted if c not in columns[table]]
        if missing:
            raise NotAWarehouse(f"its table {table} has no column {', '.join(missing)}")


def theme_romes(con: Any, nsf: tuple[str, ...]) -> list[str]:
    """The ROME codes the theme's trainings lead to, anywhere in the catalogue."""
    where, params = _nsf_clause(nsf)
    unions = " UNION ".join(
        f"SELECT upper(trim({c})) AS code FROM formations WHERE {where} AND {c} IS NOT NULL"
        for c in ROME_COLUMNS
    )
    rows = con.execute(f"SELECT code FROM ({unions}) ORDER BY code", params * 5).fetchall()
    return [r[0] for r in rows]


def rome_known(con: Any, code: str) -> bool:
    """Whether any offer or catalogue row carries the ROME code."""
    either = " OR ".join(f"{_rome(c)} = ?" for c in ROME_COLUMNS)
    row = con.execute(
        f"SELECT (SELECT count(*) FROM offres WHERE {_rome('code_rome')} = ?) "
        f"+ (SELECT count(*) FROM formations WHERE {either})",
        [code] * 6,
    ).fetchone()
    return bool(row and row[0])


# ---------------------------------------------------------------- clauses


def _rome(column: str) -> str:
    """A ROME code column compared as the bridge compares codes: trimmed, upper-cased."""
    return f"upper(trim({column}))"


def _nsf_clause(nsf: tuple[str, ...]) -> tuple[str, list[Any]]:
    return "(" + " OR ".join(f"list_contains(?, {c})" for c in NSF_COLUMNS) + ")", [list(nsf)] * 3


def _formations_clause(filtres: Filtres, territory: bool = True) -> tuple[str, list[Any]]:
    clauses, params = ["numero_formation IS NOT NULL"], []
    if territory and filtres.departement:
        clauses.append("code_departement = ?")
        params.append(filtres.departement)
    elif territory and filtres.region:
        clauses.append("code_region = ?")
        params.append(filtres.region)
    if filtres.nsf:
        clause, more = _nsf_clause(filtres.nsf)
        clauses.append(clause)
        params += more
    if filtres.rome:
        clauses.append("(" + " OR ".join(f"{_rome(c)} = ?" for c in ROME_COLUMNS) + ")")
        params += [filtres.rome] * 5
    return " AND ".join(clauses), params


def _codes_clause(column: str, filtres: Filtres, romes: list[str] | None) -> tuple[str, list[Any]]:
    """Restriction of a ROME-code column to the ROME filter, or to the theme's codes."""
    if filtres.rome:
        return f"{_rome(column)} = ?", [filtres.rome]
    if romes is not None:
        return f"list_contains(?, {_rome(column)})", [romes]
    return "TRUE", []


def _offres_clause(
    filtres: Filtres, romes: list[str] | None, territory: bool = True
) -> tuple[str, list[Any]]:
    clauses, params = [], []
    if territory and filtres.departement:
        clauses.append("departement = ?")
        params.append(filtres.departement)
    elif territory and filtres.region:
        clauses.append("region = ?")
        params.append(filtres.region)
    clause, more = _codes_clause("code_rome", filtres, romes)
    clauses.append(clause)
    params += more
    return " AND ".join(clauses), params


# ---------------------------------------------------------------- figures


def extractions(con: Any) -> dict[str, Extraction]:
    rows = con.execute(
        "SELECT source, max(epoch(extrait_le)), sum(nb_lignes) FROM sources GROUP BY source"
    ).fetchall()
    return {
        source: Extraction(
            source,
            datetime.fromtimestamp(stamp, UTC) if stamp is not None else None,
            int(lines) if lines is not None else None,
        )
        for source, stamp, lines in rows
    }


def metiers(con: Any, filtres: Filtres, romes: list[str] | None) -> list[Metier]:
    """The bridge's rows at the territory, restricted to the ROME code or the theme's codes."""
    terr = Territoire.of(filtres)
    clause, params = _codes_clause("code_rome", filtres, romes)
    rows = con.execute(
        "SELECT code_rome, libelle_rome, coalesce(nb_offres, 0), coalesce(nb_formations, 0), "
        "coalesce(nb_offres_alternance, 0) FROM metiers "
        f"WHERE niveau = ? AND territoire = ? AND code_rome IS NOT NULL AND {clause}",
        [terr.niveau, terr.code, *params],
    ).fetchall()
    return [Metier(code, label, int(o), int(f), int(a)) for code, label, o, f, a in rows]


def chiffres(con: Any, filtres: Filtres, romes: list[str] | None, jobs: list[Metier]) -> Chiffres:
    where_o, params_o = _offres_clause(filtres, romes)
    where_f, params_f = _formations_clause(filtres)
    (nb_offres,) = con.execute(f"SELECT count(*) FROM offres WHERE {where_o}", params_o).fetchone()
    nb_formations, nb_organismes = con.execute(
        f"SELECT count(DISTINCT numero_formation), count(DISTINCT siret) FROM formations "
        f"WHERE {where_f}",
        params_f,
    ).fetchone()
    return Chiffres(
        nb_offres=int(nb_offres),
        nb_formations=int(nb_formations),
        nb_organismes=int(nb_organismes),
        rome_les_deux=sum(1 for m in jobs if m.nb_offres and m.nb_formations),
        rome_offres_seulement=sum(1 for m in jobs if m.nb_offres and not m.nb_formations),
        rome_formations_seulement=sum(1 for m in jobs if m.nb_formations and not m.nb_offres),
    )


def top_metiers(jobs: list[Metier], top: int = TOP) -> list[Metier]:
    """The jobs with the most offers (ties: more trainings first, then by code)."""
    with_offers = [m for m in jobs if m.nb_offres > 0]
    return sorted(with_offers, key=lambda m: (-m.nb_offres, -m.nb_formations, m.code_rome))[:top]


def ecarts(jobs: list[Metier], min_offres: int, top: int = TOP) -> list[Metier]:
    """Jobs with at least ``min_offres`` offers and some trainings, most offers per training
    first (ties: more offers first, then by code)."""
    many = [m for m in jobs if m.nb_offres >= min_offres and m.nb_formations > 0]
    return sorted(many, key=lambda m: (-(m.offres_par_formation or 0), -m.nb_offres, m.code_rome))[
        :top
    ]


def sans_formation(jobs: list[Metier], min_offres: int, top: int = TOP) -> list[Metier]:
    """Jobs with at least ``min_offres`` offers and no training at all, most offers first."""
    none = [m for m in jobs if m.nb_offres >= min_offres and m.nb_formations == 0]
    return sorted(none, key=lambda m: (-m.nb_offres, m.code_rome))[:top]


def regions(con: Any, filtres: Filtres, romes: list[str] | None) -> list[Region]:
    """Offers and distinct trainings per region, for every region (whatever the territory)."""
    where_o, params_o = _offres_clause(filtres, romes, territory=False)
    where_f, params_f = _formations_clause(filtres, territory=False)
    offers = dict(
        con.execute(
            f"SELECT region, count(*) FROM offres WHERE region IS NOT NULL AND {where_o} "
            "GROUP BY region",
            params_o,
        ).fetchall()
    )
    trainings = dict(
        con.execute(
            f"SELECT code_region, count(DISTINCT numero_formation) FROM formations "
            f"WHERE code_region IS NOT NULL AND {where_f} GROUP BY code_region",
            params_f,
        ).fetchall()
    )
    return [
        Region(r.code, r.name, int(offers.get(r.code, 0)), int(trainings.get(r.code, 0)))
        for r in REGIONS
    ]


def competences(
    con: Any, filtres: Filtres, romes: list[str] | None, jobs: Sequence[Metier],
    top: int = TOP_COMPETENCES,
) -> dict[str, tuple[Competence, ...]]:  # fmt: skip
    """For each job, the ``top`` skills most of its offers in scope ask for (an offer counts
    once per skill; ties: by label), with their share of the job's offers."""
    if not jobs:
        return {}
    where, params = _offres_clause(filtres, romes)
    codes = [m.code_rome for m in jobs]
    rows = con.execute(
        "SELECT code, libelle, n FROM ("
        "SELECT code, libelle, n, row_number() OVER (PARTITION BY code ORDER BY n DESC, libelle) "
        "AS rang FROM ("
        f"SELECT {_rome('o.code_rome')} AS code, c.libelle, count(DISTINCT o.id) AS n "
        "FROM offres o JOIN offres_competences c ON c.id = o.id "
        f"WHERE c.libelle IS NOT NULL AND list_contains(?, {_rome('o.code_rome')}) AND {where} "
        "GROUP BY ALL)) WHERE rang <= ? ORDER BY code, rang",
        [codes, *params, top],
    ).fetchall()
    offers = {m.code_rome: m.nb_offres for m in jobs}
    found: dict[str, list[Competence]] = {}
    for code, label, n in rows:
        found.setdefault(code, []).append(Competence(label, int(n), int(n) / offers[code]))
    return {code: tuple(found[code]) for code in codes if code in found}


def valeurs(con: Any, filtres: Filtres, column: str) -> list[float]:
    """One value per training in scope: the mean of ``column`` over its catalogue rows that
    give one (the catalogue's 0 is "not given")."""
    where, params = _formations_clause(filtres)
    rows = con.execute(
        f"SELECT avg({column}) AS v FROM formations WHERE {where} AND {column} > 0 "
        "GROUP BY numero_formation ORDER BY v",
        params,
    ).fetchall()
    return [float(r[0]) for r in rows]


def quantile(ordered: list[float], p: float) -> float:
    """Linear interpolation between closest ranks (DuckDB's ``quantile_cont``)."""
    h = (len(ordered) - 1) * p
    low = math.floor(h)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (h - low) * (ordered[high] - ordered[low])


def nice_width(span: float, target: int = 10) -> float:
    """A round bin width (1, 2, 2.5 or 5 × 10^k) giving about ``target`` bins over ``span``."""
    if span <= 0:
        return 1.0
    raw = span / target
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)


def distribution(column: str, values: list[float], sans_valeur: int = 0) -> Distribution:
    """Quartiles and a histogram of ``values``. Bins of a round width cover 0 up to the 95th
    percentile (the maximum under 20 values); the last bin gathers what lies beyond.
    ``sans_valeur``: the trainings in scope that gave no value."""
    ordered = sorted(values)
    if not ordered:
        return Distribution(column, 0, None, None, None, None, None, (), sans_valeur)
    top = quantile(ordered, 0.95) if len(ordered) >= 20 else ordered[-1]
    width = nice_width(top)
    regular = math.floor(top / width) + 1
    counts = [0] * regular
    beyond = 0
    for v in ordered:
        index = max(0, math.floor(v / width))
        if index < regular:
            counts[index] += 1
        else:
            beyond += 1
    classes = [Classe(i * width, (i + 1) * width, n) for i, n in enumerate(counts)]
    if beyond:
        classes.append(Classe(regular * width, None, beyond))
    return Distribution(
        column,
        len(ordered),
        ordered[0],
        quantile(ordered, 0.25),
        quantile(ordered, 0.5),
        quantile(ordered, 0.75),
        ordered[-1],
        tuple(classes),
        sans_valeur,
    )


def has_history(con: Any) -> bool:
    rows = con.execute(
        "SELECT DISTINCT table_name FROM information_schema.columns WHERE table_schema = 'main'"
    ).fetchall()
    return set(HISTORY) <= {r[0] for r in rows}


def historique(
    con: Any, filtres: Filtres, romes: list[str] | None, min_retraits: int = MIN_RETRAITS
) -> Historique | None:
    """The offers online each day, added and withdrawn each week, the median days online
    of each job's withdrawn offers, and the catalogue's changes at each snapshot; None
    without history tables. Offers follow every filter; catalogue changes the territory
    only (the history keeps no NSF code)."""
    if not has_history(con):
        return None
    first, last = con.execute(
        "SELECT min(jour), max(jour) FROM chargements WHERE source = 'offres'"
    ).fetchone()
    if first is None:
        return Historique((), (), (), (), min_retraits)
    clause, params = _offres_clause(filtres, romes)
    versions = f"(SELECT * FROM offres_historique WHERE {clause})"
    online = dict(
        con.execute(
            "SELECT c.jour, count(h.id) FROM (SELECT CAST(unnest(generate_series(CAST(? AS DATE), "
            "CAST(? AS DATE), INTERVAL 1 DAY)) AS DATE) AS jour) c LEFT JOIN "
            f"{versions} h ON h.jour_debut <= c.jour AND (h.jour_fin IS NULL OR h.jour_fin > "
            "c.jour) GROUP BY c.jour",
            [first, last, *params],
        ).fetchall()
    )
    days = tuple((first + timedelta(days=i), online.get(first + timedelta(days=i), 0))
                 for i in range((last - first).days + 1))  # fmt: skip
    # An offer is added the day its first version is seen, after the day history starts.
    weeks: dict[date, list[int]] = {}
    for week, added in con.execute(
        f"SELECT CAST(date_trunc('week', debut) AS DATE), count(*) FROM (SELECT id, min(jour_debut) AS debut "
        f"FROM {versions} GROUP BY id) WHERE debut > ? GROUP BY ALL",
        [*params, first],
    ).fetchall():
        weeks.setdefault(week, [0, 0])[0] = added
    for week, withdrawn in con.execute(
        f"SELECT CAST(date_trunc('week', jour_fin) AS DATE), count(*) FROM {versions} WHERE retiree_le IS NOT "
        "NULL GROUP BY ALL",
        params,
    ).fetchall():
        weeks.setdefault(week, [0, 0])[1] = withdrawn
    semaines = tuple(Semaine(w, a, r) for w, (a, r) in sorted(weeks.items()))
    durees = tuple(
        Duree(code, label, round(median, 1), n)
        for code, label, median, n in con.execute(
            "SELECT h.code_rome, (SELECT any_value(m.libelle_rome) FROM metiers m WHERE "
            "m.code_rome = h.code_rome AND m.libelle_rome IS NOT NULL), median((epoch("
            "h.retiree_le) - epoch(h.date_publication)) / 86400.0), count(*) FROM "
            f"{versions} h WHERE h.retiree_le IS NOT NULL AND h.date_publication IS NOT NULL "
            "AND h.code_rome IS NOT NULL GROUP BY h.code_rome HAVING count(*) >= ? "
            "ORDER BY count(*) DESC, h.code_rome LIMIT ?",
            [*params, min_retraits, TOP],
        ).fetchall()
    )
    where, more = "TRUE", []
    if filtres.departement:
        where, more = "code_departement = ?", [filtres.departement]
    elif filtres.region:
        where, more = "code_region = ?", [filtres.region]
    rows = f"(SELECT * FROM formations_historique WHERE {where})"
    catalogue = tuple(
        Instantane(*row)
        for row in con.execute(
            "WITH k AS (SELECT numero_formation, code_departement, min(premiere_vue) AS debut "
            f"FROM {rows} GROUP BY ALL) SELECT c.jour, "
            "(SELECT count(*) FROM k WHERE k.debut = c.extrait_le), "
            f"(SELECT count(*) FROM {rows} WHERE retiree_le = c.extrait_le), "
            f"(SELECT count(*) FROM {rows} v JOIN k USING (numero_formation, code_departement) "
            "WHERE v.premiere_vue = c.extrait_le AND k.debut < c.extrait_le) "
            "FROM chargements c WHERE c.source = 'formations' AND NOT c.debut "
            "ORDER BY c.extrait_le",
            [*more, *more, *more],
        ).fetchall()
    )
    return Historique(days, semaines, durees, catalogue, min_retraits)


def rapport(con: Any, filtres: Filtres) -> Rapport:
    """Every figure of the report for these filters."""
    romes = theme_romes(con, filtres.nsf) if filtres.nsf else None
    jobs = metiers(con, filtres, romes)
    chosen = filtres.region
    if filtres.departement:
        chosen = DEPARTEMENTS_BY_CODE[filtres.departement].region
    counts = chiffres(con, filtres, romes, jobs)
    top = top_metiers(jobs)
    spread = {}
    for column in ("frais_ttc_tot_mean", "nombre_heures_total_mean"):
        values = valeurs(con, filtres, column)
        spread[column] = distribution(column, values, counts.nb_formations - len(values))
    return Rapport(
        filtres=filtres,
        territoire=Territoire.of(filtres),
        extractions=extractions(con),
        chiffres=counts,
        top_metiers=tuple(top),
        ecarts=tuple(ecarts(jobs, filtres.min_offres)),
        sans_formation=tuple(sans_formation(jobs, filtres.min_offres)),
        regions=tuple(regions(con, filtres, romes)),
        prix=spread["frais_ttc_tot_mean"],
        heures=spread["nombre_heures_total_mean"],
        competences=competences(con, filtres, romes, top),
        region_choisie=chosen,
        historique=historique(con, filtres, romes),
    )
