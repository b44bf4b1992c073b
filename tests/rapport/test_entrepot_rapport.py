"""End to end: small crawl outputs → ``scrapy entrepot`` → ``scrapy rapport``, the page's
numbers checked against a hand count of the files' rows."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import duckdb

from tests.entrepot.files import entrepot, formation, offer, write_csv
from tests.rapport.warehouse import rapport


def numbers(page: str) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r'data-chiffre="(\w+)" data-valeur="(\d+)"', page)}


def test_crawl_outputs_to_warehouse_to_report(tmp_path):
    trainings = write_csv(
        tmp_path / "formations.csv",
        [
            formation("F1", "75", code_rome_1="M1805", code_nsf_1="326", frais_ttc_tot_mean=1000.0),
            formation("F1", "92", code_rome_1="M1805", code_nsf_1="326", frais_ttc_tot_mean=1200.0),
            formation("F2", "69", code_rome_1="J1501", code_nsf_1="331", frais_ttc_tot_mean=500.0),
            formation("F3", "35", code_rome_1="D1211", siret="98765432100022"),
        ],
    )
    offers = write_csv(
        tmp_path / "offres.csv",
        [
            offer("O1", code_rome="M1805", departement="75", lieu="75 - Paris 1er"),
            offer("O2", code_rome="M1805", departement="75", lieu="75 - Paris 2e"),
            # Located at region level only: counts for Auvergne-Rhône-Alpes and France.
            offer("O3", code_rome="J1501", lieu="Auvergne-Rhône-Alpes"),
            offer("O4", code_rome="K2204", lieu="France"),
        ],
    )
    warehouse = tmp_path / "cpfft.duckdb"
    load = entrepot(
        tmp_path, str(warehouse), "--formations", str(trainings), "--offres", str(offers)
    )
    assert load.returncode == 0, load.stderr

    run = rapport(tmp_path, str(warehouse), "-O", "rapport.html", "--min-offres", "1")
    assert run.returncode == 0, run.stderr
    page = (tmp_path / "rapport.html").read_text("utf-8")
    # 4 offers; trainings F1-F3 from 2 SIRET; M1805 and J1501 on both sides, K2204 in the
    # offers only, D1211 in the catalogue only.
    assert numbers(page) == {
        "nb_offres": 4,
        "nb_formations": 3,
        "nb_organismes": 2,
        "rome_les_deux": 2,
        "rome_offres_seulement": 1,
        "rome_formations_seulement": 1,
    }
    # Top jobs: M1805 (2 offers, 1 training), J1501 (1, 1), K2204 (1, 0).
    top = re.search(r'<table data-tableau="top-metiers">.*?</table>', page).group(0)
    assert re.findall(r'data-rome="(\w+)"', top) == ["M1805", "J1501", "K2204"]
    assert 'data-graphique="top-metiers" data-marques="6"' in page
    # The source lines carry the extraction times the warehouse recorded.
    con = duckdb.connect(str(warehouse), read_only=True)
    stamps = dict(con.execute("SELECT source, epoch(extrait_le) FROM sources").fetchall())
    con.close()
    for source in ("formations", "offres"):
        moment = datetime.fromtimestamp(stamps[source], UTC).isoformat()
        assert f'<time data-extraction="{source}" datetime="{moment}">' in page

    run = rapport(tmp_path, str(warehouse), "-O", "ara.html", "--region", "84")
    assert run.returncode == 0, run.stderr
    # The region-level offer O3 and the Lyon training F2.
    assert numbers((tmp_path / "ara.html").read_text("utf-8")) == {
        "nb_offres": 1,
        "nb_formations": 1,
        "nb_organismes": 1,
        "rome_les_deux": 1,
        "rome_offres_seulement": 0,
        "rome_formations_seulement": 0,
    }
