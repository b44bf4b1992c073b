"""Output rows. One dataclass per output file; field declaration order is the column order.

Each field is declared with one of the helpers below, which record three things in
its metadata, the single source of truth for every output format:

``kind``
    how the cleaning pipeline normalises the raw API value (see
    :data:`cpfft.cleaning.CLEANERS` and :func:`cpfft.cleaning.clean_number`).
``type``
    what the cleaned value *is*, for typed outputs (xlsx cells, Parquet columns,
    the Table Schema of the data-package descriptors; see :func:`field_types`):

    ============  ==========================================================
    ``text``      free text (one line, or several for long texts)
    ``code``      an identifier kept as text (``01``, ``2A``, ``-1``, a
                  14-digit SIRET): never read as a number, never reformatted
    ``int``       a count (a fractional value the API sends is kept, as a float)
    ``float``     an amount, a mean, a coordinate
    ``bool``      true or false
    ``date``      a calendar date, ISO 8601 text (``2026-11-28``)
    ``datetime``  an instant, ISO 8601 text in UTC (``2026-11-28T09:15:00.000Z``)
    ``records``   a list of records (an offer's skills, languages…), each a dict
                  of the parts its :class:`Records` declares; one readable
                  cell in CSV and xlsx (:mod:`cpfft.records`), a list of
                  structs in Parquet and JSON, a child table in the warehouse
    ============  ==========================================================

=================  ===========  ===========
helper             kind         type
=================  ===========  ===========
:func:`text`       text         text
:func:`longtext`   longtext     text
:func:`code`       code         code
:func:`integer`    int          int
:func:`number`     float        float
:func:`flag`       bool         bool
:func:`date`       date         date
:func:`timestamp`  date         datetime
:func:`records`    records      records
=================  ===========  ===========

``description``
    what the column holds, in French (the helper's argument): the descriptors'
    field descriptions and the README's data dictionary are built from it
    (:func:`field_descriptions`, :mod:`cpfft.datapackage`).

``text`` cleaning makes one line, whitespace collapsed and HTML decoded;
``longtext`` turns HTML into readable plain text, one paragraph or list item
per line; ``int``/``float`` parse numbers (French comma accepted).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

#: The value types a field can declare (see the module docstring).
TYPES = ("text", "code", "int", "float", "bool", "date", "datetime", "records")


@dataclass(frozen=True)
class Part:
    """One part of a record: its name in the outputs, the API's key, what it holds."""

    name: str
    api: str
    description: str
    kind: str = "text"  # "text" | "code" (cleaned as such)


@dataclass(frozen=True)
class Records:
    """What each record of a ``records`` field holds.

    ``parts`` in the order a cell shows them; ``exigence``: whether each record says
    if it is required (the API's ``E``) or wished for (``S``), and the gender the cell's
    word agrees with (``"f"``: exigée / souhaitée, ``"m"``: exigé / souhaité), or None.
    ``api``: the offer's key of the list; ``table``: the warehouse's child table.
    """

    api: str
    parts: tuple[Part, ...]
    table: str
    exigence: str | None = None

    @property
    def names(self) -> tuple[str, ...]:
        """Every part's name, ``exigence`` last when the records have one."""
        return tuple(p.name for p in self.parts) + (("exigence",) if self.exigence else ())


def _f(kind: str, type_: str, description: str, **more: Any) -> Any:
    assert type_ in TYPES
    assert description, "every column has its French description"
    metadata = {"kind": kind, "type": type_, "description": description, **more}
    return field(default=None, metadata=metadata)


def text(description: str) -> Any:
    return _f("text", "text", description)


def longtext(description: str) -> Any:
    return _f("longtext", "text", description)


def code(description: str) -> Any:
    return _f("code", "code", description)


def integer(description: str) -> Any:
    return _f("int", "int", description)


def number(description: str) -> Any:
    return _f("float", "float", description)


def flag(description: str) -> Any:
    return _f("bool", "bool", description)


def records(description: str, spec: Records) -> Any:
    return _f("records", "records", description, records=spec)


def date(description: str) -> Any:
    return _f("date", "date", description)


def timestamp(description: str) -> Any:
    return _f("date", "datetime", description)


