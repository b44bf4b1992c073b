"""Where an offer is: département, region, and coordinates checked against them."""

from collections import Counter

import pytest

from cpfft.geo import DEPARTEMENTS
from cpfft.offres.place import checked_coordinates, departement_of, place_of, region_of
from cpfft.offres.search import offre_from_api


@pytest.mark.parametrize(
    ("lieu", "code"),
    [
        ({"libelle": "75 - PARIS 08", "commune": "75108"}, "75"),
        ({"libelle": "2A - AJACCIO", "commune": "2A004"}, "2A"),
        ({"libelle": "971 - LE GOSIER", "commune": "97113"}, "971"),
        ({"libelle": "30 - Gard"}, "30"),
        ({"libelle": "Île-de-France"}, None),
        ({"libelle": "France"}, None),
        ({"latitude": 48.8, "longitude": 2.3, "commune": "69383"}, "69"),
        # département only in the label, with the commune's code beside it (1.4 % of offers)
        ({"libelle": "69", "commune": "69123"}, "69"),
        ({"libelle": "33"}, "33"),
        ({"libelle": "99 - ETRANGER"}, None),
    ],
)
def test_departement_of(lieu, code):
    assert departement_of(lieu) == code


@pytest.mark.parametrize(
    ("lieu", "region"),
    [
        ({"libelle": "33 - PESSAC"}, "75"),
        ({"libelle": "Île-de-France"}, "11"),
        ({"libelle": "ILE DE FRANCE"}, "11"),
        ({"libelle": "Provence-Alpes-Côte d'Azur"}, "93"),
        ({"libelle": "France"}, None),
        ({"libelle": "FRANCE"}, None),
        ({"libelle": "Belgique"}, None),
        ({}, None),
    ],
)
def test_region_of_an_offer_located_at_any_level(lieu, region):
    assert region_of(lieu, departement_of(lieu)) == region


def test_coordinates_that_fit_the_departement_are_kept():
    assert checked_coordinates("33", 44.8, -0.63) == (44.8, -0.63, "kept")
    assert checked_coordinates("974", -21.1, 55.5) == (-21.1, 55.5, "kept")
    assert checked_coordinates("976", -12.78, 45.23) == (-12.78, 45.23, "kept")


def test_swapped_coordinates_are_swapped_back():
    # "33 - PESSAC" at latitude -0.63, longitude 44.8, as real offers send it
    assert checked_coordinates("33", -0.63, 44.8) == (44.8, -0.63, "swapped")
    assert checked_coordinates("971", -61.5, 16.2) == (16.2, -61.5, "swapped")
    assert checked_coordinates(None, 2.35, 48.85) == (48.85, 2.35, "swapped")


def test_coordinates_that_fit_neither_way_are_emptied():
    # Strasbourg's point for an offer in Gironde: any map drawn from it would be wrong
    assert checked_coordinates("33", 48.58, 7.75) == (None, None, "emptied")
    assert checked_coordinates("33", 0.0, 0.0) == (None, None, "emptied")
    assert checked_coordinates("33", 44.8, None) == (None, None, "emptied")
    assert checked_coordinates("33", "beaucoup", 1) == (None, None, "emptied")
    assert checked_coordinates(None, 10.0, 10.0) == (None, None, "emptied")


def test_no_coordinates_is_no_verdict():
    assert checked_coordinates("33", None, None) == (None, None, None)


def test_a_point_at_the_edge_of_its_departement_is_kept():
    for dep in DEPARTEMENTS:
        low_lat, high_lat, low_lon, high_lon = dep.bounds
        for lat, lon in ((low_lat, low_lon), (high_lat, high_lon)):
            assert checked_coordinates(dep.code, lat, lon)[2] == "kept", dep.code


def test_every_bounding_box_is_a_real_box_in_france():
    for dep in DEPARTEMENTS:
        low_lat, high_lat, low_lon, high_lon = dep.bounds
        assert low_lat < high_lat, dep.code
        assert low_lon < high_lon, dep.code
        if not dep.code.startswith("97"):
            assert 41 < low_lat < high_lat < 51.2, dep.code
            assert -5.2 < low_lon < high_lon < 9.6, dep.code


def test_the_run_counts_what_the_check_did():
    tally: Counter[str] = Counter()
    swapped = {"id": "1", "lieuTravail": {"libelle": "33 - PESSAC", "latitude": -0.63,
                                          "longitude": 44.8}}  # fmt: skip
    wrong = {"id": "2", "lieuTravail": {"libelle": "33 - PESSAC", "latitude": 48.58,
                                        "longitude": 7.75}}  # fmt: skip
    right = {"id": "3", "lieuTravail": {"libelle": "33 - PESSAC", "latitude": 44.8,
                                        "longitude": -0.63}}  # fmt: skip
    rows = [offre_from_api(data, tally) for data in (swapped, wrong, right)]
    assert [(r.latitude, r.longitude) for r in rows] == [(44.8, -0.63), (None, None),
                                                         (44.8, -0.63)]  # fmt: skip
    assert tally == Counter({"swapped": 1, "emptied": 1})


def test_place_of_a_region_level_offer():
    place = place_of({"libelle": "Île-de-France"})
    assert (place.departement, place.region, place.latitude, place.coordinates) == (
        None, "11", None, None)  # fmt: skip
