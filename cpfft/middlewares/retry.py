"""Retries that wait: exponential backoff, and ``Retry-After`` when the API gives one.

Scrapy's own RetryMiddleware sends a retry immediately and ignores
``Retry-After`` (scrapy/scrapy#3849), which turns a short API hiccup into a
burst of failures. This subclass keeps its budget (``RETRY_TIMES``), stats
(``retry/count``, ``retry/reason_count/*``) and give-up logging, and adds a
wait before each retry: ``Retry-After`` if present (capped by
``CPFFT_RETRY_AFTER_MAX``), else ``CPFFT_RETRY_BACKOFF × 2^(n-1)`` capped by
``CPFFT_RETRY_BACKOFF_MAX``. The wait happens in ``process_request``, before
the request takes a download slot, so other requests keep flowing.

Another middleware may set ``request.meta["cpfft_retry_after"]`` (seconds) to
ask for a specific wait, e.g. until a rate-limit window resets.

A request with ``request.meta["cpfft_json"]`` expects a JSON body: a 2xx answer
whose body is not JSON (cut by a proxy, garbled) is retried like a 5xx.

A 429 says "wait", not "failed": it is retried without using up ``RETRY_TIMES``,
up to ``CPFFT_RATE_LIMIT_RETRIES`` times, after the wait it asked for; meanwhile the
pacing middleware (:mod:`cpfft.middlewares.pace`) holds every other request of
the slot too.

A host that has not answered yet in this run and does not resolve, refuses the
connection or cannot be routed to (no network, a proxy, a mistyped URL) is
retried ``CPFFT_UNREACHABLE_RETRIES`` times only, not the whole budget: then the
run stops with one line that names the host and the setting that points at it
(a host that answered before gets the whole budget: a server restarting).

Every retry is logged at INFO when it is decided, with its wait, its number
and why, e.g. ``retrying dataset metadata in 4 s (2/5): HTTP 503 Service
Unavailable``. The request is named by ``request.meta["step"]`` when the
spider gives one, else by its method, host and path: never its query string
nor its body (the OAuth token request's body holds the client secret).
"""

from __future__ import annotations

import json
import logging
import time
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import CannotResolveHostError, DownloadConnectionRefusedError
from scrapy.http import Request, TextResponse
from scrapy.utils.asyncio import sleep
from scrapy.utils.response import response_status_message
from twisted.internet import error as twisted_errors

from cpfft.run.state import stop_crawl

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.settings import BaseSettings

logger = logging.getLogger(__name__)

WAIT_META = "cpfft_retry_wait"
HINT_META = "cpfft_retry_after"
JSON_META = "cpfft_json"
LIMITED_META = "cpfft_429_retries"
STEP_META = "step"


#: Why a host may be out of reach (as opposed to slow or failing): the name does not
#: resolve, nothing listens, no route. Scrapy's own classes, and Twisted's beneath them.
UNREACHABLE: dict[type[BaseException], str] = {
    CannotResolveHostError: "the name does not resolve",
    twisted_errors.DNSLookupError: "the name does not resolve",
    DownloadConnectionRefusedError: "the connection is refused",
    twisted_errors.ConnectionRefusedError: "the connection is refused",
    twisted_errors.NoRouteError: "no route to the host",
    twisted_errors.ConnectError: "the connection failed",
}


def unreachable(exception: BaseException) -> str | None:
    """Why ``exception`` says the host is out of reach, or None if it says something else."""
    for kind, why in UNREACHABLE.items():
        if isinstance(exception, kind):
            return why
    return None


def url_settings(settings: BaseSettings, netloc: str) -> list[str]:
    """The cpfft settings whose URL points at ``netloc`` (CPF_API_URL, FT_TOKEN_URL…)."""
    names = []
    for name, value in settings.items():
        ours = name.endswith("_URL") and name.startswith(("CPF", "FT_"))
        if ours and isinstance(value, str) and urlsplit(value).netloc == netloc:
            names.append(name)
    return sorted(names)


def describe_request(request: Request) -> str:
    """What a log line may say of a request: its step, or method, host and path only."""
    step = request.meta.get(STEP_META)
    if step:
        return str(step)
    url = urlsplit(request.url)
    return f"{request.method} {url.netloc}{url.path}"


def describe_exception(exception: BaseException) -> str:
    """``DownloadTimeoutError: Getting http://… took longer than 1.0 seconds.`` (one line)."""
    text = str(exception).strip()
    detail = text.splitlines()[0] if text else ""
    name = type(exception).__name__
    return f"{name}: {detail}" if detail else name


def http_status(status: int) -> str:
    """``HTTP 429 Too Many Requests`` (``HTTP 522`` for a status without a standard name)."""
    try:
        return f"HTTP {status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


def seconds(wait: float) -> str:
    """4 → '4', 0.05 → '0.05', 12.345 → '12.3'."""
    return f"{wait:.3g}" if wait < 100 else f"{wait:.0f}"


def response_json(response: Response) -> Any:
    """The decoded JSON body (raises ValueError). Text responses cache it, so the
    check below and the spider's callback decode a body only once."""
    if isinstance(response, TextResponse):
        return response.json()
    return json.loads(response.body)


