"""The report's numbers on the hand-built warehouse of tests/rapport/warehouse.py, checked
against figures worked out by hand from its rows (see that module's table)."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import pytest

from cpfft.cpf.themes import THEMES_BY_ID
from cpfft.rapport import figures
from cpfft.rapport.figures import Chiffres, Classe, Filtres, NotAWarehouse
from tests.rapport.warehouse import build

NUMERIQUE = THEMES_BY_ID["numerique"].codes  # ('326',)


def jobs(rows):
    return [(m.code_rome, m.nb_offres, m.nb_formations) for m in rows]


def test_whole_country(con):
    r = figures.rapport(con, Filtres(min_offres=2))
    # 10 offers; trainings F1..F5; SIRET S1..S4. ROME codes: M1805, J1501 both sides; K2204
    # offers only; M1810, D1211, M1802 trainings only.
    assert r.chiffres == Chiffres(10, 5, 4, 2, 1, 3)
    assert r.chiffres.nb_rome == 6
    assert jobs(r.top_metiers) == [("M1805", 5, 2), ("J1501", 3, 1), ("K2204", 2, 0)]
    assert r.top_metiers[0].nom == "Études et développement informatique (M1805)"
    # J1501: 3 offers for 1 training; M1805: 5 for 2 = 2.5.
    assert jobs(r.ecarts) == [("J1501", 3, 1), ("M1805", 5, 2)]
    assert [m.offres_par_formation for m in r.ecarts] == [3.0, 2.5]
    assert jobs(r.sans_formation) == [("K2204", 2, 0)]
    assert r.territoire == figures.Territoire("pays", "FR", "France")
    assert r.region_choisie is None
    assert r.extractions["formations"].extrait_le == datetime(2026, 12, 1, 5, 30, tzinfo=UTC)
    assert r.extractions["offres"].extrait_le == datetime(2026, 12, 2, 6, 0, tzinfo=UTC)
    assert r.extractions["offres"].nb_lignes == 10


def test_per_region_counts_every_region_and_region_level_offers(con):
    r = figures.rapport(con, Filtres())
    assert len(r.regions) == 18
    counts = {
        x.code: (x.nb_offres, x.nb_formations) for x in r.regions if x.nb_offres or x.nb_formations
    }
    # 11: O1, O2, O3 / F1 (two rows), F2. 84: O4, O5 and the region-level O6 / F3, F5.
    # 53: O7, O10 / F4. O8 and O9 (no place) are in no region.
    assert counts == {"11": (3, 2), "84": (3, 2), "53": (2, 1)}
    assert {x.code: x.offres_par_formation for x in r.regions}["84"] == 1.5


def test_prices_and_hours_one_value_per_training_zeros_left_out(con):
    r = figures.rapport(con, Filtres())
    # F1's two rows (1000, 1200) make one value, 1100; F4's price is 0: not given.
    # Sorted: 500, 1100, 2000, 3000. Quartiles interpolated: h = 3p.
    p = r.prix
    assert (p.n, p.minimum, p.q1, p.mediane, p.q3, p.maximum) == (4, 500, 950, 1550, 2250, 3000)
    assert p.sans_valeur == 1
    # Under 20 values the bins cover 0..max; width 500 (the round width for ~10 bins).
    assert [c.effectif for c in p.classes] == [0, 1, 1, 0, 1, 0, 1]
    assert p.classes[0] == Classe(0, 500, 0)
    assert p.classes[-1] == Classe(3000, 3500, 1)
    # F3's 0 hours are not given either: 70, 100, 200, 400 (h = 3p: q1 = 70 + 0.75 × 30,
    # q3 = 200 + 0.25 × 200). Counted, the 0 would have made the median 100.
    h = r.heures
    assert (h.n, h.minimum, h.q1, h.mediane, h.q3, h.maximum) == (4, 70, 92.5, 150, 250, 400)
    assert h.sans_valeur == 1
    assert [c.effectif for c in h.classes] == [0, 1, 1, 0, 1, 0, 0, 0, 1]


def test_apprenticeship_share_of_each_job(con):
    r = figures.rapport(con, Filtres(min_offres=2))
    # M1805: O1 of O1-O4, O9; J1501: O5, O6 of O5, O6, O10; K2204: none.
    shares = {m.code_rome: (m.nb_offres_alternance, m.part_alternance) for m in r.top_metiers}
    assert shares == {"M1805": (1, 0.2), "J1501": (2, 2 / 3), "K2204": (0, 0.0)}
    r = figures.rapport(con, Filtres(region="84", min_offres=1))
    assert {m.code_rome: m.part_alternance for m in r.top_metiers} == {"J1501": 1.0, "M1805": 0.0}


def test_skills_most_asked_for_per_job_an_offer_counting_once(con):
    r = figures.rapport(con, Filtres())
    k = {code: [(c.libelle, c.nb_offres, c.part) for c in skills]
         for code, skills in r.competences.items()}  # fmt: skip
    # M1805 (5 offers): Python O1, O2 (twice, once counted), O4, O9; web O1, O3; needs O3.
    assert k["M1805"] == [
        ("Programmer en Python", 4, 0.8),
        ("Concevoir une application web", 2, 0.4),
        ("Analyser les besoins du client", 1, 0.2),
    ]
    # J1501 (3 offers): ties by label.
    assert k["J1501"] == [
        ("Réaliser des soins d'hygiène", 2, 2 / 3),
        ("Accueillir une personne âgée", 1, 1 / 3),
    ]
    assert "K2204" not in k  # its offers list no skill
    # Territory: Île-de-France has O1-O3 of M1805.
    r = figures.rapport(con, Filtres(region="11", min_offres=1))
    assert [(c.libelle, c.nb_offres) for c in r.competences["M1805"]] == [
        ("Concevoir une application web", 2),
        ("Programmer en Python", 2),
        ("Analyser les besoins du client", 1),
    ]
    # At most TOP_COMPETENCES per job.
    jobs = list(r.top_metiers)
    assert len(figures.competences(con, Filtres(), None, jobs, top=1)["M1805"]) == 1


def test_region_filter(con):
    r = figures.rapport(con, Filtres(region="11", min_offres=1))
    assert r.territoire.nom == "Île-de-France"
    # Offers O1, O2, O3; trainings F1, F2 (S1, S2); bridge at region 11: M1805 3/2, M1810 0/1.
    assert r.chiffres == Chiffres(3, 2, 2, 1, 0, 1)
    assert jobs(r.top_metiers) == [("M1805", 3, 2)]
    assert r.prix.mediane == 2050  # F1 1100, F2 3000
    assert r.region_choisie == "11"
    assert len(r.regions) == 18  # the per-region chart keeps every region


def test_departement_filter_uses_that_departements_rows(con):
    r = figures.rapport(con, Filtres(departement="75", min_offres=1))
    assert r.territoire == figures.Territoire("departement", "75", "Paris")
    assert r.chiffres == Chiffres(2, 2, 2, 1, 0, 1)
    assert jobs(r.top_metiers) == [("M1805", 2, 2)]
    # F1's Paris row costs 1000 (its Hauts-de-Seine row, 1200, is not in Paris).
    assert (r.prix.minimum, r.prix.maximum) == (1000, 3000)
    assert r.region_choisie == "11"


def test_theme_filter_keeps_its_trainings_and_the_jobs_they_lead_to(con):
    filters = Filtres(theme="numerique", nsf=NUMERIQUE, min_offres=1)
    assert figures.theme_romes(con, NUMERIQUE) == ["M1802", "M1805", "M1810"]
    r = figures.rapport(con, filters)
    # Trainings F1, F2, F5 (S1, S2, S4); offers of M1805: O1-O4, O9.
    assert r.chiffres == Chiffres(5, 3, 3, 1, 0, 2)
    assert jobs(r.top_metiers) == [("M1805", 5, 2)]
    assert r.prix.n == 3
    assert r.prix.mediane == 2000
    counts = {x.code: (x.nb_offres, x.nb_formations) for x in r.regions}
    assert counts["11"] == (3, 2)
    assert counts["84"] == (1, 1)
    assert counts["53"] == (0, 0)


def test_rome_filter(con):
    r = figures.rapport(con, Filtres(rome="J1501", min_offres=1))
    assert r.chiffres == Chiffres(3, 1, 1, 1, 0, 0)
    assert jobs(r.top_metiers) == [("J1501", 3, 1)]
    assert jobs(r.ecarts) == [("J1501", 3, 1)]
    counts = {x.code: (x.nb_offres, x.nb_formations) for x in r.regions}
    assert counts["84"] == (2, 1)
    assert counts["53"] == (1, 0)
    assert r.prix.n == 1
    assert r.prix.mediane == 500
    assert figures.rome_known(con, "J1501")
    assert not figures.rome_known(con, "A1101")


def test_min_offres_threshold(con):
    r = figures.rapport(con, Filtres(min_offres=4))
    assert jobs(r.ecarts) == [("M1805", 5, 2)]  # J1501 has 3 offers only
    assert r.sans_formation == ()  # K2204 has 2


def test_ties_are_broken_by_trainings_then_code():
    m = figures.Metier
    rows = [m("B0002", None, 4, 1), m("B0001", None, 4, 1), m("A0001", None, 4, 3)]
    assert [x.code_rome for x in figures.top_metiers(rows)] == ["A0001", "B0001", "B0002"]
    assert [x.code_rome for x in figures.ecarts(rows, 1)] == ["B0001", "B0002", "A0001"]


@pytest.mark.parametrize(
    ("span", "width"), [(3000, 500), (400, 50), (7, 1), (1, 0.1), (24, 2.5), (0, 1)]
)
def test_nice_width(span, width):
    assert figures.nice_width(span) == pytest.approx(width)


def test_distribution_gathers_values_past_the_95th_percentile():
    values = [float(v) for v in range(1, 20)] + [1000.0]  # 20 values, one far out
    d = figures.distribution("x", values)
    # 95th percentile: h = 19 × 0.95 = 18.05 → 19 + 0.05 × 981 = 68.05; width 10 → 7 bins.
    assert [(c.bas, c.haut) for c in d.classes][-2:] == [(60, 70), (70, None)]
    assert [c.effectif for c in d.classes] == [9, 10, 0, 0, 0, 0, 0, 1]
    assert figures.distribution("x", []).classes == ()


def test_check_warehouse_names_what_is_missing(tmp_path):
    con = duckdb.connect(str(tmp_path / "x.duckdb"))
    con.execute("CREATE TABLE formations (numero_formation VARCHAR)")
    with pytest.raises(
        NotAWarehouse, match="no table offres, offres_competences, sources, metiers"
    ):
        figures.check_warehouse(con)
    con.close()
    path = build(tmp_path / "w.duckdb")
    con = duckdb.connect(str(path))
    con.execute("ALTER TABLE offres DROP COLUMN region")
    with pytest.raises(NotAWarehouse, match="table offres has no column region"):
        figures.check_warehouse(con)
    con.close()


# ---------------------------------------------------------------- over time


@pytest.fixture(scope="module")
def history_con(tmp_path_factory):
    from tests.rapport.warehouse import add_history

    path = add_history(build(tmp_path_factory.mktemp("historique") / "cpfft.duckdb"))
    connection = duckdb.connect(str(path), read_only=True)
    yield connection
    connection.close()


def test_history_offers_online_each_day_added_and_withdrawn_each_week(history_con):
    from datetime import date

    from tests.rapport.warehouse import ONLINE

    h = figures.historique(history_con, Filtres(), None, min_retraits=1)
    assert h is not None
    assert not h.commence
    assert h.jours == tuple((date(2026, 11, d), n) for d, n in zip(range(2, 12), ONLINE,
                                                                    strict=True))  # fmt: skip
    assert h.semaines == (
        figures.Semaine(date(2026, 11, 2), 2, 2),
        figures.Semaine(date(2026, 11, 9), 1, 2),
    )
    assert [(d.code_rome, d.libelle, d.mediane_jours, d.n) for d in h.durees] == [
        ("M1805", "Études et développement informatique", 5.0, 3),
        ("J1501", "Soins d'hygiène, de confort du patient", 4.0, 1),
    ]
    assert h.catalogue == (
        figures.Instantane(date(2026, 11, 5), 1, 1, 1),
        figures.Instantane(date(2026, 11, 9), 1, 1, 0),
    )
    # The report's own threshold: a job needs 5 withdrawn offers.
    assert figures.historique(history_con, Filtres(), None).durees == ()


def test_history_follows_the_filters(history_con):
    from datetime import date

    h = figures.historique(history_con, Filtres(region="84"), None, min_retraits=1)
    # H3 (3 → 8 Nov) and H4 (2 Nov → still online, two versions) only.
    assert [n for _, n in h.jours] == [1, 2, 2, 2, 2, 2, 1, 1, 1, 1]
    assert h.semaines == (figures.Semaine(date(2026, 11, 2), 1, 1),)
    assert h.catalogue == (
        figures.Instantane(date(2026, 11, 5), 1, 1, 0),
        figures.Instantane(date(2026, 11, 9), 0, 0, 0),
    )
    h = figures.historique(history_con, Filtres(rome="J1501"), None, min_retraits=1)
    assert [n for _, n in h.jours] == [1, 1, 1, 1, 2, 2, 2, 1, 1, 1]


def test_a_single_load_is_a_history_that_starts_and_no_table_is_none(tmp_path, con):
    from datetime import date

    from tests.rapport.warehouse import add_history

    path = add_history(build(tmp_path / "cpfft.duckdb"), days=(2,))
    with duckdb.connect(str(path), read_only=True) as one:
        h = figures.historique(one, Filtres(), None)
    assert h.commence
    assert h.debut == date(2026, 11, 2)
    assert figures.historique(con, Filtres(), None) is None  # a warehouse of an older cpfft
