"""A national crawl over real-shaped offers, then the warehouse: every field an analyst
uses is kept, the real data's dirt is cleaned, no personal data gets out.

The emulator serves what recorded real offers carry (skills, qualities, trainings,
languages, licences, apprenticeship, salary comments, partner links…) and their dirt
(Windows-1252 control characters, tag fragments whose ``<`` was lost, double-encoded
entities, swapped coordinates, recruiters' names and phones in ``contact``). The rare
patterns are made more frequent here so that one crawl of a few thousand offers sees
each many times; tests/test_fakeapi_realism.py checks the emulator's real rates.
Expected values come from the offers as the emulator made them, not from cpfft's code.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from cpfft.items import OFFRE_HEADERS, Offre, field_records
from cpfft.records import parse_cell
from tests.entrepot.files import entrepot
from tests.fakeapi.francetravail import FtEmulator
from tests.fakeapi.ftdata import C1_SENTENCES, DOUBLE_ENTITY, RECRUITERS
from tests.fakeapi.ods import OdsEmulator
from tests.support.crawling import emulator_factory, ft_env
from tests.support.feeds import csv_dicts, scrapy_crawl

pytestmark = pytest.mark.crawl

OFFERS = 3000
#: The rare dirt patterns, more frequent than in real data (see the module doc).
KNOBS = {"c1_share": 0.03, "double_entity_share": 0.02, "fragment_share": 0.05,
         "swapped_share": 0.05, "recruiter_share": 0.5}  # fmt: skip
LISTS = field_records(Offre)
#: Each list column and the offer's key it comes from.
API_LISTS = {"competences": "competences", "qualites_professionnelles": "qualitesProfessionnelles",
             "formations_demandees": "formations", "langues": "langues", "permis": "permis"}  # fmt: skip
HEADER = dict(OFFRE_HEADERS)
#: Salary comments (the emulator's) that state an amount in euros, and those that do not.
READABLE_COMMENTS = {
    "Entre 12 et 14€ brut", "Rémunération : 26/27 K / an", "1800 € brut mensuel",
    "De 35 à 40 k€ annuels", "11,88 € de l'heure", "2 100 euros bruts par mois",
}  # fmt: skip
UNREADABLE_COMMENTS = {"A négocier", "Selon profil", "Selon expérience", "SMIC + primes"}


def plain(text: str) -> str:
    """A summary with its thousands separators (narrow or not) as plain spaces."""
    return text.replace("\u202f", " ").replace("\u00a0", " ")


def thousands(n: int) -> str:
    return f"{n:,}".replace(",", " ")


def _start(cls, **knobs):
    factory = emulator_factory(cls)
    start = next(factory)
    return start(**knobs), factory


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One national crawl (CSV and Parquet), a small catalogue crawl, and two warehouses
    (one loaded from each offers file)."""
    work: Path = tmp_path_factory.mktemp("reels")
    ft, ft_factory = _start(FtEmulator, offers=OFFERS, **KNOBS)
    ods, ods_factory = _start(OdsEmulator, rows=1500)
    try:
        offres = scrapy_crawl(
            work, "offres", "-O", "offres.csv", "-O", "offres.parquet", env=ft_env(ft)
        )
        assert offres.returncode == 0, offres.log
        cpf = scrapy_crawl(work, "cpf", "-O", "formations.csv", env={"CPF_API_URL": ods.url})
        assert cpf.returncode == 0, cpf.log
    finally:
        for factory in (ft_factory, ods_factory):
            next(factory, None)
    loads = {}
    for fmt in ("csv", "parquet"):
        proc = entrepot(work, f"{fmt}.duckdb", "--formations", "formations.csv",
                        "--offres", f"offres.{fmt}")  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        loads[fmt] = proc.stdout
    by_id = {row["id"]: row for row in csv_dicts(work / "offres.csv")}
    assert len(by_id) == OFFERS
    return {"work": work, "offers": ft.dataset.offers, "rows": by_id, "log": offres.log,
            "loads": loads}  # fmt: skip


