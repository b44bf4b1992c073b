"""Pace requests per application, hold them all while a 429 says to wait, and find the
rate the application really has.

France Travail limits each application (client id) to a number of calls per second
that public sources give as 10, 4 or 3; Opendatasoft may answer 429 for a
per-second limiter too. Both say how long to wait (``Retry-After``, or Opendatasoft's
``reset_time``). This middleware, placed just before the token middleware (so a
request gets its token once it may start, not before a wait):

- spaces the starts of the requests of one download slot (the API host, or the
  slot the spider names in ``request.meta["download_slot"]``) at ``1 / rate`` on
  average, one at a time, the highest priority first;
  only ``FT_DOWNLOAD_SLOT`` has a rate (``FT_MAX_RPS``: token calls count too);
- on a 429, holds **every** request of that slot until the wait is over (none is
  sent inside it), and lowers the slot's rate by half (at most once per wait: the
  429s of requests already in flight at the old rate do not count again; and not
  when the limiter's ``X-Ratelimit-Remaining`` said calls were left: then the 429
  was not the slot's pace, e.g. a burst of a gateway shared by all applications);
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
import heapq
import itertools
import json
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from scrapy import signals
from scrapy.exceptions import IgnoreRequest
from scrapy.utils.asyncio import sleep

from cpfft.cpf.quota import parse_reset
from cpfft.middlewares.retry import parse_retry_after
from cpfft.run.state import is_stopping

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Request, Response
    from scrapy.settings import BaseSettings

SENT_AT = "cpfft_sent_at"
DEFAULT_WAIT = 1.0  # a 429 without any hint: the limiters refill every second
BURST = 2.0  # starts a slot may catch up on at once after a late one


@dataclass
class Pace:
    """The pacing of one slot. Times are the caller's clock (monotonic seconds)."""

    max_rate: float | None  # None: no pacing, only the holds after a 429
    rate: float = 0.0
    increase: float = 0.02  # fraction of the rate, after each success
    decrease: float = 0.5
    min_rate: float = 0.2
    tokens: float = 1.0
    stamp: float | None = None
    held_until: float = 0.0
    last_decrease: float = -math.inf
    lowest: float = 0.0
    limited: int = 0
    lowered: int = 0  # 429s that lowered the rate (the others were only waited out)
    held: float = 0.0
    first_at: float | None = None
    last_at: float = 0.0
    successes: int = 0

    def __post_init__(self) -> None:
        self.rate = self.lowest = self.max_rate or 0.0

    def delay(self, now: float) -> float:
        """Seconds until a request may start: a hold, or the pace. The pace is a token
        bucket of ``BURST`` starts refilled at the rate: a start a busy event loop made
        late can be caught up on (the average never exceeds the rate), without bursts
        that an API's own bucket would notice."""
        if now < self.held_until:
            return self.held_until - now
        if not self.max_rate:
            return 0.0
        if self.stamp is not None:
            self.tokens = min(BURST, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        # (A hair below 1 counts as 1: float sums of refills must not wait forever.)
        return 0.0 if self.tokens >= 1.0 - 1e-9 else (1.0 - self.tokens) / self.rate

    def take(self, now: float) -> None:
        """A request starts now."""
        if self.max_rate:
            self.delay(now)
            self.tokens -= 1.0

    def on_limited(
        self, now: float, sent_at: float | None, wait: float, remaining: float | None = None
    ) -> None:
        """A 429: hold the slot for ``wait`` s; lower the rate unless the limiter's own
        count (``remaining`` calls, from the last successful answer) says the slot's
        pace was not the cause — a 429 burst of a shared gateway is only waited out."""
        until = now + wait
        if until > self.held_until:
            self.held += until - max(now, self.held_until)
            self.held_until = until
            # After the hold, one start at a time again: no catching up on the wait.
            self.tokens, self.stamp = 1.0, until
        self.limited += 1
        ours = remaining is None or remaining < 2
        if self.max_rate and ours and (sent_at is None or sent_at >= self.last_decrease):
            self.lowered += 1
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


def limiter_header(response: Response, prefix: bytes) -> float | None:
    """A number a Spring-Cloud-Gateway-style limiter states (``X-Ratelimit-…-Clientidlimiter``)."""
    for name, values in response.headers.items():
        if name.lower().startswith(prefix):
            try:
                return float(values[0])
            except (ValueError, IndexError):
                return None
    return None


def advertised_rate(response: Response) -> float | None:
    """The replenish rate the limiter states, if any."""
    return limiter_header(response, b"x-ratelimit-replenish-rate")


class Gate:
    """One request at a time, the highest ``priority`` first (then first come): the
    requests already past the scheduler keep its order, and a probe the spider just
    yielded overtakes the pages already waiting."""

    def __init__(self) -> None:
        self.busy = False
        self.waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self.arrivals = itertools.count()

    async def acquire(self, priority: int) -> None:
        if not self.busy and not self.waiting:
            self.busy = True
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self.waiting, (-priority, next(self.arrivals), turn))
        try:
            await turn  # the gate is handed over: busy stays True
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self.release()  # handed over just as the request was cancelled: pass it on
            raise

    def release(self) -> None:
        while self.waiting:
            _, _, turn = heapq.heappop(self.waiting)
            if not turn.done():
                turn.set_result(None)
                return
        self.busy = False


