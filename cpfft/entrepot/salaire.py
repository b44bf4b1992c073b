"""France Travail's salary texts → a monthly gross amount in euros.

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

About one real offer in twenty gives its salary only in ``salaire.commentaire``, in
the recruiter's own words: "Entre 12 et 14€ brut", "Rémunération : 26/27 K / an",
"2 100 euros bruts par mois", "A négocier". :func:`comment_salary` reads the ones
that state an amount in euros (``€``, ``euro(s)``, or thousands as ``K``/``k€``):

- one amount, or a range ("entre A et B", "de A à B", "A - B", "A/B"): its midpoint;
- the period a word gives ("heure"/"horaire"/"/h", "mois"/"mensuel", "an"/"annuel"/
  "année"; "K" means a yearly amount in thousands), else the amount's size: under
  100 € an hourly rate, under 10 000 € a monthly amount, above a yearly one;
- the result must be a plausible monthly gross salary (300 € to 30 000 €), else
  ``None``: a comment without an amount ("A négocier", "SMIC + primes"), or with a
  number that is not one ("13ème mois"), stays unread, and is counted as such.

:func:`offer_salary` takes the libellé when it states an amount, else the comment.
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


_COMMENT_NUMBER = r"\d+(?:[\u00a0\u202f ]\d{3})*(?:[.,]\d+)?"
_COMMENT_AMOUNT = re.compile(
    rf"(?:entre\s+|de\s+)?(?P<low>{_COMMENT_NUMBER})\s*(?P<low_k>k)?\s*(?:€|euros?)?"
    rf"(?:\s*(?:et|à|a|-|–|/)\s*(?P<high>{_COMMENT_NUMBER})\s*(?P<high_k>k)?)?"
    r"\s*(?P<unit>k\s*€|k\s*euros?|k\b|€|euros?\b)",
    re.IGNORECASE,
)
_HOURLY = re.compile(r"heure|horaire|/\s*h\b|\bde l'h\b|\bbrut/h\b", re.IGNORECASE)
_YEARLY = re.compile(r"\ban\b|annuel|année|/\s*an\b|\bpar an\b", re.IGNORECASE)
_MONTHLY = re.compile(r"mois|mensuel", re.IGNORECASE)
#: The monthly gross amounts a comment may plausibly state (euros).
PLAUSIBLE = (300.0, 30_000.0)


def comment_salary(text: str | None) -> float | None:
    """The monthly gross amount (euros) a salary comment states; ``None`` if it states none
    (see the module doc)."""
    if not text:
        return None
    match = _COMMENT_AMOUNT.search(text)
    if match is None:
        return None
    thousands = bool(match["low_k"] or match["high_k"] or match["unit"].lower().startswith("k"))
    low = _amount(match["low"])
    high = _amount(match["high"]) if match["high"] else low
    amount = (low + high) / 2 * (1000 if thousands else 1)
    if amount <= 0:
        return None
    rest = text[match.end() :]
    if _HOURLY.search(rest) or _HOURLY.search(text[: match.start()]):
        period = "horaire"
    elif thousands or _YEARLY.search(rest):
        period = "annuel"
    elif _MONTHLY.search(rest):
        period = "mensuel"
    else:  # no word says: the size does
        period = "horaire" if amount < 100 else "mensuel" if amount < 10_000 else "annuel"
    monthly = amount * PER_MONTH[period]
    return monthly if PLAUSIBLE[0] <= monthly <= PLAUSIBLE[1] else None


def offer_salary(libelle: str | None, commentaire: str | None) -> tuple[float | None, str | None]:
    """An offer's monthly gross amount and where it was read (``"libelle"``,
    ``"commentaire"``), or ``(None, None)``."""
    amount = monthly_salary(libelle)
    if amount is not None:
        return amount, "libelle"
    amount = comment_salary(commentaire)
    if amount is not None:
        return amount, "commentaire"
    return None, None
