import pytest

from cpfft.geo import DEPARTEMENTS, REGIONS, UnknownPlace, find_departement, find_region


def test_referential_sizes():
    assert len(REGIONS) == 18
    assert len(DEPARTEMENTS) == 101
    assert {d.code for d in DEPARTEMENTS} >= {"01", "2A", "2B", "971", "976"}


@pytest.mark.parametrize(
    ("given", "code"),
    [
        ("11", "11"),
        ("Île-de-France", "11"),
        ("ile de france", "11"),
        ("ILE-DE-FRANCE", "11"),
        ("Provence-Alpes-Côte d'Azur", "93"),
        ("provence alpes cote d azur", "93"),
        ("1", "01"),
        ("La Réunion", "04"),
    ],
)
def test_find_region(given, code):
    assert find_region(given) == code


@pytest.mark.parametrize(
    ("given", "code"),
    [
        ("75", "75"),
        ("2a", "2A"),
        ("Corse-du-Sud", "2A"),
        ("bouches du rhone", "13"),
        ("Côtes-d’Armor", "22"),
        ("9", "09"),
        ("971", "971"),
        ("Paris", "75"),
    ],
)
def test_find_departement(given, code):
    assert find_departement(given) == code


def test_unknown_region_suggests_and_lists():
    with pytest.raises(UnknownPlace) as exc:
        find_region("Bretagn")
    message = str(exc.value)
    assert "Did you mean 53 (Bretagne)?" in message
    assert "11 (Île-de-France)" in message
    assert "\n" not in message


def test_unknown_departement():
    with pytest.raises(UnknownPlace, match=r"unknown département '20'.*Valid départements"):
        find_departement("20")
    with pytest.raises(UnknownPlace, match=r"Did you mean 33 \(Gironde\)"):
        find_departement("Gironda")
