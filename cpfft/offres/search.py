"""France Travail « Offres d'emploi v2 »: the search parameters and their rules, the
``Content-Range`` header, and the mapping from an API offer to an :class:`~cpfft.items.Offre`.

The real API silently ignores unknown parameters and rejects bad values with a
400; the spider validates every argument here first, with the API's own rules
(values, counts, formats, pairings), so a mistake costs no request and names
the fix.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from cpfft.errors import shown
from cpfft.geo import DEPARTEMENTS_BY_CODE, find_departement, find_region
from cpfft.items import Offre, field_records
from cpfft.offres.bounds import parse_created
from cpfft.offres.place import place_of
from cpfft.params import Param, choice, integer, listing, single
from cpfft.records import from_api

DETAIL_URL = "https://candidat.francetravail.fr/offres/recherche/detail/{id}"

TYPES_CONTRATS = ("CDI", "CDD", "MIS", "SAI", "CCE", "DDI", "DIN", "FRA", "LIB")
NATURES_CONTRATS = (
    "E1", "E2", "FA", "FJ", "FS", "FT", "FU", "I1", "NS", "FV", "FW", "FX", "FY", "PS", "PR",
    "CC", "CU", "EE", "ER", "CI",
)  # fmt: skip
GRANDS_DOMAINES = (
    "A", "B", "C", "C15", "D", "E", "F", "G", "H", "I", "J", "K", "L", "L14", "M", "M13", "M14",
    "M15", "M16", "M17", "M18", "N",
)  # fmt: skip
_CONTENT_RANGE = re.compile(r"offres\s+(\d+)-(\d+)/(\d+)")
_KEYWORD = re.compile(r"[\w @#$%^&+./\-\"]+")


# ------------------------------------------------------------------ parsers


def pattern(regex: str, example: str, upper: bool = True) -> Callable[[str], str]:
    compiled = re.compile(regex, re.ASCII)  # \d: 0-9 only, not other scripts' digits

    def parse(value: str) -> str:
        value = value.upper() if upper else value
        if not compiled.fullmatch(value):
            raise ValueError(f"{shown(value)} is not a valid code. Expected e.g. {example}")
        return value

    return parse


def boolean(value: str) -> str:
    folded = value.strip().lower()
    if folded in ("true", "1", "oui", "yes"):
        return "true"
    if folded in ("false", "0", "non", "no"):
        return "false"
    raise ValueError(f"{shown(value)} is not a boolean. Valid values: true, false")


def keywords(value: str) -> str:
    words = [w.strip() for w in value.split(",")]
    if len(words) > 7:
        raise ValueError(f"{len(words)} keywords. At most 7, separated by commas")
    for word in words:
        if len(word) < 2:
            raise ValueError(f"keyword {shown(word)} is too short. Each needs 2 characters or more")
        if not _KEYWORD.fullmatch(word):
            raise ValueError(
                f"keyword {shown(word)} has a character the API refuses. Use letters, digits, "
                'spaces and @#$%^&+./-" only (e.g. a space instead of an apostrophe)'
            )
    return ",".join(words)


def creation_date(value: str) -> str:
    """``2026-11-01`` or ``2026-11-01T08:00:00Z`` → the API's ``yyyy-MM-ddTHH:mm:ssZ``."""
    for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d"):
        try:
            moment = datetime.strptime(value, fmt)
        except ValueError:
            continue
        return moment.isoformat() + "Z"  # strftime's %Y drops a year's leading zeros
    raise ValueError(f"{shown(value)} is not a date. Expected 2026-11-01 or 2026-11-01T08:00:00Z")


def decimal(minimum: float, maximum: float) -> Callable[[str], str]:
    def parse(value: str) -> str:
        try:
            number = float(value.replace(",", "."))
        except ValueError:
            raise ValueError(f"{shown(value)} is not a number. Expected e.g. 0.5") from None
        if not minimum <= number <= maximum:
            raise ValueError(f"{shown(value)} is out of range. Expected {minimum:g} to {maximum:g}")
        # Plain decimal notation: the API refuses an exponent (1e+06, 1e-05).
        return f"{number + 0.0:.6f}".rstrip("0").rstrip(".")

    return parse


