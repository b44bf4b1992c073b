"""Opendatasoft call quota: watch it, and stop cleanly when it is exhausted.

Opendatasoft counts every API call against a daily (sometimes monthly) quota
and says where it stands in ``X-RateLimit-Limit/Remaining/Reset``. Over quota,
it answers 429 with ``{"errorcode": 10002|10005, "reset_time": ..., ...}``.
Retrying such a 429 only burns time until the reset, hours away, so this
middleware stops the run with a one-line message giving the reset time
(``finish_reason = "quota_exceeded"``; the crawl exits non-zero).

A 429 whose reset is close (a per-second or per-minute limiter, or a daily
reset a minute away) is instead left to the retry middleware, with a hint to
wait until the reset (at most ``CPF_QUOTA_MAX_WAIT`` seconds).

Place it after (i.e. with a higher number than) the retry middleware, so it
sees responses first.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import IgnoreRequest, NotConfigured

from cpfft.middlewares.retry import HINT_META
from cpfft.run.state import is_stopping, stop_crawl

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Request, Response

QUOTA_ERRORCODES = (10002, 10005)


def parse_reset(body: dict[str, Any], header: bytes | None) -> float | None:
    """Epoch seconds of the quota reset, from the 429 body or ``X-RateLimit-Reset``."""
    reset_time = body.get("reset_time")
    if isinstance(reset_time, str):
        try:
            when = datetime.fromisoformat(reset_time)
        except ValueError:
            pass
        else:
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            return when.timestamp()
    if header:
        try:
            return float(header.decode("latin-1").strip())
        except ValueError:
            return None
    return None


def describe_wait(seconds: float) -> str:
    minutes = max(0, round(seconds / 60))
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


class OpendatasoftQuotaMiddleware:
    """Listed in the project's settings; on only for the runs that ask for it
    (``CPF_QUOTA_ENABLED``, set by the cpf spider and the probe)."""

    def __init__(self, crawler: Crawler):
        if not crawler.settings.getbool("CPF_QUOTA_ENABLED"):
            raise NotConfigured
        self.crawler = crawler
        self.max_wait = crawler.settings.getfloat("CPF_QUOTA_MAX_WAIT", 120.0)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> OpendatasoftQuotaMiddleware:
        return cls(crawler)

    def process_response(self, request: Request, response: Response) -> Response:
        self._record_headers(response)
        if response.status != 429:
            return response
        if is_stopping(self.crawler):
            raise IgnoreRequest("quota exhausted")
        try:
            body = json.loads(response.body)
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        reset = parse_reset(body, response.headers.get(b"X-RateLimit-Reset"))
        wait = None if reset is None else reset - time.time()
        if body.get("errorcode") in QUOTA_ERRORCODES and (wait is None or wait > self.max_wait):
            self._stop(body, reset)
            raise IgnoreRequest("quota exhausted")
        if wait is not None:
            request.meta[HINT_META] = max(0.5, wait)
        return response

    def _record_headers(self, response: Response) -> None:
        stats = self.crawler.stats
        remaining = response.headers.get(b"X-RateLimit-Remaining")
        limit = response.headers.get(b"X-RateLimit-Limit")
        try:
            if remaining is not None:
                stats.set_value("cpfft/quota/remaining", int(remaining))
            if limit is not None:
                stats.set_value("cpfft/quota/limit", int(limit))
        except ValueError:
            pass

    def _stop(self, body: dict[str, Any], reset: float | None) -> None:
        code = body.get("errorcode")
        error = str(body.get("error") or "").strip()
        limit = body.get("call_limit")
        unit = body.get("limit_time_unit") or "period"
        what = f"errorcode {code}" + (f": {error}" if error else "")
        if limit:
            what += f"; limit {limit} calls per {unit}"
        if reset is None:
            when = "The reset time was not given; try again tomorrow."
        else:
            at = datetime.fromtimestamp(reset, UTC).strftime("%Y-%m-%d %H:%M UTC")
            when = f"It resets at {at} (in {describe_wait(reset - time.time())}); run again then."
            self.crawler.stats.set_value("cpfft/quota/reset_time", at)
        stop_crawl(
            self.crawler,
            "quota_exceeded",
            f"Opendatasoft API quota exhausted ({what}). {when}",
        )
