"""The ``metiers`` bridge, every figure checked against a computation made by hand.

The dataset below is small on purpose; the expected table under it was computed
by hand from it (the working is in the comments), not by the bridge's SQL.
Quartiles interpolate linearly: for n sorted values, quantile q sits at position
q × (n − 1) (0-based), between the two values around it.
"""

# ruff: noqa: S608 - SQL on the test's own tables and files
from __future__ import annotations

import csv
import math
from pathlib import Path

import duckdb
import pytest

from cpfft.entrepot.metiers import COLUMNS
from tests.entrepot.files import entrepot, formation, offer, write_csv

FORMATIONS = [
    # numero, département (region from it), ROME codes, siret, distance sessions, price, hours
    formation("F1", "75", code_rome_1="M1805", code_rome_2="M1810", siret="S1",
              nb_session_a_distance=1, frais_ttc_tot_mean=1000.0, nombre_heures_total_mean=100.0),
    # 0 hours: the catalogue's "not given", no value (counted, F1's mean would be 50 h)
    formation("F1", "92", code_rome_1="M1805", code_rome_2="M1810", siret="S1",
              nb_session_a_distance=0, frais_ttc_tot_mean=2000.0, nombre_heures_total_mean=0.0),
    formation("F2", "75", code_rome_1="M1810", code_rome_3="M1805", siret="S2",
              nb_session_a_distance=0, frais_ttc_tot_mean=3000.0, nombre_heures_total_mean=200.0),
    formation("F3", "69", code_rome_1="M1805", siret="S1",
              nb_session_a_distance=2, frais_ttc_tot_mean=500.0, nombre_heures_total_mean=50.0),
    # a price of 0: not given either
    formation("F4", "13", code_rome_1="K2111", siret="S3",
              nb_session_a_distance=0, frais_ttc_tot_mean=0.0, nombre_heures_total_mean=70.0),
    # no département: counts for FR only; its code written lower case with spaces
    formation("F5", None, code_rome_1=" m1805 ", siret="S4",
              frais_ttc_tot_mean=4000.0),
]  # fmt: skip

OFFERS = [
    offer("1", libelle_rome="Développeur", type_contrat="CDI", departement="75",
          lieu="75 - Paris 08", salaire="Mensuel de 2000.00 Euros à 3000.00 Euros sur 12 mois",
          salaire_commentaire="Selon expérience", alternance=False),
    offer("2", libelle_rome="Développeur", type_contrat="CDD", departement="92",
          lieu="92 - Nanterre", salaire="Annuel de 36000.0 Euros sur 12.0 mois", alternance=True),
    # region level only: Île-de-France (11) and FR
    offer("3", libelle_rome="Développeur", type_contrat="CDI", lieu="Île-de-France",
          salaire="Horaire de 12.0 Euros sur 12 mois", alternance=False),
    # no known place: FR only; a salary that states no monthly amount, nor its comment
    offer("4", libelle_rome="Développeur", type_contrat="CDI", lieu="France",
          salaire="Cachet de 200.00 Euros", salaire_commentaire="A négocier"),
    # a salary given only in the comment
    offer("5", libelle_rome="Dév web", type_contrat="MIS", departement="69", lieu="69 - Lyon",
          salaire_commentaire="2 100 euros bruts par mois", alternance=True),
    offer("6", code_rome="A1101", libelle_rome="Conducteur d'engins", type_contrat="CDI",
          departement="13", lieu="13 - Marseille", salaire="Mensuel de 1710,00 Euros sur 12 mois"),
    offer("7", code_rome=None, lieu="France"),  # no ROME code: not in the bridge
]  # fmt: skip

