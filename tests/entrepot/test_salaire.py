"""Salary texts → monthly gross euros, by hand."""

from __future__ import annotations

import pytest

from cpfft.entrepot.salaire import comment_salary, monthly_salary, offer_salary


@pytest.mark.parametrize(
    ("text", "monthly"),
    [
        ("Mensuel de 1800.00 Euros à 2000.00 Euros sur 12 mois", 1900.0),
        ("Mensuel de 1710,00 Euros sur 12 mois", 1710.0),  # French decimal comma
        ("Mensuel de 2000 Euros sur 13 mois", 2000.0),  # the monthly amount as stated
        ("Annuel de 35000.00 Euros à 40000.00 Euros", 3125.0),  # 37 500 / 12
        ("Annuel de 38000.0 Euros à 45000.0 Euros sur 12.0 mois", 3458.333333333333),
        ("Annuel de 42000.0 Euros sur 13.0 mois", 3500.0),
        ("Annuel de 36 000 Euros", 3000.0),  # thousands separated by a space
        ("Horaire de 11.88 Euros sur 12 mois", 1801.8396),  # 11.88 × 151.67
        ("Horaire de 17.0 Euros à 18.7 Euros sur 12.0 mois", 2707.3095),  # 17.85 × 151.67
        ("  mensuel de 1500 euros  ", 1500.0),
    ],
)
def test_salary_texts_give_a_monthly_amount(text, monthly):
    assert monthly_salary(text) == pytest.approx(monthly)


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "Cachet de 200.00 Euros",  # per performance: no monthly equivalent
        "Selon profil",
        "Mensuel de 0.00 Euros sur 12 mois",
        "Hebdomadaire de 500 Euros",
        "Mensuel de Euros",
        "Mensuel de 1800 Euros selon expérience",
    ],
)
def test_other_texts_give_none(text):
    assert monthly_salary(text) is None


# ------------------------------------------------------------------ comments
# Real offers give about one salary in twenty only in salaire.commentaire.


@pytest.mark.parametrize(
    ("text", "monthly"),
    [
        ("Entre 12 et 14€ brut", 13 * 151.67),  # a range of hourly rates (by their size)
        ("Rémunération : 26/27 K / an", 26_500 / 12),  # thousands a year
        ("De 35 à 40 k€ annuels", 37_500 / 12),
        ("45K€", 45_000 / 12),  # "K" alone says yearly
        ("1800 € brut mensuel", 1800.0),
        ("2 100 euros bruts par mois", 2100.0),  # thousands separated by a space
        ("1 800,50 €", 1800.5),  # no period word: a monthly size
        ("11,88 € de l'heure", 11.88 * 151.67),
        ("selon convention, 12.5€/h", 12.5 * 151.67),
        ("Salaire : 2000€ - 2500€ brut", 2250.0),
        ("2000 à 2200 euros", 2100.0),
        ("35000 euros annuel", 35_000 / 12),
        ("38000 €", 38_000 / 12),  # no period word: a yearly size
        ("2,5 k€ par mois", 2500.0),  # thousands, but a month said
        ("450 € par semaine", 450 * 52 / 12),
        # a period word that gives no plausible salary is passed over
        ("Base 35 heures : 1800 € brut", 1800.0),
        ("2000 € brut + heures supplémentaires majorées", 2000.0),
        ("Horaires : 9h-17h, 1800 € brut", 1800.0),
        ("2000 € brut mensuel + prime annuelle", 2000.0),
        ("12 € de l'heure, 1 mois d'essai", 12 * 151.67),
        # an extra before the salary is skipped
        ("Prime d'habillage 60 €, salaire 1900 € brut", 1900.0),
        ("Prime de 150 € + taux horaire 12 €", 12 * 151.67),
    ],
)
def test_salary_comments_that_state_an_amount_give_it_monthly(text, monthly):
    assert comment_salary(text) == pytest.approx(monthly)


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "A négocier",
        "Selon profil",
        "Selon expérience",
        "SMIC + primes",  # no amount: the minimum wage changes over time
        "13ème mois",  # a number, but no amount in euros
        "35H hebdo",
        "Prime de 500 € par an",  # 42 € a month: not a salary
        "Salaire de 500000 € par mois",  # implausible
        "SMIC + 50 € de prime",  # an extra only
        "Smic + tickets restaurant de 9 €",
        "Panier repas 5 € par jour",
        "80 € / jour",  # a daily rate: no month to read from it
        "5 € de l'heure",  # under any legal hourly wage
    ],
)
def test_comments_without_a_salary_give_none(text):
    assert comment_salary(text) is None


def test_an_offer_salary_comes_from_its_libelle_else_from_its_comment():
    libelle = "Mensuel de 1710,00 Euros sur 12 mois"
    assert offer_salary(libelle, "Entre 12 et 14€ brut") == (1710.0, "libelle")
    assert offer_salary(None, "1800 € brut mensuel") == (1800.0, "commentaire")
    assert offer_salary("Cachet de 200.00 Euros", "1800 € brut") == (1800.0, "commentaire")
    assert offer_salary("Cachet de 200.00 Euros", "A négocier") == (None, None)
    assert offer_salary(None, None) == (None, None)
