"""Retries wait: exponential backoff, or the server's Retry-After."""

import asyncio
import logging
import time
from email.utils import formatdate
from unittest import mock

import pytest
from scrapy import FormRequest, Request
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
)
from scrapy.http import Response, TextResponse
from scrapy.settings import Settings
from scrapy.statscollectors import MemoryStatsCollector
from scrapy.utils.test import get_crawler
from twisted.internet import error as twisted_errors

from cpfft.middlewares.retry import (
    HINT_META,
    JSON_META,
    LIMITED_META,
    WAIT_META,
    BackoffRetryMiddleware,
    describe_exception,
    http_status,
    parse_retry_after,
    seconds,
    unreachable,
    url_settings,
)
from cpfft.run.state import STOP_MESSAGE, STOP_REASON


@pytest.fixture
def mw():
    crawler = get_crawler(
        settings_dict={"RETRY_TIMES": 3, "CPFFT_RETRY_BACKOFF": 1.0, "CPFFT_RETRY_BACKOFF_MAX": 3.0}
    )
    crawler.spider = crawler._create_spider("s")
    crawler.stats = MemoryStatsCollector(crawler)
    return BackoffRetryMiddleware.from_crawler(crawler)


def test_backoff_doubles_and_is_capped(mw):
    request = Request("http://127.0.0.1/x")
    waits = []
    for _ in range(3):
        request = mw.process_response(request, Response(request.url, status=503))
        waits.append(request.meta[WAIT_META])
    assert waits == [1.0, 2.0, 3.0]
    final = mw.process_response(request, Response(request.url, status=503))
    assert isinstance(final, Response)  # budget spent: the error reaches the spider
    assert mw.crawler.stats.get_value("retry/count") == 3
    assert mw.crawler.stats.get_value("retry/max_reached") == 1


def test_exceptions_are_retried_with_backoff(mw):
    request = Request("http://127.0.0.1/x")
    retry = mw.process_exception(request, DownloadTimeoutError("slow"))
    assert retry.meta[WAIT_META] == 1.0


def test_retry_after_seconds_wins(mw):
    request = Request("http://127.0.0.1/x")
    response = Response(request.url, status=429, headers={"Retry-After": "7"})
    assert mw.process_response(request, response).meta[WAIT_META] == 7.0


def test_retry_after_is_capped(mw):
    mw.retry_after_max = 10
    request = Request("http://127.0.0.1/x")
    response = Response(request.url, status=429, headers={"Retry-After": "86400"})
    assert mw.process_response(request, response).meta[WAIT_META] == 10


def test_hint_from_another_middleware(mw):
    request = Request("http://127.0.0.1/x", meta={HINT_META: 4.5})
    retry = mw.process_response(request, Response(request.url, status=429))
    assert retry.meta[WAIT_META] == 4.5
    assert HINT_META not in retry.meta


def test_non_retryable_status_passes(mw):
    request = Request("http://127.0.0.1/x")
    response = Response(request.url, status=404)
    assert mw.process_response(request, response) is response


def test_parse_retry_after_http_date():
    now = time.time()
    assert parse_retry_after(formatdate(now + 30, usegmt=True), now=now) == pytest.approx(30, abs=1)
    assert parse_retry_after(b"garbage") is None
    assert parse_retry_after(" 2 ") == 2.0
    assert parse_retry_after(formatdate(now - 30, usegmt=True), now=now) == 0.0


def test_process_request_sleeps_then_clears(mw):
    request = Request("http://127.0.0.1/x", meta={WAIT_META: 0.05})
    started = time.monotonic()
    asyncio.run(mw.process_request(request))
    assert time.monotonic() - started >= 0.04
    assert WAIT_META not in request.meta
    assert mw.crawler.stats.get_value("cpfft/retry/wait_seconds") == 0.05


