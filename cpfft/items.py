"""Output rows. One dataclass per CSV; field declaration order is the column order.

Each field carries a ``kind`` in its metadata, which tells the cleaning pipeline
how to normalise it:

- ``code``: identifiers kept as text (``01``, ``2A``, ``-1``), never as numbers;
- ``text``: one line, whitespace collapsed, HTML decoded;
- ``longtext``: HTML turned into readable plain text, one paragraph or list
  item per line;
- ``int`` / ``float``: numbers (``.`` decimals in the CSV);
- ``date``: ISO 8601 text.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar


def _f(kind: str) -> Any:
    return field(default=None, metadata={"kind": kind})


@dataclass(slots=True)
class Formation:
    """One row of the Mon Compte Formation catalogue: a formation offered in a département.

    The 47 columns are the dataset's own names, in the dataset's order; alias
    names seen in other schema versions (``date_chargement``, ``code_rs``,
    ``siret_of``) are mapped back to these by the spider.
    """

    KEY: ClassVar[tuple[str, ...]] = ("numero_formation", "code_departement")

    date_extract: str | None = _f("date")
    nom_of: str | None = _f("text")
    nom_departement: str | None = _f("text")
    nom_region: str | None = _f("text")
    type_referentiel: str | None = _f("code")
    code_inventaire: str | None = _f("code")
    code_rncp: str | None = _f("code")
    intitule_certification: str | None = _f("text")
    libelle_niveau_sortie_formation: str | None = _f("text")
    code_formacode_1: str | None = _f("code")
    code_formacode_2: str | None = _f("code")
    code_formacode_3: str | None = _f("code")
    code_formacode_4: str | None = _f("code")
    code_formacode_5: str | None = _f("code")
    libelle_code_formacode_principal: str | None = _f("text")
    code_rome_1: str | None = _f("code")
    code_rome_2: str | None = _f("code")
    code_rome_3: str | None = _f("code")
    code_rome_4: str | None = _f("code")
    code_rome_5: str | None = _f("code")
    libelle_nsf_1: str | None = _f("text")
    libelle_nsf_2: str | None = _f("text")
    libelle_nsf_3: str | None = _f("text")
    code_nsf_1: str | None = _f("code")
    code_nsf_2: str | None = _f("code")
    code_nsf_3: str | None = _f("code")
    code_certifinfo: str | None = _f("code")
    siret: str | None = _f("code")
    numero_formation: str | None = _f("code")
    intitule_formation: str | None = _f("text")
    points_forts: str | None = _f("longtext")
    objectif_formation: str | None = _f("longtext")
    contenu_formation: str | None = _f("longtext")
    resultats_attendus_formation: str | None = _f("longtext")
    nb_action: int | float | None = _f("int")
    nb_session_active: int | float | None = _f("int")
    nb_session_a_distance: int | float | None = _f("int")
    nombre_heures_total_min: int | float | None = _f("int")
    nombre_heures_total_max: int | float | None = _f("int")
    nombre_heures_total_mean: float | None = _f("float")
    frais_ttc_tot_min: float | None = _f("float")
    frais_ttc_tot_max: float | None = _f("float")
    frais_ttc_tot_mean: float | None = _f("float")
    code_departement: str | None = _f("code")
    code_region: str | None = _f("code")
    nbaction_nbheures: int | float | None = _f("int")
    coderegion_export: str | None = _f("code")


@dataclass(slots=True)
class Offre:
    """One France Travail job offer.

    The first six columns are the old script's, under its French headers
    (see :data:`OFFRE_HEADERS`); then what an analyst needs. Dates are ISO 8601
    as the API gives them (UTC, milliseconds).
    """

    KEY: ClassVar[tuple[str, ...]] = ("id",)

    intitule: str | None = _f("text")
    lieu: str | None = _f("text")
    entreprise: str | None = _f("text")
    date_publication: str | None = _f("date")
    description: str | None = _f("longtext")
    url: str | None = _f("code")
    id: str | None = _f("code")
    type_contrat: str | None = _f("code")
    type_contrat_libelle: str | None = _f("text")
    nature_contrat: str | None = _f("text")
    experience_exigee: str | None = _f("code")
    experience: str | None = _f("text")
    salaire: str | None = _f("text")
    code_rome: str | None = _f("code")
    libelle_rome: str | None = _f("text")
    code_naf: str | None = _f("code")
    secteur_activite: str | None = _f("text")
    code_postal: str | None = _f("code")
    commune_insee: str | None = _f("code")
    departement: str | None = _f("code")
    latitude: float | None = _f("float")
    longitude: float | None = _f("float")
    date_actualisation: str | None = _f("date")
    origine: str | None = _f("text")
    partenaire: str | None = _f("text")


def field_names(item_class: type) -> list[str]:
    return [f.name for f in fields(item_class)]


def field_kinds(item_class: type) -> dict[str, str]:
    return {f.name: f.metadata["kind"] for f in fields(item_class)}


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
