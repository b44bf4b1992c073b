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
    #: (latitude min, latitude max, longitude min, longitude max), degrees WGS 84.
    bounds: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)

    def holds(self, latitude: float, longitude: float, margin: float = 0.0) -> bool:
        """Whether the point lies in the département's bounding box, widened by ``margin``
        degrees on every side."""
        low_lat, high_lat, low_lon, high_lon = self.bounds
        return (
            low_lat - margin <= latitude <= high_lat + margin
            and low_lon - margin <= longitude <= high_lon + margin
        )


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

#: Each département's bounding box (latitude min, max, longitude min, max), rounded
#: outwards to the hundredth of a degree: computed from the outlines of IGN's Admin Express
#: COG 2018 (Licence Ouverte / Etalab), as simplified by the france-geojson project
#: (github.com/gregoiredavid/france-geojson, file departements-avec-outre-mer.geojson).
_BOUNDS: dict[str, tuple[float, float, float, float]] = {
    "01": (45.61, 46.52, 4.72, 6.18), "02": (48.83, 50.07, 2.95, 4.26),
    "03": (45.93, 46.81, 2.27, 4.01), "04": (43.66, 44.66, 5.49, 6.97),
    "05": (44.18, 45.13, 5.41, 7.08), "06": (43.48, 44.37, 6.63, 7.72),
    "07": (44.26, 45.37, 3.86, 4.89), "08": (49.22, 50.17, 4.02, 5.4),
    "09": (42.57, 43.32, 0.82, 2.18), "10": (47.92, 48.72, 3.38, 4.87),
    "11": (42.64, 43.47, 1.68, 3.25), "12": (43.69, 44.95, 1.83, 3.46),
    "13": (43.15, 43.93, 4.23, 5.82), "14": (48.75, 49.43, -1.16, 0.45),
    "15": (44.61, 45.49, 2.06, 3.38), "16": (45.19, 46.15, -0.47, 0.95),
    "17": (45.08, 46.38, -1.57, 0.01), "18": (46.42, 47.63, 1.77, 3.08),
    "19": (44.92, 45.77, 1.22, 2.53), "2A": (41.33, 42.39, 8.53, 9.41),
    "2B": (41.83, 43.03, 8.57, 9.56), "21": (46.9, 48.04, 4.06, 5.52),
    "22": (48.03, 48.91, -3.67, -1.9), "23": (45.66, 46.46, 1.37, 2.62),
    "24": (44.57, 45.72, -0.05, 1.45), "25": (46.55, 47.58, 5.69, 7.07),
    "26": (44.11, 45.35, 4.64, 5.84), "27": (48.66, 49.49, 0.29, 1.81),
    "28": (47.95, 48.95, 0.75, 2), "29": (47.7, 48.76, -5.15, -3.38),
    "30": (43.46, 44.46, 3.26, 4.85), "31": (42.68, 43.93, 0.44, 2.05),
    "32": (43.31, 44.08, -0.29, 1.21), "33": (44.19, 45.58, -1.27, 0.32),
    "34": (43.21, 43.98, 2.54, 4.2), "35": (47.63, 48.72, -2.29, -1.01),
    "36": (46.34, 47.28, 0.86, 2.21), "37": (46.73, 47.71, 0.05, 1.37),
    "38": (44.69, 45.89, 4.74, 6.36), "39": (46.26, 47.31, 5.25, 6.21),
    "40": (43.48, 44.54, -1.53, 0.14), "41": (47.18, 48.14, 0.58, 2.25),
    "42": (45.23, 46.28, 3.68, 4.77), "43": (44.74, 45.43, 3.08, 4.5),
    "44": (46.86, 47.84, -2.63, -0.94), "45": (47.48, 48.35, 1.51, 3.13),
    "46": (44.2, 45.05, 0.98, 2.22), "47": (43.97, 44.77, -0.15, 1.08),
    "48": (44.1, 44.98, 2.98, 4), "49": (46.96, 47.82, -1.36, 0.24),
    "50": (48.45, 49.73, -1.95, -0.73), "51": (48.51, 49.41, 3.39, 5.04),
    "52": (47.57, 48.69, 4.62, 5.9), "53": (47.73, 48.57, -1.24, -0.04),
    "54": (48.34, 49.57, 5.42, 7.13), "55": (48.4, 49.62, 4.88, 5.86),
    "56": (47.27, 48.22, -3.74, -2.03), "57": (48.52, 49.52, 5.89, 7.65),
    "58": (46.65, 47.59, 2.84, 4.24), "59": (49.96, 51.09, 2.06, 4.24),
    "60": (49.06, 49.77, 1.68, 3.17), "61": (48.17, 48.98, -0.87, 0.98),
    "62": (50.01, 51.01, 1.55, 3.19), "63": (45.28, 46.26, 2.38, 3.99),
    "64": (42.77, 43.6, -1.8, 0.03), "65": (42.67, 43.62, -0.33, 0.65),
    "66": (42.33, 42.92, 1.72, 3.18), "67": (48.12, 49.08, 6.94, 8.24),
    "68": (47.42, 48.32, 6.84, 7.63), "69": (45.45, 46.31, 4.24, 5.17),
    "70": (47.25, 48.03, 5.36, 6.83), "71": (46.15, 47.16, 3.62, 5.47),
    "72": (47.56, 48.49, -0.45, 0.92), "73": (45.05, 45.94, 5.62, 7.19),
    "74": (45.68, 46.41, 5.8, 7.05), "75": (48.81, 48.91, 2.22, 2.47),
    "76": (49.25, 50.08, 0.06, 1.8), "77": (48.12, 49.12, 2.39, 3.56),
    "78": (48.43, 49.09, 1.44, 2.23), "79": (45.96, 47.11, -0.91, 0.23),
    "80": (49.57, 50.37, 1.38, 3.21), "81": (43.38, 44.21, 1.53, 2.94),
    "82": (43.76, 44.4, 0.73, 2.01), "83": (42.98, 43.81, 5.65, 6.94),
    "84": (43.65, 44.44, 4.64, 5.76), "85": (46.26, 47.09, -2.41, -0.53),
    "86": (46.04, 47.18, -0.11, 1.22), "87": (45.43, 46.41, 0.62, 1.92),
    "88": (47.81, 48.52, 5.39, 7.2), "89": (47.31, 48.4, 2.84, 4.35),
    "90": (47.43, 47.83, 6.75, 7.15), "91": (48.28, 48.78, 1.91, 2.59),
    "92": (48.72, 48.96, 2.14, 2.34), "93": (48.8, 49.02, 2.28, 2.61),
    "94": (48.68, 48.87, 2.3, 2.62), "95": (48.9, 49.25, 1.6, 2.6),
    "971": (15.83, 16.52, -61.81, -61), "972": (14.38, 14.88, -61.23, -60.8),
    "973": (2.11, 5.75, -54.61, -51.61), "974": (-21.39, -20.87, 55.21, 55.84),
    "976": (-13.01, -12.63, 45.01, 45.3),
}  # fmt: skip

REGIONS_BY_CODE: dict[str, Region] = {r.code: r for r in REGIONS}
DEPARTEMENTS: tuple[Departement, ...] = tuple(
    Departement(code, _DEPARTEMENT_NAMES[code], region.code, _BOUNDS[code])
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