@dataclass(slots=True)
class Formation:
    """One row of the Mon Compte Formation catalogue: a formation offered in a département.

    The 47 columns are the dataset's own names, in the dataset's order; alias
    names seen in other schema versions (``date_chargement``, ``code_rs``,
    ``siret_of``) are mapped back to these by the spider.
    """

    KEY: ClassVar[tuple[str, ...]] = ("numero_formation", "code_departement")

    date_extract: str | None = date(
        "Date de l'extraction du catalogue par la Caisse des Dépôts (la même pour toutes les lignes)"
    )
    nom_of: str | None = text(
        "Nom de l'organisme de formation (sa désignation si elle est renseignée, sinon sa raison sociale)"
    )
    nom_departement: str | None = text("Nom du département du lieu de formation")
    nom_region: str | None = text("Nom de la région du lieu de formation")
    type_referentiel: str | None = code(
        "Répertoire de la certification : RS (répertoire spécifique) ou RNCP"
    )
    code_inventaire: str | None = code(
        "Code de la certification au répertoire spécifique (RS) ; -1 pour une certification RNCP"
    )
    code_rncp: str | None = code("Code de la certification au RNCP ; -1 pour une certification RS")
    intitule_certification: str | None = text("Intitulé de la certification préparée")
    libelle_niveau_sortie_formation: str | None = text("Niveau de sortie de la formation")
    code_formacode_1: str | None = code("Code Formacode principal du domaine de formation")
    code_formacode_2: str | None = code("Deuxième code Formacode")
    code_formacode_3: str | None = code("Troisième code Formacode")
    code_formacode_4: str | None = code("Quatrième code Formacode")
    code_formacode_5: str | None = code("Cinquième code Formacode")
    libelle_code_formacode_principal: str | None = text("Libellé du code Formacode principal")
    code_rome_1: str | None = code("Premier code ROME (métier) visé par la formation")
    code_rome_2: str | None = code("Deuxième code ROME visé")
    code_rome_3: str | None = code("Troisième code ROME visé")
    code_rome_4: str | None = code("Quatrième code ROME visé")
    code_rome_5: str | None = code("Cinquième code ROME visé")
    libelle_nsf_1: str | None = text("Libellé de la spécialité de formation NSF principale")
    libelle_nsf_2: str | None = text("Libellé de la deuxième spécialité NSF")
    libelle_nsf_3: str | None = text("Libellé de la troisième spécialité NSF")
    code_nsf_1: str | None = code(
        "Code de la spécialité de formation NSF principale (3 caractères)"
    )
    code_nsf_2: str | None = code("Code de la deuxième spécialité NSF")
    code_nsf_3: str | None = code("Code de la troisième spécialité NSF")
    code_certifinfo: str | None = code("Code Certif Info de la certification ; -1 s'il est inconnu")
    siret: str | None = code("SIRET (14 chiffres) de l'organisme de formation")
    numero_formation: str | None = code(
        "Identifiant de la formation (SIRET de l'organisme, puis numéro de l'offre)"
    )
    intitule_formation: str | None = text("Intitulé de la formation donné par l'organisme")
    points_forts: str | None = longtext(
        "Points forts de la formation (texte, HTML converti, un paragraphe par ligne)"
    )
    objectif_formation: str | None = longtext(
        "Objectifs de la formation (texte, un paragraphe par ligne)"
    )
    contenu_formation: str | None = longtext(
        "Contenu ou programme de la formation (texte, un paragraphe par ligne)"
    )
    resultats_attendus_formation: str | None = longtext(
        "Résultats attendus de la formation (texte, un paragraphe par ligne)"
    )
    nb_action: int | float | None = integer(
        "Nombre d'actions de formation distinctes dans ce département"
    )
    nb_session_active: int | float | None = integer("Nombre de sessions actives")
    nb_session_a_distance: int | float | None = integer(
        "Nombre de sessions ouvertes qui se suivent à distance"
    )
    nombre_heures_total_min: int | float | None = integer(
        "Durée totale la plus courte parmi les actions, en heures"
    )
    nombre_heures_total_max: int | float | None = integer(
        "Durée totale la plus longue parmi les actions, en heures"
    )
    nombre_heures_total_mean: float | None = number("Durée totale moyenne des actions, en heures")
    frais_ttc_tot_min: float | None = number("Prix TTC le plus bas parmi les actions, en euros")
    frais_ttc_tot_max: float | None = number("Prix TTC le plus haut parmi les actions, en euros")
    frais_ttc_tot_mean: float | None = number("Prix TTC moyen des actions, en euros")
    code_departement: str | None = code(
        "Code INSEE du département du lieu de formation (01, 2A, 971…)"
    )
    code_region: str | None = code("Code INSEE de la région du lieu de formation (11, 84…)")
    nbaction_nbheures: int | float | None = integer(
        "Volume horaire total proposé : somme des heures des actions, en heures"
    )
    coderegion_export: str | None = code(
        "Code INSEE de la région du lieu de formation, tel que l'export le donne"
    )


