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
- an amount right after "prime", "ticket", "panier", "indemnité", "SMIC +"… is an
  extra, skipped for the next one ("Prime de 150 € + taux horaire 12 €": 12 € an hour);
- the period a word near the amount gives, after it first, then just before it
  ("mois"/"mensuel", "heure"/"horaire"/"/h", "semaine", "an"/"annuel"/"année"; a day
  is no period to read a month from: ``None``), else "K" means a yearly amount in
  thousands, else the amount's size says: under 100 € an hourly rate, under 10 000 € a
  monthly amount, above a yearly one. A period that gives an implausible salary is
  passed over for the next ("Base 35 heures : 1800 € brut" is monthly);
- an hourly rate must lie between 9 € and 150 € and the result be a plausible monthly
  gross salary (300 € to 30 000 €), else ``None``: a comment without an amount
  ("A négocier", "SMIC + primes"), or with a number that is not one ("13ème mois"),
  stays unread, and is counted as such. A net amount is read as stated (comments
  rarely say which).

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
#: Period words, looked for just after an amount (or just before: "taux horaire 12 €").
_PERIODS = (
    ("mensuel", re.compile(r"mois|mensuel", re.IGNORECASE)),
    ("horaire", re.compile(r"heure|horaire|/\s*h\b|\bde l'h\b|\bbrut/h\b", re.IGNORECASE)),
    ("hebdomadaire", re.compile(r"semaine|hebdo", re.IGNORECASE)),
    ("jour", re.compile(r"jour|journ", re.IGNORECASE)),
    ("annuel", re.compile(r"\ban\b|\bans\b|annuel|année|/\s*an\b", re.IGNORECASE)),
)
#: How far from the amount a period word may be (characters).
NEAR = 22
#: Words that make the amount that follows them an extra, not the salary.
_EXTRA = re.compile(r"prime|ticket|titre|panier|indemnit|mutuelle|smic\s*\+", re.IGNORECASE)
#: Per-period factors beyond the libellé's: a week is 52/12 of a month; a day is no period a
#: monthly amount can be read from (how many days?).
COMMENT_PER_MONTH = {**PER_MONTH, "hebdomadaire": 52 / 12}
#: The monthly gross amounts a comment may plausibly state, and the hourly rates (euros): an
#: hourly rate under the minimum wage's order of magnitude is a bonus, not a wage.
PLAUSIBLE = (300.0, 30_000.0)
PLAUSIBLE_HOURLY = (9.0, 150.0)


def _periods(text: str, match: re.Match[str]) -> list[str]:
    """The periods words near the amount give, nearest kind first: after it, then just
    before it."""
    after = text[match.end() : match.end() + NEAR]
    before = text[max(0, match.start() - NEAR) : match.start()]
    found = []
    for window in (after, before):
        for period, words in _PERIODS:
            if words.search(window) and period not in found:
                found.append(period)
    return found


def _monthly(amount: float, period: str) -> float | None:
    if period == "horaire" and not PLAUSIBLE_HOURLY[0] <= amount <= PLAUSIBLE_HOURLY[1]:
        return None
    monthly = amount * COMMENT_PER_MONTH[period]
    return monthly if PLAUSIBLE[0] <= monthly <= PLAUSIBLE[1] else None


def comment_salary(text: str | None) -> float | None:
    """The monthly gross amount (euros) a salary comment states; ``None`` if it states none
    (see the module doc)."""
    if not text:
        return None
    for match in _COMMENT_AMOUNT.finditer(text):
        if _EXTRA.search(text[max(0, match.start() - NEAR) : match.start()]):
            continue  # "Prime de 150 €", "tickets restaurant de 9 €": not the salary
        thousands = bool(match["low_k"] or match["high_k"] or match["unit"].lower().startswith("k"))
        low = _amount(match["low"])
        high = _amount(match["high"]) if match["high"] else low
        amount = (low + high) / 2 * (1000 if thousands else 1)
        if amount <= 0:
            continue
        periods = _periods(text, match)
        if periods[:1] == ["jour"]:
            return None  # a daily rate: no month to read from it
        # The words' periods in turn ("35 heures : 1800 €" is no hourly rate of 1 800 €),
        # then "K" (yearly), then the amount's size.
        size = "horaire" if amount < 100 else "mensuel" if amount < 10_000 else "annuel"
        for period in [p for p in periods if p != "jour"] + ["annuel"] * thousands + [size]:
            monthly = _monthly(amount, period)
            if monthly is not None:
                return monthly
        return None
    return None


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
