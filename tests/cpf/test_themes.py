"""Themes of ``-a theme``: the NSF nomenclature, the README's table, parsing, real crawls."""

from __future__ import annotations

import re
import unicodedata

import pytest
from scrapy.settings import Settings

from cpfft.cpf.plan import cpf_params, themes_from
from cpfft.cpf.themes import (
    DOMAINS,
    GROUPS,
    SUBDOMAINS,
    THEMES,
    THEMES_BY_ID,
    catalogue,
    code_ranges,
    readme_table,
    theme_parser,
)
from cpfft.errors import ArgumentError, ConfigurationError
from cpfft.geo import fold
from cpfft.params import parse_arguments
from tests.fakeapi.cpfdata import INDEX
from tests.support.crawling import REPO

# ------------------------------------------------------------------ the nomenclature


def test_the_nsf_nomenclature_has_its_93_groups_in_17_subdomains_and_4_domains():
    assert len(DOMAINS) == 4
    assert len(SUBDOMAINS) == 17
    assert len(GROUPS) == 93
    assert all(re.fullmatch(r"[1-4]\d\d", code) for code in GROUPS)
    assert {code[:2] for code in GROUPS} == set(SUBDOMAINS)
    assert {code[0] for code in SUBDOMAINS} == set(DOMAINS)
    # Spot checks against the nomenclature as the catalogue publishes it.
    assert GROUPS["326"].startswith("Informatique, traitement de l'information")
    assert GROUPS["331"] == "Santé"
    assert GROUPS["232"] == "Bâtiment : construction et couverture"
    assert GROUPS["311"] == "Transport, manutention, magasinage"
    assert GROUPS["334"] == "Accueil, hôtellerie, tourisme"
    assert GROUPS["136"] == "Langues vivantes, civilisations étrangères et régionales"
    assert SUBDOMAINS["23"] == "Génie civil, construction, bois"
    assert [c for c in GROUPS if c.startswith("34")] == [str(c) for c in range(340, 347)]
    assert [c for c in GROUPS if c.startswith("42")] == ["421", "422", "423"]


def test_one_builtin_theme_per_subdomain_holding_all_its_groups():
    covering = {t.subdomain: t for t in THEMES if t.subdomain}
    assert set(covering) == set(SUBDOMAINS)
    for code, theme in covering.items():
        assert theme.codes == tuple(g for g in GROUPS if g[:2] == code)
        assert theme.label == SUBDOMAINS[code]
    # Every group of the nomenclature is reachable by exactly one sub-domain theme.
    groups = [g for t in covering.values() for g in t.codes]
    assert sorted(groups) == sorted(GROUPS)


def test_the_usual_domains_are_there_and_the_old_themes_keep_their_codes():
    expected = {
        "numerique": ("326",),
        "sante": ("330", "331"),
        "btp": ("230", "231", "232", "233", "234"),
        "commerce": ("312",),
        "transport-logistique": ("311",),
        "hotellerie-restauration": ("221", "334"),
        "langues": ("135", "136"),
        "social": ("332",),
        "agriculture": ("210", "211", "212", "213", "214"),
    }
    for theme, codes in expected.items():
        assert THEMES_BY_ID[theme].codes == codes, theme
    assert {"industrie", "gestion"} <= set(THEMES_BY_ID)


def plain(text: str) -> bool:
    return text.isascii() and unicodedata.normalize("NFKD", text) == text


def test_ids_and_aliases_are_short_accent_free_and_never_ambiguous():
    spellings = [s for t in THEMES for s in (t.id, *t.aliases)]
    for spelling in spellings:
        assert re.fullmatch(r"[a-z][a-z-]{1,29}", spelling), spelling
        assert plain(spelling)
    folded = [fold(s) for s in spellings]
    assert len(folded) == len(set(folded)), "two themes are spelt alike"
    for theme in THEMES:
        assert theme.label
        assert theme.codes
        assert all(code in GROUPS for code in theme.codes), theme.id
        assert len(theme.codes) == len(set(theme.codes))


def test_code_ranges():
    assert code_ranges(["220", "221", "222", "250"]) == "220–222, 250"
    assert code_ranges(["326"]) == "326"
    assert code_ranges(["331", "330", "335", "411"]) == "330–331, 335, 411"


# ------------------------------------------------------------------ the README


def test_the_readme_table_is_the_generated_one():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(
        r"<!-- Tableaux générés par `python -m cpfft\.cpf\.themes`[^\n]*-->\n(.*?)"
        r"<!-- Fin des tableaux générés\. -->",
        readme,
        re.DOTALL,
    )
    assert block, "the README has no generated theme table"
    assert block.group(1) == readme_table(), "run python -m cpfft.cpf.themes and paste its output"
    for theme in THEMES:
        assert f"| `{theme.id}` |" in block.group(1)


# ------------------------------------------------------------------ parsing


