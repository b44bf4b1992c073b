"""How components report that a run cannot be complete, and stop it cleanly.

A run is *complete* only if it finished normally (``finish_reason ==
"finished"``) and no component called :func:`mark_incomplete`. The
:class:`~cpfft.extensions.report.RunReport` extension turns this into the
``cpfft/outcome`` stat and the summary; the ``crawl`` command turns it into
the exit code.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import TYPE_CHECKING

from scrapy.utils.defer import deferred_from_coro

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)
_closing: set[asyncio.Future] = set()

INCOMPLETE = "cpfft/incomplete"
STOP_REASON = "cpfft/stop_reason"


def mark_incomplete(crawler: Crawler, what: str) -> None:
    """Record that part of the expected output will be missing, and why (one line)."""
    crawler.stats.inc_value(INCOMPLETE)
    problems = crawler.stats.get_value("cpfft/problems") or []
    if what not in problems and len(problems) < 50:
        crawler.stats.set_value("cpfft/problems", [*problems, what])


def stop_crawl(crawler: Crawler, reason: str, message: str) -> None:
    """Log ``message`` once at ERROR and close the spider with ``reason``.

    Usable from middlewares, where raising CloseSpider has no effect.
    """
    if crawler.stats.get_value(STOP_REASON):
        return
    crawler.stats.set_value(STOP_REASON, reason)
    logger.error(message)
    mark_incomplete(crawler, message)
    coro = crawler.engine.close_spider_async(reason=reason)
    if not inspect.isawaitable(coro):
        return
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        deferred_from_coro(coro)
    else:
        task = asyncio.ensure_future(coro)
        _closing.add(task)
        task.add_done_callback(_closing.discard)


def is_stopping(crawler: Crawler) -> bool:
    return bool(crawler.stats.get_value(STOP_REASON))