N = None
# Salaries: offer 1 → (2000 + 3000) / 2 = 2500; 2 → 36000 / 12 = 3000; 3 → 12 × 151.67 = 1820.04;
# 4 unreadable (libellé and comment); 5 → 2100 (comment); 6 → 1710.
# M1805 formations per territory (one value per formation: the mean of its rows there, zeros
# left out):
#   FR: F1 (1500 = mean of 1000, 2000; 100 h, its 92 row has none; distance on its 75 row),
#       F2 (3000; 200 h), F3 (500; 50 h; distance), F5 (4000; no hours) → prices 500 1500 3000
#       4000 (4): median 2250, q1 = 500 + 0.75 × 1000 = 1250, q3 = 3000 + 0.25 × 1000 = 3250;
#       hours 50 100 200 (3): median 100, q1 75, q3 150; distance 2 / 4.
#   region 11: F1 (1500; 100), F2 (3000; 200) → prices median 2250, q1 1875, q3 2625;
#       hours 150, 125, 175; distance 1 / 2.
#   75: F1 (1000; 100; distance), F2 (3000; 200) → 2000, 1500, 2500; 150, 125, 175; 1 / 2.
#   92: F1 (2000; no hours) → 2000 (1); hours none (0).
# K2111: F4 (no price; 70 h).
# Offers M1805: FR 1-5 (CDI 1, 3, 4: 3 / 5; apprenticeship 2, 5: 2 / 5; salaries 2500 3000
#   1820.04 2100 → (2100 + 2500) / 2 = 2300, 4 salaries);
#   11: 1, 2, 3 (CDI 1, 3: 2 / 3; apprenticeship 2: 1 / 3; median 2500 of 3); 75: 1; 92: 2;
#   84 and 69: 5 (apprenticeship; 2100 from its comment).
#   libelle: « Développeur » (4 offers) rather than « Dév web » (1).
EXPECTED = [
    # code, libelle, niveau, territoire, libelle_territoire, nb_offres, nb_offres_cdi, part_cdi,
    # nb_offres_alternance, part_alternance, salaire_median, nb_offres_salaire,
    # nb_formations, nb_organismes, part_distance, prix median q1 q3 nb_formations_prix,
    # heures median q1 q3 nb_formations_heures, offres_par_formation, presence
    ("A1101", "Conducteur d'engins", "pays", "FR", "France", 1, 1, 1.0, 0, 0.0, 1710.0, 1,
     0, 0, N, N, N, N, 0, N, N, N, 0, N, "offres seulement"),
    ("A1101", "Conducteur d'engins", "region", "93", "Provence-Alpes-Côte d'Azur", 1, 1, 1.0,
     0, 0.0, 1710.0, 1, 0, 0, N, N, N, N, 0, N, N, N, 0, N, "offres seulement"),
    ("A1101", "Conducteur d'engins", "departement", "13", "Bouches-du-Rhône", 1, 1, 1.0,
     0, 0.0, 1710.0, 1, 0, 0, N, N, N, N, 0, N, N, N, 0, N, "offres seulement"),
    ("K2111", N, "pays", "FR", "France", 0, 0, N, 0, N, N, 0,
     1, 1, 0.0, N, N, N, 0, 70.0, 70.0, 70.0, 1, 0.0, "formations seulement"),
    ("K2111", N, "region", "93", "Provence-Alpes-Côte d'Azur", 0, 0, N, 0, N, N, 0,
     1, 1, 0.0, N, N, N, 0, 70.0, 70.0, 70.0, 1, 0.0, "formations seulement"),
    ("K2111", N, "departement", "13", "Bouches-du-Rhône", 0, 0, N, 0, N, N, 0,
     1, 1, 0.0, N, N, N, 0, 70.0, 70.0, 70.0, 1, 0.0, "formations seulement"),
    ("M1805", "Développeur", "pays", "FR", "France", 5, 3, 0.6, 2, 0.4, 2300.0, 4,
     4, 3, 0.5, 2250.0, 1250.0, 3250.0, 4, 100.0, 75.0, 150.0, 3, 1.25, "les deux"),
    ("M1805", "Développeur", "region", "11", "Île-de-France", 3, 2, 2 / 3, 1, 1 / 3, 2500.0, 3,
     2, 2, 0.5, 2250.0, 1875.0, 2625.0, 2, 150.0, 125.0, 175.0, 2, 1.5, "les deux"),
    ("M1805", "Développeur", "region", "84", "Auvergne-Rhône-Alpes", 1, 0, 0.0, 1, 1.0, 2100.0,
     1, 1, 1, 1.0, 500.0, 500.0, 500.0, 1, 50.0, 50.0, 50.0, 1, 1.0, "les deux"),
    ("M1805", "Développeur", "departement", "69", "Rhône", 1, 0, 0.0, 1, 1.0, 2100.0, 1,
     1, 1, 1.0, 500.0, 500.0, 500.0, 1, 50.0, 50.0, 50.0, 1, 1.0, "les deux"),
    ("M1805", "Développeur", "departement", "75", "Paris", 1, 1, 1.0, 0, 0.0, 2500.0, 1,
     2, 2, 0.5, 2000.0, 1500.0, 2500.0, 2, 150.0, 125.0, 175.0, 2, 0.5, "les deux"),
    ("M1805", "Développeur", "departement", "92", "Hauts-de-Seine", 1, 0, 0.0, 1, 1.0, 3000.0,
     1, 1, 1, 0.0, 2000.0, 2000.0, 2000.0, 1, N, N, N, 0, 1.0, "les deux"),
    # M1810: F1 and F2 only, all in region 11
    ("M1810", N, "pays", "FR", "France", 0, 0, N, 0, N, N, 0,
     2, 2, 0.5, 2250.0, 1875.0, 2625.0, 2, 150.0, 125.0, 175.0, 2, 0.0, "formations seulement"),
    ("M1810", N, "region", "11", "Île-de-France", 0, 0, N, 0, N, N, 0,
     2, 2, 0.5, 2250.0, 1875.0, 2625.0, 2, 150.0, 125.0, 175.0, 2, 0.0, "formations seulement"),
    ("M1810", N, "departement", "75", "Paris", 0, 0, N, 0, N, N, 0,
     2, 2, 0.5, 2000.0, 1500.0, 2500.0, 2, 150.0, 125.0, 175.0, 2, 0.0, "formations seulement"),
    ("M1810", N, "departement", "92", "Hauts-de-Seine", 0, 0, N, 0, N, N, 0,
     1, 1, 0.0, 2000.0, 2000.0, 2000.0, 1, N, N, N, 0, 0.0, "formations seulement"),
]  # fmt: skip


