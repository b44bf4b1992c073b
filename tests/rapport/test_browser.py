"""The report rendered in a real headless browser: Debian's Chromium driven by selenium.

The page is written by ``scrapy rapport`` from a warehouse with some thousands of
offers (so numbers need the French thousands separator), then loaded from disk
in Chromium started with a proxy to nowhere. Checked: no console error, no
request at all (the performance timeline has no resource), every chart drawn
with its bars, and the key numbers shown equal to the warehouse's own, queried
here with SQL. A page that does load something is caught by the same checks
(the canary test), so they cannot pass for want of looking.

Without Chromium the tests skip with the reason; under CI (``CI`` set, as
.ci/run's environment has it) they fail instead, since .ci/run installs it.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from cpfft.rapport import fr
from tests.rapport.warehouse import add_history, build, rapport

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
EXTRA_OFFERS = 2345  # M1805 in Paris, on top of the hand-built ten


def need_browser() -> None:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if not missing:
        return
    reason = (
        f"{' and '.join(missing)} missing: apt-get install -y chromium chromium-driver "
        "(.ci/run does it)"
    )
    if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
        pytest.fail(f"the browser test must run under CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    path = build(tmp_path_factory.mktemp("entrepot") / "cpfft.duckdb")
    con = duckdb.connect(str(path))
    con.execute(
        "INSERT INTO offres (id, code_rome, departement, region) "
        "SELECT 'X' || i, 'M1805', '75', '11' FROM range(?) t(i)",
        [EXTRA_OFFERS],
    )
    con.execute(
        "UPDATE metiers SET nb_offres = nb_offres + ? WHERE code_rome = 'M1805' "
        "AND (territoire IN ('FR', '11', '75'))",
        [EXTRA_OFFERS],
    )
    con.close()
    # Ten days of history, and enough withdrawn M1805 offers for their days online.
    add_history(path)
    con = duckdb.connect(str(path))
    con.execute(
        "INSERT INTO offres_historique (id, date_publication, code_rome, departement, region, "
        "premiere_vue, fin, retiree_le, jour_debut, jour_fin) SELECT 'W' || i, "
        "TIMESTAMPTZ '2026-11-01 02:00:00+00', 'M1805', '75', '11', TIMESTAMPTZ "
        "'2026-11-03 02:00:00+00', TIMESTAMPTZ '2026-11-07 02:00:00+00', TIMESTAMPTZ "
        "'2026-11-07 02:00:00+00', DATE '2026-11-03', DATE '2026-11-07' FROM range(4) t(i)"
    )
    con.close()
    return path


@pytest.fixture(scope="module")
def page(warehouse, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("rapport") / "rapport.html"
    run = rapport(out.parent, str(warehouse), "-O", str(out))
    assert run.returncode == 0, run.stderr
    return out


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    need_browser()
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",  # root in CI
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium')}",
        "--window-size=1000,1400",
        # Any request would go to a closed loopback port, and names resolve to nothing.
        "--proxy-server=http://127.0.0.1:9",
        "--proxy-bypass-list=<-loopback>",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    yield driver
    driver.quit()


def load(browser, path: Path) -> list[dict]:
    """Open the file; return the console entries it logged."""
    browser.get_log("browser")  # drop what an earlier page logged
    browser.get(path.as_uri())
    assert browser.execute_script("return document.readyState") == "complete"
    return browser.get_log("browser")


def resources(browser) -> list[str]:
    return browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )


def test_renders_without_console_error_or_request(browser, page):
    entries = load(browser, page)
    assert [e for e in entries if e["level"] in ("SEVERE", "WARNING")] == []
    assert resources(browser) == []
    assert browser.title == "Offres d'emploi et formations — France"
    assert page.stat().st_size <= 5_000_000


def test_the_checks_catch_a_page_that_loads_something(browser, page, tmp_path):
    canary = tmp_path / "canary.html"
    text = page.read_text("utf-8")
    canary.write_text(text.replace("<body>", '<body><img src="http://cdn.example.com/x.png">'))
    entries = load(browser, canary)
    # The page's Content-Security-Policy blocks it, and says so in the console.
    assert any(e["level"] == "SEVERE" and "cdn.example.com" in e["message"] for e in entries)
    # Without that policy the request is made (and fails at the proxy to nowhere): the
    # performance timeline records it and the console logs the failure.
    bare = tmp_path / "sans-csp.html"
    bare.write_text(
        re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", canary.read_text())
    )
    entries = load(browser, bare)
    assert resources(browser) == ["http://cdn.example.com/x.png"]
    assert any("ERR_PROXY_CONNECTION_FAILED" in e["message"] for e in entries)


def test_every_chart_is_drawn_with_its_bars(browser, page):
    load(browser, page)
    charts = browser.find_elements(By.CSS_SELECTOR, "figure[data-graphique]")
    # 3 jobs with offers × 2 panels; 1 gap (M1805: only job with 10 offers or more and a
    # training); 18 regions × 2; 7 price and 9 hour bins; over time: 10 days, 2 weeks × 2,
    # 1 job with 5 withdrawn offers or more, 2 catalogue snapshots × 2.
    expected = {"top-metiers": 6, "ecarts": 1, "regions": 36, "prix": 7, "heures": 9,
                "en-ligne": 10, "semaines": 4, "durees": 1, "catalogue": 4}  # fmt: skip
    assert {c.get_attribute("data-graphique"): int(c.get_attribute("data-marques"))
            for c in charts} == expected  # fmt: skip
    for chart in charts:
        key = chart.get_attribute("data-graphique")
        svg = chart.find_element(By.TAG_NAME, "svg")
        assert svg.size["width"] > 300, key
        assert svg.size["height"] > 50, key
        assert chart.find_element(By.TAG_NAME, "figcaption").text, key
        assert chart.find_elements(By.CSS_SELECTOR, "p.source a[href]"), key
        marks = chart.find_elements(By.CSS_SELECTOR, "rect.marque")
        assert len(marks) == expected[key]
        drawn = [m for m in marks if float(m.get_attribute("data-valeur")) > 0]
        assert drawn, key
        for mark in drawn:
            box = browser.execute_script(
                "const b = arguments[0].getBoundingClientRect(); return [b.width, b.height]", mark
            )
            assert min(box) > 0, (key, box)


def shown(browser, key: str) -> tuple[str, str]:
    element = browser.find_element(By.CSS_SELECTOR, f'[data-chiffre="{key}"]')
    return element.get_attribute("data-valeur"), element.get_attribute("textContent")


def test_key_numbers_equal_the_warehouses(browser, page, warehouse):
    load(browser, page)
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        truth = {
            "nb_offres": con.execute("SELECT count(*) FROM offres").fetchone()[0],
            "nb_formations": con.execute(
                "SELECT count(DISTINCT numero_formation) FROM formations"
            ).fetchone()[0],
            "nb_organismes": con.execute("SELECT count(DISTINCT siret) FROM formations").fetchone()[
                0
            ],
        }
        presence = dict(
            con.execute(
                "SELECT presence, count(*) FROM metiers WHERE niveau = 'pays' GROUP BY presence"
            ).fetchall()
        )
        truth["rome_les_deux"] = presence["les deux"]
        truth["rome_offres_seulement"] = presence["offres seulement"]
        truth["rome_formations_seulement"] = presence["formations seulement"]
        stamps = dict(con.execute("SELECT source, epoch(extrait_le) FROM sources").fetchall())
        top = con.execute(
            "SELECT code_rome, nb_offres FROM metiers WHERE niveau = 'pays' "
            "ORDER BY nb_offres DESC LIMIT 1"
        ).fetchone()
    finally:
        con.close()
    assert truth["nb_offres"] == 10 + EXTRA_OFFERS
    for key, value in truth.items():
        assert shown(browser, key) == (str(value), fr.nombre(value)), key
    assert shown(browser, "nb_offres")[1] == "2\u00a0355"
    for source, stamp in stamps.items():
        element = browser.find_element(By.CSS_SELECTOR, f'time[data-extraction="{source}"]')
        moment = datetime.fromtimestamp(stamp, UTC)
        assert element.get_attribute("datetime") == moment.isoformat()
        assert element.get_attribute("textContent") == fr.date(moment)
    row = browser.find_element(
        By.CSS_SELECTOR, f'table[data-tableau="top-metiers"] tr[data-rome="{top[0]}"]'
    )
    assert fr.nombre(top[1]) in row.get_attribute("textContent")


def test_chromium_is_where_the_test_looks():
    # The skip/fail decision above reads these paths; .ci/run installs the same packages.
    run = Path(__file__).resolve().parents[2] / ".ci" / "run"
    text = run.read_text("utf-8")
    assert "chromium chromium-driver" in text
    assert str(CHROMIUM) in text