def expected_records(name: str, raw: list[dict] | None) -> list[dict]:
    """A list field's records as the offer gave them, under the parts' names."""
    spec = LISTS[name]
    out = []
    for item in raw or []:
        record = {part.name: item.get(part.api) for part in spec.parts}
        if spec.exigence:
            record["exigence"] = item.get("exigence")
        out.append(record)
    return out


def test_every_field_an_analyst_uses_is_kept(run):
    seen = Counter()
    for offer in run["offers"]:
        data, row = offer.data, run["rows"][offer.data["id"]]
        salary = data.get("salaire") or {}
        assert row[HEADER["salaire"]] == salary.get("libelle", ""), data["id"]
        assert row["salaire_commentaire"] == salary.get("commentaire", "")
        assert row["salaire_complement_1"] == salary.get("complement1", "")
        assert row["salaire_complement_2"] == salary.get("complement2", "")
        assert row["qualification_code"] == data.get("qualificationCode", "")
        assert row["qualification"] == data.get("qualificationLibelle", "")
        # One line, as every text cell ("35H/semaine\nTravail en journée").
        assert row["duree_travail"] == " ".join(data.get("dureeTravailLibelle", "").split())
        assert row["temps_travail"] == data.get("dureeTravailLibelleConverti", "")
        assert row["alternance"] == ("true" if data["alternance"] else "false")
        assert row["nombre_postes"] == str(data["nombrePostes"])
        assert row["appellation"] == data.get("appellationlibelle", "")
        assert row["url_postulation"] == data["contact"].get("urlPostulation", "")
        assert row["region"] == (offer.region or "")
        assert bool(row["entreprise_description"]) == bool(data["entreprise"].get("description"))
        for name, spec in LISTS.items():
            cell = row[HEADER[name]]
            assert parse_cell(spec, cell) == expected_records(name, data.get(API_LISTS[name])), name
            seen[name] += bool(cell)
        seen["comment only"] += bool(salary.get("commentaire") and not salary.get("libelle"))
        seen["region only"] += bool(offer.region and not offer.departement)
    # Each kind of field was there to be kept, many times.
    assert min(seen.values()) >= 50, seen


TEXT_COLUMNS = ("Intitulé", "Description", "Entreprise", "entreprise_description")


def test_no_control_character_fragment_or_entity_is_left(run):
    rows = run["rows"].values()
    cells = [row[c] for row in rows for c in TEXT_COLUMNS]
    assert not [c for c in cells if re.search("[\x80-\x9f]", c)]
    assert not [c for c in cells if re.search(r"[^\s<](?:/?p|br ?/?)>", c)]
    assert not [c for c in cells if re.search(r"&(?:[a-z]+|#\d+|#x[0-9a-f]+);", c, re.IGNORECASE)]
    dirty = Counter()
    for offer in run["offers"]:
        text = run["rows"][offer.data["id"]]["Description"]
        if "c1" in offer.dirt:  # the Windows-1252 letters a reader expects, not deleted
            assert any(clean in text for _, clean in C1_SENTENCES), text[:300]
            dirty["c1"] += 1
        if "double_entity" in offer.dirt:
            assert DOUBLE_ENTITY[1] in text
            dirty["double_entity"] += 1
        if "fragment" in offer.dirt:
            assert not re.search(r"\w(?:/?p|br ?/?)>", text)
            dirty["fragment"] += 1
    assert min(dirty.values()) >= 20, dirty


def test_no_implausible_coordinate_is_written_and_the_summary_counts_them(run):
    swapped = 0
    for offer in run["offers"]:
        row = run["rows"][offer.data["id"]]
        # The true position (the emulator's), also where it served the pair swapped.
        assert row["latitude"] == ("" if offer.lat is None else str(offer.lat))
        assert row["longitude"] == ("" if offer.lon is None else str(offer.lon))
        swapped += "swapped" in offer.dirt
    assert swapped >= 50
    line = f"coordinates:        {thousands(swapped)} latitude/longitude pairs swapped back"
    assert line in plain(run["log"])


