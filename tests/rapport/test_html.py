"""The page as text: French formatting, one source line per chart with its licence link,
nothing loaded from anywhere, the numbers in data attributes."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest

from cpfft.rapport import figures, fr, html, svg
from cpfft.rapport.figures import Filtres
from cpfft.sources import SOURCES

NB = "\u00a0"


@pytest.fixture(scope="module")
def page(con):
    return html.render(figures.rapport(con, Filtres(min_offres=2)))


@pytest.mark.parametrize(
    ("value", "decimals", "text"),
    [
        (1234.5, 1, f"1{NB}234,5"),
        (1234567, 0, f"1{NB}234{NB}567"),
        (3.0, 1, "3"),
        (2.25, 1, "2,2"),  # Python rounds half to even, as in any format()
        (0.04, 1, "0"),
        (-1500, 0, f"−1{NB}500"),
        (None, 0, "–"),
    ],
)
def test_french_numbers(value, decimals, text):
    assert fr.nombre(value, decimals) == text


def test_french_units_and_dates():
    assert fr.euros(1549.6) == f"1{NB}550{NB}€"
    assert fr.heures(35) == f"35{NB}h"
    assert fr.date(datetime(2026, 12, 1, 5, 30, tzinfo=UTC)) == "1er décembre 2026 à 05:30 UTC"
    assert fr.date(datetime(2026, 8, 15, 18, 0, tzinfo=UTC)) == "15 août 2026 à 18:00 UTC"
    assert [fr.compte(n, "offre") for n in (0, 1, 2)] == ["0 offre", "1 offre", "2 offres"]
    assert fr.compte(1500, "formation") == f"1{NB}500 formations"


class Page(HTMLParser):
    """Collects the figures, their marks and source lines, and every URL-bearing attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: list[dict] = []
        self.urls: list[tuple[str, str, str]] = []
        self.tags: set[str] = set()
        self.numbers: dict[str, str] = {}
        self.in_figure = False
        self.tables: list[str] = []  # data-tableau of each table, in order
        self.loose_sources: list[str] = []  # source lines outside any figure (under a table)

    def handle_endtag(self, tag):
        if tag == "figure":
            self.in_figure = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.add(tag)
        for name in ("src", "href", "action", "poster", "data", "xlink:href"):
            if name in a:
                self.urls.append((tag, name, a[name]))
        if tag == "figure":
            self.in_figure = True
            self.figures.append({"key": a["data-graphique"], "declared": int(a["data-marques"]),
                                 "marks": 0, "sources": []})  # fmt: skip
        elif tag == "rect" and a.get("class") == "marque":
            self.figures[-1]["marks"] += 1
        elif tag == "p" and a.get("class") == "source":
            if self.in_figure:
                self.figures[-1]["sources"].append(a["data-source"])
            else:
                self.loose_sources.append(a["data-source"])
        elif tag == "table":
            self.tables.append(a.get("data-tableau"))
        if "data-chiffre" in a:
            self.numbers[a["data-chiffre"]] = a["data-valeur"]


def parsed(text: str) -> Page:
    parser = Page()
    parser.feed(text)
    return parser


def test_every_chart_has_its_marks_and_a_source_line_per_source(page):
    p = parsed(page)
    keys = [f["key"] for f in p.figures]
    assert keys == ["top-metiers", "ecarts", "regions", "prix", "heures"]
    marks = {f["key"]: f["marks"] for f in p.figures}
    # 3 jobs × (offers, trainings); 2 gaps; 18 regions × 2; 7 and 9 bins.
    assert marks == {"top-metiers": 6, "ecarts": 2, "regions": 36, "prix": 7, "heures": 9}
    assert all(f["marks"] == f["declared"] for f in p.figures)
    by_key = {f["key"]: f["sources"] for f in p.figures}
    assert by_key["top-metiers"] == ["offres", "formations"]
    assert by_key["ecarts"] == ["offres", "formations"]
    assert by_key["prix"] == ["formations"]
    # Tables shown without a chart have their own source line: skills (offers), and the
    # jobs without any training (both sources).
    assert p.loose_sources == ["offres", "offres", "formations"]
    assert "competences" in p.tables
    assert "sans-formation" in p.tables


def test_source_lines_name_source_date_and_licence_link(page):
    offres = SOURCES["offres"]
    line = re.search(r'<p class="source" data-source="offres">.*?</p>', page).group(0)
    assert offres.title.replace("'", "&#x27;") in line
    assert "2 décembre 2026 à 06:00 UTC" in line
    assert f'<a href="{offres.licence_url}">' in line
    # The footer states each licence's obligations.
    assert offres.obligations.replace("'", "&#x27;") in page


