"""France Travail's salary text (``salaire.libelle``) → a monthly gross amount in euros.

The API gives the salary as one French sentence, in a handful of shapes::

    Mensuel de 1800.00 Euros à 2000.00 Euros sur 12 mois
    Mensuel de 1710,00 Euros sur 12 mois
    Annuel de 38000.0 Euros à 45000.0 Euros sur 12.0 mois
    Horaire de 11.88 Euros sur 12 mois

:func:`monthly_salary` reads it: a range gives its midpoint; a yearly amount is
divided by 12; an hourly one is multiplied by 151.67 (35 hours a week, the French
legal working time, × 52 weeks / 12). The "sur N mois" tail (how many monthly
payments) is not used: a monthly amount is taken as stated, a yearly one spread
over 12 months. Anything else (a per-fee "Cachet", a comment, an amount ≤ 0) is not
a salary one can compare: ``None``.
"""

from __future__ import annotations

import re

#: Hours in a month at 35 hours a week (35 × 52 / 12).
HOURS_PER_MONTH = 151.67
PER_MONTH = {"mensuel": 1.0, "annuel": 1 / 12, "horaire": HOURS_PER_MONTH}

_NUMBER = r"(\d[\d\u00a0\u202f ]*(?:[.,]\d+)?)"
_EUROS = r"\s*(?:euros?|€)"
_SALARY = re.compile(
    rf"^\s*(mensuel|annuel|horaire)\s+de\s+{_NUMBER}{_EUROS}"
    rf"(?:\s+à\s+{_NUMBER}{_EUROS})?"
    rf"(?:\s+sur\s+\d+(?:[.,]\d+)?\s+mois)?\s*\.?\s*$",
    re.IGNORECASE,
)


def _amount(text: str) -> float:
    return float(re.sub(r"[\u00a0\u202f ]", "", text).replace(",", "."))


def monthly_salary(text: str | None) -> float | None:
    """The monthly gross amount (euros) a salary text states; ``None`` if it states none."""
    if not text:
        return None
    match = _SALARY.match(text)
    if match is None:
        return None
    period, low, high = match.groups()
    amount = _amount(low) if high is None else (_amount(low) + _amount(high)) / 2
    if amount <= 0:
        return None
    return amount * PER_MONTH[period.lower()]