#: A list field's value: its records (each a dict of its parts), or None.
RecordList = list[dict[str, Any]] | None

#: What the records of each list field of the offers hold (see cpfft.records for the cell).
COMPETENCES = Records(
    "competences",
    (
        Part("libelle", "libelle", "Libellé de la compétence"),
        Part("code", "code", "Code ROME de la compétence", "code"),
    ),
    table="offres_competences",
    exigence="f",
)
QUALITES = Records(
    "qualitesProfessionnelles",
    (
        Part("libelle", "libelle", "Libellé de la qualité"),
        Part("description", "description", "Ce que la qualité recouvre"),
    ),
    table="offres_qualites",
)
FORMATIONS_DEMANDEES = Records(
    "formations",
    (
        Part("niveau", "niveauLibelle", "Niveau de formation (Bac+2 ou équivalents…)"),
        Part("domaine", "domaineLibelle", "Domaine de formation"),
        Part("code_formation", "codeFormation", "Code Formacode du domaine", "code"),
        Part("commentaire", "commentaire", "Précision de l'employeur"),
    ),
    table="offres_formations",
    exigence="f",
)
LANGUES = Records(
    "langues",
    (Part("libelle", "libelle", "Langue (et niveau quand l'offre le donne)"),),
    table="offres_langues",
    exigence="f",
)
PERMIS = Records(
    "permis",
    (Part("libelle", "libelle", "Permis (B - Véhicule léger…)"),),
    table="offres_permis",
    exigence="m",
)


