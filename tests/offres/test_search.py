"""Local validation of the search parameters, by the API's own rules."""

from dataclasses import asdict

import pytest

from cpfft.errors import ArgumentError
from cpfft.offres.search import (
    SEARCH_PARAMS,
    api_query,
    check_combinations,
    offre_from_api,
    parse_content_range,
    read_page,
    stamps,
)
from cpfft.params import parse_arguments


def parse(**raw):
    args = parse_arguments(SEARCH_PARAMS, raw)
    return args, check_combinations(args)


def test_normalised_query():
    args, problem = parse(motsCles="python , sql", region="ile-de-france", departement="75,92",
                          typeContrat="cdi,CDD", tempsPlein="oui", minCreationDate="2026-11-01",
                          maxCreationDate="2026-11-28T12:00:00Z", max_offers="10")  # fmt: skip
    assert problem is None
    assert api_query(args) == {
        "motsCles": "python,sql", "region": "11", "departement": "75,92", "typeContrat": "CDI,CDD",
        "tempsPlein": "true", "minCreationDate": "2026-11-01T00:00:00Z",
        "maxCreationDate": "2026-11-28T12:00:00Z",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (
            {"motscles": "python"},
            "argument -a motscles: unknown argument. Did you mean -a motsCles=…?",
        ),
        ({"motsCles": "a,b,c,d,e,f,g,h"}, "8 keywords. At most 7"),
        ({"motsCles": "python,r"}, "keyword 'r' is too short"),
        ({"motsCles": "chef d'équipe"}, "a space instead of an apostrophe"),
        ({"publieeDepuis": "2"}, "unknown value '2'. Valid values: 1, 3, 7, 14, 31"),
        ({"departement": "01,02,03,04,05,06"}, "6 values given. At most 5"),
        ({"departement": "99"}, "unknown département '99'"),
        ({"region": "Ile de Fr"}, "unknown region"),
        (
            {"region": "11,53"},
            (
                "argument -a region: one region only, not a list ('11,53'). The API filters on "
                "a single region: run once per region, or list up to 5 départements with "
                "-a departement"
            ),
        ),
        ({"region": "Bretagne, Normandie"}, "one region only, not a list"),
        ({"typeContrat": "STAGE"}, "Valid values: CDI, CDD, MIS"),
        (
            {"commune": "7500"},
            "'7500' is not a valid code. Expected e.g. 75056 (INSEE code, not a postcode)",
        ),
        ({"tempsPlein": "maybe"}, "'maybe' is not a boolean"),
        ({"minCreationDate": "01/11/2026"}, "is not a date"),
        ({"experience": "5"}, "Valid values: 0, 1, 2, 3, 4"),
        ({"max_offers": "0"}, "0 is out of range"),
        ({"codeROME": "M18"}, "'M18' is not a valid code"),
        ({"dureeHebdoMin": "875"}, "not a duration HHMM"),
    ],
)
def test_bad_values(raw, fragment):
    with pytest.raises(ArgumentError) as exc:
        parse_arguments(SEARCH_PARAMS, raw)
    assert fragment in str(exc.value)
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ({"minCreationDate": "2026-11-01"}, "-a minCreationDate: needs -a maxCreationDate too"),
        ({"maxCreationDate": "2026-11-01"}, "-a maxCreationDate: needs -a minCreationDate too"),
        (
            {"minCreationDate": "2026-11-02", "maxCreationDate": "2026-11-01"},
            "is after -a maxCreationDate",
        ),
        ({"salaireMin": "2000"}, "-a salaireMin: needs -a periodeSalaire too"),
        ({"distance": "20"}, "-a distance: only works with -a commune (the API would ignore it)"),
        ({"modeSelectionPartenaires": "EXCLU"}, "only works with -a partenaires"),
        ({"region": "53", "departement": "75"}, "75 is not in region 53"),
    ],
)
def test_combinations(raw, fragment):
    _, problem = parse(**raw)
    assert fragment in problem


