"""French regions and départements (INSEE codes), shared by both spiders.

Users may name a place by its code (``11``, ``2A``, ``971``) or by its name
(``Île-de-France``, ``ile de france``, ``Bouches-du-Rhône``): :func:`find_region`
and :func:`find_departement` accept both and return the official code.
"""

from __future__ import annotations

import difflib
import unicodedata
from dataclasses import dataclass

from cpfft.errors import shown


@dataclass(frozen=True)
class Region:
    code: str
    name: str
    departements: tuple[str, ...]


@dataclass(frozen=True)
class Departement:
    code: str
    name: str
    region: str


REGIONS: tuple[Region, ...] = (
    Region("01", "Guadeloupe", ("971",)),
    Region("02", "Martinique", ("972",)),
    Region("03", "Guyane", ("973",)),
    Region("04", "La Réunion", ("974",)),
    Region("06", "Mayotte", ("976",)),
    Region("11", "Île-de-France", ("75", "77", "78", "91", "92", "93", "94", "95")),
    Region("24", "Centre-Val de Loire", ("18", "28", "36", "37", "41", "45")),
    Region("27", "Bourgogne-Franche-Comté", ("21", "25", "39", "58", "70", "71", "89", "90")),
    Region("28", "Normandie", ("14", "27", "50", "61", "76")),
    Region("32", "Hauts-de-France", ("02", "59", "60", "62", "80")),
    Region("44", "Grand Est", ("08", "10", "51", "52", "54", "55", "57", "67", "68", "88")),
    Region("52", "Pays de la Loire", ("44", "49", "53", "72", "85")),
    Region("53", "Bretagne", ("22", "29", "35", "56")),
    Region(
        "75",
        "Nouvelle-Aquitaine",
        ("16", "17", "19", "23", "24", "33", "40", "47", "64", "79", "86", "87"),
    ),
    Region(
        "76",
        "Occitanie",
        ("09", "11", "12", "30", "31", "32", "34", "46", "48", "65", "66", "81", "82"),
    ),
    Region(
        "84",
        "Auvergne-Rhône-Alpes",
        ("01", "03", "07", "15", "26", "38", "42", "43", "63", "69", "73", "74"),
    ),
    Region("93", "Provence-Alpes-Côte d'Azur", ("04", "05", "06", "13", "83", "84")),
    Region("94", "Corse", ("2A", "2B")),
)

_DEPARTEMENT_NAMES = {
    "01": "Ain", "02": "Aisne", "03": "Allier", "04": "Alpes-de-Haute-Provence",
    "05": "Hautes-Alpes", "06": "Alpes-Maritimes", "07": "Ardèche", "08": "Ardennes",
    "09": "Ariège", "10": "Aube", "11": "Aude", "12": "Aveyron", "13": "Bouches-du-Rhône",
    "14": "Calvados", "15": "Cantal", "16": "Charente", "17": "Charente-Maritime",
    "18": "Cher", "19": "Corrèze", "2A": "Corse-du-Sud", "2B": "Haute-Corse",
    "21": "Côte-d'Or", "22": "Côtes-d'Armor", "23": "Creuse", "24": "Dordogne",
    "25": "Doubs", "26": "Drôme", "27": "Eure", "28": "Eure-et-Loir", "29": "Finistère",
    "30": "Gard", "31": "Haute-Garonne", "32": "Gers", "33": "Gironde", "34": "Hérault",
    "35": "Ille-et-Vilaine", "36": "Indre", "37": "Indre-et-Loire", "38": "Isère",
    "39": "Jura", "40": "Landes", "41": "Loir-et-Cher", "42": "Loire", "43": "Haute-Loire",
    "44": "Loire-Atlantique", "45": "Loiret", "46": "Lot", "47": "Lot-et-Garonne",
    "48": "Lozère", "49": "Maine-et-Loire", "50": "Manche", "51": "Marne",
    "52": "Haute-Marne", "53": "Mayenne", "54": "Meurthe-et-Moselle", "55": "Meuse",
    "56": "Morbihan", "57": "Moselle", "58": "Nièvre", "59": "Nord", "60": "Oise",
    "61": "Orne", "62": "Pas-de-Calais", "63": "Puy-de-Dôme", "64": "Pyrénées-Atlantiques",
    "65": "Hautes-Pyrénées", "66": "Pyrénées-Orientales", "67": "Bas-Rhin", "68": "Haut-Rhin",
    "69": "Rhône", "70": "Haute-Saône", "71": "Saône-et-Loire", "72": "Sarthe",
    "73": "Savoie", "74": "Haute-Savoie", "75": "Paris", "76": "Seine-Maritime",
    "77": "Seine-et-Marne", "78": "Yvelines", "79": "Deux-Sèvres", "80": "Somme",
    "81": "Tarn", "82": "Tarn-et-Garonne", "83": "Var", "84": "Vaucluse", "85": "Vendée",
    "86": "Vienne", "87": "Haute-Vienne", "88": "Vosges", "89": "Yonne",
    "90": "Territoire de Belfort", "91": "Essonne", "92": "Hauts-de-Seine",
    "93": "Seine-Saint-Denis", "94": "Val-de-Marne", "95": "Val-d'Oise",
    "971": "Guadeloupe", "972": "Martinique", "973": "Guyane", "974": "La Réunion",
    "976": "Mayotte",
}  # fmt: skip

REGIONS_BY_CODE: dict[str, Region] = {r.code: r for r in REGIONS}
DEPARTEMENTS: tuple[Departement, ...] = tuple(
    Departement(code, _DEPARTEMENT_NAMES[code], region.code)
    for region in REGIONS
    for code in region.departements
)
DEPARTEMENTS_BY_CODE: dict[str, Departement] = {d.code: d for d in DEPARTEMENTS}
assert len(DEPARTEMENTS) == 101


def fold(text: str) -> str:
    """Case-, accent-, hyphen- and apostrophe-insensitive key for a place name."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    for sep in ("-", "'", "’", "_", "."):
        bare = bare.replace(sep, " ")
    return " ".join(bare.split())


class UnknownPlace(ValueError):
    """Raised with a message that names the closest valid places."""


def _lookup(value: str, by_code: dict, kind: str, list_all: str) -> str:
    raw = value.strip()
    code = raw.upper()
    if code.isdigit() and len(code) == 1:
        code = "0" + code
    if code in by_code:
        return code
    names = {fold(place.name): place.code for place in by_code.values()}
    key = fold(raw)
    if key in names:
        return names[key]
    close = difflib.get_close_matches(key, names, n=1, cutoff=0.75)
    hint = ""
    if close:
        place = by_code[names[close[0]]]
        hint = f" Did you mean {place.code} ({place.name})?"
    raise UnknownPlace(f"unknown {kind} {shown(raw)}.{hint} Valid {kind}s: {list_all}")


def find_region(value: str) -> str:
    """Return the INSEE code of a region given by code or name."""
    listing = ", ".join(f"{r.code} ({r.name})" for r in REGIONS)
    return _lookup(value, REGIONS_BY_CODE, "region", listing)


def find_departement(value: str) -> str:
    """Return the INSEE code of a département given by code or name."""
    return _lookup(
        value,
        DEPARTEMENTS_BY_CODE,
        "département",
        "codes 01-95, 2A, 2B, 971-976 or names, e.g. 75 or Gironde",
    )