def hhmm(value: str) -> str:
    if not re.fullmatch(r"\d{1,4}", value) or int(value[-2:]) >= 60:
        raise ValueError(f"{shown(value)} is not a duration HHMM. Expected e.g. 800 (8 h) or 2430")
    return str(int(value))


def codes(*values: str) -> Callable[[str], str]:
    return choice({v: v for v in values})


def as_str(parse: Callable[[str], Any]) -> Callable[[str], str]:
    return lambda value: str(parse(value))


def joined(parse: Callable[[str], tuple[str, ...]]) -> Callable[[str], str]:
    return lambda value: ",".join(parse(value))


#: Every search parameter the spider accepts, named as the API names them.
SEARCH_PARAMS: tuple[Param, ...] = (
    Param("motsCles", keywords, "keywords separated by commas, e.g. python,sql"),
    Param(
        "region",
        single(
            find_region,
            "region",
            "The API filters on a single region: run once per region, or list up to 5 "
            "départements with -a departement",
        ),
        "one region code or name, e.g. 11 or Bretagne",
    ),
    Param("departement", joined(listing(find_departement, 5)), "up to 5 départements, e.g. 75,92"),
    Param(
        "commune",
        joined(listing(pattern(r"\d{5}|2[AB]\d{3}", "75056 (INSEE code, not a postcode)"), 5)),
        "up to 5 INSEE commune codes",
    ),
    Param("distance", as_str(integer(0, 999)), "a radius in km around -a commune"),
    Param("inclureLimitrophes", boolean, "true or false"),
    Param("typeContrat", joined(listing(codes(*TYPES_CONTRATS), 9)), "e.g. CDI,CDD"),
    Param("natureContrat", joined(listing(codes(*NATURES_CONTRATS), 20)), "e.g. E2,FS"),
    Param("publieeDepuis", codes("1", "3", "7", "14", "31"), "1, 3, 7, 14 or 31 (days)"),
    Param("minCreationDate", creation_date, "a date, e.g. 2026-11-01"),
    Param("maxCreationDate", creation_date, "a date, e.g. 2026-11-28"),
    Param(
        "codeROME", joined(listing(pattern(r"[A-N]\d{4}", "M1805"), 200)), "ROME codes, e.g. M1805"
    ),
    Param("appellation", pattern(r"\d{4,6}", "38444"), "one ROME appellation code"),
    Param("domaine", pattern(r"[A-N]\d{2}", "M18"), "a professional domain, e.g. M18"),
    Param("grandDomaine", codes(*GRANDS_DOMAINES), "e.g. M18"),
    Param("theme", pattern(r"\d{1,2}", "12"), "a theme code"),
    Param("secteurActivite", joined(listing(pattern(r"\d{2}", "62"), 2)), "up to 2 NAF divisions"),
    Param(
        "codeNAF", joined(listing(pattern(r"\d{2}\.\d{2}[A-Z]", "62.02A"), 2)), "up to 2 NAF codes"
    ),
    Param("experience", codes("0", "1", "2", "3", "4"), "0, 1, 2, 3 or 4"),
    Param("experienceExigence", codes("D", "E", "S"), "D, E or S"),
    Param("qualification", codes("0", "9"), "0 (non-cadre) or 9 (cadre)"),
    Param("niveauFormation", pattern(r"[A-Z0-9]{1,6}", "NV1"), "a level code"),
    Param("permis", pattern(r"[A-Z0-9]{1,4}", "B"), "a licence code"),
    Param("tempsPlein", boolean, "true or false"),
    Param("dureeHebdo", codes("0", "1", "2"), "0, 1 or 2"),
    Param("dureeHebdoMin", hhmm, "HHMM, e.g. 800"),
    Param("dureeHebdoMax", hhmm, "HHMM, e.g. 3500"),
    Param("dureeContratMin", decimal(0, 99), "months, e.g. 0.5"),
    Param("dureeContratMax", decimal(0, 99), "months, e.g. 12"),
    Param("salaireMin", decimal(0, 10_000_000), "a salary in euros, with -a periodeSalaire"),
    Param("periodeSalaire", codes("M", "A", "H", "C"), "M, A, H or C"),
    Param("accesTravailleurHandicape", boolean, "true or false"),
    Param("employeursHandiEngages", boolean, "true or false"),
    Param("entreprisesAdaptees", boolean, "true or false"),
    Param("offresMRS", boolean, "true or false"),
    Param("offresManqueCandidats", boolean, "true or false"),
    Param("origineOffre", codes("1", "2"), "1 (France Travail) or 2 (partners)"),
    Param("paysContinent", pattern(r"\d{2,5}", "01"), "a country or continent code"),
    Param(
        "partenaires",
        joined(listing(pattern(r"[A-Z0-9_]{2,40}", "LABONNEALTERNANCE"), 20)),
        "partner codes",
    ),
    Param("modeSelectionPartenaires", codes("INCLUS", "EXCLU"), "INCLUS or EXCLU"),
    Param("sort", codes("0", "1", "2"), "0, 1 or 2"),
    # Ours, not the API's:
    Param("max_offers", integer(1, 10_000_000), "a maximum number of offers, e.g. 500"),
    Param(
        "depuis",
        choice({"dernier": "dernier", "last": "dernier"}),
        "dernier (only offers created since the last complete run of this query)",
    ),
)
OWN_ARGUMENTS = ("max_offers", "sort", "depuis")
PAIRS = (("minCreationDate", "maxCreationDate"), ("salaireMin", "periodeSalaire"))
REQUIRES = {
    "distance": "commune",
    "modeSelectionPartenaires": "partenaires",
    "inclureLimitrophes": "departement",
}