def test_no_personal_data_reaches_any_output(run):
    work = run["work"]
    names = [v for r in RECRUITERS for k, v in r.items() if k != "coordonnees2"]
    assert sum("nom" in o.data["contact"] for o in run["offers"]) > 500
    assert set(API_LISTS) == set(LISTS)
    csv_text = (work / "offres.csv").read_text("utf-8-sig")
    table = pq.read_table(work / "offres.parquet").to_pylist()
    parquet_text = repr(table)
    for value in names:
        assert value not in csv_text, value
        assert value not in parquet_text, value
    with duckdb.connect(str(work / "csv.duckdb"), read_only=True) as con:
        text_columns = con.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE data_type = 'VARCHAR' AND table_schema = 'main'"
        ).fetchall()
        for table_name, column in text_columns:
            for value in names:
                found = con.execute(
                    f'SELECT count(*) FROM "{table_name}" WHERE contains("{column}", ?)',  # noqa: S608
                    [value],
                ).fetchone()[0]
                assert found == 0, (table_name, column, value)


def test_comment_only_salaries_count_in_the_warehouse(run):
    readable = Counter()  # per ROME code: offers whose salary the warehouse can read
    from_comment = 0
    for offer in run["offers"]:
        salary = offer.data.get("salaire") or {}
        comment = salary.get("commentaire")
        if salary.get("libelle"):
            readable[offer.data["romeCode"]] += 1
        elif comment in READABLE_COMMENTS:
            readable[offer.data["romeCode"]] += 1
            from_comment += 1
        else:
            assert comment is None or comment in UNREADABLE_COMMENTS, comment
    assert from_comment >= 50
    line = f"(dont {thousands(from_comment)} lues dans le seul commentaire)"
    assert line in plain(run["loads"]["csv"])
    with duckdb.connect(str(run["work"] / "csv.duckdb"), read_only=True) as con:
        counted = dict(
            con.execute(
                "SELECT code_rome, nb_offres_salaire FROM metiers WHERE niveau = 'pays' "
                "AND nb_offres > 0"
            ).fetchall()
        )
    assert counted == {code: readable.get(code, 0) for code in counted}
    assert set(readable) <= set(counted)


def test_catalogue_statistics_leave_the_zeros_out(run):
    rows = csv_dicts(run["work"] / "formations.csv")
    zero = sum(1 for r in rows if r["nombre_heures_total_mean"] in ("0", "0.0"))
    assert zero > len(rows) / 3  # the real catalogue's sparseness: half its rows
    # For the most common ROME code, the national median by hand: one value per training,
    # the mean of its rows that give hours.
    codes = Counter(r["code_rome_1"] for r in rows if r["code_rome_1"])
    code = codes.most_common(1)[0][0]
    hours: dict[str, list[float]] = {}
    trainings = set()
    for r in rows:
        if code in (r[f"code_rome_{i}"].strip().upper() for i in range(1, 6)):
            trainings.add(r["numero_formation"])
            value = float(r["nombre_heures_total_mean"] or 0)
            if value > 0:
                hours.setdefault(r["numero_formation"], []).append(value)
    values = [statistics.fmean(v) for v in hours.values()]
    assert len(values) < len(trainings)  # some trainings give no hours
    with duckdb.connect(str(run["work"] / "csv.duckdb"), read_only=True) as con:
        median, with_hours, total = con.execute(
            "SELECT heures_median, nb_formations_heures, nb_formations FROM metiers "
            "WHERE niveau = 'pays' AND code_rome = ?",
            [code],
        ).fetchone()
    assert (with_hours, total) == (len(values), len(trainings))
    assert median == pytest.approx(statistics.median(values))
    assert "lignes sans durée" in run["loads"]["csv"]


def test_child_tables_are_the_same_from_csv_and_parquet(run):
    work = run["work"]
    tables = {}
    for fmt in ("csv", "parquet"):
        with duckdb.connect(str(work / f"{fmt}.duckdb"), read_only=True) as con:
            tables[fmt] = {
                spec.table: con.execute(f"SELECT * FROM {spec.table} ORDER BY id, rang").fetchall()  # noqa: S608
                for spec in LISTS.values()
            }
    assert tables["csv"] == tables["parquet"]
    assert all(tables["csv"].values())
    # One row per record the offers listed.
    listed = sum(len(o.data.get("competences") or []) for o in run["offers"])
    assert len(tables["csv"]["offres_competences"]) == listed
