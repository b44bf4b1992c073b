"""The OAuth2 token middleware: single flight, refresh, 401, host check, clean requests."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from unittest import mock

import pytest
from scrapy import Request
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.statscollectors import MemoryStatsCollector
from scrapy.utils.test import get_crawler

from cpfft.offres.oauth import GENERATION, INVALID_CLIENT_HELP, OAuth2TokenMiddleware
from cpfft.run.state import STOP_MESSAGE

API = "http://127.0.0.1:8888"
TOKEN_URL = "http://127.0.0.1:7777/connexion/oauth2/access_token?realm=/partenaire"


class FakeEngine:
    """Answers token requests like the token endpoint; counts them."""

    def __init__(self, responses):
        self.responses = list(responses)
        self.token_requests = []
        self.closed = []
        # No other downloader middleware (the pacing one is looked up after a token wait).
        self.downloader = SimpleNamespace(middleware=SimpleNamespace(middlewares=[]))

    async def download_async(self, request):
        self.token_requests.append(request)
        await asyncio.sleep(0.01)  # let concurrent callers pile up
        status, body = self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]
        return Response(request.url, status=status, body=json.dumps(body).encode(), request=request)

    def close_spider_async(self, *, reason):
        self.closed.append(reason)


def token_body(token="tok-1", expires_in=1499):
    return 200, {"access_token": token, "scope": "api_offresdemploiv2 o2dsoffre", "token_type": "Bearer",
                 "expires_in": expires_in}  # fmt: skip


@pytest.fixture
def make(monkeypatch):
    monkeypatch.setenv("FT_CLIENT_ID", "PAR_test")
    monkeypatch.setenv("FT_CLIENT_SECRET", "s3cr3t-value")

    def build(*responses):
        crawler = get_crawler(settings_dict={
            "FT_OAUTH_ENABLED": True, "FT_API_URL": API, "FT_TOKEN_URL": TOKEN_URL,
            "FT_SCOPE": "api_offresdemploiv2  o2dsoffre",
        })  # fmt: skip
        crawler.spider = crawler._create_spider("offres")
        crawler.stats = MemoryStatsCollector(crawler)
        crawler.engine = FakeEngine(responses or [token_body()])
        return OAuth2TokenMiddleware.from_crawler(crawler)

    return build


def run(coro):
    return asyncio.run(coro)


def test_one_token_call_for_many_concurrent_requests(make):
    mw = make()
    requests = [
        Request(f"{API}/partenaire/offresdemploi/v2/offres/search?range={i}") for i in range(20)
    ]

    async def all_at_once():
        await asyncio.gather(*(mw.process_request(r) for r in requests))

    run(all_at_once())
    assert len(mw.crawler.engine.token_requests) == 1
    assert {r.headers[b"Authorization"] for r in requests} == {b"Bearer tok-1"}
    token_request = mw.crawler.engine.token_requests[0]
    assert token_request.method == "POST"
    assert token_request.url == TOKEN_URL
    assert b"grant_type=client_credentials" in token_request.body
    assert b"scope=api_offresdemploiv2+o2dsoffre" in token_request.body
    assert token_request.meta["download_slot"] == "francetravail"


def test_refreshed_before_expiry(make):
    mw = make(token_body("tok-1", expires_in=100), token_body("tok-2"))
    clock = [1000.0]
    mw.clock = lambda: clock[0]
    first, second = Request(f"{API}/a"), Request(f"{API}/b")
    run(mw.process_request(first))
    clock[0] += 49  # 100 s lifetime, refreshed at half-life (at most 60 s early)
    run(mw.process_request(second))
    assert first.headers[b"Authorization"] == b"Bearer tok-1"
    assert second.headers[b"Authorization"] == b"Bearer tok-1"
    clock[0] += 2
    third = Request(f"{API}/c")
    run(mw.process_request(third))
    assert third.headers[b"Authorization"] == b"Bearer tok-2"
    assert mw.crawler.stats.get_value("cpfft/oauth/token_requests") == 2


def test_401_refreshes_once_and_retries_bounded(make):
    mw = make(token_body("tok-1"), token_body("tok-2"))
    requests = [Request(f"{API}/x{i}") for i in range(3)]
    for r in requests:
        run(mw.process_request(r))
    retries = [mw.process_response(r, Response(r.url, status=401)) for r in requests]
    assert all(isinstance(r, Request) for r in retries)
    assert all(b"Authorization" not in r.headers for r in retries)
    assert mw.crawler.stats.get_value("cpfft/oauth/401_retries") == 3
    for r in retries:
        run(mw.process_request(r))
    assert {r.headers[b"Authorization"] for r in retries} == {b"Bearer tok-2"}
    assert len(mw.crawler.engine.token_requests) == 2  # one refresh for three 401s
    again = mw.process_response(retries[0], Response(retries[0].url, status=401))
    run(mw.process_request(again))
    final = mw.process_response(again, Response(again.url, status=401))
    assert isinstance(final, Response)  # bounded: the 401 reaches the spider


def test_no_token_for_another_host_and_stripped(make):
    mw = make()
    for url in ("http://127.0.0.1:9999/x", "https://127.0.0.1:8888/x", "http://localhost:8888/x"):
        request = Request(url, headers={"Authorization": "Bearer leaked"})
        run(mw.process_request(request))
        assert b"Authorization" not in request.headers, url
    assert mw.crawler.engine.token_requests == []
    assert mw.crawler.stats.get_value("cpfft/oauth/stripped_foreign") == 3


def test_token_removed_once_answered(make):
    mw = make()
    request = Request(f"{API}/x")
    run(mw.process_request(request))
    assert GENERATION in request.meta
    assert mw.process_response(request, Response(request.url, status=200)).status == 200
    assert b"Authorization" not in request.headers
    failed = Request(f"{API}/y")
    run(mw.process_request(failed))
    mw.process_exception(failed, TimeoutError())
    assert b"Authorization" not in failed.headers


@pytest.mark.parametrize(
    ("body", "reason", "fragment"),
    [
        ({"error": "invalid_client", "error_description": "Client authentication failed"},
         "oauth_invalid_client", INVALID_CLIENT_HELP),
        ({"error": "invalid_scope", "error_description": "Unknown/invalid scope(s): [x]"},
         "oauth_invalid_scope", "Set FT_SCOPE"),
    ],
)  # fmt: skip
def test_refused_token_stops_with_one_line(make, body, reason, fragment, caplog):
    mw = make((400, body))
    request = Request(f"{API}/x")
    with pytest.raises(IgnoreRequest):
        run(mw.process_request(request))
    assert mw.crawler.engine.closed == [reason]
    # The run summary's headline says it, once: no line of its own at the time.
    told = mw.crawler.stats.get_value(STOP_MESSAGE)
    assert fragment in told
    assert "\n" not in told
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    assert all("s3cr3t-value" not in r.getMessage() for r in caplog.records)
    with pytest.raises(IgnoreRequest):  # later requests are dropped, no new token call
        run(mw.process_request(Request(f"{API}/y")))
    assert len(mw.crawler.engine.token_requests) == 1


def test_whitespace_around_secret_is_removed(make, monkeypatch):
    monkeypatch.setenv("FT_CLIENT_SECRET", "  s3cr3t-value\n")
    mw = make()
    run(mw.process_request(Request(f"{API}/x")))
    body = mw.crawler.engine.token_requests[0].body
    assert b"client_secret=s3cr3t-value&" in body + b"&"


def test_disabled_unless_the_spider_asks():
    from scrapy.exceptions import NotConfigured

    crawler = get_crawler(settings_dict={"FT_OAUTH_ENABLED": False})
    with pytest.raises(NotConfigured):
        OAuth2TokenMiddleware.from_crawler(crawler)


def test_a_request_that_waited_for_a_token_is_paced_again(make):
    # Paced, then parked while the token was fetched: it must go through the pace again
    # (with the others), not start at once with every other request that waited.
    mw = make()
    paced = []

    class Pace:
        async def pace_again(self, request):
            paced.append(request.url)

    mw.crawler.engine.downloader.middleware.middlewares = [Pace()]
    with mock.patch("cpfft.offres.oauth.PaceMiddleware", Pace):
        run(mw.process_request(Request(API + "/a")))
        run(mw.process_request(Request(API + "/b")))  # the token is valid: no wait
    assert paced == [API + "/a"]