def test_429s_do_not_use_up_the_retry_budget(mw):
    mw.limited_retries = 5
    request = Request("http://127.0.0.1/x")
    for n in range(5):  # more than RETRY_TIMES=3
        request = mw.process_response(
            request, Response(request.url, status=429, headers={"Retry-After": "1"})
        )
        assert isinstance(request, Request), n
        assert request.meta[WAIT_META] == 1.0
    final = mw.process_response(request, Response(request.url, status=429))
    assert isinstance(final, Response)
    assert mw.crawler.stats.get_value("retry/count") == 5
    assert mw.crawler.stats.get_value("retry/max_reached") == 1
    # A 503 after the 429s still has its whole budget.
    other = mw.process_response(Request("http://127.0.0.1/y"), Response("http://x", status=503))
    assert isinstance(other, Request)


def test_malformed_json_on_a_json_request_is_retried(mw):
    request = Request("http://127.0.0.1/x", meta={JSON_META: True})
    broken = Response(request.url, status=200, body=b'{"resultats": [')
    retry = mw.process_response(request, broken)
    assert isinstance(retry, Request)
    assert mw.crawler.stats.get_value("retry/reason_count/malformed JSON") == 1
    whole = Response(request.url, status=200, body=b'{"resultats": []}')
    assert mw.process_response(request, whole) is whole
    plain = Request("http://127.0.0.1/x")  # not a JSON request: passed as it is
    assert mw.process_response(plain, broken) is broken


# ------------------------------------------------------------------ one INFO line per retry


def retry_lines(caplog):
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "cpfft.middlewares.retry" and r.levelno == logging.INFO
    ]


def test_each_retry_is_one_info_line_with_wait_attempt_and_reason(mw, caplog):
    caplog.set_level(logging.INFO, logger="cpfft.middlewares.retry")
    request = Request("http://127.0.0.1:8000/api/x?where=long%20query", meta={"step": "metadata"})
    request = mw.process_response(request, Response(request.url, status=503))
    request = mw.process_exception(request, DownloadTimeoutError("Getting it took 1 s.\nmore"))
    plain = Request("http://127.0.0.1:8000/api/y?q=1")
    mw.process_response(plain, Response(plain.url, status=502, headers={"Retry-After": "4"}))
    assert retry_lines(caplog) == [
        "retrying metadata in 1 s (1/3): HTTP 503 Service Unavailable",
        "retrying metadata in 2 s (2/3): DownloadTimeoutError: Getting it took 1 s.",
        "retrying GET 127.0.0.1:8000/api/y in 4 s (1/3): HTTP 502 Bad Gateway",
    ]


def test_rate_limited_and_malformed_retries_are_logged_too(mw, caplog):
    caplog.set_level(logging.INFO, logger="cpfft.middlewares.retry")
    mw.limited_retries = 5
    request = Request("http://127.0.0.1/x", meta={JSON_META: True})
    mw.process_response(request, Response(request.url, status=429, headers={"Retry-After": "0.5"}))
    mw.process_response(request, Response(request.url, status=200, body=b"{cut"))
    assert retry_lines(caplog) == [
        "retrying GET 127.0.0.1/x in 0.5 s (rate limited 1/5): HTTP 429 Too Many Requests",
        "retrying GET 127.0.0.1/x in 1 s (1/3): HTTP 200 with a malformed JSON body",
    ]


def test_retry_line_of_the_token_request_shows_no_secret(mw, caplog):
    caplog.set_level(logging.DEBUG)
    secret = "s3cr3t-client-secret"
    token = FormRequest(
        "http://127.0.0.1:7777/connexion/oauth2/access_token?realm=/partenaire",
        formdata={"client_id": "id-42", "client_secret": secret},
    )
    assert mw.process_response(token, Response(token.url, status=503)) is not None
    mw.process_exception(token, DownloadTimeoutError("took too long"))
    (first, second) = retry_lines(caplog)
    assert first == (
        "retrying POST 127.0.0.1:7777/connexion/oauth2/access_token in 1 s (1/3): "
        "HTTP 503 Service Unavailable"
    )
    assert second.startswith("retrying POST 127.0.0.1:7777/connexion/oauth2/access_token in 1 s")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert secret not in logged
    assert "id-42" not in logged


