"""``-a theme=…`` of the cpf spider: themes of the NSF nomenclature (pure, no Scrapy).

The catalogue classifies each training by up to three specialities of the
*Nomenclature des spécialités de formation* (NSF, INSEE 1994) in the fields
``code_nsf_1``, ``code_nsf_2`` and ``code_nsf_3``: three-digit codes such as
``326`` (informatique) or ``331`` (santé). The nomenclature has four domains
(first digit: 1 disciplinary, 2 production, 3 services, 4 personal
development), 17 sub-domains (first two digits, e.g. ``23`` génie civil,
construction, bois) and 93 three-digit speciality groups.

A theme is a named set of those codes:

- one theme per NSF sub-domain (:data:`SUBDOMAINS`), holding all its groups;
- finer themes users ask for (``numerique``, ``sante``, ``commerce``,
  ``transport-logistique``…), each a few groups.

Theme ids are short and accents-free; each has a French label and may have
aliases. Arguments are matched without case, accents, hyphens or underscores
(``Santé``, ``transport_logistique`` and ``TRANSPORT LOGISTIQUE`` all work).
The ``CPF_THEMES`` setting adds themes, or replaces a built-in theme of the
same name (:func:`catalogue`).

The README's theme table is generated from this module:
``python -m cpfft.cpf.themes`` prints it (:func:`readme_table`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cpfft.errors import ConfigurationError, shown
from cpfft.geo import fold
from cpfft.params import choice

#: The four domains (first digit of a code).
DOMAINS: dict[str, str] = {
    "1": "Domaines disciplinaires",
    "2": "Domaines technico-professionnels de la production",
    "3": "Domaines technico-professionnels des services",
    "4": "Domaines du développement personnel",
}

#: The 17 sub-domains (first two digits of a code).
SUBDOMAINS: dict[str, str] = {
    "10": "Formations générales",
    "11": "Mathématiques et sciences",
    "12": "Sciences humaines et droit",
    "13": "Lettres et arts",
    "20": "Spécialités pluritechnologiques de production",
    "21": "Agriculture, pêche, forêt et espaces verts",
    "22": "Transformations",
    "23": "Génie civil, construction, bois",
    "24": "Matériaux souples",
    "25": "Mécanique, électricité, électronique",
    "30": "Spécialités plurivalentes des services",
    "31": "Échanges et gestion",
    "32": "Communication et information",
    "33": "Services aux personnes",
    "34": "Services à la collectivité",
    "41": "Capacités individuelles et sociales",
    "42": "Activités quotidiennes et de loisirs",
}

#: The 93 speciality groups: the three-digit codes of ``code_nsf_1..3``.
GROUPS: dict[str, str] = {
    "100": "Formations générales",
    "110": "Spécialités pluriscientifiques",
    "111": "Physique-chimie",
    "112": "Chimie-biologie, biochimie",
    "113": "Sciences naturelles (biologie-géologie)",
    "114": "Mathématiques",
    "115": "Physique",
    "116": "Chimie",
    "117": "Sciences de la terre",
    "118": "Sciences de la vie",
    "120": "Spécialités pluridisciplinaires, sciences humaines et droit",
    "121": "Géographie",
    "122": "Économie",
    "123": "Sciences sociales (y compris démographie, anthropologie)",
    "124": "Psychologie",
    "125": "Linguistique",
    "126": "Histoire",
    "127": "Philosophie, éthique et théologie",
    "128": "Droit, sciences politiques",
    "130": "Spécialités littéraires et artistiques plurivalentes",
    "131": "Français, littérature et civilisation française",
    "132": "Arts plastiques",
    "133": "Musique, arts du spectacle",
    "134": "Autres disciplines artistiques et spécialités artistiques plurivalentes",
    "135": "Langues et civilisations anciennes",
    "136": "Langues vivantes, civilisations étrangères et régionales",
    "200": "Technologies industrielles fondamentales",
    "201": "Technologies de commandes des transformations industrielles",
    "210": "Spécialités plurivalentes de l'agronomie et de l'agriculture",
    "211": "Productions végétales, cultures spécialisées et protection des cultures",
    "212": "Productions animales, élevage spécialisé, aquaculture, soins aux animaux",
    "213": "Forêts, espaces naturels, faune sauvage, pêche",
    "214": "Aménagement paysager (parcs, jardins, espaces verts, terrains de sport)",
    "220": "Spécialités pluritechnologiques des transformations",
    "221": "Agro-alimentaire, alimentation, cuisine",
    "222": "Transformations chimiques et apparentées (y compris industrie pharmaceutique)",
    "223": "Métallurgie (y compris sidérurgie, fonderie, non-ferreux)",
    "224": "Matériaux de construction, verre, céramique",
    "225": "Plasturgie, matériaux composites",
    "226": "Papier, carton",
    "227": "Énergie, génie climatique",
    "230": "Spécialités pluritechnologiques génie civil, construction, bois",
    "231": "Mines et carrières, génie civil, topographie",
    "232": "Bâtiment : construction et couverture",
    "233": "Bâtiment : finitions",
    "234": "Travail du bois et de l'ameublement",
    "240": "Spécialités pluritechnologiques matériaux souples",
    "241": "Textile",
    "242": "Habillement (y compris mode, couture)",
    "243": "Cuirs et peaux",
    "250": "Spécialités pluritechnologiques mécanique-électricité",
    "251": "Mécanique générale et de précision, usinage",
    "252": "Moteurs et mécanique auto",
    "253": "Mécanique aéronautique et spatiale",
    "254": "Structures métalliques (y compris soudure, carrosserie, coque bateau, cellule avion)",
    "255": "Électricité, électronique (non compris automatismes, productique)",
    "300": "Spécialités plurivalentes des services",
    "310": "Spécialités plurivalentes des échanges et de la gestion",
    "311": "Transport, manutention, magasinage",
    "312": "Commerce, vente",
    "313": "Finances, banque, assurances",
    "314": "Comptabilité, gestion",
    "315": "Ressources humaines, gestion du personnel, gestion de l'emploi",
    "320": "Spécialités plurivalentes de la communication",
    "321": "Journalisme, communication (y compris communication graphique et publicité)",
    "322": "Techniques de l'imprimerie et de l'édition",
    "323": "Techniques de l'image et du son, métiers connexes du spectacle",
    "324": "Secrétariat, bureautique",
    "325": "Documentation, bibliothèques, administration des données",
    "326": "Informatique, traitement de l'information, réseaux de transmission des données",
    "330": "Spécialités plurivalentes sanitaires et sociales",
    "331": "Santé",
    "332": "Travail social",
    "333": "Enseignement, formation",
    "334": "Accueil, hôtellerie, tourisme",
    "335": "Animation culturelle, sportive et de loisirs",
    "336": "Coiffure, esthétique et autres spécialités des services aux personnes",
    "340": "Spécialités plurivalentes des services à la collectivité",
    "341": "Aménagement du territoire, développement, urbanisme",
    "342": "Protection et développement du patrimoine",
    "343": "Nettoyage, assainissement, protection de l'environnement",
    "344": "Sécurité des biens et des personnes, police, surveillance",
    "345": "Application des droits et statut des personnes",
    "346": "Spécialités militaires",
    "410": "Spécialités concernant plusieurs capacités",
    "411": "Pratiques sportives (y compris arts martiaux)",
    "412": "Développement des capacités mentales et apprentissages de base",
    "413": "Développement des capacités comportementales et relationnelles",
    "414": "Développement des capacités individuelles d'organisation",
    "415": "Développement des capacités d'orientation, d'insertion ou de réinsertion",
    "421": "Jeux et activités spécifiques de loisirs",
    "422": "Économie et activités domestiques",
    "423": "Vie familiale, vie sociale et autres formations au développement personnel",
}


@dataclass(frozen=True)
class Theme:
    id: str
    label: str
    codes: tuple[str, ...]
    aliases: tuple[str, ...] = ()
    #: The NSF sub-domain this theme covers whole ('23'), or '' for a finer theme.
    subdomain: str = ""


def groups_of(*subdomains: str) -> tuple[str, ...]:
    """Every speciality group of the given NSF sub-domains, in code order."""
    return tuple(code for code in GROUPS if code[:2] in subdomains)


def _subdomain(code: str, theme_id: str, *aliases: str) -> Theme:
    return Theme(theme_id, SUBDOMAINS[code], groups_of(code), aliases, subdomain=code)


#: One theme per NSF sub-domain, then finer themes; ids are unique, and so are aliases.
THEMES: tuple[Theme, ...] = (
    _subdomain("10", "formations-generales"),
    _subdomain("11", "sciences", "mathematiques"),
    _subdomain("12", "sciences-humaines-droit"),
    _subdomain("13", "lettres-arts", "arts"),
    _subdomain("20", "technologies-industrielles"),
    _subdomain("21", "agriculture", "peche", "foret"),
    _subdomain("22", "transformations"),
    _subdomain("23", "btp", "batiment", "construction", "genie-civil"),
    _subdomain("24", "materiaux-souples", "textile", "habillement"),
    _subdomain("25", "mecanique-electricite"),
    _subdomain("30", "services"),
    _subdomain("31", "echanges-gestion"),
    _subdomain("32", "communication-information"),
    _subdomain("33", "services-personnes"),
    _subdomain("34", "services-collectivite"),
    _subdomain("41", "developpement-personnel"),
    _subdomain("42", "loisirs"),
    # Finer themes: what users search for most, across sub-domains when it takes several.
    Theme("numerique", "Numérique : informatique, réseaux", ("326",), ("informatique",)),
    Theme("sante", "Santé, spécialités sanitaires et sociales", ("330", "331")),
    Theme("social", "Travail social", ("332",), ("travail-social",)),
    Theme("commerce", "Commerce, vente", ("312",), ("vente",)),
    Theme(
        "transport-logistique",
        "Transport, logistique (manutention, magasinage)",
        ("311",),
        ("transport", "logistique"),
    ),
    Theme(
        "hotellerie-restauration",
        "Hôtellerie, restauration, tourisme (accueil, cuisine)",
        ("221", "334"),
        ("hotellerie", "restauration", "tourisme"),
    ),
    Theme(
        "industrie",
        "Industrie : production, transformations, matériaux souples, mécanique, électricité",
        groups_of("20", "22", "24", "25"),
    ),
    Theme("agroalimentaire", "Agro-alimentaire, alimentation, cuisine", ("221",), ("cuisine",)),
    Theme("energie", "Énergie, génie climatique", ("227",)),
    Theme("electricite", "Électricité, électronique", ("255",), ("electronique",)),
    Theme("automobile", "Moteurs et mécanique auto", ("252",), ("mecanique-auto",)),
    Theme("langues", "Langues vivantes et anciennes", ("135", "136"), ("langue",)),
    Theme("droit", "Droit, sciences politiques", ("128",)),
    Theme(
        "gestion",
        "Gestion, comptabilité, administration des entreprises",
        ("310", "314"),
        ("management", "comptabilite"),
    ),
    Theme("finance", "Finances, banque, assurances", ("313",), ("banque", "assurance")),
    Theme("ressources-humaines", "Ressources humaines, gestion de l'emploi", ("315",), ("rh",)),
    Theme("secretariat", "Secrétariat, bureautique", ("324",), ("bureautique",)),
    Theme("communication", "Communication, journalisme, publicité", ("320", "321")),
    Theme("audiovisuel", "Image et son, métiers connexes du spectacle", ("323",)),
    Theme("enseignement", "Enseignement, formation", ("333",)),
    Theme(
        "sport-animation",
        "Sport, animation culturelle et de loisirs",
        ("335", "411"),
        ("sport", "animation"),
    ),
    Theme(
        "coiffure-esthetique",
        "Coiffure, esthétique",
        ("336",),
        ("coiffure", "esthetique"),
    ),
    Theme(
        "environnement",
        "Nettoyage, assainissement, protection de l'environnement",
        ("343",),
        ("proprete",),
    ),
    Theme("securite", "Sécurité des biens et des personnes", ("344",)),
    Theme("paysage", "Aménagement paysager, espaces verts", ("214",), ("espaces-verts",)),
)
THEMES_BY_ID: dict[str, Theme] = {t.id: t for t in THEMES}

_NSF_CODE = re.compile(r"\d{3}")


def catalogue(extra: Mapping[Any, Any] | None = None) -> dict[str, tuple[str, ...]]:
    """Theme id → NSF codes: the built-in themes, then those of ``CPF_THEMES``.

    A ``CPF_THEMES`` name spelt like a built-in id (``Santé`` for ``sante``)
    replaces that theme; any other name adds a theme. Raises
    :class:`ConfigurationError` for a theme ``CPF_THEMES`` cannot hold.
    """
    themes = {t.id: t.codes for t in THEMES}
    builtin = {fold(t.id): t.id for t in THEMES}
    for name, codes in (extra or {}).items():
        if not (isinstance(name, str) and 0 < len(name) <= 40 and name.isprintable()) or (
            "," in name
        ):
            raise ConfigurationError(
                f"setting CPF_THEMES: theme name {shown(str(name))} must be a short name without "
                "commas or control characters"
            )
        values = [codes] if isinstance(codes, str) else codes
        if (
            not isinstance(values, list)
            or not values
            or not all(isinstance(c, str) and _NSF_CODE.fullmatch(c) for c in values)
        ):
            raise ConfigurationError(
                f"setting CPF_THEMES: theme {shown(name)} must map to a non-empty list of "
                '3-digit NSF codes, e.g. {"boulangerie": ["221"]}'
            )
        themes[builtin.get(fold(name), name)] = tuple(values)
    return themes


def spellings(themes: Iterable[str]) -> dict[str, str]:
    """Accepted spelling → theme id: the ids, then the built-in aliases no id is spelt as."""
    ids = list(themes)
    names = {i: i for i in ids}
    taken = {fold(i) for i in ids}
    for theme in THEMES:
        if theme.id in names:
            names.update({a: theme.id for a in theme.aliases if fold(a) not in taken})
    return names


def theme_parser(themes: Iterable[str]) -> Callable[[str], str]:
    """Parser of one theme name: any spelling of :func:`spellings`, with a suggestion.
    An unknown name's error points to the list rather than printing all the ids."""
    ids = list(themes)
    builtin = {t.id for t in THEMES}
    own = [i for i in ids if i not in builtin]
    valid = (
        f"the {len(ids) - len(own)} themes listed by `python -m cpfft.cpf.themes` (README, « Thèmes "
        "de -a theme »), e.g. numerique, sante, btp, commerce"
        + (f"; and from CPF_THEMES: {', '.join(shown(i, 30) for i in own[:5])}" if own else "")
        + (f" and {len(own) - 5} more" if len(own) > 5 else "")
    )
    return choice(spellings(ids), suggest=True, valid=valid)


