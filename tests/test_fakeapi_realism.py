"""The emulators are as messy as the real data: every field and dirt pattern measured on
recorded real offers and catalogue rows, at about the rates measured (± a few points)."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime

import pytest

from tests.fakeapi.cpfdata import INDEX, CpfDataset, CpfDatasetConfig
from tests.fakeapi.ftdata import FtDataset, FtDatasetConfig

NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def offers():
    return FtDataset(FtDatasetConfig(), now=NOW).offers


def share(items, keep) -> float:
    items = list(items)
    return sum(1 for item in items if keep(item)) / len(items)


# (what, how to see it in an offer, the rate measured on real offers)
OFFER_RATES = [
    ("partner offers", lambda o: o.data["origineOffre"]["origine"] == "2", 0.81),
    ("partner URL", lambda o: "url" in (o.data["origineOffre"].get("partenaires") or [{}])[0],
     0.81),
    ("appellation", lambda o: "appellationlibelle" in o.data, 0.98),
    ("alternance", lambda o: isinstance(o.data.get("alternance"), bool), 1.0),
    ("nombrePostes", lambda o: isinstance(o.data.get("nombrePostes"), int), 1.0),
    ("qualification", lambda o: "qualificationCode" in o.data, 0.28),
    ("competences", lambda o: "competences" in o.data, 0.14),
    ("qualitesProfessionnelles", lambda o: "qualitesProfessionnelles" in o.data, 0.10),
    ("formations", lambda o: "formations" in o.data, 0.09),
    ("langues", lambda o: "langues" in o.data, 0.04),
    ("permis", lambda o: "permis" in o.data, 0.03),
    ("entreprise.description", lambda o: "description" in o.data["entreprise"], 0.57),
    ("contact.urlPostulation", lambda o: "urlPostulation" in o.data["contact"], 0.06),
    ("salary comment only", lambda o: set(o.data["salaire"]) == {"commentaire"}, 0.054),
    ("salary extras beside libelle",
     lambda o: "libelle" in o.data["salaire"] and len(o.data["salaire"]) > 1, 0.11),
    ("region or France", lambda o: o.departement is None, 0.14),
    ("département alone", lambda o: re.fullmatch(r"\d{2,3}|2[AB]",
                                                  o.data["lieuTravail"].get("libelle", "")),
     0.014),
    ("C1 characters", lambda o: re.search("[\x80-\x9f]", o.data["description"]), 0.003),
    ("tag fragments", lambda o: re.search(r"[^\s<](?:/?p|br ?/?)>", o.data["description"]), 0.02),
    ("double entities", lambda o: "&amp;eacute;" in o.data["description"], 0.001),
    ("entities", lambda o: "&#039;" in o.data["description"], 0.085),
    ("blank lines", lambda o: "\n\n" in o.data["description"], 0.41),
]  # fmt: skip


@pytest.mark.parametrize(("what", "seen", "rate"), OFFER_RATES, ids=[r[0] for r in OFFER_RATES])
def test_offers_carry_each_field_and_dirt_at_the_real_rate(offers, what, seen, rate):
    got = share(offers, seen)
    # a few points around common rates; relative for the rare ones
    assert abs(got - rate) <= max(0.015, rate * 0.3), (what, got, rate)


def test_swapped_coordinates_at_the_real_rate_of_located_offers(offers):
    located = [o for o in offers if "latitude" in o.data["lieuTravail"]]
    swapped = share(located, lambda o: o.data["lieuTravail"]["latitude"] != o.lat)
    assert 0.02 < swapped < 0.033
    # the swapped ones are the offers' true point, swapped
    for o in located:
        lieu = o.data["lieuTravail"]
        assert {lieu["latitude"], lieu["longitude"]} == {o.lat, o.lon}


def test_lists_have_the_shapes_of_real_offers(offers):
    seen = Counter()
    for o in offers:
        for skill in o.data.get("competences", []):
            assert set(skill) == {"code", "libelle", "exigence"}
            assert skill["exigence"] in ("E", "S")
            seen["competences"] += 1
        for quality in o.data.get("qualitesProfessionnelles", []):
            assert set(quality) == {"libelle", "description"}
        for training in o.data.get("formations", []):
            assert (
                {"niveauLibelle", "exigence"}
                <= set(training)
                <= {"niveauLibelle", "exigence", "codeFormation", "domaineLibelle", "commentaire"}
            )
            seen["commentaire"] += "commentaire" in training
        for key in ("langues", "permis"):
            for item in o.data.get(key, []):
                assert set(item) == {"libelle", "exigence"}
        assert o.data["nombrePostes"] >= 1
        seen["several positions"] += o.data["nombrePostes"] > 1
        seen["recruiter"] += "nom" in o.data["contact"]
    assert seen["commentaire"] > 0
    assert seen["several positions"] > 0
    assert seen["recruiter"] > 0


def test_overseas_departements_and_postcodes_with_a_leading_zero(offers):
    assert {o.departement for o in offers} >= {"971", "972", "973", "974", "976"}
    assert any(o.data["lieuTravail"].get("codePostal", "").startswith("0") for o in offers)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", o.data["dateCreation"])
               for o in offers)  # fmt: skip


def test_catalogue_rows_are_as_sparse_as_the_real_ones():
    rows = CpfDataset(CpfDatasetConfig(rows=60_000)).rows
    rs = [r for r in rows if r[INDEX["type_referentiel"]] == "RS"]
    rncp = [r for r in rows if r[INDEX["type_referentiel"]] == "RNCP"]

    def placeless(r):
        return r[INDEX["code_departement"]] is None

    assert 0.74 < share(rs, placeless) < 0.82
    assert 0.12 < share(rncp, placeless) < 0.18
    assert 0.07 < share(rows, lambda r: r[INDEX["nom_of"]] is None) < 0.11
    zero = share(rows, lambda r: r[INDEX["nombre_heures_total_mean"]] == 0)
    assert 0.49 < zero < 0.55
    for r in rows:
        if r[INDEX["nombre_heures_total_mean"]] == 0:
            assert r[INDEX["nombre_heures_total_min"]] == r[INDEX["nombre_heures_total_max"]] == 0
    assert all(r[INDEX["libelle_niveau_sortie_formation"]] is None for r in rs)
    html = share(rows, lambda r: str(r[INDEX["points_forts"]]).startswith("<"))
    assert 0.6 < html < 0.73
    assert any(str(r[INDEX["points_forts"]]).startswith("- ") for r in rows)