def same(got, want) -> bool:
    if want is None or got is None:
        return got is want
    if isinstance(want, float):
        return math.isclose(float(got), want, rel_tol=1e-9, abs_tol=1e-9)
    return got == want


def assert_table(rows, expected=EXPECTED):
    assert len(rows) == len(expected)
    for got, want in zip(rows, expected, strict=True):
        wrong = [
            f"{name}: {g!r} ≠ {w!r}"
            for name, g, w in zip(COLUMNS, got, want, strict=True)
            if not same(g, w)
        ]
        assert not wrong, (want[:4], wrong)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory) -> tuple[Path, str]:
    work = tmp_path_factory.mktemp("metiers")
    write_csv(work / "formations.csv", FORMATIONS)
    write_csv(work / "offres.csv", OFFERS)
    proc = entrepot(work, "w.duckdb", "--formations", "formations.csv", "--offres", "offres.csv",
                    "--metiers-csv", "metiers.csv", "--metiers-parquet", "metiers.parquet")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return work, proc.stdout


def test_the_bridge_table_is_the_hand_computed_one(loaded):
    work, _ = loaded
    with duckdb.connect(str(work / "w.duckdb"), read_only=True) as con:
        described = con.execute("DESCRIBE metiers").fetchall()
        rows = con.execute(f"SELECT {', '.join(COLUMNS)} FROM metiers").fetchall()
    assert [d[0] for d in described] == list(COLUMNS)
    types = {d[0]: d[1] for d in described}
    assert {types[c] for c in COLUMNS if c.startswith("nb_")} == {"BIGINT"}
    assert {types[c] for c in COLUMNS if c.startswith(("part_", "prix_", "heures_"))} == {"DOUBLE"}
    assert types["salaire_median"] == types["offres_par_formation"] == "DOUBLE"
    assert_table(rows)


def test_the_command_says_how_many_codes_match_and_how_many_salaries_were_read(loaded):
    _, stdout = loaded
    # M1805 on both sides; A1101 offers only; K2111 and M1810 trainings only.
    assert (
        "Métiers (codes ROME) : 1 présents des deux côtés, 1 dans les offres seulement, "
        "2 dans les formations seulement"
    ) in stdout
    # read: offers 1, 2, 3, 6 and 5 (its comment); unreadable: 4 (Cachet, "A négocier");
    # without salary: 7.
    assert (
        "Salaires : 5 offres au salaire lisible (dont 1 lue dans le seul commentaire), "
        "1 illisible (non comptée dans la médiane), 1 sans salaire."
    ) in stdout
    # F1's 92 row (0 h) and F5 (empty); F4 (0 €).
    assert "Formations : 2 lignes sans durée et 1 sans prix (0 ou vide : non donné)" in stdout
    assert "1 offres sans code ROME" in stdout


def test_offers_get_their_region_from_the_departement_or_a_region_name(loaded):
    work, _ = loaded
    with duckdb.connect(str(work / "w.duckdb"), read_only=True) as con:
        regions = dict(con.execute("SELECT id, region FROM offres").fetchall())
    assert regions == {"1": "11", "2": "11", "3": "11", "4": None, "5": "84", "6": "93", "7": None}


def test_the_bridge_is_also_written_as_csv_and_parquet(loaded):
    work, _ = loaded
    data = (work / "metiers.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    with (work / "metiers.csv").open(encoding="utf-8-sig", newline="") as file:
        table = list(csv.reader(file))
    assert table[0] == list(COLUMNS)
    assert len(table) == len(EXPECTED) + 1
    m1805 = dict(zip(COLUMNS, table[7], strict=True))
    assert (m1805["code_rome"], m1805["territoire"]) == ("M1805", "FR")
    assert (m1805["nb_offres"], m1805["part_cdi"], m1805["prix_q1"]) == ("5", "0.6", "1250.0")
    assert m1805["part_distance"] == "0.5"
    assert table[1][COLUMNS.index("part_distance")] == ""  # NULL → empty cell
    with duckdb.connect() as con:
        rows = con.execute(
            f"SELECT {', '.join(COLUMNS)} FROM read_parquet(?)", [str(work / "metiers.parquet")]
        ).fetchall()
    assert_table(rows)