def test_page_loads_nothing(page):
    p = parsed(page)
    # Only links a reader may follow: the licences and the sources' pages.
    allowed = {s.licence_url for s in SOURCES.values()} | {s.url for s in SOURCES.values()}
    assert {(tag, name) for tag, name, _ in p.urls} == {("a", "href")}
    assert {url for _, _, url in p.urls} == allowed
    assert not p.tags & {"script", "img", "link", "iframe", "object", "embed", "image", "use"}
    assert "default-src 'none'" in page
    assert "url(" not in page
    assert "@import" not in page


def test_key_numbers_in_data_attributes(page):
    assert parsed(page).numbers == {
        "nb_offres": "10",
        "nb_formations": "5",
        "nb_organismes": "4",
        "rome_les_deux": "2",
        "rome_offres_seulement": "1",
        "rome_formations_seulement": "3",
    }


def test_filters_are_described_and_escaped(con):
    filters = Filtres(theme="numerique", theme_label="Numérique <b>", nsf=("326",))
    page = html.render(figures.rapport(con, filters))
    assert "thème : Numérique &lt;b&gt; (codes NSF 326)" in page
    assert "<b>" not in page


def test_empty_scope_draws_no_empty_chart(con):
    # Corse: no offer, no training; only the per-region chart remains.
    page = html.render(figures.rapport(con, Filtres(region="94")))
    assert [f["key"] for f in parsed(page).figures] == ["regions"]
    assert "Aucune offre dans ce périmètre." in page
    assert 'data-graphique-absent="prix"' in page


def test_ticks_are_round_and_whole_for_counts():
    assert svg.ticks(5) == [0, 2, 4, 6]
    assert svg.ticks(2) == [0, 1, 2]
    assert svg.ticks(2, entier=False) == [0, 0.5, 1, 1.5, 2]
    assert svg.ticks(0) == [0, 1]


def section(page: str, name: str) -> str:
    return re.search(rf'<section id="{name}">.*?</section>', page).group(0)


def test_skills_table_lists_each_jobs_skills_with_their_share(page):
    skills = section(page, "competences")
    rows = re.findall(r'<tr data-rome="(\w+)">(.*?)</tr>', skills)
    assert [code for code, _ in rows] == ["M1805", "J1501"]  # K2204's offers list none
    m1805 = rows[0][1]
    assert re.findall(r'data-competence="([^"]+)" data-offres="(\d+)"', m1805) == [
        ("Programmer en Python", "4"),
        ("Concevoir une application web", "2"),
        ("Analyser les besoins du client", "1"),
    ]
    assert f"Programmer en Python (80{NB}%)" in m1805
    assert "Réaliser des soins d&#x27;hygiène (67" in rows[1][1]


def test_job_tables_show_the_apprenticeship_share(page):
    top = section(page, "top-metiers")
    assert "Ouvertes à l'alternance" in top
    cells = dict(re.findall(r'<tr data-rome="(\w+)">.*?data-alternance="\d+">([^<]*)</td>', top))
    assert cells == {"M1805": f"20{NB}%", "J1501": f"67{NB}%", "K2204": f"0{NB}%"}


def test_price_and_hours_say_how_many_trainings_gave_none(page):
    spread = section(page, "distributions")
    assert "(4 formations ; 1 sans prix, non comptée)" in spread
    assert "(4 formations ; 1 sans durée, non comptée)" in spread
    assert 'data-stat="heures-sans-valeur" data-valeur="1"' in spread
    assert 'data-stat="heures-mediane" data-valeur="150.0"' in spread


def test_history_section_draws_the_series_or_says_where_history_stands(con, tmp_path):
    import duckdb

    from tests.rapport.warehouse import add_history, build

    # An older warehouse: no history tables.
    page = html.render(figures.rapport(con, Filtres()))
    assert 'data-historique="absent"' in page
    # One load: history starts that day, no empty chart.
    one = add_history(build(tmp_path / "un.duckdb"), days=(2,))
    with duckdb.connect(str(one), read_only=True) as c:
        page = html.render(figures.rapport(c, Filtres()))
    assert "L'historique commence le 2 novembre 2026" in page
    assert not {"en-ligne", "semaines"} & {f["key"] for f in parsed(page).figures}
    # Ten days: the series, with one mark per day, per week and series, per job.
    full = add_history(build(tmp_path / "dix.duckdb"))
    with duckdb.connect(str(full), read_only=True) as c:
        page = html.render(figures.rapport(c, Filtres()))
    figures_drawn = parsed(page).figures
    assert all(f["marks"] == f["declared"] for f in figures_drawn)
    drawn = {f["key"]: f["marks"] for f in figures_drawn}
    assert drawn["en-ligne"] == 10
    assert drawn["semaines"] == 4
    assert drawn["catalogue"] == 4
    assert "durees" not in drawn  # no job has 5 withdrawn offers
    assert 'data-graphique-absent="durees"' in page
    assert "Du 2 novembre 2026 au 11 novembre 2026" in page
