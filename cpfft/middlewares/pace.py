"""Pace requests per application, hold them all while a 429 says to wait, and find the
rate the application really has.

France Travail limits each application (client id) to a number of calls per second
that public sources give as 10, 4 or 3; Opendatasoft may answer 429 for a
per-second limiter too. Both say how long to wait (``Retry-After``, or Opendatasoft's
``reset_time``). This middleware, placed just before the token middleware (so a
request gets its token once it may start, not before a wait):

- spaces the starts of the requests of one download slot (the API host, or the
  slot the spider names in ``request.meta["download_slot"]``) at ``1 / rate``;
  only ``FT_DOWNLOAD_SLOT`` has a rate (``FT_MAX_RPS``: token calls count too);
- on a 429, holds **every** request of that slot until the wait is over (none is
  sent inside it), and lowers the slot's rate by half (at most once per wait: the
  429s of requests already in flight at the old rate do not count again);
- reads the limiter the API states on its answers
  (``X-Ratelimit-Replenish-Rate-*``, as France Travail's gateway sends): a rate below
  ``FT_MAX_RPS`` becomes the slot's cap at once, before any 429;
- after each successful answer, raises the rate a little (by the fraction
  ``CPFFT_RATE_INCREASE``), back toward the cap: some forty answers from half the
  rate back to it, so the rate keeps just under the application's real limit,
  whatever it is, with about one 429 in forty calls at most.

The rate the run settled on, its lowest, and the seconds held are in the stats
(``cpfft/rate/*``) and the run summary, so the user can set ``FT_MAX_RPS``.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from scrapy import signals
from scrapy.exceptions import IgnoreRequest
from scrapy.utils.asyncio import sleep

from cpfft.middlewares.odsquota import parse_reset
from cpfft.middlewares.retry import parse_retry_after
from cpfft.runstate import is_stopping

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Request, Response

SENT_AT = "cpfft_sent_at"
DEFAULT_WAIT = 1.0  # a 429 without any hint: the limiters refill every second


@dataclass
class Pace:
    """The pacing of one slot. Times are the caller's clock (monotonic seconds)."""

    max_rate: float | None  # None: no pacing, only the holds after a 429
    rate: float = 0.0
    increase: float = 0.02  # fraction of the rate, after each success
    decrease: float = 0.5
    min_rate: float = 0.2
    next_at: float = 0.0
    held_until: float = 0.0
    last_decrease: float = -math.inf
    lowest: float = 0.0
    limited: int = 0
    held: float = 0.0
    first_at: float | None = None
    last_at: float = 0.0
    successes: int = 0

    def __post_init__(self) -> None:
        self.rate = self.lowest = self.max_rate or 0.0

    def reserve(self, now: float) -> float:
        """When the next request may start (≥ now); books that start."""
        start = max(now, self.next_at, self.held_until)
        if self.max_rate:
            self.next_at = start + 1.0 / self.rate
        return start

    def started(self, now: float) -> None:
        """A request really starts now: the next one not before ``1 / rate`` from now,
        even if this one started late (a busy event loop must not cause a burst)."""
        if self.max_rate:
            self.next_at = max(self.next_at, now + 1.0 / self.rate)

    def on_limited(self, now: float, sent_at: float | None, wait: float) -> None:
        until = now + wait
        if until > self.held_until:
            self.held += until - max(now, self.held_until)
            self.held_until = until
        self.limited += 1
        if self.max_rate and (sent_at is None or sent_at >= self.last_decrease):
            self.rate = max(self.min_rate, self.rate * self.decrease)
            self.lowest = min(self.lowest, self.rate)
            self.last_decrease = now

    def settled(self) -> float | None:
        """The rate the slot sustained: the cap if no 429 ever lowered it, else the
        successful answers per second, first to last (what the application allows)."""
        if not self.max_rate:
            return None
        if not self.limited or self.first_at is None or self.last_at <= self.first_at:
            return self.max_rate
        return min(self.max_rate, (self.successes - 1) / (self.last_at - self.first_at))

    def advertised(self, rate: float) -> None:
        """The API states its rate: never go above it."""
        if self.max_rate and 0 < rate < self.max_rate:
            self.max_rate = rate
            self.rate = min(self.rate, rate)
            self.lowest = min(self.lowest, self.rate)

    def on_success(self, now: float) -> None:
        self.successes += 1
        if self.first_at is None:
            self.first_at = now
        self.last_at = now
        if self.max_rate:
            self.rate = min(self.max_rate, self.rate * (1.0 + self.increase))