def test_content_range():
    assert parse_content_range(b"offres 0-149/1247") == (0, 149, 1247)
    assert parse_content_range("offres 300-352/353") == (300, 352, 353)
    assert parse_content_range(b"*/0") == (0, -1, 0)
    assert parse_content_range(None) is None
    assert parse_content_range(b"garbage") is None


def test_offre_mapping():
    data = {
        "id": "214KXRB", "intitule": "Dév", "description": "x", "dateCreation": "2026-09-14T08:42:17.318Z",
        "dateActualisation": "2026-09-15T10:05:02.771Z",
        "lieuTravail": {"libelle": "69 - Lyon", "latitude": 45.75, "longitude": 4.84, "codePostal": "69003", "commune": "69383"},
        "entreprise": {"nom": "EXEMPLE"}, "typeContrat": "CDI", "typeContratLibelle": "Contrat à durée indéterminée",
        "natureContrat": "Contrat travail", "experienceExige": "E", "experienceLibelle": "2 An(s)",
        "salaire": {"libelle": "Annuel de 42000.0 Euros"}, "romeCode": "M1855", "romeLibelle": "Dév web",
        "codeNAF": "58.29C", "secteurActiviteLibelle": "Édition",
        "origineOffre": {"origine": "2", "partenaires": [{"nom": "EXEMPLEJOBS"}, {"nom": "AUTRE"}]},
    }  # fmt: skip
    offre = offre_from_api(data)
    assert offre.url == "https://candidat.francetravail.fr/offres/recherche/detail/214KXRB"
    assert (offre.lieu, offre.entreprise, offre.date_publication) == (
        "69 - Lyon",
        "EXEMPLE",
        "2026-09-14T08:42:17.318Z",
    )
    assert (offre.departement, offre.commune_insee, offre.code_postal) == ("69", "69383", "69003")
    assert (offre.origine, offre.partenaire) == ("Partenaire", "EXEMPLEJOBS, AUTRE")
    empty = offre_from_api({"id": "1234567", "origineOffre": {"origine": "1"}, "salaire": {}})
    assert (empty.origine, empty.salaire, empty.entreprise) == ("France Travail", None, None)
    assert empty.url_partenaire is None
    assert empty.competences is None


