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


def rapport(cwd: Path, *args: str, env: dict[str, str] | None = None):
    """``scrapy rapport …`` in ``cwd`` → CompletedProcess (text)."""
    return scrapy_command(cwd, "rapport", *args, env=env, timeout=120)