# ------------------------------------------------------------------ README table


def code_ranges(codes: Iterable[str]) -> str:
    """('220', '221', '222', '250') → '220–222, 250': consecutive codes as ranges."""
    numbers = sorted({int(c) for c in codes})
    parts: list[str] = []
    start = previous = numbers[0]
    for n in [*numbers[1:], None]:
        if n is not None and n == previous + 1:
            previous = n
            continue
        parts.append(f"{start}" if start == previous else f"{start}–{previous}")
        if n is not None:
            start = previous = n
    return ", ".join(parts)


def _table(themes: Iterable[Theme], label: str) -> list[str]:
    lines = [f"| Thème | {label} | Codes NSF | Autres noms acceptés |", "|---|---|---|---|"]
    for theme in themes:
        title = f"{theme.subdomain} — {theme.label}" if theme.subdomain else theme.label
        aliases = ", ".join(f"`{a}`" for a in theme.aliases)
        lines.append(f"| `{theme.id}` | {title} | {code_ranges(theme.codes)} | {aliases} |")
    return lines


def readme_table() -> str:
    """The README's theme tables (Markdown), from :data:`THEMES`."""
    groups = [t for t in THEMES if t.subdomain]
    finer = [t for t in THEMES if not t.subdomain]
    lines = [
        "Un thème par sous-domaine de la nomenclature (les codes aux deux mêmes premiers chiffres) :",
        "",
        *_table(groups, "Sous-domaine NSF"),
        "",
        "Thèmes plus fins :",
        "",
        *_table(finer, "Libellé"),
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(readme_table(), end="")