def rated_slot(settings: BaseSettings) -> str:
    """Give ``FT_DOWNLOAD_SLOT`` its download settings, while the spider is made
    (settings are not frozen yet); return its name. The token host and the API host
    share this one slot: the quota is per application and counts token calls. Its pace
    is kept here; the slot's concurrency only has to cover the latency at that rate."""
    slot = settings.get("FT_DOWNLOAD_SLOT", "francetravail")
    slots = settings.getdict("DOWNLOAD_SLOTS")
    slots[slot] = {"delay": 0, "concurrency": 32, "jitter": 0}
    settings.set("DOWNLOAD_SLOTS", slots, priority="spider")
    return slot


class PaceMiddleware:
    def __init__(self, crawler: Crawler):
        settings = crawler.settings
        self.crawler = crawler
        self.rated_slot = settings.get("FT_DOWNLOAD_SLOT", "francetravail")
        self.max_rate = settings.getfloat("FT_MAX_RPS", 10.0)
        self.increase = settings.getfloat("CPFFT_RATE_INCREASE", 0.02)
        self.longest = settings.getfloat("CPFFT_RETRY_AFTER_MAX", 600.0)
        self.paces: dict[str, Pace] = {}
        self.gates: dict[str, Gate] = {}
        self.remaining: dict[str, float | None] = {}  # the limiter's count, last success
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
        # One request of a slot at a time through the gate, highest priority first.
        gate = self.gates.setdefault(slot, Gate())
        await gate.acquire(request.priority)
        try:
            while (wait := pace.delay(self.clock())) > 0:  # a 429 may come in meanwhile
                await sleep(wait)
            if is_stopping(self.crawler):
                raise IgnoreRequest("crawl stopping")
            now = self.clock()
            pace.take(now)
            request.meta[SENT_AT] = now
        finally:
            gate.release()

    async def pace_again(self, request: Request) -> None:
        """Through the gate once more: for a request that was paced, then had to wait
        for something else (a new token) with others, which would all start at once."""
        await self.process_request(request)

    def process_response(self, request: Request, response: Response) -> Response:
        slot, pace = self.pace_of(request)
        if response.status == 429:
            now = self.clock()
            wait = wait_asked(response, now, self.wall(), self.longest)
            pace.on_limited(now, request.meta.get(SENT_AT), wait, self.remaining.get(slot))
            self.record(slot, pace)
        elif response.status < 400:
            pace.on_success(self.clock())
            self.remaining[slot] = limiter_header(response, b"x-ratelimit-remaining")
        stated = advertised_rate(response)
        if stated is not None and pace.max_rate and stated < pace.max_rate:
            pace.advertised(stated)
            self.crawler.stats.set_value(f"cpfft/rate/{slot}/advertised", stated)
        return response

    def record(self, slot: str, pace: Pace) -> None:
        stats = self.crawler.stats
        stats.set_value(f"cpfft/rate/{slot}/held_seconds", round(pace.held, 3))
        stats.set_value(f"cpfft/rate/{slot}/429", pace.limited)
        stats.set_value(f"cpfft/rate/{slot}/lowered", pace.lowered)
        if pace.max_rate:
            stats.set_value(f"cpfft/rate/{slot}/lowest", round(pace.lowest, 2))
            stats.set_value(f"cpfft/rate/{slot}/settled", round(pace.settled() or 0, 2))
            stats.set_value(f"cpfft/rate/{slot}/cap", pace.max_rate)