def is_json(response: Response) -> bool:
    try:
        response_json(response)
    except ValueError:
        return False
    return True


def parse_retry_after(value: bytes | str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date)."""
    if value is None:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if not text:
        return None
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


class BackoffRetryMiddleware(RetryMiddleware):
    def __init__(self, settings: BaseSettings):
        super().__init__(settings)
        self.backoff = settings.getfloat("CPFFT_RETRY_BACKOFF", 1.0)
        self.backoff_max = settings.getfloat("CPFFT_RETRY_BACKOFF_MAX", 60.0)
        self.retry_after_max = settings.getfloat("CPFFT_RETRY_AFTER_MAX", 600.0)
        self.limited_retries = settings.getint("CPFFT_RATE_LIMIT_RETRIES", 50)
        self.unreachable_retries = settings.getint("CPFFT_UNREACHABLE_RETRIES", 2)
        #: Hosts that answered (any status) in this run: out of reach now is a hiccup.
        self.answered: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BackoffRetryMiddleware:
        mw = cls(crawler.settings)
        mw.crawler = crawler
        return mw

    async def process_request(self, request: Request) -> None:
        wait = request.meta.pop(WAIT_META, 0)
        if wait > 0:
            self.crawler.stats.inc_value("cpfft/retry/wait_seconds", round(wait, 3))
            await sleep(wait)

    def process_response(self, request: Request, response: Response) -> Request | Response:
        self.answered.add(urlsplit(request.url).netloc)
        if request.meta.get("dont_retry", False):
            return response
        if response.status == 429 and 429 in self.retry_http_codes:
            return self.retry_limited(request, response)
        if response.status in self.retry_http_codes:
            reason = response_status_message(response.status)
            why = http_status(response.status)
        elif (
            request.meta.get(JSON_META)
            and 200 <= response.status < 300
            and response.body
            and not is_json(response)
        ):
            reason = "malformed JSON"
            why = f"HTTP {response.status} with a malformed JSON body"
        else:
            return response
        retry = self._retry(request, reason)
        if retry is None:
            return response
        self.schedule(retry, response, why)
        return retry

    def retry_limited(self, request: Request, response: Response) -> Request | Response:
        tries = request.meta.get(LIMITED_META, 0)
        stats = self.crawler.stats
        if tries >= self.limited_retries:
            stats.inc_value("retry/max_reached")
            logger.error("Gave up retrying %s (still answered 429 after %d waits)", request, tries)
            return response
        retry = request.replace(dont_filter=True)
        retry.meta[LIMITED_META] = tries + 1
        stats.inc_value("retry/count")
        stats.inc_value(f"retry/reason_count/{response_status_message(429)}")
        self.schedule(
            retry,
            response,
            http_status(429),
            f"rate limited {tries + 1}/{self.limited_retries}",
        )
        return retry

    def process_exception(self, request: Request, exception: Exception) -> Request | None:
        netloc = urlsplit(request.url).netloc
        why = unreachable(exception)
        first_contact = why is not None and netloc not in self.answered
        if first_contact:
            budget = request.meta.get("max_retry_times", self.max_retry_times)
            request.meta["max_retry_times"] = min(budget, self.unreachable_retries)
            request.meta["give_up_log_level"] = "DEBUG"  # the stop below says it, once
        retry = super().process_exception(request, exception)
        if isinstance(retry, Request):
            self.schedule(retry, None, describe_exception(exception))
        elif first_contact and not request.meta.get("dont_retry", False):
            self.stop_unreachable(request, why)
        return retry

    def stop_unreachable(self, request: Request, why: str) -> None:
        """Stop the run: the host never answered and is still out of reach."""
        netloc = urlsplit(request.url).netloc
        tries = request.meta.get("retry_times", 0) + 1
        names = url_settings(self.crawler.settings, netloc)
        where = " or ".join(names) if names else "the URL"
        attempt = "attempt" if tries == 1 else "attempts"
        stop_crawl(
            self.crawler,
            "unreachable",
            f"Cannot reach {netloc} ({why}; {tries} {attempt}). Network or proxy? "
            f"To work offline, point {where} at an emulator (README, « Émulateurs »)",
        )

    def schedule(
        self, retry: Request, response: Response | None, why: str, attempt: str | None = None
    ) -> None:
        """Set the wait before ``retry`` and say so in one INFO line."""
        wait = retry.meta[WAIT_META] = self.wait_before(retry, response)
        if attempt is None:
            budget = retry.meta.get("max_retry_times", self.max_retry_times)
            attempt = f"{retry.meta.get('retry_times', 1)}/{budget}"
        logger.info(
            "retrying %s in %s s (%s): %s", describe_request(retry), seconds(wait), attempt, why
        )

    def wait_before(self, retry: Request, response: Response | None) -> float:
        hint = retry.meta.pop(HINT_META, None)
        header = None if response is None else response.headers.get(b"Retry-After")
        asked = parse_retry_after(header)
        if asked is None and hint is not None:
            asked = float(hint)
        if asked is not None:
            return min(asked, self.retry_after_max)
        attempt = retry.meta.get("retry_times", 1)
        return min(self.backoff * 2 ** (attempt - 1), self.backoff_max)