def parse_theme(value: str, themes: str = "{}") -> tuple[str, ...]:
    params = cpf_params(Settings({"CPF_THEMES": themes}))
    return parse_arguments(params, {"theme": value})["theme"]


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("btp", ("btp",)),
        ("BTP", ("btp",)),
        ("Bâtiment", ("btp",)),
        ("transport_logistique", ("transport-logistique",)),
        ("Transport logistique", ("transport-logistique",)),
        ("hôtellerie-restauration", ("hotellerie-restauration",)),
        ("restauration, tourisme", ("hotellerie-restauration",)),
        ("informatique,santé", ("numerique", "sante")),
        ("Numérique", ("numerique",)),
        ("agriculture,langues,social,gestion,industrie,commerce",
         ("agriculture", "langues", "social", "gestion", "industrie", "commerce")),
    ],
)  # fmt: skip
def test_theme_spellings(value, parsed):
    assert parse_theme(value) == parsed


@pytest.mark.parametrize(
    ("value", "hint"),
    [
        ("btpp", " Did you mean btp? "),
        ("batimen", " Did you mean btp? "),
        ("hotelerie", " Did you mean hotellerie-restauration? "),
        ("logistiqe", " Did you mean transport-logistique? "),
        ("zzzz", " Valid values: "),
    ],
)
def test_an_unknown_theme_names_the_closest_and_where_they_are_listed(value, hint):
    with pytest.raises(ArgumentError) as exc:
        parse_theme(value)
    message = str(exc.value)
    assert message.startswith(f"argument -a theme: unknown value {value!r}.{hint}")
    assert "\n" not in message
    # The 42 ids would not fit a readable one-line error: it says where they are listed.
    assert message.endswith(
        f"Valid values: the {len(THEMES)} themes listed by `python -m cpfft.cpf.themes` (README, "
        "« Thèmes de -a theme »), e.g. numerique, sante, btp, commerce"
    )
    assert len(message) < 300
    if value == "zzzz":
        assert "Did you mean" not in message


def test_cpf_themes_adds_themes_and_replaces_a_builtin_of_the_same_name():
    themes = catalogue({"boulangerie": ["221"], "Santé": ["331"], "informatique": "326"})
    assert themes["boulangerie"] == ("221",)
    assert themes["sante"] == ("331",)  # replaced, under its own id
    assert "Santé" not in themes
    assert themes["btp"] == THEMES_BY_ID["btp"].codes
    raw = '{"boulangerie": ["221"], "Santé": ["331"], "informatique": "326"}'
    assert parse_theme("Boulangerie,sante", raw) == ("boulangerie", "sante")
    # A user theme spelt like a built-in alias takes that spelling.
    assert parse_theme("informatique", raw) == ("informatique",)
    assert parse_theme("numerique", raw) == ("numerique",)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ('{"boulangerie": ["22"]}', "theme 'boulangerie' must map to a non-empty list of 3-digit"),
        ('{"a,b": ["221"]}', "theme name 'a,b' must be a short name without commas"),
        ("[1]", "setting CPF_THEMES is not a JSON object"),
    ],
)
def test_bad_cpf_themes(raw, message):
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        themes_from(Settings({"CPF_THEMES": raw}))


# ------------------------------------------------------------------ real crawls


def codes_of(row):
    return {row[INDEX[f"code_nsf_{i}"]] for i in (1, 2, 3)}


@pytest.mark.crawl
@pytest.mark.parametrize(
    ("theme", "codes"),
    [
        ("btp,transport-logistique", {"230", "231", "232", "233", "234", "311"}),
        ("hôtellerie-restauration", {"221", "334"}),
        ("agriculture", {"210", "211", "212", "213", "214"}),
        ("social,langues", {"332", "135", "136"}),
    ],
)
def test_a_builtin_theme_selects_exactly_its_rows(ods, crawl, theme, codes):
    api = ods(rows=1500)
    i, j = INDEX["numero_formation"], INDEX["code_departement"]
    expected = {(r[i], r[j] or "") for r in api.dataset.rows if r[i] and codes_of(r) & codes}
    assert 0 < len(expected) < 1500, "the emulator must hold rows of the theme, and others"
    result = crawl("cpf", {"theme": theme}, env={"CPF_API_URL": api.url})
    assert result.returncode == 0, result.log
    found = [(r["numero_formation"], r["code_departement"]) for r in result.dicts()]
    assert len(found) == len(set(found))
    assert set(found) == expected


@pytest.mark.crawl
def test_an_unknown_theme_is_one_line_exit_2_and_no_call(ods, crawl):
    api = ods(rows=10)
    result = crawl("cpf", {"theme": "btp,hotelerie"}, env={"CPF_API_URL": api.url})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(
        "cpfft: error: argument -a theme: unknown value 'hotelerie'. Did you mean "
        f"hotellerie-restauration? Valid values: the {len(THEMES)} themes listed by "
    )
    assert api.stats()["calls"] == 0


def test_an_unknown_theme_names_the_cpf_themes_ones_too():
    themes = catalogue({f"t{i}": ["221"] for i in range(7)})
    with pytest.raises(ValueError, match="unknown value") as exc:
        theme_parser(themes)("zzzz")
    assert str(exc.value).endswith("; and from CPF_THEMES: 't0', 't1', 't2', 't3', 't4' and 2 more")