@dataclass(slots=True)
class Offre:
    """One France Travail job offer.

    The first six columns are the old script's, under its French headers
    (see :data:`OFFRE_HEADERS`); then what an analyst needs. Dates are ISO 8601
    as the API gives them (UTC, milliseconds).
    """

    KEY: ClassVar[tuple[str, ...]] = ("id",)

    intitule: str | None = text("Intitulé de l'offre d'emploi")
    lieu: str | None = text(
        "Lieu de travail tel que France Travail le libelle (département - commune, ou région)"
    )
    entreprise: str | None = text("Nom de l'employeur (vide pour une offre anonyme)")
    date_publication: str | None = timestamp("Date et heure de création de l'offre (UTC)")
    description: str | None = longtext("Description de l'offre (texte, un paragraphe par ligne)")
    url: str | None = code("Adresse de l'offre sur le site de France Travail")
    id: str | None = code("Identifiant de l'offre chez France Travail")
    type_contrat: str | None = code("Code du type de contrat (CDI, CDD, MIS…)")
    type_contrat_libelle: str | None = text(
        "Libellé du type de contrat, avec sa durée le cas échéant"
    )
    nature_contrat: str | None = text("Nature du contrat (contrat de travail, apprentissage…)")
    experience_exigee: str | None = code(
        "Expérience demandée : D débutant accepté, S souhaitée, E exigée"
    )
    experience: str | None = text("Libellé de l'expérience demandée")
    salaire: str | None = text("Salaire tel que l'offre l'indique (texte libre)")
    code_rome: str | None = code("Code ROME du métier de l'offre")
    libelle_rome: str | None = text("Libellé ROME du métier de l'offre")
    code_naf: str | None = code("Code NAF de l'activité de l'employeur")
    secteur_activite: str | None = text("Libellé du secteur d'activité de l'employeur")
    code_postal: str | None = code("Code postal du lieu de travail")
    commune_insee: str | None = code("Code INSEE de la commune du lieu de travail")
    departement: str | None = code("Code INSEE du département du lieu de travail")
    latitude: float | None = number("Latitude du lieu de travail (degrés décimaux, WGS 84)")
    longitude: float | None = number("Longitude du lieu de travail (degrés décimaux, WGS 84)")
    date_actualisation: str | None = timestamp(
        "Date et heure de la dernière mise à jour de l'offre (UTC)"
    )
    origine: str | None = text("Origine de l'offre : France Travail ou Partenaire")
    partenaire: str | None = text("Nom du partenaire qui a diffusé l'offre (offres de partenaires)")
    # Columns added after the first 25 (older files end here; the warehouse loads them too).
    region: str | None = code(
        "Code INSEE de la région du lieu de travail : celle du département, ou la région "
        "nommée par le lieu d'une offre localisée seulement à l'échelle d'une région ; vide "
        "pour une offre localisée seulement à l'échelle du pays"
    )
    appellation: str | None = text("Appellation ROME : l'intitulé précis du métier de l'offre")
    qualification_code: str | None = code(
        "Code de la qualification demandée (1 manœuvre … 9 cadre)"
    )
    qualification: str | None = text(
        "Libellé de la qualification demandée (Cadre, Employé qualifié…)"
    )
    alternance: bool | None = flag(
        "Offre ouverte à l'alternance (apprentissage, professionnalisation)"
    )
    nombre_postes: int | float | None = integer(
        "Nombre de postes à pourvoir par cette offre (une offre n'est pas toujours un seul poste)"
    )
    duree_travail: str | None = text("Durée du travail telle que l'offre la donne (35H/semaine…)")
    temps_travail: str | None = text("Temps plein ou temps partiel")
    salaire_commentaire: str | None = text(
        "Commentaire sur le salaire (parfois le seul endroit où il est donné : "
        "« Entre 12 et 14€ brut », « A négocier »)"
    )
    salaire_complement_1: str | None = text(
        "Premier complément de salaire (primes, avantages : « Titres restaurant »…)"
    )
    salaire_complement_2: str | None = text("Second complément de salaire")
    competences: RecordList = records(  # noqa: RUF009 - field(default=None)
        "Compétences demandées : libellé, code ROME, exigée ou souhaitée", COMPETENCES
    )
    qualites_professionnelles: RecordList = records(  # noqa: RUF009 - field(default=None)
        "Qualités professionnelles demandées : libellé, description", QUALITES
    )
    formations_demandees: RecordList = records(  # noqa: RUF009 - field(default=None)
        "Formations demandées : niveau, domaine, code Formacode, commentaire, exigée ou souhaitée",
        FORMATIONS_DEMANDEES,
    )
    langues: RecordList = records("Langues demandées : langue, exigée ou souhaitée", LANGUES)  # noqa: RUF009
    permis: RecordList = records("Permis demandés : permis, exigé ou souhaité", PERMIS)  # noqa: RUF009
    entreprise_description: str | None = longtext(
        "Présentation de l'employeur (texte, un paragraphe par ligne)"
    )
    url_postulation: str | None = code(
        "Adresse où postuler, quand l'offre en donne une (seule donnée reprise du contact : "
        "ni nom, ni courriel, ni téléphone du recruteur)"
    )
    url_partenaire: str | None = code(
        "Adresse de l'offre sur le site du partenaire qui l'a diffusée (plusieurs : séparées "
        "par « ; »)"
    )


def field_names(item_class: type) -> list[str]:
    return [f.name for f in fields(item_class)]


def field_kinds(item_class: type) -> dict[str, str]:
    """Field name → cleaning kind."""
    return {f.name: f.metadata["kind"] for f in fields(item_class)}


def field_types(item_class: type) -> dict[str, str]:
    """Field name → value type (one of :data:`TYPES`), in column order."""
    return {f.name: f.metadata["type"] for f in fields(item_class)}


def field_records(item_class: type) -> dict[str, Records]:
    """Field name → what its records hold, for the ``records`` fields, in column order."""
    return {f.name: f.metadata["records"] for f in fields(item_class) if "records" in f.metadata}


def field_descriptions(item_class: type) -> dict[str, str]:
    """Field name → what the column holds, in French (descriptors, the README's dictionary)."""
    return {f.name: f.metadata["description"] for f in fields(item_class)}


FORMATION_FIELDS: list[str] = field_names(Formation)
assert len(FORMATION_FIELDS) == 47

#: The offers' columns up to the first release's 25th: files written then end there.
OFFRE_FIRST_FIELDS = 25

#: CSV headers of the offers file: the old script's six French headers, then field names.
OFFRE_HEADERS: dict[str, str] = {
    "intitule": "Intitulé",
    "lieu": "Lieu",
    "entreprise": "Entreprise",
    "date_publication": "Date de publication",
    "description": "Description",
    "url": "URL",
} | {name: name for name in field_names(Offre)[6:]}