def check_combinations(args: dict[str, Any]) -> str | None:
    """The API's cross-parameter rules: the first violation, as a one-line message."""
    for a, b in PAIRS:
        if (args.get(a) is None) != (args.get(b) is None):
            given, other = (a, b) if args.get(a) is not None else (b, a)
            return f"argument -a {given}: needs -a {other} too (the API takes them together)"
    if args.get("minCreationDate") and args["minCreationDate"] > args["maxCreationDate"]:
        return "argument -a minCreationDate: is after -a maxCreationDate"
    for arg, needed in REQUIRES.items():
        if args.get(arg) is not None and args.get(needed) is None:
            return f"argument -a {arg}: only works with -a {needed} (the API would ignore it)"
    if args.get("region") and args.get("departement"):
        outside = [
            d
            for d in args["departement"].split(",")
            if DEPARTEMENTS_BY_CODE[d].region != args["region"]
        ]
        if outside:
            return (
                f"argument -a departement: {', '.join(outside)} is not in region {args['region']}, "
                "so nothing could match. Drop -a region or fix -a departement"
            )
    return None


def api_query(args: dict[str, Any]) -> dict[str, str]:
    """The validated arguments as API query parameters (our own arguments left out)."""
    return {k: v for k, v in args.items() if v is not None and k not in OWN_ARGUMENTS}


