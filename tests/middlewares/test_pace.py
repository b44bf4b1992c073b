"""Pacing per slot, holds after a 429, and the rate found by additive increase /
multiplicative decrease (cpfft.middlewares.pace)."""

from __future__ import annotations

import asyncio
import json
import math
import time

import pytest
from scrapy import Request
from scrapy.http import Response
from scrapy.settings import Settings
from scrapy.statscollectors import MemoryStatsCollector
from scrapy.utils.test import get_crawler

from cpfft.middlewares.pace import SENT_AT, Pace, PaceMiddleware, rated_slot, wait_asked


def starts(pace: Pace, now: float, count: int) -> list[float]:
    out = []
    for _ in range(count):
        while (wait := pace.delay(now)) > 0:  # as the middleware does
            now += wait
        pace.take(now)
        out.append(now)
    return out


def test_the_rated_slot_is_configured_while_the_spider_is_made():
    settings = Settings({"DOWNLOAD_SLOTS": {"other": {"delay": 1}}, "FT_DOWNLOAD_SLOT": "ft"})
    assert rated_slot(settings) == "ft"
    assert settings.getdict("DOWNLOAD_SLOTS") == {
        "other": {"delay": 1}, "ft": {"delay": 0, "concurrency": 32, "jitter": 0}
    }  # fmt: skip
    assert rated_slot(Settings()) == "francetravail"


def test_starts_are_spaced_at_one_over_the_rate():
    pace = Pace(10.0)
    assert starts(pace, 0.0, 3) == pytest.approx([0.0, 0.1, 0.2])
    # Idle for a while: two starts at once at most (a late start caught up on), then paced.
    assert starts(pace, 5.0, 4) == pytest.approx([5.0, 5.0, 5.1, 5.2])


def test_a_429_holds_every_later_start_until_its_wait_is_over():
    pace = Pace(10.0)
    starts(pace, 0.0, 1)
    pace.on_limited(1.0, sent_at=0.0, wait=2.0)
    assert pace.delay(1.5) == pytest.approx(1.5)
    assert starts(pace, 1.5, 2) == pytest.approx([3.0, 3.2])  # no catching up on the hold
    assert pace.held == pytest.approx(2.0)


def test_the_rate_halves_once_per_wait_and_climbs_back():
    pace = Pace(10.0, increase=0.5)
    pace.on_limited(1.0, sent_at=0.9, wait=1.0)
    pace.on_limited(1.01, sent_at=0.95, wait=1.0)  # in flight at the old rate: not again
    assert pace.rate == 5.0
    pace.on_limited(3.0, sent_at=2.5, wait=1.0)  # sent after the decrease: halves again
    assert pace.rate == 2.5
    assert pace.lowest == 2.5
    for n in range(9):  # 9 successes over 2 s, +50 % each
        pace.on_success(4.0 + n / 4)
    assert pace.rate == 10.0
    assert pace.settled() == 4.0  # what was sustained: 8 intervals in 2 s


def test_without_a_rate_only_holds():
    pace = Pace(None)
    assert starts(pace, 0.0, 3) == [0.0, 0.0, 0.0]
    pace.on_limited(0.0, None, 1.5)
    assert pace.delay(0.5) == 1.0
    assert pace.settled() is None


def simulate(cap: float, burst: int, requests: int = 3000, latency: float = 0.03):
    """One request after another against a token bucket of ``cap``/s; returns
    (share of 429, settled rate, starts inside a hold, seconds)."""
    pace = Pace(10.0)
    level, last, now = float(burst), 0.0, 0.0
    limited = inside = 0
    for _ in range(requests):
        start = now
        while (wait := pace.delay(start)) > 0:
            start += wait
        if start < pace.held_until:
            inside += 1
        pace.take(start)
        level = min(float(burst), level + (start - last) * cap)
        last = start
        now = start + latency
        if level < 1.0:
            limited += 1
            pace.on_limited(now, start, max(1, math.ceil((1.0 - level) / cap)))
        else:
            level -= 1.0
            pace.on_success(now)
    return limited / requests, pace.settled(), inside, now


@pytest.mark.parametrize("cap", [1, 2, 3, 4, 6, 10])
def test_the_rate_settles_under_any_real_cap_with_few_429s(cap):
    share, settled, inside, seconds = simulate(cap, burst=cap)
    assert inside == 0
    assert share < 0.05, share
    if cap < 10:
        assert cap * 0.65 <= settled <= cap, settled
        # Close to the cap on average (measured: 1.47 × the time at the cap for 1 req/s,
        # 1.29 × for 3 req/s).
        assert seconds <= 3000 / cap * 1.5