def test_every_field_an_analyst_uses_is_kept():
    """The fields real offers carry beyond the first 25 columns (each seen in recorded
    offers: salary comments, lists, apprenticeship, positions, partner and apply URLs)."""
    data = {
        "id": "7065514", "appellationlibelle": "Data engineer", "qualificationCode": "9",
        "qualificationLibelle": "Cadre", "alternance": True, "nombrePostes": 3,
        "dureeTravailLibelle": "35H/semaine Travail en journée",
        "dureeTravailLibelleConverti": "Temps plein",
        "salaire": {"commentaire": "Entre 12 et 14€ brut", "complement1": "Primes",
                    "complement2": "Participation/action"},
        "competences": [{"code": "124137", "libelle": "Concevoir une application web",
                         "exigence": "S"}, {"code": "120775", "libelle": "SQL", "exigence": "E"}],
        "qualitesProfessionnelles": [{"libelle": "Autonomie", "description": "Travailler seul"}],
        "formations": [{"codeFormation": "31054", "domaineLibelle": "Informatique",
                        "niveauLibelle": "Bac+5 et plus ou équivalents", "exigence": "E",
                        "commentaire": "Master"}],
        "langues": [{"libelle": "Anglais", "exigence": "S"}],
        "permis": [{"libelle": "B - Véhicule léger", "exigence": "E"}],
        "entreprise": {"nom": "X", "description": "<p>Éditeur</p>"},
        "contact": {"nom": "Mme Dupont", "courriel": "dupont@example.fr",
                    "telephone": "0612345678", "urlPostulation": "https://x.example/postuler"},
        "origineOffre": {"origine": "2", "partenaires": [
            {"nom": "HELLOWORK", "url": "https://www.hellowork.example/offre/1", "logo": "l.png"}]},
        "lieuTravail": {"libelle": "Île-de-France"},
    }  # fmt: skip
    offre = offre_from_api(data)
    assert (offre.appellation, offre.qualification_code, offre.qualification) == (
        "Data engineer", "9", "Cadre")  # fmt: skip
    assert (offre.alternance, offre.nombre_postes) == (True, 3)
    assert (offre.duree_travail, offre.temps_travail) == (
        "35H/semaine Travail en journée", "Temps plein")  # fmt: skip
    assert (offre.salaire, offre.salaire_commentaire) == (None, "Entre 12 et 14€ brut")
    assert (offre.salaire_complement_1, offre.salaire_complement_2) == (
        "Primes", "Participation/action")  # fmt: skip
    assert offre.competences == [
        {"libelle": "Concevoir une application web", "code": "124137", "exigence": "S"},
        {"libelle": "SQL", "code": "120775", "exigence": "E"},
    ]
    assert offre.qualites_professionnelles == [
        {"libelle": "Autonomie", "description": "Travailler seul"}
    ]
    assert offre.formations_demandees == [
        {"niveau": "Bac+5 et plus ou équivalents", "domaine": "Informatique",
         "code_formation": "31054", "commentaire": "Master", "exigence": "E"}
    ]  # fmt: skip
    assert offre.langues == [{"libelle": "Anglais", "exigence": "S"}]
    assert offre.permis == [{"libelle": "B - Véhicule léger", "exigence": "E"}]
    assert offre.entreprise_description == "<p>Éditeur</p>"  # cleaned by the pipeline
    assert offre.url_postulation == "https://x.example/postuler"
    assert offre.url_partenaire == "https://www.hellowork.example/offre/1"
    assert offre.url == "https://candidat.francetravail.fr/offres/recherche/detail/7065514"
    assert (offre.departement, offre.region) == (None, "11")
    # Personal data of the contact reaches no cell.
    cells = " ".join(str(v) for v in asdict(offre).values())
    for personal in ("Dupont", "dupont@example.fr", "0612345678"):
        assert personal not in cells


def test_read_page_total_offers_facets_or_the_error():
    offers = [{"id": "1"}, "not an offer", {"id": "2"}]
    facets = [{"filtre": "typeContrat", "agregation": []}]
    data = {"resultats": offers, "filtresPossibles": facets}
    assert read_page(206, data, b"offres 0-149/1247") == (
        1247,
        [{"id": "1"}, {"id": "2"}],
        facets,
        "",
    )
    # Without the header (a 204, or a complete 200), the page is the total.
    assert read_page(200, {"resultats": offers}, None) == (2, [{"id": "1"}, {"id": "2"}], [], "")
    assert read_page(204, {}, None) == (0, [], [], "")
    assert read_page(204, {}, "*/0") == (0, [], [], "")
    message = "La position de début doit être inférieure ou égale à 1000."
    assert read_page(400, {"message": message}, None) == (0, [], [], message)
    assert read_page(400, {}, None) == (0, [], [], "HTTP 400")
    assert read_page(200, ["resultats"], None) == (0, [], [], "the answer is not a JSON object")


def test_stamps_keep_the_api_order_and_leave_out_offers_without_a_usable_date():
    offers = [
        {"id": "B", "dateCreation": "2026-11-29T09:12:44.123Z"},
        {"id": "A"},
        {"id": 7, "dateCreation": "2026-11-29T09:12:44Z"},
        {"id": "C", "dateCreation": "yesterday"},
        {"dateCreation": "2026-11-29T09:12:44Z"},
        {"id": "D", "dateCreation": None},
    ]
    second = 1_795_943_564  # 2026-11-29T09:12:44Z
    assert stamps(offers) == [("B", second * 1000 + 123), ("7", second * 1000)]
