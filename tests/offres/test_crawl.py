"""`scrapy crawl offres` end to end against the France Travail emulator."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

import pytest

from cpfft.items import OFFRE_HEADERS
from tests.fakeapi.francetravail import CLIENT_SECRET
from tests.support.crawling import ft_env
from tests.support.offers import ids, search_calls, truth

pytestmark = pytest.mark.crawl

OLD_HEADERS = ["Intitulé", "Lieu", "Entreprise", "Date de publication", "Description", "URL"]


def test_past_the_3150_cap_every_offer_exactly_once(ft, crawl):
    api = ft(offers=9000, latency_ms=5)
    expected = truth(api)
    result = crawl("offres", env=ft_env(api))
    assert result.returncode == 0, result.log
    assert ids(result) == expected
    calls = len(search_calls(api))
    ideal = math.ceil(len(expected) / 150)
    assert calls <= 1.15 * ideal, (calls, ideal)
    assert api.stats()["token_calls"] == 1
    assert api.stats()["http_429"] == 0
    assert "9 000 of 9 000 expected" in result.log.replace("\u202f", " ")


def test_a_single_departement_above_the_cap_is_split_by_date(ft, crawl):
    api = ft(offers=6000, heavy_share=0.7)
    expected = truth(api, lambda o: o.departement == "75")
    assert len(expected) > 3150
    result = crawl("offres", {"departement": "75"}, env=ft_env(api))
    assert result.returncode == 0, result.log
    assert ids(result) == expected
    calls = search_calls(api)
    query = [c for c in calls if "departement" in c["query"]]
    windows = {c["query"]["maxCreationDate"] for c in query if "maxCreationDate" in c["query"]}
    assert len(windows) >= 2
    assert all(c["query"]["departement"] == "75" for c in query)
    assert all(c["query"]["sort"] == "1" for c in calls)
    # The only calls without the user's filter: the calibration, on the national query.
    calibration = [c for c in calls if "departement" not in c["query"]]
    assert f"calibration:        {len(calibration)} calls" in result.log
    assert 3 <= len(calibration) <= 7


def test_more_than_3150_offers_in_one_second(ft, crawl):
    api = ft(offers=5000, same_second_burst=3400)
    expected = truth(api)
    result = crawl("offres", env=ft_env(api))
    assert result.returncode == 0, result.log
    assert ids(result) == expected
    assert "offers in one second, split by typeContrat" in result.log


def test_offers_published_during_the_crawl_cause_no_loss_nor_duplicate(ft, crawl):
    api = ft(offers=5000, publish_every=3)
    started = datetime.now(UTC)
    expected = truth(api, before=started)
    result = crawl("offres", env=ft_env(api))
    assert result.returncode == 0, result.log
    assert len(api.dataset.offers) > 5000  # offers were published meanwhile
    written = ids(result)
    assert written >= expected
    assert written - expected <= {o.data["id"] for o in api.dataset.offers[5000:]}


@pytest.mark.parametrize("queue", ["LifoMemoryQueue", "FifoMemoryQueue"])
def test_offers_withdrawn_during_the_crawl_shift_no_other_offer_out(queue, ft, crawl):
    # Each withdrawal moves every later offer of its window up by one place: a page
    # fetched after it would start one offer too far and hide one from the run. The
    # spider's page priorities must prevent it whatever Scrapy's queue order.
    api = ft(offers=7000, heavy_share=0.5, withdraw_every=2)
    everything = truth(api)
    result = crawl(
        "offres", env=ft_env(api), settings={"SCHEDULER_MEMORY_QUEUE": f"scrapy.squeues.{queue}"}
    )
    assert result.returncode == 0, result.log
    assert api.withdrawn, "offers were withdrawn meanwhile"
    written = ids(result)
    assert written <= everything
    assert everything - api.withdrawn <= written, "an offer present all along was missed"


def test_columns_and_cells(ft, crawl):
    api = ft(offers=400, hostile_every=3)
    result = crawl("offres", env=ft_env(api))
    assert result.returncode == 0, result.log
    header, _ = result.rows()
    assert header[:6] == OLD_HEADERS
    assert header == list(OFFRE_HEADERS.values())
    by_id = {row["id"]: row for row in result.dicts()}
    for offer in api.dataset.offers:
        row = by_id[offer.data["id"]]
        assert (
            row["URL"]
            == f"https://candidat.francetravail.fr/offres/recherche/detail/{offer.data['id']}"
        )
        assert row["Date de publication"] == offer.data["dateCreation"]
        assert row["type_contrat"] == offer.data["typeContrat"]
        assert row["origine"] == (
            "Partenaire" if offer.data["origineOffre"]["origine"] == "2" else "France Travail"
        )
        assert row["departement"] == (offer.departement or "")
        # The true position, also where the emulator served latitude and longitude swapped.
        assert row["latitude"] == ("" if offer.lat is None else str(offer.lat))
        assert row["longitude"] == ("" if offer.lon is None else str(offer.lon))
        assert row["alternance"] == str(offer.data["alternance"]).lower()
        assert row["nombre_postes"] == str(offer.data["nombrePostes"])
        assert row["appellation"] == offer.data.get("appellationlibelle", "")
        partners = offer.data["origineOffre"].get("partenaires") or [{}]
        assert row["url_partenaire"] == partners[0].get("url", "")
    assert any(r["Intitulé"].startswith("'=HYPERLINK") for r in by_id.values())
    assert any(r["Entreprise"] == "" for r in by_id.values())


@pytest.mark.parametrize(
    ("args", "keep"),
    [
        ({"motsCles": "python"}, lambda o: "python" in o.keywords),
        ({"region": "Bretagne"}, lambda o: o.region == "53"),
        ({"departement": "33,2A", "typeContrat": "CDI,CDD"}, lambda o: o.departement in ("33", "2A")
         and o.data["typeContrat"] in ("CDI", "CDD")),
        ({"natureContrat": "E2,FS"}, lambda o: o.nature in ("E2", "FS")),
        ({"experienceExigence": "D", "tempsPlein": "true"}, lambda o: o.data["experienceExige"] == "D"
         and o.data["dureeTravailLibelleConverti"] == "Temps plein"),
        ({"origineOffre": "2", "qualification": "9"}, lambda o: o.data["origineOffre"]["origine"] == "2"
         and o.qualification == "9"),
    ],
)  # fmt: skip
def test_filters_select_exactly_the_matching_offers(ft, crawl, args, keep):
    api = ft(offers=2500)
    expected = truth(api, keep)
    assert 0 < len(expected) < 2500
    result = crawl("offres", args, env=ft_env(api))
    assert result.returncode == 0, result.log
    assert ids(result) == expected


def test_max_offers(ft, crawl):
    api = ft(offers=5000)
    result = crawl("offres", {"max_offers": "400"}, env=ft_env(api))
    assert result.returncode == 0, result.log
    assert len(ids(result)) == 400
    assert len(search_calls(api)) <= 4


def test_no_offer_gives_header_only(ft, crawl):
    api = ft(offers=300)
    result = crawl("offres", {"motsCles": "zzqqxx"}, env=ft_env(api))
    assert result.returncode == 0, result.log
    assert result.rows() == (list(OFFRE_HEADERS.values()), [])


def test_one_token_for_many_requests_and_refresh_on_expiry(ft, crawl):
    api = ft(offers=7000, latency_ms=20, token_lifetime=6)
    result = crawl("offres", env=ft_env(api))
    assert result.returncode == 0, result.log
    assert ids(result) == truth(api)
    stats = api.stats()
    assert stats["token_calls"] >= 2  # refreshed before expiry mid-crawl
    assert stats["http_401"] == 0  # ...proactively, not after a rejection
    assert stats["token_calls"] < stats["api_calls"] / 5


def test_401_refreshes_the_token_and_retries(ft, crawl):
    api = ft(offers=8000, revoke_tokens_every=40)
    result = crawl("offres", env=ft_env(api))
    assert result.returncode == 0, result.log
    assert ids(result) == truth(api)
    assert api.stats()["http_401"] > 0
    assert re.search(r"\(\d+ retries, [1-9][\d ]* sent again with a new token after a 401\)",
                     result.log)  # fmt: skip


def test_no_token_to_a_foreign_host_after_a_redirect(ft, crawl):
    api, foreign = ft(offers=100), ft(offers=10)
    api.config.redirect_search_to = f"{foreign.url}/_capture/elsewhere"
    result = crawl("offres", env=ft_env(api), settings={"LOG_LEVEL": "DEBUG"})
    assert foreign.captured, result.log
    assert all("Authorization" not in headers for headers in foreign.captured)
    assert "Redirecting (302)" in result.log


def test_zero_429_under_the_cap_and_retry_after_respected(ft, crawl):
    api = ft(offers=3000)
    result = crawl("offres", env=ft_env(api))
    assert result.returncode == 0, result.log
    assert api.stats()["http_429"] == 0

    stormy = ft(offers=1500, storm_calls=3, storm_retry_after=2)
    result = crawl("offres", env=ft_env(stormy))
    assert result.returncode == 0, result.log
    assert ids(result) == truth(stormy)
    assert stormy.stats()["http_429"] == 3
    calls = search_calls(stormy)
    # The first three calls got 429 + Retry-After: 2; nothing was sent again sooner.
    assert calls[3]["at"] - calls[0]["at"] >= 1.95


def test_5xx_are_retried(ft, crawl):
    api = ft(offers=3000, fail_rate_5xx=0.25)
    result = crawl("offres", env=ft_env(api))
    assert result.returncode == 0, result.log
    assert ids(result) == truth(api)
    assert api.stats()["http_5xx"] > 0


def test_secrets_never_in_logs_csv_or_stats(ft, crawl, tmp_path):
    api = ft(offers=800, token_lifetime=3, latency_ms=10)
    result = crawl("offres", env=ft_env(api, CPFFT_LOG_LEVEL="DEBUG"))
    assert result.returncode == 0, result.log
    assert "DEBUG" in result.log
    tokens = list(api.tokens)
    assert tokens
    everything = result.log + result.csv_bytes().decode("utf-8-sig")
    assert CLIENT_SECRET not in everything
    for token in tokens:
        assert token not in everything
    assert "Bearer" not in result.log


def test_legacy_credentials_file(ft, crawl, tmp_path):
    api = ft(offers=200)
    env = ft_env(api)
    (tmp_path / "credentials.txt").write_text(
        f"CLIENT_ID={env.pop('FT_CLIENT_ID')}\nCLIENT_SECRET={env.pop('FT_CLIENT_SECRET')}\n"
    )
    result = crawl("offres", env={**env, "FT_CLIENT_ID": None, "FT_CLIENT_SECRET": None})
    assert result.returncode == 0, result.log
    assert len(ids(result)) == 200


def test_200_and_206_are_treated_alike(ft, crawl):
    api = ft(offers=1000, last_page_206=True)
    result = crawl("offres", env=ft_env(api))
    assert result.returncode == 0, result.log
    assert ids(result) == truth(api)


def test_no_token_persisted_under_jobdir(ft, crawl, tmp_path):
    api = ft(offers=6000, revoke_tokens_every=9)
    jobdir = tmp_path / "job"
    result = crawl(
        "offres", env=ft_env(api), settings={"JOBDIR": str(jobdir), "CLOSESPIDER_PAGECOUNT": "12"}
    )
    assert result.returncode == 1  # stopped early on purpose: the output is incomplete
    assert "closespider_pagecount" in result.log
    files = [p for p in jobdir.rglob("*") if p.is_file()]
    assert (jobdir / "cpfft-run.json").exists(), "cpfft's resume journal"
    persisted = b"".join(p.read_bytes() for p in files)
    assert b"/offres/search" not in persisted  # requests stay in memory (cpfft.run.resume)
    assert b"Bearer" not in persisted
    assert b"Authorization" not in persisted
    for token in api.tokens:
        assert token.encode() not in persisted
    assert CLIENT_SECRET.encode() not in persisted
