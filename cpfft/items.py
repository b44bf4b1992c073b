"""Output rows. One dataclass per output file; field declaration order is the column order.

Each field is declared with one of the helpers below, which record two things in
its metadata, the single source of truth for every output format:

``kind``
    how the cleaning pipeline normalises the raw API value (see
    :data:`cpfft.cleaning.CLEANERS` and :func:`cpfft.cleaning.clean_number`).
``type``
    what the cleaned value *is*, for typed outputs (xlsx cells today; Parquet
    and data-package schemas can read the same list, see :func:`field_types`):

    ============  ==========================================================
    ``text``      free text (one line, or several for long texts)
    ``code``      an identifier kept as text (``01``, ``2A``, ``-1``, a
                  14-digit SIRET): never read as a number, never reformatted
    ``int``       a count (a fractional value the API sends is kept, as a float)
    ``float``     an amount, a mean, a coordinate
    ``date``      a calendar date, ISO 8601 text (``2026-11-28``)
    ``datetime``  an instant, ISO 8601 text in UTC (``2026-11-28T09:15:00.000Z``)
    ============  ==========================================================

=================  ===========  ===========
helper             kind         type
=================  ===========  ===========
:func:`text`       text         text
:func:`longtext`   longtext     text
:func:`code`       code         code
:func:`integer`    int          int
:func:`number`     float        float
:func:`date`       date         date
:func:`timestamp`  date         datetime
=================  ===========  ===========

``text`` cleaning makes one line, whitespace collapsed and HTML decoded;
``longtext`` turns HTML into readable plain text, one paragraph or list item
per line; ``int``/``float`` parse numbers (French comma accepted).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

#: The value types a field can declare (see the module docstring).
TYPES = ("text", "code", "int", "float", "date", "datetime")


def _f(kind: str, type_: str) -> Any:
    assert type_ in TYPES
    return field(default=None, metadata={"kind": kind, "type": type_})


def text() -> Any:
    return _f("text", "text")


def longtext() -> Any:
    return _f("longtext", "text")


def code() -> Any:
    return _f("code", "code")


def integer() -> Any:
    return _f("int", "int")


def number() -> Any:
    return _f("float", "float")


def date() -> Any:
    return _f("date", "date")


def timestamp() -> Any:
    return _f("date", "datetime")


@dataclass(slots=True)
class Formation:
    """One row of the Mon Compte Formation catalogue: a formation offered in a département.

    The 47 columns are the dataset's own names, in the dataset's order; alias
    names seen in other schema versions (``date_chargement``, ``code_rs``,
    ``siret_of``) are mapped back to these by the spider.
    """

    KEY: ClassVar[tuple[str, ...]] = ("numero_formation", "code_departement")

    date_extract: str | None = date()
    nom_of: str | None = text()
    nom_departement: str | None = text()
    nom_region: str | None = text()
    type_referentiel: str | None = code()
    code_inventaire: str | None = code()
    code_rncp: str | None = code()
    intitule_certification: str | None = text()
    libelle_niveau_sortie_formation: str | None = text()
    code_formacode_1: str | None = code()
    code_formacode_2: str | None = code()
    code_formacode_3: str | None = code()
    code_formacode_4: str | None = code()
    code_formacode_5: str | None = code()
    libelle_code_formacode_principal: str | None = text()
    code_rome_1: str | None = code()
    code_rome_2: str | None = code()
    code_rome_3: str | None = code()
    code_rome_4: str | None = code()
    code_rome_5: str | None = code()
    libelle_nsf_1: str | None = text()
    libelle_nsf_2: str | None = text()
    libelle_nsf_3: str | None = text()
    code_nsf_1: str | None = code()
    code_nsf_2: str | None = code()
    code_nsf_3: str | None = code()
    code_certifinfo: str | None = code()
    siret: str | None = code()
    numero_formation: str | None = code()
    intitule_formation: str | None = text()
    points_forts: str | None = longtext()
    objectif_formation: str | None = longtext()
    contenu_formation: str | None = longtext()
    resultats_attendus_formation: str | None = longtext()
    nb_action: int | float | None = integer()
    nb_session_active: int | float | None = integer()
    nb_session_a_distance: int | float | None = integer()
    nombre_heures_total_min: int | float | None = integer()
    nombre_heures_total_max: int | float | None = integer()
    nombre_heures_total_mean: float | None = number()
    frais_ttc_tot_min: float | None = number()
    frais_ttc_tot_max: float | None = number()
    frais_ttc_tot_mean: float | None = number()
    code_departement: str | None = code()
    code_region: str | None = code()
    nbaction_nbheures: int | float | None = integer()
    coderegion_export: str | None = code()


@dataclass(slots=True)
class Offre:
    """One France Travail job offer.

    The first six columns are the old script's, under its French headers
    (see :data:`OFFRE_HEADERS`); then what an analyst needs. Dates are ISO 8601
    as the API gives them (UTC, milliseconds).
    """

    KEY: ClassVar[tuple[str, ...]] = ("id",)

    intitule: str | None = text()
    lieu: str | None = text()
    entreprise: str | None = text()
    date_publication: str | None = timestamp()
    description: str | None = longtext()
    url: str | None = code()
    id: str | None = code()
    type_contrat: str | None = code()
    type_contrat_libelle: str | None = text()
    nature_contrat: str | None = text()
    experience_exigee: str | None = code()
    experience: str | None = text()
    salaire: str | None = text()
    code_rome: str | None = code()
    libelle_rome: str | None = text()
    code_naf: str | None = code()
    secteur_activite: str | None = text()
    code_postal: str | None = code()
    commune_insee: str | None = code()
    departement: str | None = code()
    latitude: float | None = number()
    longitude: float | None = number()
    date_actualisation: str | None = timestamp()
    origine: str | None = text()
    partenaire: str | None = text()


def field_names(item_class: type) -> list[str]:
    return [f.name for f in fields(item_class)]


def field_kinds(item_class: type) -> dict[str, str]:
    """Field name → cleaning kind."""
    return {f.name: f.metadata["kind"] for f in fields(item_class)}


def field_types(item_class: type) -> dict[str, str]:
    """Field name → value type (one of :data:`TYPES`), in column order."""
    return {f.name: f.metadata["type"] for f in fields(item_class)}


FORMATION_FIELDS: list[str] = field_names(Formation)
assert len(FORMATION_FIELDS) == 47

#: CSV headers of the offers file: the old script's six French headers, then field names.
OFFRE_HEADERS: dict[str, str] = {
    "intitule": "Intitulé",
    "lieu": "Lieu",
    "entreprise": "Entreprise",
    "date_publication": "Date de publication",
    "description": "Description",
    "url": "URL",
} | {name: name for name in field_names(Offre)[6:]}
