"""The France Travail emulator answers as the real API does (its documented contract)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest

from tests.fakeapi.francetravail import CLIENT_ID, CLIENT_SECRET
from tests.support.ftapi import SEARCH, TOKEN, call, token_of


@pytest.fixture
def api(ft):
    return ft(offers=6000, heavy_share=0.6)


def test_token_success_shape(api):
    status, headers, body = token_of(api)
    assert status == 200
    assert headers["Cache-Control"] == "no-store"
    assert set(body) == {"access_token", "scope", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 1499
    assert len(body["access_token"]) == 27
    assert body["scope"] == "api_offresdemploiv2 o2dsoffre"


@pytest.mark.parametrize(
    ("overrides", "error", "description"),
    [
        ({"client_secret": CLIENT_SECRET + "\n"}, "invalid_client", "Client authentication failed"),
        ({"client_id": "PAR_unknown"}, "invalid_client", "Client authentication failed"),
        (
            {"scope": "api_quinexistepasv0"},
            "invalid_scope",
            "Unknown/invalid scope(s): [api_quinexistepasv0]",
        ),
        (
            {"grant_type": "password"},
            "unsupported_grant_type",
            "Grant type is not supported: password",
        ),
    ],
)
def test_token_errors(api, overrides, error, description):
    status, headers, body = token_of(api, **overrides)
    assert status == 400
    assert body == {"error": error, "error_description": description}
    assert headers["Pragma"] == "no-cache"


def test_token_realm_spellings(api):
    form = {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
            "scope": f"application_{CLIENT_ID} api_offresdemploiv2 o2dsoffre"}  # fmt: skip
    assert call(api, TOKEN, form=form, realm="partenaire")[0] == 200
    assert call(api, TOKEN, form=form, realm="/partenaire")[0] == 200
    status, _, body = call(api, TOKEN, form=form, realm="/individu")
    assert status == 400
    assert json.loads(body)["error_description"] == "Invalid realm"


def test_401_empty_body_without_or_with_expired_token(api):
    status, headers, body = call(api, SEARCH)
    assert (status, body) == (401, b"")
    assert headers["WWW-Authenticate"] == "Bearer"
    token = token_of(api)[2]["access_token"]
    assert call(api, SEARCH, token=token)[0] in (200, 206)
    api.expire_tokens()
    assert call(api, SEARCH, token=token)[0] == 401


def test_windows_statuses_and_headers(api):
    token = token_of(api)[2]["access_token"]
    status, headers, body = call(api, SEARCH, {"departement": "75", "sort": "1"}, token=token)
    total = sum(1 for o in api.dataset.offers if o.departement == "75")
    assert total > 3150
    assert status == 206
    assert headers["Content-Range"] == f"offres 0-149/{total}"
    assert headers["Accept-Range"] == "150"
    assert headers["X-Ratelimit-Burst-Capacity-Clientidlimiter"] == "10"
    data = json.loads(body)
    assert set(data) == {"resultats", "filtresPossibles"}
    assert len(data["resultats"]) == 150
    assert [f["filtre"] for f in data["filtresPossibles"]] == [
        "typeContrat",
        "experience",
        "qualification",
        "natureContrat",
    ]
    assert sum(a["nbResultats"] for a in data["filtresPossibles"][0]["agregation"]) == total
    dates = [o["dateCreation"] for o in data["resultats"]]
    assert dates == sorted(dates, reverse=True)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"range": "0-150"}, "La plage de résultats demandée est trop importante."),
        ({"range": "3001-3149"}, "La position de début doit être inférieure ou égale à 3000."),
        ({"range": "abc"}, "Format du paramètre « range » incorrect. <entier>-<entier> attendu."),
        (
            {"publieeDepuis": "2"},
            "Format du paramètre « publieeDepuis » incorrect. 1, 3, 7, 14 ou 31 attendu.",
        ),
        (
            {"departement": "01,02,03,04,05,06"},
            "Le nombre de départements maximum autorisé pour la recherche est de 5",
        ),
        ({"departement": "20"}, "Valeur du paramètre « departement » incorrecte."),
        ({"region": "Ile-de-France"}, "Valeur du paramètre « region » incorrecte."),
        ({"typeContrat": "STAGE"}, "Valeur du paramètre « typeContrat » incorrecte."),
        ({"tempsPlein": "oui"}, "Format du paramètre « tempsPlein » incorrect. Booléen attendu."),
        (
            {"motsCles": "a"},
            "Format du paramètre « motsCles » incorrect. 7 mots-clé au maximum séparés par des virgules et d'au moins 2 caractères.",
        ),
        (
            {"minCreationDate": "2026-01-01T00:00:00Z"},
            "les paramètres sont dépendants et doivent être renseignés ensemble",
        ),
        (
            {"experience": "9"},
            "Format du paramètre « experience » incorrect. 0, 1, 2, 3 ou 4 attendu.",
        ),
        ({"commune": "75001"}, "Valeur du paramètre « commune » incorrecte."),
    ],
)
def test_validation_messages(api, params, message):
    token = token_of(api)[2]["access_token"]
    status, headers, body = call(api, SEARCH, params, token=token)
    assert headers["Content-Type"].startswith("application/json")
    data = json.loads(body)
    assert status == 400
    assert message in data["message"]
    assert data["codeHttp"] == 400
    assert data["codeErreur"].isdigit()


def test_unknown_parameters_are_ignored(api):
    token = token_of(api)[2]["access_token"]
    a = call(api, SEARCH, {"motscles": "python", "page": "3"}, token=token)[1]["Content-Range"]
    b = call(api, SEARCH, {}, token=token)[1]["Content-Range"]
    assert a == b


def test_last_page_204_and_empty(api):
    token = token_of(api)[2]["access_token"]
    total = sum(1 for o in api.dataset.offers if o.departement == "33")
    status, headers, body = call(api, SEARCH, {"departement": "33"}, token=token)
    assert status == 200
    assert total <= 150
    status, headers, body = call(
        api, SEARCH, {"departement": "33", "range": "150-299"}, token=token
    )
    assert (status, body) == (204, b"")
    status, headers, body = call(api, SEARCH, {"motsCles": "zzzqqq"}, token=token)
    assert (status, body, headers["Content-Range"]) == (204, b"", "*/0")


def test_type_and_nature_are_ored(api):
    token = token_of(api)[2]["access_token"]
    cr = call(api, SEARCH, {"typeContrat": "CDI", "natureContrat": "E2"}, token=token)[1][
        "Content-Range"
    ]
    expected = sum(
        1 for o in api.dataset.offers if o.data["typeContrat"] == "CDI" or o.nature == "E2"
    )
    assert cr.endswith(f"/{expected}")


def test_creation_window_is_inclusive_to_the_second(api):
    token = token_of(api)[2]["access_token"]
    burst = [o for o in api.dataset.offers if o.created.microsecond == 0]
    second = burst[0].created.strftime("%Y-%m-%dT%H:%M:%SZ")
    cr = call(api, SEARCH, {"minCreationDate": second, "maxCreationDate": second}, token=token)[1][
        "Content-Range"
    ]
    assert cr.endswith(f"/{api.config.same_second_burst}")


def test_rate_limit_429_with_retry_after(ft):
    api = ft(offers=50, rate_per_second=2, rate_burst=2)
    token = token_of(api)[2]["access_token"]
    statuses = [call(api, SEARCH, token=token)[0] for _ in range(4)]
    assert 429 in statuses
    time.sleep(1.1)
    assert call(api, SEARCH, token=token)[0] in (200, 206)
    api.config.storm_calls = 1
    status, headers, body = call(api, SEARCH, token=token)
    assert (status, body) == (429, b"")
    assert headers["Retry-After"] == "2"
    assert headers["Content-Type"].startswith("text/plain")


def test_detail_and_referentiels(api):
    token = token_of(api)[2]["access_token"]
    offer = api.dataset.offers[0].data
    status, _, body = call(api, f"/partenaire/offresdemploi/v2/offres/{offer['id']}", token=token)
    assert status == 200
    assert json.loads(body)["id"] == offer["id"]
    assert call(api, "/partenaire/offresdemploi/v2/offres/ZZZZZZ9", token=token)[0] == 204
    status, _, body = call(api, "/partenaire/offresdemploi/v2/offres/bad", token=token)
    assert json.loads(body)["message"] == "Le format de l'id de l'offre recherchée est incorrect."
    regions = json.loads(
        call(api, "/partenaire/offresdemploi/v2/referentiel/regions", token=token)[2]
    )
    assert len(regions) == 18
    deps = json.loads(
        call(api, "/partenaire/offresdemploi/v2/referentiel/departements", token=token)[2]
    )
    assert len(deps) == 101
    assert deps[0]["region"]["code"]
    assert (
        call(api, "/partenaire/offresdemploi/v2/referentiel/niveauxExperience", token=token)[0]
        == 404
    )


def test_offer_shape(api):
    offers = [o.data for o in api.dataset.offers]
    assert all(len(o["id"]) == 7 for o in offers)
    assert all(o["origineOffre"]["origine"] in ("1", "2") for o in offers)
    assert any("partenaires" in o["origineOffre"] for o in offers)
    assert any("nom" not in o["entreprise"] for o in offers)
    assert any(o["lieuTravail"].get("libelle", "").startswith("France") for o in offers)
    assert all(None not in o.values() for o in offers)


def test_evolve_withdraws_updates_and_publishes(ft):
    api = ft(offers=300)
    token = token_of(api)[2]["access_token"]
    request = urllib.request.Request(
        api.url + "/_emulator/evolve",
        data=json.dumps({"withdraw": 4, "update": 3, "publish": 2}).encode(),
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        day = json.loads(response.read())
    assert [len(day[k]) for k in ("withdrawn", "updated", "published")] == [4, 3, 2]
    assert set(day["withdrawn"]).isdisjoint(day["updated"] + day["published"])
    detail = "/partenaire/offresdemploi/v2/offres/"
    assert call(api, detail + day["withdrawn"][0], token=token)[0] == 204  # withdrawn: gone
    updated = json.loads(call(api, detail + day["updated"][0], token=token)[2])
    assert updated["dateActualisation"] > updated["dateCreation"]
    params = {"range": "0-149", "sort": "1"}
    status, headers, body = call(api, SEARCH, params, token=token)
    assert status == 206  # a first window of more
    assert headers["Content-Range"].endswith("/298")
    assert {o["id"] for o in json.loads(body)["resultats"][:2]} == set(day["published"])