# ------------------------------------------------------------------ malformed JSON (JSON_META)

GATEWAY_PAGE = b"<html><body>502 Bad Gateway</body></html>"


def json_answer(request, body=GATEWAY_PAGE, status=200):
    """What the downloader hands over for a JSON API: a text response, here not JSON."""
    return TextResponse(request.url, status=status, body=body, encoding="utf-8")


@pytest.mark.parametrize(("meta", "retried"), [({JSON_META: True}, True),
                                               ({JSON_META: False}, False), ({}, False)])  # fmt: skip
def test_a_200_that_is_not_json_is_retried_only_on_a_json_request(mw, meta, retried):
    request = Request("http://127.0.0.1/x", meta=meta)
    response = json_answer(request)
    result = mw.process_response(request, response)
    if retried:
        assert isinstance(result, Request)
        assert result.meta["retry_times"] == 1
        assert result.meta[WAIT_META] == 1.0  # the backoff of a first retry
        assert result.dont_filter
        assert mw.crawler.stats.get_value("retry/reason_count/malformed JSON") == 1
    else:
        assert result is response
        assert mw.crawler.stats.get_value("retry/count") is None


def test_a_body_that_stays_malformed_is_given_up_after_retry_times(mw, caplog):
    request = Request("http://127.0.0.1/x", meta={JSON_META: True})
    for attempt in (1, 2, 3):  # RETRY_TIMES = 3
        request = mw.process_response(request, json_answer(request))
        assert isinstance(request, Request), attempt
        assert request.meta["retry_times"] == attempt
    last = json_answer(request)
    with caplog.at_level(logging.ERROR, logger="scrapy.downloadermiddlewares.retry"):
        assert mw.process_response(request, last) is last  # the spider gets the bad body
    stats = mw.crawler.stats
    assert stats.get_value("retry/reason_count/malformed JSON") == 3
    assert stats.get_value("retry/count") == 3
    assert stats.get_value("retry/max_reached") == 1
    assert any("Gave up retrying" in r.getMessage() for r in caplog.records)


def test_an_empty_or_non_2xx_body_is_not_a_malformed_json_retry(mw):
    request = Request("http://127.0.0.1/x", meta={JSON_META: True})
    empty = json_answer(request, body=b"", status=204)
    assert mw.process_response(request, empty) is empty
    not_found = json_answer(request, status=404)
    assert mw.process_response(request, not_found) is not_found
    assert mw.crawler.stats.get_value("retry/count") is None


def test_a_json_body_decoded_by_the_check_is_the_one_the_spider_reads(mw):
    request = Request("http://127.0.0.1/x", meta={JSON_META: True})
    whole = json_answer(request, body=b'{"total_count": 3}')
    assert mw.process_response(request, whole) is whole
    assert whole.json() == {"total_count": 3}


# ------------------------------------------------------------------ the other branches


def test_dont_retry_passes_even_a_503_and_a_429(mw):
    for status in (503, 429):
        request = Request("http://127.0.0.1/x", meta={"dont_retry": True})
        response = Response(request.url, status=status)
        assert mw.process_response(request, response) is response
    assert mw.crawler.stats.get_value("retry/count") is None


def test_a_429_is_not_retried_when_not_a_retry_code():
    crawler = get_crawler(settings_dict={"RETRY_HTTP_CODES": [503]})
    crawler.spider = crawler._create_spider("s")
    crawler.stats = MemoryStatsCollector(crawler)
    mw = BackoffRetryMiddleware.from_crawler(crawler)
    request = Request("http://127.0.0.1/x")
    response = Response(request.url, status=429, headers={"Retry-After": "1"})
    assert mw.process_response(request, response) is response


def test_a_429_is_retried_even_when_retry_times_is_spent(mw):
    request = Request("http://127.0.0.1/x")
    for _ in range(3):
        request = mw.process_response(request, Response(request.url, status=503))
    spent = Response(request.url, status=503)
    assert mw.process_response(request, spent) is spent  # RETRY_TIMES = 3 used up
    limited = mw.process_response(request, Response(request.url, status=429))
    assert isinstance(limited, Request)
    assert limited.meta[LIMITED_META] == 1
    assert limited.meta["retry_times"] == 3  # a 429 does not count against RETRY_TIMES


