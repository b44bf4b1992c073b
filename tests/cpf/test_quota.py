"""Opendatasoft 429s: the daily quota stops the run; a short window is waited for."""

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from scrapy import Request
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.statscollectors import MemoryStatsCollector
from scrapy.utils.test import get_crawler

from cpfft.cpf.quota import OpendatasoftQuotaMiddleware
from cpfft.middlewares.retry import HINT_META


class FakeEngine:
    def __init__(self):
        self.closed = []

    def close_spider_async(self, *, reason):  # the real one is a coroutine; recorded here
        self.closed.append(reason)


@pytest.fixture
def mw():
    crawler = get_crawler(settings_dict={"CPF_QUOTA_ENABLED": True, "CPF_QUOTA_MAX_WAIT": 60})
    crawler.spider = crawler._create_spider("cpf")
    crawler.stats = MemoryStatsCollector(crawler)
    crawler.engine = FakeEngine()
    return OpendatasoftQuotaMiddleware.from_crawler(crawler)


def quota_response(url, code, reset, unit="day", limit=1000):
    body = {
        "errorcode": code,
        "reset_time": reset.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "limit_time_unit": unit,
        "call_limit": limit,
        "error": "You have exceeded the requests limit for anonymous users.",
    }
    return Response(
        url, status=429, body=json.dumps(body).encode(), headers={"X-RateLimit-Remaining": "0"}
    )


@pytest.mark.parametrize("code", [10002, 10005])
def test_daily_quota_stops_the_run_with_the_reset_time(mw, code, caplog):
    request = Request("http://127.0.0.1/x")
    reset = datetime.now(UTC) + timedelta(hours=5)
    with pytest.raises(IgnoreRequest):
        mw.process_response(request, quota_response(request.url, code, reset))
    assert mw.crawler.engine.closed == ["quota_exceeded"]
    assert mw.crawler.stats.get_value("cpfft/stop_reason") == "quota_exceeded"
    assert mw.crawler.stats.get_value("cpfft/quota/remaining") == 0
    # One line, the run summary's headline (no ERROR line of its own at the time).
    message = mw.crawler.stats.get_value("cpfft/stop_message")
    assert f"errorcode {code}" in message
    assert reset.strftime("%Y-%m-%d %H:%M UTC") in message
    assert "\n" not in message
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    # Later 429s are dropped silently.
    with pytest.raises(IgnoreRequest):
        mw.process_response(request, quota_response(request.url, code, reset))
    assert mw.crawler.engine.closed == ["quota_exceeded"]


def test_short_window_is_left_to_the_retry_with_a_wait_hint(mw):
    request = Request("http://127.0.0.1/x")
    reset = datetime.now(UTC) + timedelta(seconds=3)
    response = quota_response(request.url, 10005, reset, unit="second", limit=10)
    assert mw.process_response(request, response) is response
    assert 0.5 <= request.meta[HINT_META] <= 4
    assert mw.crawler.engine.closed == []


def test_429_without_quota_body_is_retried(mw):
    request = Request("http://127.0.0.1/x")
    response = Response(request.url, status=429, body=b"slow down")
    assert mw.process_response(request, response) is response
    assert HINT_META not in request.meta


def test_quota_without_reset_time_stops(mw):
    request = Request("http://127.0.0.1/x")
    body = json.dumps({"errorcode": 10002, "error": "Too many requests"}).encode()
    with pytest.raises(IgnoreRequest):
        mw.process_response(request, Response(request.url, status=429, body=body))
    assert mw.crawler.engine.closed == ["quota_exceeded"]


def test_headers_are_recorded(mw):
    request = Request("http://127.0.0.1/x")
    headers = {
        "X-RateLimit-Remaining": "42",
        "X-RateLimit-Limit": "1000",
        "X-RateLimit-Reset": str(int(time.time())),
    }
    mw.process_response(request, Response(request.url, status=200, headers=headers))
    assert mw.crawler.stats.get_value("cpfft/quota/remaining") == 42
    assert mw.crawler.stats.get_value("cpfft/quota/limit") == 1000