def middleware(**settings):
    crawler = get_crawler(settings_dict={"FT_MAX_RPS": 20, **settings})
    crawler.stats = MemoryStatsCollector(crawler)
    return PaceMiddleware.from_crawler(crawler)


def test_middleware_paces_the_rated_slot_only():
    mw = middleware()
    rated = [Request(f"http://127.0.0.1/{n}", meta={"download_slot": "francetravail"})
             for n in range(3)]  # fmt: skip
    other = [Request(f"http://127.0.0.1:81/{n}") for n in range(3)]

    async def run(requests):
        started = time.monotonic()
        for request in requests:
            await mw.process_request(request)
        return time.monotonic() - started

    assert asyncio.run(run(rated)) >= 0.09  # 3 starts at 20/s
    assert asyncio.run(run(other)) < 0.05
    assert all(SENT_AT in r.meta for r in rated + other)


def test_middleware_holds_the_slot_after_a_429_and_reports_it():
    mw = middleware()
    first = Request("http://127.0.0.1/a", meta={"download_slot": "francetravail"})
    asyncio.run(mw.process_request(first))
    limited = Response(first.url, status=429, headers={"Retry-After": "0.3"})
    assert mw.process_response(first, limited) is limited
    second = Request("http://127.0.0.1/b", meta={"download_slot": "francetravail"})
    started = time.monotonic()
    asyncio.run(mw.process_request(second))
    assert time.monotonic() - started >= 0.25
    mw.spider_closed()
    stats = mw.crawler.stats
    assert stats.get_value("cpfft/rate/francetravail/429") == 1
    assert stats.get_value("cpfft/rate/francetravail/settled") == 20.0
    assert stats.get_value("cpfft/rate/francetravail/lowest") == 10.0


def test_wait_asked_reads_retry_after_then_an_opendatasoft_reset():
    now = 1000.0
    wall = 1_700_000_000.0
    assert wait_asked(Response("http://x", status=429, headers={"Retry-After": "3"}), now, wall,
                      600) == 3.0  # fmt: skip
    body = json.dumps({"errorcode": 10005, "reset_time": "2023-11-14T22:13:21+00:00"}).encode()
    assert wait_asked(Response("http://x", status=429, body=body), now, wall, 600) == 1.0
    far = json.dumps({"reset_time": "2023-11-15T22:13:20+00:00"}).encode()
    assert wait_asked(Response("http://x", status=429, body=far), now, wall, 600) == 1.0
    assert wait_asked(Response("http://x", status=429, headers={"Retry-After": "900"}), now, wall,
                      600) == 600  # fmt: skip


def test_the_gate_lets_the_highest_priority_through_first():
    from cpfft.middlewares.pace import Gate

    order = []

    async def run():
        gate = Gate()
        await gate.acquire(0)  # held: the others queue

        async def wait(priority, name):
            await gate.acquire(priority)
            order.append(name)
            gate.release()

        tasks = [asyncio.ensure_future(wait(p, n)) for p, n in
                 [(1, "page 150"), (20, "page 3000"), (100, "probe"), (1, "page 150 bis")]]  # fmt: skip
        await asyncio.sleep(0)
        gate.release()
        await asyncio.gather(*tasks)

    asyncio.run(run())
    assert order == ["probe", "page 3000", "page 150", "page 150 bis"]


def test_a_cancelled_waiter_does_not_keep_the_gate():
    from cpfft.middlewares.pace import Gate

    async def run():
        gate = Gate()
        await gate.acquire(0)
        cancelled = asyncio.ensure_future(gate.acquire(5))
        await asyncio.sleep(0)
        cancelled.cancel()
        await asyncio.sleep(0)
        gate.release()
        assert not gate.busy
        await asyncio.wait_for(gate.acquire(0), 1)

    asyncio.run(run())


def test_a_waiter_cancelled_once_handed_the_gate_passes_it_on():
    from cpfft.middlewares.pace import Gate

    async def run():
        gate = Gate()
        await gate.acquire(0)
        handed = asyncio.ensure_future(gate.acquire(5))
        await asyncio.sleep(0)
        gate.release()  # hands the gate to `handed`...
        handed.cancel()  # ...which is cancelled before it runs again
        with pytest.raises(asyncio.CancelledError):
            await handed
        await asyncio.wait_for(gate.acquire(0), 1)  # not left busy for ever

    asyncio.run(run())


def test_a_429_while_the_limiter_said_calls_were_left_only_holds():
    pace = Pace(10.0)
    pace.on_limited(1.0, sent_at=0.9, wait=1.0, remaining=7)
    assert pace.rate == 10.0
    assert pace.delay(1.5) == pytest.approx(0.5)
    pace.on_limited(3.0, sent_at=2.9, wait=1.0, remaining=0)
    assert pace.rate == 5.0
