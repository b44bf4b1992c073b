"""`scrapy crawl offres` with bad input: one line, exit 2, no request; refused credentials."""

from __future__ import annotations

import pytest

from tests.fakeapi.francetravail import CLIENT_SECRET
from tests.support.crawling import ft_env

pytestmark = pytest.mark.crawl

BAD = [
    ({"motscles": "python"}, "argument -a motscles: unknown argument. Did you mean -a motsCles=…?"),
    ({"Region": "11"}, "Did you mean -a region=…?"),
    (
        {"publieeDepuis": "2"},
        "argument -a publieeDepuis: unknown value '2'. Valid values: 1, 3, 7, 14, 31",
    ),
    ({"departement": "75,92,93,94,95,77"}, "argument -a departement: 6 values given. At most 5"),
    ({"region": "Atlantide"}, "argument -a region: unknown region 'Atlantide'."),
    (
        {"minCreationDate": "2026-11-01"},
        "argument -a minCreationDate: needs -a maxCreationDate too",
    ),
    ({"motsCles": "a,b,c,d,e,f,g,h"}, "8 keywords. At most 7"),
    ({"motsCles": "x"}, "keyword 'x' is too short"),
    ({"typeContrat": "stage"}, "argument -a typeContrat: unknown value 'stage'"),
    ({"distance": "10"}, "argument -a distance: only works with -a commune"),
    ({"commune": "75001,75002,75003,75004,75005,75006"}, "6 values given. At most 5"),
    ({"tempsPlein": "peut-être"}, "is not a boolean. Valid values: true, false"),
    ({"max_offers": "0"}, "argument -a max_offers: 0 is out of range"),
    ({"sort": "3"}, "argument -a sort: unknown value '3'. Valid values: 0, 1, 2"),
]


@pytest.mark.parametrize(("args", "message"), BAD)
def test_bad_argument(ft, crawl, tmp_path, args, message):
    api = ft(offers=10)
    (tmp_path / "out.csv").write_bytes(b"previous")
    result = crawl("offres", args, env=ft_env(api))
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == f"cpfft: error: {result.stderr.strip().removeprefix('cpfft: error: ')}"
    )
    assert "\n" not in result.stderr.strip()
    assert message in result.stderr
    assert api.stats()["api_calls"] + api.stats()["token_calls"] == 0
    assert (tmp_path / "out.csv").read_bytes() == b"previous"


def test_missing_credentials(ft, crawl):
    api = ft(offers=10)
    env = ft_env(api)
    env.update(FT_CLIENT_ID=None, FT_CLIENT_SECRET=None)
    result = crawl("offres", env=env)
    assert result.returncode == 2
    message = result.stderr.strip()
    assert "\n" not in message
    assert "FT_CLIENT_ID and FT_CLIENT_SECRET not set" in message
    assert ".env.example" in message
    assert api.stats()["token_calls"] == 0


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"FT_MAX_RPS": "0"}, "setting FT_MAX_RPS='0' must be a number of requests per second"),
        (
            {"FT_API_URL": "api.francetravail.io"},
            "setting FT_API_URL='api.francetravail.io' is not an http(s) URL",
        ),
        (
            {"FT_TOKEN_URL": "entreprise.francetravail.fr"},
            "setting FT_TOKEN_URL='entreprise.francetravail.fr' is not an http(s) URL",
        ),
        ({"FT_OLDEST_CREATION": "2000"}, "setting FT_OLDEST_CREATION='2000' must look like"),
    ],
)
def test_bad_settings(ft, crawl, env, message):
    api = ft(offers=10)
    result = crawl("offres", env=ft_env(api, **env))
    assert result.returncode == 2
    assert message in result.stderr
    assert "\n" not in result.stderr.strip()


def test_empty_scope_from_the_command_line(ft, crawl):
    result = crawl("offres", env=ft_env(ft(offers=10)), settings={"FT_SCOPE": " "})
    assert result.returncode == 2
    assert "setting FT_SCOPE is empty" in result.stderr


def test_invalid_client_lists_its_three_causes(ft, crawl, tmp_path):
    api = ft(offers=10)
    (tmp_path / "out.csv").write_bytes(b"previous")
    result = crawl("offres", env=ft_env(api, FT_CLIENT_SECRET="wrong" + CLIENT_SECRET[5:]))
    assert result.returncode == 1
    assert "France Travail refused the credentials (invalid_client). Usual causes:" in result.log
    assert "not attached to your application" in result.log
    assert "licence" in result.log
    assert "spaces or a line break around FT_CLIENT_SECRET" in result.log
    assert "Traceback" not in result.log
    assert CLIENT_SECRET[5:] not in result.log
    assert api.stats()["api_calls"] == 0
    assert (tmp_path / "out.csv").read_bytes() == b"previous"


def test_invalid_scope(ft, crawl):
    api = ft(offers=10)
    result = crawl("offres", env=ft_env(api, FT_SCOPE="api_offresdemploiv2 api_quinexistepasv0"))
    assert result.returncode == 1
    assert (
        "France Travail refused the scope 'api_offresdemploiv2 api_quinexistepasv0'" in result.log
    )
    assert "Traceback" not in result.log


def test_token_endpoint_unreachable(ft, crawl):
    api = ft(offers=10)
    result = crawl(
        "offres", env=ft_env(api, FT_TOKEN_URL="http://127.0.0.1:9/token", CPFFT_RETRY_TIMES="1")
    )
    assert result.returncode == 1
    assert "FAILED: Cannot reach 127.0.0.1:9 (the connection is refused; 2 attempts)" in result.log
    assert "Traceback" not in result.log


def test_whitespace_around_the_secret_is_forgiven(ft, crawl):
    api = ft(offers=30)
    result = crawl("offres", env=ft_env(api, FT_CLIENT_SECRET=f" {CLIENT_SECRET}\n"))
    assert result.returncode == 0, result.log
    assert "Spaces or line breaks around the France Travail credentials were removed" in result.log
