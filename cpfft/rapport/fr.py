"""French formatting of numbers and dates for the report (``1 234,5``, ``2 décembre 2026``)."""

from __future__ import annotations

from datetime import date as Date
from datetime import datetime

#: Thousands separator: a no-break space, so that a number never wraps.
ESPACE = "\u00a0"

MOIS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)


def nombre(value: float | None, decimales: int = 0) -> str:
    """``1234.5`` → ``1 234,5`` (with ``decimales=1``); trailing ``,0`` dropped; None → ``–``."""
    if value is None:
        return "–"
    text = f"{value:,.{decimales}f}"
    if decimales and text.endswith("." + "0" * decimales):
        text = text[: -(decimales + 1)]
    if text in ("-0", "-0.0"):
        text = "0"
    return text.replace(",", ESPACE).replace(".", ",").replace("-", "−")


def euros(value: float | None) -> str:
    return "–" if value is None else f"{nombre(value)}{ESPACE}€"


def heures(value: float | None) -> str:
    return "–" if value is None else f"{nombre(value)}{ESPACE}h"


def pourcent(part: float | None) -> str:
    """``0.4`` → ``40 %`` (a no-break space before the sign, as French writes it); None → ``–``."""
    return "–" if part is None else f"{nombre(part * 100)}{ESPACE}%"


def date(moment: datetime | None) -> str:
    """A UTC instant as ``2 décembre 2026 à 06:00 UTC`` (``1er`` for the first day)."""
    if moment is None:
        return "date inconnue"
    day = "1er" if moment.day == 1 else str(moment.day)
    return f"{day} {MOIS[moment.month - 1]} {moment.year} à {moment:%H:%M} UTC"


def jour(day: Date, annee: bool = True) -> str:
    """A calendar day: ``2 décembre 2026`` (``1er`` for the first day), or ``2 déc.``
    without the year (short, for a chart's axis)."""
    number = "1er" if day.day == 1 else str(day.day)
    if not annee:
        month = MOIS[day.month - 1]
        return f"{number} {month if len(month) <= 4 else month[:3] + '.'}"
    return f"{number} {MOIS[day.month - 1]} {day.year}"


def accord(n: int, mot: str, pluriel: str | None = None) -> str:
    """The word agreed with ``n``: ``offre`` for 0 and 1, ``offres`` from 2 (French)."""
    return mot if abs(n) < 2 else (pluriel or mot + "s")


def compte(n: int, mot: str, pluriel: str | None = None) -> str:
    """``1 offre``, ``0 offre``, ``2 offres`` (French: 0 and 1 take the singular)."""
    return f"{nombre(n)} {accord(n, mot, pluriel)}"
