"""Salary texts → monthly gross euros, by hand."""

from __future__ import annotations

import pytest

from cpfft.entrepot.salaire import monthly_salary


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
