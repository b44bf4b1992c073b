"""`scrapy sonde` names, against the emulators in each of their modes, the mode they are in;
its profile starts an emulator that answers the same (round trip), and crawls stay exact
under every profile kept in tests/profiles/."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cpfft.sonde import MAX_CALLS
from tests.fakeapi import profile as profiles
from tests.fakeapi.cpfdata import INDEX
from tests.fakeapi.francetravail import CLIENT_SECRET
from tests.support.crawling import REPO, clean_env, ft_env, scrapy_command
from tests.support.formations import keys as cpf_keys
from tests.support.offers import ids, truth

pytestmark = pytest.mark.crawl

PROFILES = sorted((REPO / "tests" / "profiles").glob("*.json"))


def run_sonde(tmp_path: Path, env: dict[str, str], *options: str) -> tuple[int, str, str, dict]:
    out = tmp_path / "sonde.json"
    proc = scrapy_command(tmp_path, "sonde", "-o", str(out), *options, env=clean_env(env),
                          timeout=120)  # fmt: skip
    profile = json.loads(out.read_text("utf-8")) if out.exists() else {}
    return proc.returncode, proc.stdout, proc.stderr, profile


def departement_counts(api) -> list[tuple[int, str]]:
    counts: dict[str, int] = {}
    for row in api.dataset.rows:
        code = row[INDEX["code_departement"]]
        if code:
            counts[code] = counts.get(code, 0) + 1
    return sorted((n, code) for code, n in counts.items())


DEFAULT_FT = {
    "bound_zone": "UTC",
    "max_inclusive": True,
    "compare_ms": False,
    "max_start": 3000,
    "rate_per_second": 10.0,
    "rate_burst": 10,
    "rate_headers_sent": True,
    "last_page_206": False,
    "token_lifetime": 1499,
}
AMBIGUOUS = "exclusive ou inclusive à la milliseconde"


@pytest.mark.parametrize(
    ("knobs", "expected", "said"),
    [
        ({}, {}, ["lues en UTC", "inclut sa seconde", "débit annoncé : 10 appels/s",
                  "FT_MAX_RPS=10 convient", "début au plus 3 000", "HTTP 200"]),
        ({"bound_zone": "Europe/Paris", "max_inclusive": False},
         {"bound_zone": "Europe/Paris", "max_inclusive": False},
         ["lues en heure de Paris", "maxCreationDate exclusive"]),
        ({"bound_zone": "-05:00"}, {"bound_zone": "-05:00"}, ["lues en UTC-05:00"]),
        # Exclusive and inclusive-to-the-millisecond are told apart only by an offer created
        # at a whole second, which the calibration does not see here: both are named as
        # ambiguous and recorded as exclusive (the crawl's cursor is exact under both).
        ({"compare_ms": True}, {"max_inclusive": False}, [AMBIGUOUS]),
        ({"max_start": 1000}, {"max_start": 1000}, ["début au plus 1 000 (range=1000-1149)"]),
        ({"rate_per_second": 3.0}, {"rate_per_second": 3.0, "rate_burst": 3},
         ["débit annoncé : 3 appels/s", "mettez FT_MAX_RPS=3"]),
        ({"rate_headers_sent": False}, {"rate_headers_sent": False},
         ["pas d'en-têtes X-Ratelimit"]),
        ({"last_page_206": True, "token_lifetime": 600},
         {"last_page_206": True, "token_lifetime": 600}, ["HTTP 206", "valable 600 s"]),
    ],
    ids=["default", "paris-exclusive", "minus5", "ms", "cap1000", "rate3", "no-headers",
         "206-short-token"],
)  # fmt: skip
def test_probe_names_the_france_travail_mode(ft, tmp_path, knobs, expected, said):
    # A stock as dense as the real one (an offer every few minutes): the calibration reads
    # the zone from the gap between a bound and the newest offer before it.
    api = ft(offers=2500, days=7, **knobs)
    code, out, err, profile = run_sonde(tmp_path, ft_env(api), "--source", "offres")
    assert code == 0, err
    measured = profile["francetravail"]["knobs"]
    truth_knobs = DEFAULT_FT | expected
    if not truth_knobs["rate_headers_sent"]:
        del truth_knobs["rate_per_second"], truth_knobs["rate_burst"]
    assert measured == truth_knobs
    for text in said:
        assert text in out, out
    below_second = knobs.get("max_inclusive") is False or knobs.get("compare_ms", False)
    assert (AMBIGUOUS in out) == below_second
    calls = len(api.calls)  # API calls, the token's excluded
    assert calls == profile["francetravail"]["calls"] <= MAX_CALLS - 5
    assert api.stats()["http_429"] == 0
    assert profile["francetravail"]["measured"]["answered_429"] == 0
    assert CLIENT_SECRET not in out + err + json.dumps(profile)
    assert not any(token in out + err + json.dumps(profile) for token in api.tokens)
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("knobs", "expected", "said"),
    [
        ({}, {"group_limit_max": 20000, "group_limit_strict": False},
         ["limit groupé : 20 000 accepté", "d'accord avec le comptage"]),
        ({"group_limit_strict": True}, {"group_limit_max": 20000, "group_limit_strict": True},
         ["20 000 refusé (limite < 20 000) ; 19 999 accepté"]),
        ({"group_limit_max": 5000}, {"group_limit_max": 5000, "group_limit_strict": False},
         ["20 000 refusé (limite ≤ 5 000) ; 5 000 accepté"]),
        ({"group_limit_max": 15000, "group_limit_message": "Invalid limit."},
         {"group_limit_max": 10000, "group_limit_strict": False,
          "group_limit_message": "Invalid limit."},
         ["20 000 refusé (sans dire la limite) ; 10 000 accepté"]),
    ],
    ids=["default", "strict", "lower", "vague"],
)  # fmt: skip
def test_probe_names_the_opendatasoft_grouped_limit(ods, tmp_path, knobs, expected, said):
    api = ods(rows=2000, **knobs)
    code, out, err, profile = run_sonde(tmp_path, {"CPF_API_URL": api.url}, "--source", "cpf")
    assert code == 0, err
    assert profile["opendatasoft"]["knobs"] == expected | {"count_drift": 0}
    assert "francetravail" not in profile
    for text in said:
        assert text in out, out
    assert api.counters["calls"] == profile["opendatasoft"]["calls"] <= 6


def test_probe_reports_a_count_that_disagrees_with_its_export(ods, tmp_path):
    """The probe exports the smallest département: a reindex that counts one row more
    there (so that it stays the smallest) shows as counted = exported + 1."""
    # Rows in every département, the smallest two rows below the next one (the seed)
    located = {"rows": 2000, "null_location_share": 0.01, "seed": 20261136}
    (rows, departement), (next_rows, _) = departement_counts(ods(**located))[:2]
    assert rows + 1 < next_rows  # the dataset is fixed: the drifted count stays the smallest
    api = ods(**located, count_drift=1, drift_departement=departement)
    code, out, err, profile = run_sonde(tmp_path, {"CPF_API_URL": api.url}, "--source", "cpf")
    assert code == 0, err
    knobs = profile["opendatasoft"]["knobs"]
    assert knobs["count_drift"] == 1
    assert knobs["drift_departement"] == departement
    export = profile["opendatasoft"]["measured"]["export"]
    assert export["counted"] == export["exported"] + 1 == rows + 1
    assert f"(département {departement})" in out
    assert "réindexation" in out


def test_profile_round_trip_through_the_emulator_command(ft, ods, tmp_path):
    """Probe an emulator in an unusual mode; start `python -m tests.fakeapi … --profile`
    from the profile; probe that one: the same knobs."""
    mode = {"bound_zone": "+02:00", "max_inclusive": False, "max_start": 1000,
            "rate_per_second": 4.0, "token_lifetime": 900}  # fmt: skip
    api = ft(offers=2500, days=7, **mode)
    catalogue = ods(rows=2000, group_limit_strict=True)
    env = ft_env(api, CPF_API_URL=catalogue.url)
    code, _, err, first = run_sonde(tmp_path, env)
    assert code == 0, err
    path = tmp_path / "first.json"
    path.write_text(json.dumps(first), "utf-8")
    assert profiles.knobs(profiles.load(path), "francetravail") == DEFAULT_FT | mode | {
        "rate_burst": 4
    }
    servers = []
    try:
        for name in ("francetravail", "ods"):
            server = subprocess.Popen(
                [sys.executable, "-m", "tests.fakeapi", name, "--profile", str(path),
                 "--offers" if name == "francetravail" else "--rows", "2500"],
                cwd=REPO, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                text=True,
            )  # fmt: skip
            servers.append(server)
        urls = [s.stdout.readline().strip() for s in servers]
        replay = ft_env(api, CPF_API_URL=urls[1])
        replay["FT_API_URL"] = urls[0]
        replay["FT_TOKEN_URL"] = f"{urls[0]}/connexion/oauth2/access_token?realm=/partenaire"
        (tmp_path / "second").mkdir()
        code, _, err, second = run_sonde(tmp_path / "second", replay)
        assert code == 0, err
    finally:
        for server in servers:
            server.terminate()
            server.wait(10)
            server.stdout.close()
    for source in ("francetravail", "opendatasoft"):
        assert second[source]["knobs"] == first[source]["knobs"]


def test_emulator_refuses_a_profile_it_cannot_apply(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"cpfft_sonde": 1, "francetravail": {"knobs": {"warp": 9}}}))
    proc = subprocess.run(
        [sys.executable, "-m", "tests.fakeapi", "francetravail", "--profile", str(bad)],
        cwd=REPO, env=clean_env(), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "knobs the francetravail emulator lacks: warp" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_probe_checks_before_calling(tmp_path):
    code, out, err, profile = run_sonde(tmp_path, {})
    assert code == 2
    assert not profile
    assert not out
    assert err.startswith("cpfft: error: France Travail credentials missing")
    assert "scrapy sonde --source cpf" in err
    assert len(err.strip().splitlines()) == 1
    code, _, err, _ = run_sonde(tmp_path, {}, "--source", "cpf", "-s", "CPF_API_URL=ftp://x")
    assert code == 2
    assert err.startswith("cpfft: error: ")
    assert "CPF_API_URL" in err


def test_probe_of_an_unreachable_service_exits_1_without_traceback(tmp_path):
    code, out, err, profile = run_sonde(tmp_path, {"CPFFT_RETRY_TIMES": "1"}, "--source", "cpf")
    assert code == 1
    assert "non mesuré" in out
    assert "métadonnées du jeu de données" in out
    assert profile["problems"]
    assert "Traceback" not in err


def test_profiles_are_kept():
    assert PROFILES, "tests/profiles/ holds the profiles every crawl is checked under"


@pytest.mark.parametrize("path", PROFILES, ids=[p.stem for p in PROFILES])
def test_crawls_stay_exact_under_each_kept_profile(ft, ods, crawl, path):
    """A profile measured once (on the live API, or kept from an emulator mode) becomes
    a regression test: both crawls are exact under it."""
    profile = profiles.load(path)
    api = ft(offers=4000, **profiles.knobs(profile, "francetravail"))
    result = crawl("offres", env=ft_env(api))
    assert result.returncode == 0, result.log[-3000:]
    assert ids(result) == truth(api)
    assert "Run summary (offres): COMPLETE" in result.log
    catalogue = ods(rows=12000, **profiles.knobs(profile, "ods"))
    result = crawl("cpf", env={"CPF_API_URL": catalogue.url}, output="cpf.csv")
    assert result.returncode == 0, result.log[-3000:]
    assert cpf_keys(result) == catalogue.dataset.keys()
