"""A small warehouse built by hand with DuckDB, following the warehouse contract's schema;
and :func:`rapport`, ``scrapy rapport`` as a user runs it.

Tables ``formations`` (the 47 Formation fields), ``offres`` (the 25 Offre fields
plus ``region``), ``sources`` and ``metiers``, typed as the contract says (from
``field_types``). Six catalogue rows (five trainings), ten offers and the
bridge rows ``scrapy entrepot`` would derive from them, written out by hand:

====  ========  ===  ======  ======  =============  ======  ======
row   training  dep  region  siret   NSF / ROME     price   hours
====  ========  ===  ======  ======  =============  ======  ======
1     F1        75   11      S1      326 M1805 M1810 1000   100
2     F1        92   11      S1      326 M1805 M1810 1200   100
3     F2        75   11      S2      326 M1805       3000    400
4     F3        69   84      S2      331 J1501        500      0
5     F4        35   53      S3      312 D1211          0    70
6     F5        69   84      S4      326 M1802       2000    200
====  ========  ===  ======  ======  =============  ======  ======

A 0 is the catalogue's "not given": F3 has no hours, F4 no price.

Offers (id: ROME, département, region): O1, O2: M1805 75 11; O3: M1805 92 11;
O4: M1805 69 84; O5: J1501 69 84; O6: J1501 region-level only (84); O7: K2204
35 53; O8: K2204 no location; O9: M1805 no location; O10: J1501 35 53.
Open to apprenticeship: O1, O5, O6. Skills (``offres_competences``; E required,
S wished for, - not said):

====  ==============================================================
O1    Programmer en Python E, Concevoir une application web S
O2    Programmer en Python E, Programmer en Python S (listed twice)
O3    Concevoir une application web -, Analyser les besoins du client S
O4    Programmer en Python S
O9    Programmer en Python E
O5    Réaliser des soins d'hygiène E
O10   Réaliser des soins d'hygiène S, Accueillir une personne âgée S
====  ==============================================================
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from cpfft.entrepot import children
from cpfft.entrepot.load import OFFRES_COLUMNS, SQL_TYPES  # the warehouse's own column types
from cpfft.items import Formation, field_types
from tests.support.crawling import scrapy_command

SOURCES_DDL = """CREATE TABLE sources (
    source VARCHAR, fichier VARCHAR, extrait_le TIMESTAMP WITH TIME ZONE, nb_lignes BIGINT,
    producteur VARCHAR, url_source VARCHAR, licence VARCHAR, licence_url VARCHAR,
    charge_le TIMESTAMP WITH TIME ZONE)"""

METIERS_DDL = """CREATE TABLE metiers (
    code_rome VARCHAR, libelle_rome VARCHAR, niveau VARCHAR, territoire VARCHAR,
    libelle_territoire VARCHAR, nb_offres BIGINT, nb_offres_cdi BIGINT, part_cdi DOUBLE,
    nb_offres_alternance BIGINT, part_alternance DOUBLE, salaire_median DOUBLE,
    nb_offres_salaire BIGINT, nb_formations BIGINT, nb_organismes BIGINT, part_distance DOUBLE,
    prix_median DOUBLE, prix_q1 DOUBLE, prix_q3 DOUBLE, nb_formations_prix BIGINT,
    heures_median DOUBLE, heures_q1 DOUBLE, heures_q3 DOUBLE, nb_formations_heures BIGINT,
    offres_par_formation DOUBLE, presence VARCHAR)"""

FORMATIONS = [
    # numero_formation, code_departement, code_region, siret, code_nsf_1, code_rome_1,
    # code_rome_2, frais_ttc_tot_mean, nombre_heures_total_mean
    ("F1", "75", "11", "S1", "326", "M1805", "M1810", 1000.0, 100.0),
    ("F1", "92", "11", "S1", "326", "M1805", "M1810", 1200.0, 100.0),
    ("F2", "75", "11", "S2", "326", "M1805", None, 3000.0, 400.0),
    ("F3", "69", "84", "S2", "331", "J1501", None, 500.0, 0.0),
    ("F4", "35", "53", "S3", "312", "D1211", None, 0.0, 70.0),
    ("F5", "69", "84", "S4", "326", "M1802", None, 2000.0, 200.0),
]
FORMATION_COLUMNS = (
    "numero_formation",
    "code_departement",
    "code_region",
    "siret",
    "code_nsf_1",
    "code_rome_1",
    "code_rome_2",
    "frais_ttc_tot_mean",
    "nombre_heures_total_mean",
)

DEV = "Études et développement informatique"
SOINS = "Soins d'hygiène, de confort du patient"
OFFRES = [
    # id, code_rome, libelle_rome, departement, region, lieu, alternance
    ("O1", "M1805", DEV, "75", "11", "75 - Paris", True),
    ("O2", "M1805", DEV, "75", "11", "75 - Paris", False),
    ("O3", "M1805", DEV, "92", "11", "92 - Nanterre", False),
    ("O4", "M1805", DEV, "69", "84", "69 - Lyon", False),
    ("O5", "J1501", SOINS, "69", "84", "69 - Lyon", True),
    ("O6", "J1501", SOINS, None, "84", "Auvergne-Rhône-Alpes", True),
    ("O7", "K2204", "Nettoyage de locaux", "35", "53", "35 - Rennes", False),
    ("O8", "K2204", "Nettoyage de locaux", None, None, "France", None),
    ("O9", "M1805", DEV, None, None, "France", False),
    ("O10", "J1501", SOINS, "35", "53", "35 - Rennes", False),
]
PYTHON, WEB, BESOINS = (
    "Programmer en Python", "Concevoir une application web", "Analyser les besoins du client"
)  # fmt: skip
SOIN, ACCUEIL = "Réaliser des soins d'hygiène", "Accueillir une personne âgée"
COMPETENCES = [
    # id, rang, libelle, exigence
    ("O1", 1, PYTHON, "E"), ("O1", 2, WEB, "S"),
    ("O2", 1, PYTHON, "E"), ("O2", 2, PYTHON, "S"),
    ("O3", 1, WEB, None), ("O3", 2, BESOINS, "S"),
    ("O4", 1, PYTHON, "S"),
    ("O9", 1, PYTHON, "E"),
    ("O5", 1, SOIN, "E"),
    ("O10", 1, SOIN, "S"), ("O10", 2, ACCUEIL, "S"),
]  # fmt: skip

LABELS = {
    "M1805": "Études et développement informatique",
    "J1501": "Soins d'hygiène, de confort du patient",
    "K2204": "Nettoyage de locaux",
    "M1810": None,
    "D1211": None,
    "M1802": None,
}

#: (code_rome, niveau, territoire, nb_offres, nb_formations, nb_offres_alternance), by hand
#: from the rows above.
METIERS = [
    ("M1805", "pays", "FR", 5, 2, 1),
    ("M1810", "pays", "FR", 0, 1, 0),
    ("J1501", "pays", "FR", 3, 1, 2),
    ("D1211", "pays", "FR", 0, 1, 0),
    ("M1802", "pays", "FR", 0, 1, 0),
    ("K2204", "pays", "FR", 2, 0, 0),
    ("M1805", "region", "11", 3, 2, 1),
    ("M1810", "region", "11", 0, 1, 0),
    ("M1805", "region", "84", 1, 0, 0),
    ("J1501", "region", "84", 2, 1, 2),
    ("M1802", "region", "84", 0, 1, 0),
    ("K2204", "region", "53", 1, 0, 0),
    ("J1501", "region", "53", 1, 0, 0),
    ("D1211", "region", "53", 0, 1, 0),
    ("M1805", "departement", "75", 2, 2, 1),
    ("M1810", "departement", "75", 0, 1, 0),
    ("M1805", "departement", "92", 1, 1, 0),
    ("M1810", "departement", "92", 0, 1, 0),
    ("M1805", "departement", "69", 1, 0, 0),
    ("J1501", "departement", "69", 1, 1, 1),
    ("M1802", "departement", "69", 0, 1, 0),
    ("K2204", "departement", "35", 1, 0, 0),
    ("J1501", "departement", "35", 1, 0, 0),
    ("D1211", "departement", "35", 0, 1, 0),
]

FORMATIONS_EXTRACTED = "2026-12-01 05:30:00+00"
OFFRES_EXTRACTED = "2026-12-02 06:00:00+00"


def ddl(table: str, columns: dict[str, str]) -> str:
    typed = [f"{name} {SQL_TYPES[kind]}" for name, kind in columns.items()]
    return f"CREATE TABLE {table} ({', '.join(typed)})"


def presence(offers: int, trainings: int) -> str:
    if offers and trainings:
        return "les deux"
    return "offres seulement" if offers else "formations seulement"


def insert(con: Any, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    marks = ", ".join("?" * len(columns))
    con.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)  # noqa: S608


def build(path: Path, metiers: list[tuple] | None = None) -> Path:
    """Write the warehouse described above to ``path``; return it."""
    con = duckdb.connect(str(path))
    try:
        con.execute(ddl("formations", field_types(Formation)))
        con.execute(ddl("offres", OFFRES_COLUMNS))
        children.create_tables(con)
        con.execute(SOURCES_DDL)
        con.execute(METIERS_DDL)
        insert(con, "formations", FORMATION_COLUMNS, FORMATIONS)
        insert(
            con,
            "offres",
            ("id", "code_rome", "libelle_rome", "departement", "region", "lieu", "alternance"),
            OFFRES,
        )
        insert(con, "offres_competences", ("id", "rang", "libelle", "exigence"), COMPETENCES)
        con.execute(
            "INSERT INTO sources (source, fichier, extrait_le, nb_lignes, charge_le) VALUES "
            "('formations', 'formations.csv', ?, 6, now()), ('offres', 'offres.csv', ?, 10, now())",
            [FORMATIONS_EXTRACTED, OFFRES_EXTRACTED],
        )
        insert(
            con,
            "metiers",
            (
                "code_rome",
                "libelle_rome",
                "niveau",
                "territoire",
                "nb_offres",
                "nb_formations",
                "nb_offres_alternance",
                "offres_par_formation",
                "presence",
            ),
            [
                (code, LABELS[code], level, where, o, f, a, o / f if f else None, presence(o, f))
                for code, level, where, o, f, a in (metiers or METIERS)
            ],
        )
    finally:
        con.close()
    return path


# ------------------------------------------------------------------ history, by hand
#
# Ten daily offres runs at 02:00 UTC, 2 to 11 November 2026 (2 November is a Monday; the
# first run starts the history), and three catalogue runs (2, 5 and 9 November, 01:00 UTC).
# Offer versions (ROME, département, région; created; online from → to):
#
#   H1  M1805 75 11  created 30 Oct  2 Nov → withdrawn 5 Nov    (6 days online)
#   H2  M1805 75 11  created 1 Nov   2 Nov → still online
#   H3  M1805 69 84  created 3 Nov   3 Nov → withdrawn 8 Nov    (5 days)
#   H4  J1501 69 84  created 1 Nov   2 Nov → 4 Nov (updated), then its new version → online
#   H5  J1501 35 53  created 5 Nov   6 Nov → withdrawn 9 Nov    (4 days)
#   H6  M1805 92 11  created 9 Nov  10 Nov → withdrawn 11 Nov   (2 days)
#
# So, online at the end of each day from 2 to 11 November: 3 4 4 3 4 4 3 2 3 2; added the
# week of 2 November: H3, H5 (H1, H2, H4 were there when history started), withdrawn H1,
# H3; the week of 9 November: added H6, withdrawn H5, H6. Median days online of the
# withdrawn offers: M1805 5 (of 3), J1501 4 (of 1).
# Catalogue rows: F1/75 price 1000 then 1200 from 5 Nov; F2/75 gone 9 Nov; F3/69 new
# 5 Nov; F4/69 gone 5 Nov; F5/35 new 9 Nov. So on 5 Nov 1 added, 1 removed, 1 changed;
# on 9 Nov 1 added, 1 removed.


def _at(day: int, hour: int = 2, month: int = 11) -> str:
    return f"2026-{month:02d}-{day:02d}T{hour:02d}:00:00+00:00"


HISTORY_DAYS = tuple(range(2, 12))
ONLINE = (3, 4, 4, 3, 4, 4, 3, 2, 3, 2)
OFFER_VERSIONS = [
    # id, date_actualisation, created, rome, dep, region, from, to, withdrawn
    ("H1", _at(30, 2, 10), _at(30, 2, 10), "M1805", "75", "11", 2, 5, True),
    ("H2", _at(1), _at(1), "M1805", "75", "11", 2, None, False),
    ("H3", _at(3), _at(3), "M1805", "69", "84", 3, 8, True),
    ("H4", _at(1), _at(1), "J1501", "69", "84", 2, 4, False),
    ("H4", _at(4, 1), _at(1), "J1501", "69", "84", 4, None, False),
    ("H5", _at(5), _at(5), "J1501", "35", "53", 6, 9, True),
    ("H6", _at(9), _at(9), "M1805", "92", "11", 10, 11, True),
]
TRAINING_VERSIONS = [
    # numero, dep, region, price, from, to, removed
    ("F1", "75", "11", 1000.0, 2, 5, False),
    ("F1", "75", "11", 1200.0, 5, None, False),
    ("F2", "75", "11", 800.0, 2, 9, True),
    ("F3", "69", "84", 500.0, 5, None, False),
    ("F4", "69", "84", 900.0, 2, 5, True),
    ("F5", "35", "53", 300.0, 9, None, False),
]


def add_history(path: Path, days: tuple[int, ...] = HISTORY_DAYS) -> Path:
    """Give the hand-built warehouse the history tables ``scrapy entrepot`` writes, with the
    rows above (``days``: the offres runs kept; one day is a history that starts today)."""
    from cpfft.entrepot import history

    con = duckdb.connect(str(path))
    try:
        history.create(con)
        for day in days:
            con.execute(
                "INSERT INTO chargements (source, fichier, extrait_le, jour, partielle, debut, "
                "lignes, en_ligne, ajoutees, modifiees, retirees, charge_le) VALUES ('offres', "
                "?, CAST(? AS TIMESTAMPTZ), CAST(? AS DATE), false, ?, 0, ?, 0, 0, 0, now())",
                [f"{day}.csv", _at(day), _at(day)[:10], day == days[0],
                 ONLINE[day - HISTORY_DAYS[0]]],
            )  # fmt: skip
        # day, rows online, added, updated, withdrawn
        for number, (day, *counts) in enumerate(((2, 3, 3, 0, 0), (5, 3, 1, 1, 1),
                                                 (9, 3, 1, 0, 1))):  # fmt: skip
            con.execute(
                "INSERT INTO chargements (source, fichier, extrait_le, jour, partielle, debut, "
                "lignes, en_ligne, ajoutees, modifiees, retirees) VALUES ('formations', ?, "
                "CAST(? AS TIMESTAMPTZ), CAST(? AS DATE), false, ?, ?, ?, ?, ?, ?)",
                [f"cpf{day}.csv", _at(day, 1), _at(day)[:10], number == 0, counts[0], *counts],
            )
        for oid, version, created, rome, dep, region, start, end, gone in OFFER_VERSIONS:
            if start not in days and start > days[-1]:
                continue
            until = end if end is not None and end <= days[-1] else None
            con.execute(
                "INSERT INTO offres_historique (id, date_actualisation, date_publication, "
                "code_rome, departement, region, premiere_vue, derniere_vue, fin, retiree_le, "
                "jour_debut, jour_fin) VALUES (?, CAST(? AS TIMESTAMPTZ), CAST(? AS TIMESTAMPTZ), "
                "?, ?, ?, CAST(? AS TIMESTAMPTZ), CAST(? AS TIMESTAMPTZ), CAST(? AS TIMESTAMPTZ), "
                "CAST(? AS TIMESTAMPTZ), CAST(? AS DATE), CAST(? AS DATE))",
                [oid, version, created, rome, dep, region, _at(start), _at(start),
                 _at(until) if until else None, _at(until) if until and gone else None,
                 _at(start)[:10], _at(until)[:10] if until else None],
            )  # fmt: skip
        for numero, dep, region, price, start, end, removed in TRAINING_VERSIONS:
            con.execute(
                "INSERT INTO formations_historique (numero_formation, code_departement, "
                "code_region, frais_ttc_tot_min, frais_ttc_tot_max, premiere_vue, derniere_vue, "
                "fin, retiree_le, jour_debut, jour_fin) VALUES (?, ?, ?, ?, ?, CAST(? AS "
                "TIMESTAMPTZ), CAST(? AS TIMESTAMPTZ), CAST(? AS TIMESTAMPTZ), CAST(? AS "
                "TIMESTAMPTZ), CAST(? AS DATE), CAST(? AS DATE))",
                [numero, dep, region, price, price, _at(start, 1), _at(start, 1),
                 _at(end, 1) if end else None, _at(end, 1) if removed else None,
                 _at(start)[:10], _at(end)[:10] if end else None],
            )  # fmt: skip
        history.make_jours(con)
    finally:
        con.close()
    return path


def rapport(cwd: Path, *args: str, env: dict[str, str] | None = None):
    """``scrapy rapport …`` in ``cwd`` → CompletedProcess (text)."""
    return scrapy_command(cwd, "rapport", *args, env=env, timeout=120)