def test_retry_after_on_a_503_wins_over_the_backoff(mw):
    request = Request("http://127.0.0.1/x")
    response = Response(request.url, status=503, headers={"Retry-After": "2.5"})
    assert mw.process_response(request, response).meta[WAIT_META] == 2.5


def test_retry_after_as_an_http_date_is_waited_for(mw):
    now = 1_800_000_000.0
    request = Request("http://127.0.0.1/x")
    later = formatdate(now + 60, usegmt=True)
    response = Response(request.url, status=503, headers={"Retry-After": later})
    with mock.patch("cpfft.middlewares.retry.time.time", return_value=now):
        assert mw.process_response(request, response).meta[WAIT_META] == 60.0


def test_the_header_wins_over_another_middlewares_hint(mw):
    request = Request("http://127.0.0.1/x", meta={HINT_META: 30})
    response = Response(request.url, status=429, headers={"Retry-After": "3"})
    retry = mw.process_response(request, response)
    assert retry.meta[WAIT_META] == 3.0
    assert HINT_META not in retry.meta


def test_a_hint_is_capped_like_a_header(mw):
    mw.retry_after_max = 10
    request = Request("http://127.0.0.1/x", meta={HINT_META: 3600})
    assert mw.process_response(request, Response(request.url, status=429)).meta[WAIT_META] == 10


def test_an_unreadable_retry_after_falls_back_to_the_backoff(mw):
    request = Request("http://127.0.0.1/x")
    response = Response(request.url, status=503, headers={"Retry-After": "soon"})
    assert mw.process_response(request, response).meta[WAIT_META] == 1.0


def test_parse_retry_after_without_a_value():
    assert parse_retry_after(None) is None
    assert parse_retry_after(b"  ") is None
    assert parse_retry_after("-5") == 0.0


def test_exceptions_back_off_then_are_given_up(mw):
    request = Request("http://127.0.0.1/x")
    waits = []
    for _ in range(3):
        request = mw.process_exception(request, DownloadTimeoutError("slow"))
        waits.append(request.meta[WAIT_META])
    assert waits == [1.0, 2.0, 3.0]  # doubling, capped by CPFFT_RETRY_BACKOFF_MAX
    assert mw.process_exception(request, DownloadTimeoutError("slow")) is None
    assert mw.crawler.stats.get_value("retry/max_reached") == 1


def test_an_exception_scrapy_does_not_retry_is_left_alone(mw):
    assert mw.process_exception(Request("http://127.0.0.1/x"), ValueError("bug")) is None
    assert mw.crawler.stats.get_value("retry/count") is None


def test_a_request_budget_in_meta_is_the_one_logged(mw, caplog):
    caplog.set_level(logging.INFO, logger="cpfft.middlewares.retry")
    request = Request("http://127.0.0.1/x", meta={"max_retry_times": 1, "step": "export"})
    retry = mw.process_response(request, Response(request.url, status=500))
    spent = Response(request.url, status=500)
    assert mw.process_response(retry, spent) is spent
    assert retry_lines(caplog) == ["retrying export in 1 s (1/1): HTTP 500 Internal Server Error"]


def test_descriptions_of_odd_statuses_waits_and_exceptions():
    assert http_status(522) == "HTTP 522"
    assert http_status(429) == "HTTP 429 Too Many Requests"
    assert seconds(0.05) == "0.05"
    assert seconds(12.345) == "12.3"
    assert seconds(150.4) == "150"
    assert describe_exception(DownloadTimeoutError()) == "DownloadTimeoutError"


# ------------------------------------------------------------ hosts out of reach


