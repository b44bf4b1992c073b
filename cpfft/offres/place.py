"""Where an offer is: its département, its region, and coordinates that fit them (pure).

What real offers send in ``lieuTravail``:

- ``libelle`` ``NN - COMMUNE`` (most offers), ``NN`` alone with the commune's code
  beside it, a region's name (``Île-de-France``) or ``France`` with nothing else;
- ``commune``, the INSEE code (its first two or three characters are the
  département), ``codePostal``;
- ``latitude`` and ``longitude``, swapped in about one located offer in forty (an
  offer in ``33 - PESSAC`` at latitude −0.63, longitude 44.8): a map drawn from
  them would put it in the sea off Somalia.

The coordinates are checked against the département's bounding box
(:attr:`cpfft.geo.Departement.bounds`, widened by :data:`MARGIN`; against every
département's for an offer whose département is unknown). A pair that does not fit
but fits once swapped is swapped back; one that fits neither way is emptied.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from cpfft.cleaning import BadNumber, clean_number
from cpfft.geo import DEPARTEMENTS, DEPARTEMENTS_BY_CODE, UnknownPlace, find_region

#: Degrees (about 10 km) a point may lie outside its département's bounding box: a
#: commune's point on the edge, a rounding.
MARGIN = 0.1

_DEP_PREFIX = re.compile(r"^\s*(\d{2,3}|2[AB])(?:\s+-\s|\s*$)")

Verdict = Literal["kept", "swapped", "emptied"]


@dataclass(frozen=True)
class Place:
    departement: str | None
    region: str | None
    latitude: float | None
    longitude: float | None
    #: What the check did with the coordinates; None when the offer gave none.
    coordinates: Verdict | None = None


def departement_of(lieu: dict[str, Any]) -> str | None:
    """From the ``NN - Commune`` label (or ``NN`` alone), else from the INSEE commune code."""
    m = _DEP_PREFIX.match(str(lieu.get("libelle") or ""))
    if m and m.group(1) in DEPARTEMENTS_BY_CODE:
        return m.group(1)
    commune = str(lieu.get("commune") or "")
    code = commune[:3] if commune.startswith("97") else commune[:2]
    return code if code in DEPARTEMENTS_BY_CODE else None


def region_of(lieu: dict[str, Any], departement: str | None) -> str | None:
    """The département's region, else the region the label names (``Île-de-France``)."""
    if departement is not None:
        return DEPARTEMENTS_BY_CODE[departement].region
    label = str(lieu.get("libelle") or "").strip()
    if not label or any(ch.isdigit() for ch in label):
        return None  # a code or an "NN - commune" label is no region's name
    try:
        return find_region(label)
    except UnknownPlace:
        return None  # "France", a country, a misspelt name


def _degrees(value: Any) -> float | None:
    try:
        number = clean_number(value, "float")
    except BadNumber:
        return None
    return float(number) if number is not None else None


def _fits(departement: str | None, latitude: float, longitude: float) -> bool:
    if departement is not None:
        return DEPARTEMENTS_BY_CODE[departement].holds(latitude, longitude, MARGIN)
    return any(d.holds(latitude, longitude, MARGIN) for d in DEPARTEMENTS)


def checked_coordinates(
    departement: str | None, latitude: Any, longitude: Any
) -> tuple[float | None, float | None, Verdict | None]:
    """(latitude, longitude, verdict): kept when they fit the département, swapped back
    when they fit once swapped, emptied otherwise (see the module doc)."""
    lat, lon = _degrees(latitude), _degrees(longitude)
    if lat is None and lon is None:
        return None, None, None
    if lat is None or lon is None:
        return None, None, "emptied"  # half a point is no place
    if _fits(departement, lat, lon):
        return lat, lon, "kept"
    if _fits(departement, lon, lat):
        return lon, lat, "swapped"
    return None, None, "emptied"


def place_of(lieu: dict[str, Any]) -> Place:
    departement = departement_of(lieu)
    lat, lon, verdict = checked_coordinates(
        departement, lieu.get("latitude"), lieu.get("longitude")
    )
    return Place(departement, region_of(lieu, departement), lat, lon, verdict)
