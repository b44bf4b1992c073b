"""How components report that a run cannot be complete, and stop it cleanly.

A run is *complete* only if it finished normally (``finish_reason ==
"finished"``) and no component called :func:`mark_incomplete`. The
:class:`~cpfft.run.report.RunReport` extension turns this into the
``cpfft/outcome`` stat and the summary; the ``crawl`` command turns it into
the exit code.

The summary names as the cause of an incomplete run the message of
:func:`stop_crawl` if a component stopped the run (``cpfft/stop_message``),
else Scrapy's own reason for closing it (Ctrl-C, a ``CLOSESPIDER_*`` limit…),
else the first line given to :func:`mark_incomplete` (``cpfft/problems``).
"""

from __future__ import annotations

import asyncio
import inspect
from typing import TYPE_CHECKING

from scrapy.utils.defer import deferred_from_coro

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

_closing: set[asyncio.Future] = set()

INCOMPLETE = "cpfft/incomplete"
STOP_REASON = "cpfft/stop_reason"
STOP_MESSAGE = "cpfft/stop_message"
PROBLEMS = "cpfft/problems"


def mark_incomplete(crawler: Crawler, what: str) -> None:
    """Record that part of the expected output will be missing, and why (one line)."""
    crawler.stats.inc_value(INCOMPLETE)
    problems = crawler.stats.get_value(PROBLEMS) or []
    if what not in problems and len(problems) < 50:
        crawler.stats.set_value(PROBLEMS, [*problems, what])


def stop_crawl(crawler: Crawler, reason: str, message: str) -> None:
    """Close the spider with ``reason``; ``message`` (one line: what happened, and the
    fix) heads the run's summary, at ERROR, so it is said once, there.

    Usable from middlewares, where raising CloseSpider has no effect.
    """
    if crawler.stats.get_value(STOP_REASON):
        return
    crawler.stats.set_value(STOP_REASON, reason)
    crawler.stats.set_value(STOP_MESSAGE, message)
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