def parse_content_range(value: bytes | str | None) -> tuple[int, int, int] | None:
    """``offres 0-149/1247`` → (0, 149, 1247); ``*/0`` → (0, -1, 0)."""
    if value is None:
        return None
    text_ = value.decode("latin-1") if isinstance(value, bytes) else value
    if text_.strip().endswith("*/0"):
        return (0, -1, 0)
    m = _CONTENT_RANGE.search(text_)
    return (int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None


def read_page(
    status: int, data: Any, content_range: bytes | str | None
) -> tuple[int, list[dict[str, Any]], list[Any], str]:
    """A search answer → (total, offers, facets, error). ``data``: its JSON ({} for an
    empty body); ``error``: a 400's message, or an answer that is not a JSON object."""
    if not isinstance(data, dict):
        return 0, [], [], "the answer is not a JSON object"
    if status == 400:
        return 0, [], [], str(data.get("message") or "HTTP 400")
    offers = [o for o in data.get("resultats") or [] if isinstance(o, dict)]
    window = parse_content_range(content_range)
    # A 204 without the header, or a complete 200 without one: the page is the total.
    total = window[2] if window is not None else len(offers)
    return total, offers, data.get("filtresPossibles") or [], ""


def parse_api_date(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


def api_date(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def stamps(offers: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """(id, creation ms) of each offer, in the API's order. An offer without a usable
    date is left out: if that loses it, the checks report it as missing."""
    out = []
    for offer in offers:
        try:
            out.append((str(offer["id"]), parse_created(offer["dateCreation"])))
        except (KeyError, TypeError, ValueError):
            continue
    return out


# ------------------------------------------------------------------ offer → row

#: The offers' list fields (skills, languages…) and what their records hold.
RECORDS = field_records(Offre)


def _joined(values: list[Any], separator: str) -> str | None:
    return separator.join(str(v) for v in values if v) or None


def offre_from_api(data: dict[str, Any], tally: Counter[str] | None = None) -> Offre:
    """One API offer → its row, before cleaning. ``tally`` counts what the coordinates
    check did (``swapped``, ``emptied``): the run's summary shows them.

    Of ``contact``, only ``urlPostulation`` is read: its other keys (the recruiter's
    name, e-mail, phone) are personal data, which no output holds.
    """
    lieu = data.get("lieuTravail") or {}
    entreprise = data.get("entreprise") or {}
    origine = data.get("origineOffre") or {}
    partenaires = [p for p in origine.get("partenaires") or [] if isinstance(p, dict)]
    salaire = data.get("salaire") or {}
    contact = data.get("contact") or {}
    place = place_of(lieu)
    if tally is not None and place.coordinates in ("swapped", "emptied"):
        tally[place.coordinates] += 1
    offer_id = data.get("id")
    lists = {name: from_api(spec, data.get(spec.api)) for name, spec in RECORDS.items()}
    return Offre(
        intitule=data.get("intitule"),
        lieu=lieu.get("libelle"),
        entreprise=entreprise.get("nom"),
        date_publication=data.get("dateCreation"),
        description=data.get("description"),
        url=DETAIL_URL.format(id=offer_id) if offer_id else None,
        id=offer_id,
        type_contrat=data.get("typeContrat"),
        type_contrat_libelle=data.get("typeContratLibelle"),
        nature_contrat=data.get("natureContrat"),
        experience_exigee=data.get("experienceExige"),
        experience=data.get("experienceLibelle"),
        salaire=salaire.get("libelle"),
        code_rome=data.get("romeCode"),
        libelle_rome=data.get("romeLibelle"),
        code_naf=data.get("codeNAF"),
        secteur_activite=data.get("secteurActiviteLibelle"),
        code_postal=lieu.get("codePostal"),
        commune_insee=lieu.get("commune"),
        departement=place.departement,
        latitude=place.latitude,
        longitude=place.longitude,
        date_actualisation=data.get("dateActualisation"),
        origine={"1": "France Travail", "2": "Partenaire"}.get(str(origine.get("origine"))),
        partenaire=_joined([p.get("nom") for p in partenaires], ", "),
        region=place.region,
        appellation=data.get("appellationlibelle"),
        qualification_code=data.get("qualificationCode"),
        qualification=data.get("qualificationLibelle"),
        alternance=data.get("alternance"),
        nombre_postes=data.get("nombrePostes"),
        duree_travail=data.get("dureeTravailLibelle"),
        temps_travail=data.get("dureeTravailLibelleConverti"),
        salaire_commentaire=salaire.get("commentaire"),
        salaire_complement_1=salaire.get("complement1"),
        salaire_complement_2=salaire.get("complement2"),
        entreprise_description=entreprise.get("description"),
        url_postulation=contact.get("urlPostulation"),
        url_partenaire=_joined([p.get("url") for p in partenaires], " ; "),
        **lists,
    )


__all__ = [
    "SEARCH_PARAMS",
    "api_date",
    "api_query",
    "check_combinations",
    "offre_from_api",
    "parse_api_date",
    "parse_content_range",
]