@pytest.fixture
def stoppable(mw):
    """The middleware, with an engine that records the stop instead of closing a spider."""
    mw.crawler.engine = mock.Mock()
    mw.crawler.engine.close_spider_async.return_value = None
    mw.crawler.settings.frozen = False
    mw.crawler.settings.set("CPF_API_URL", "http://catalogue.example:8001")
    mw.crawler.settings.set("CPFFT_UNREACHABLE_RETRIES", 2)
    return BackoffRetryMiddleware.from_crawler(mw.crawler)


def give_up_count(mw, request, exception):
    """Retries until the middleware gives up: how many it sent."""
    sent = 0
    while (retry := mw.process_exception(request, exception)) is not None:
        request, sent = retry, sent + 1
    return sent


@pytest.mark.parametrize(
    ("exception", "why"),
    [
        (CannotResolveHostError("catalogue.example"), "the name does not resolve"),
        (twisted_errors.DNSLookupError("catalogue.example"), "the name does not resolve"),
        (DownloadConnectionRefusedError("refused"), "the connection is refused"),
        (twisted_errors.NoRouteError(), "no route to the host"),
    ],
)
def test_a_host_that_never_answered_is_retried_briefly_then_the_run_stops(
    stoppable, caplog, exception, why
):
    request = Request("http://catalogue.example:8001/api", meta={"step": "dataset metadata"})
    with caplog.at_level(logging.DEBUG):
        assert give_up_count(stoppable, request, exception) == 2  # not RETRY_TIMES (3)
    stats = stoppable.crawler.stats
    assert stats.get_value(STOP_REASON) == "unreachable"
    assert stats.get_value(STOP_MESSAGE) == (
        f"Cannot reach catalogue.example:8001 ({why}; 3 attempts). Network or proxy? "
        "To work offline, point CPF_API_URL at an emulator (README, « Émulateurs »)"
    )
    stoppable.crawler.engine.close_spider_async.assert_called_once_with(reason="unreachable")
    # Scrapy's own "Gave up retrying" line is at DEBUG: the summary says it once.
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_host_that_answered_before_gets_the_whole_budget(stoppable):
    request = Request("http://catalogue.example:8001/api")
    stoppable.process_response(request, Response(request.url, status=200))
    refused = DownloadConnectionRefusedError("refused")
    assert give_up_count(stoppable, Request("http://catalogue.example:8001/x"), refused) == 3
    assert stoppable.crawler.stats.get_value(STOP_REASON) is None  # the spider tells


def test_another_hosts_answer_does_not_count(stoppable):
    stoppable.process_response(Request("http://other:1/"), Response("http://other:1/", status=200))
    refused = DownloadConnectionRefusedError("refused")
    assert give_up_count(stoppable, Request("http://catalogue.example:8001/x"), refused) == 2
    assert stoppable.crawler.stats.get_value(STOP_REASON) == "unreachable"


def test_a_slow_host_is_not_out_of_reach(stoppable):
    slow = DownloadTimeoutError("took longer than 300 seconds")
    assert give_up_count(stoppable, Request("http://catalogue.example:8001/x"), slow) == 3
    assert stoppable.crawler.stats.get_value(STOP_REASON) is None


def test_an_unknown_host_names_the_url_not_a_setting(stoppable):
    request = Request("http://proxy.example/x", meta={"max_retry_times": 0})
    assert give_up_count(stoppable, request, CannotResolveHostError("proxy.example")) == 0
    message = stoppable.crawler.stats.get_value(STOP_MESSAGE)
    assert message.startswith("Cannot reach proxy.example (the name does not resolve; 1 attempt).")
    assert "point the URL at an emulator" in message


def test_the_settings_pointing_at_a_host_are_all_named():
    settings = Settings(
        {
            "FT_API_URL": "http://127.0.0.1:8002",
            "FT_TOKEN_URL": "http://127.0.0.1:8002/connexion/oauth2/access_token?realm=/partenaire",
            "CPF_API_URL": "http://127.0.0.1:8001",
            "SOME_URL": "http://127.0.0.1:8002",
        }
    )
    assert url_settings(settings, "127.0.0.1:8002") == ["FT_API_URL", "FT_TOKEN_URL"]
    assert unreachable(DownloadTimeoutError()) is None