def wait_asked(response: Response, now: float, wall: float, longest: float) -> float:
    """Seconds a 429 asks to wait: ``Retry-After``, else a near ``reset_time`` (Opendatasoft),
    else one second; at most ``longest``."""
    asked = parse_retry_after(response.headers.get(b"Retry-After"), now=wall)
    if asked is None:
        try:
            body = json.loads(response.body)
        except ValueError:
            body = None
        if isinstance(body, dict):
            reset = parse_reset(body, response.headers.get(b"X-RateLimit-Reset"))
            if reset is not None and 0 < reset - wall <= longest:
                asked = reset - wall
    return min(DEFAULT_WAIT if asked is None else max(asked, 0.0), longest)


def advertised_rate(response: Response) -> float | None:
    """The replenish rate a Spring-Cloud-Gateway-style limiter states, if any."""
    for name, values in response.headers.items():
        if name.lower().startswith(b"x-ratelimit-replenish-rate"):
            try:
                return float(values[0])
            except (ValueError, IndexError):
                return None
    return None


class PaceMiddleware:
    def __init__(self, crawler: Crawler):
        settings = crawler.settings
        self.crawler = crawler
        self.rated_slot = settings.get("FT_DOWNLOAD_SLOT", "francetravail")
        self.max_rate = settings.getfloat("FT_MAX_RPS", 10.0)
        self.increase = settings.getfloat("CPFFT_RATE_INCREASE", 0.02)
        self.longest = settings.getfloat("CPFFT_RETRY_AFTER_MAX", 600.0)
        self.paces: dict[str, Pace] = {}
        self.gates: dict[str, asyncio.Lock] = {}
        self.clock = time.monotonic  # replaceable in tests
        self.wall = time.time

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PaceMiddleware:
        mw = cls(crawler)
        crawler.signals.connect(mw.spider_closed, signal=signals.spider_closed)
        return mw

    def spider_closed(self) -> None:
        for slot, pace in self.paces.items():
            self.record(slot, pace)

    def pace_of(self, request: Request) -> tuple[str, Pace]:
        slot = request.meta.get("download_slot") or request.url.split("/")[2]
        pace = self.paces.get(slot)
        if pace is None:
            rate = self.max_rate if slot == self.rated_slot else None
            pace = self.paces[slot] = Pace(rate, increase=self.increase)
        return slot, pace

    async def process_request(self, request: Request) -> None:
        slot, pace = self.pace_of(request)
        # One request of a slot at a time through the gate, in arrival order (the
        # scheduler's priority order): starts are spaced from when they really happen,
        # so a busy event loop cannot release several requests at once out of order.
        async with self.gates.setdefault(slot, asyncio.Lock()):
            while True:
                start = pace.reserve(self.clock())
                if start > self.clock():
                    await sleep(start - self.clock())
                if self.clock() >= pace.held_until:  # a 429 may have come in meanwhile
                    break
            if is_stopping(self.crawler):
                raise IgnoreRequest("crawl stopping")
            now = self.clock()
            pace.started(now)
            request.meta[SENT_AT] = now

    async def wait_hold(self, request: Request) -> None:
        """Wait while the slot is held: for a request that was paced, then had to wait
        for something else (a new token) while a 429 came in."""
        _, pace = self.pace_of(request)
        while (left := pace.held_until - self.clock()) > 0:
            await sleep(left)

    def process_response(self, request: Request, response: Response) -> Response:
        slot, pace = self.pace_of(request)
        if response.status == 429:
            now = self.clock()
            wait = wait_asked(response, now, self.wall(), self.longest)
            pace.on_limited(now, request.meta.get(SENT_AT), wait)
            self.record(slot, pace)
        elif response.status < 400:
            pace.on_success(self.clock())
        stated = advertised_rate(response)
        if stated is not None and pace.max_rate and stated < pace.max_rate:
            pace.advertised(stated)
            self.crawler.stats.set_value(f"cpfft/rate/{slot}/advertised", stated)
        return response

    def record(self, slot: str, pace: Pace) -> None:
        stats = self.crawler.stats
        stats.set_value(f"cpfft/rate/{slot}/held_seconds", round(pace.held, 3))
        stats.set_value(f"cpfft/rate/{slot}/429", pace.limited)
        if pace.max_rate:
            stats.set_value(f"cpfft/rate/{slot}/lowest", round(pace.lowest, 2))
            stats.set_value(f"cpfft/rate/{slot}/settled", round(pace.settled() or 0, 2))
            stats.set_value(f"cpfft/rate/{slot}/cap", pace.max_rate)
