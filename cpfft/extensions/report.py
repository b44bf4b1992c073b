"""Progress lines during the run, the outcome of the run, and its summary.

- Every ``CPFFT_PROGRESS_INTERVAL`` seconds: rows done / total (the total comes
  from the API, through the spider's ``progress_total`` attribute), percentage,
  rate and ETA.
- When the spider closes: the outcome, stored in the ``cpfft/outcome`` stat —
  ``complete`` only if the run finished normally, every feed was stored and no
  component reported missing data (see :mod:`cpfft.runstate`); otherwise
  ``incomplete`` (some rows written) or ``failed``.
- When the engine stops: a summary at INFO (rows written, duplicates removed,
  rows dropped and why, API calls, retries, elapsed time, output path, and
  what is missing), followed by one ERROR line if the output is not complete.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.extensions.feedexport import FeedExporter  # our subclass is one too
from scrapy.utils.asyncio import create_looping_call

from cpfft.output import LATEST_CHANGES, OutputError, changes_file, publish, set_aside
from cpfft.pipelines import ALREADY_WRITTEN, DROPPED
from cpfft.resume import Journal
from cpfft.runstate import INCOMPLETE, mark_incomplete

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler

logger = logging.getLogger("cpfft.report")

OUTCOME = "cpfft/outcome"
ALREADY_WRITTEN_STAT = DROPPED + ALREADY_WRITTEN


def count(n: float) -> str:
    """1234567 → '1 234 567' (French thousands separator, readable in any log)."""
    return f"{round(n):,}".replace(",", " ")


def duration(seconds: float) -> str:
    return str(timedelta(seconds=round(max(0.0, seconds))))


class RunReport:
    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.interval = crawler.settings.getfloat("CPFFT_PROGRESS_INTERVAL", 10.0)
        self.task: Any = None
        self.started = time.monotonic()
        self.last = (self.started, 0)
        self.feeds_closed = asyncio.Event()
        self.summary: list[str] = []

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RunReport:
        ext = cls(crawler)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(ext.feed_exporter_closed, signal=signals.feed_exporter_closed)
        crawler.signals.connect(ext.engine_stopped, signal=signals.engine_stopped)
        return ext

    # ------------------------------------------------------------ progress

    def done(self) -> int:
        stats = self.crawler.stats
        dropped = sum(v for k, v in stats.get_stats().items() if k.startswith("cpfft/dropped/"))
        return stats.get_value("item_scraped_count", 0) + dropped

    def spider_opened(self, spider: Spider) -> None:
        self.started = time.monotonic()
        self.last = (self.started, 0)
        self.task = create_looping_call(self.log_progress, spider)
        self.task.start(self.interval, now=False)

    def log_progress(self, spider: Spider) -> None:
        now, done = time.monotonic(), self.done()
        then, before = self.last
        self.last = (now, done)
        rate = (done - before) / (now - then) if now > then else 0.0
        total = getattr(spider, "progress_total", None)
        if not total:
            logger.info("progress: %s rows, %s rows/s", count(done), count(rate))
            return
        left = max(0, total - done)
        eta = duration(left / rate) if rate > 0 else "unknown"
        logger.info(
            "progress: %s/%s rows (%.1f %%), %s rows/s, ETA %s",
            count(done),
            count(total),
            100.0 * min(done, total) / total,
            count(rate),
            eta,
        )

    # ------------------------------------------------------------ outcome

    def feed_exporter_closed(self) -> None:
        self.feeds_closed.set()

    async def spider_closed(self, spider: Spider, reason: str) -> None:
        if self.task is not None and self.task.running:
            self.task.stop()
        if self.crawler.get_extension(FeedExporter) is not None:
            # Feeds are stored by another spider_closed handler: wait for the verdict.
            try:
                await asyncio.wait_for(self.feeds_closed.wait(), timeout=600)
            except TimeoutError:
                mark_incomplete(self.crawler, "the output file was not closed in time")
        stats = self.crawler.stats
        for problem in getattr(spider, "unfinished_work", list)():
            mark_incomplete(self.crawler, problem)
        if any(k.startswith("feedexport/failed_count/") for k in stats.get_stats()):
            mark_incomplete(self.crawler, "the output file could not be stored")
        if stats.get_value("spider_exceptions/count", 0):
            mark_incomplete(self.crawler, "a response could not be processed (see the errors)")
        written = stats.get_value("item_scraped_count", 0)
        if reason == "finished" and not stats.get_value(INCOMPLETE):
            outcome = "complete"
        else:
            outcome = "incomplete" if written else "failed"
        outcome, notes = self.file_output(spider, outcome)
        if outcome == "complete":
            journal = Journal.of(self.crawler.settings)
            if journal is not None:
                journal.finish()  # the same JOBDIR now starts a fresh run
        stats.set_value(OUTCOME, outcome)
        self.summary = self.build_summary(spider, reason, outcome) + notes

    def file_output(self, spider: Spider, outcome: str) -> tuple[str, list[str]]:
        """Let the spider finish its output, then, under CPFFT_OUTPUT_DIR, move
        latest.csv to a complete file or set an incomplete one aside.

        Spiders may define ``finish_output(csv_path | None) -> summary lines``
        (``None`` unless the run is complete; raising :class:`OutputError` makes
        it incomplete) and ``partial_output`` (true: the file is not a whole
        extraction, latest.csv stays).
        """
        run_output = self.crawler.settings.get("CPFFT_RUN_OUTPUT")
        path = Path(run_output) if run_output and Path(run_output).exists() else None
        notes: list[str] = []
        finish = getattr(spider, "finish_output", None)
        if finish is not None:
            try:
                notes += finish(path if outcome == "complete" else None)
            except OutputError as exc:
                logger.error("%s", exc)
                mark_incomplete(self.crawler, str(exc))
                outcome = "incomplete"
        if path is None:
            return outcome, notes
        try:
            if outcome != "complete":
                moved = set_aside(path)
                return outcome, [
                    *notes,
                    f"  set aside:          {moved.name} (latest.csv unchanged)",
                ]
            if not getattr(spider, "partial_output", False):
                latest = publish(path)
                notes.append(f"  latest:             {latest} → {path.name}")
            if changes_file(path).exists():
                latest = publish(changes_file(path), LATEST_CHANGES)
                notes.append(f"  latest changes:     {latest} → {changes_file(path).name}")
        except OSError as exc:
            mark_incomplete(self.crawler, f"cannot update latest.csv: {exc.strerror}")
            outcome = "incomplete"
        return outcome, notes

    def build_summary(self, spider: Spider, reason: str, outcome: str) -> list[str]:
        stats = self.crawler.stats
        all_stats = stats.get_stats()
        written = stats.get_value("item_scraped_count", 0)
        total = getattr(spider, "progress_total", None)
        feeds = list(self.crawler.settings.getdict("FEEDS")) or [
            "(no output file: use -O file.csv)"
        ]
        dropped = {
            k.removeprefix("cpfft/dropped/"): v
            for k, v in all_stats.items()
            if k.startswith("cpfft/dropped/")
            and k not in ("cpfft/dropped/duplicate", ALREADY_WRITTEN_STAT)
        }
        blanked = {
            k.removeprefix("cpfft/blanked/"): v
            for k, v in all_stats.items()
            if k.startswith("cpfft/blanked/")
        }
        why = ", ".join(f"{k}: {count(v)}" for k, v in sorted(dropped.items()))
        lines = [
            f"Run summary ({spider.name}): {outcome.upper()} (finish reason: {reason})",
            f"  rows written:       {count(written)}"
            # Never "N of M expected" with N < M under COMPLETE: the spider explains the
            # difference (offers withdrawn during the run) in its own lines.
            + (
                f" of {count(total)} expected"
                if total and not (outcome == "complete" and written < total)
                else ""
            )
            + f" → {', '.join(map(str, feeds))}",
            f"  duplicates removed: {count(stats.get_value('cpfft/dropped/duplicate', 0))}",
            *(
                [f"  already in file:    {count(before)} rows kept from the interrupted run"]
                if (before := stats.get_value(ALREADY_WRITTEN_STAT, 0))
                else []
            ),
            f"  rows dropped:       {count(sum(dropped.values()))}" + (f" ({why})" if why else ""),
        ]
        if blanked:
            cells = ", ".join(f"{k}: {count(v)}" for k, v in sorted(blanked.items()))
            lines.append(f"  cells emptied:      {cells} (not a number)")
        calls = count(stats.get_value("downloader/request_count", 0))
        retries = f"{count(stats.get_value('retry/count', 0))} retries"
        refetched = stats.get_value("cpfft/partition_retries", 0)
        if refetched:
            retries += f", {count(refetched)} partitions fetched again"
        lines += [
            f"  API calls:          {calls} ({retries})",
            *self.rate_lines(all_stats),
            *getattr(spider, "summary_lines", lambda outcome: [])(outcome),
            f"  elapsed:            {duration(time.monotonic() - self.started)}",
        ]
        lines += [f"  missing:            {p}" for p in stats.get_value("cpfft/problems") or []]
        return lines

    @staticmethod
    def rate_lines(stats: dict[str, Any]) -> list[str]:
        """The pace each rate-capped slot settled on (cpfft.middlewares.pace)."""
        lines = []
        for key in sorted(k for k in stats if k.startswith("cpfft/rate/") and k.endswith("/cap")):
            slot = key.removeprefix("cpfft/rate/").removesuffix("/cap")
            limited = stats.get(f"cpfft/rate/{slot}/429", 0)
            line = (
                f"  rate:               {stats.get(f'cpfft/rate/{slot}/settled')} req/s sustained"
                f" (cap {stats[key]:g})"
            )
            if limited:
                held = stats.get(f"cpfft/rate/{slot}/held_seconds", 0)
                line += f": {limited} × 429, every request held {held:.1f} s in all"
                if stats.get(f"cpfft/rate/{slot}/lowered"):
                    line += "; set FT_MAX_RPS to the sustained rate to avoid them"
                else:
                    line += " (the limiter had calls left: not this run's pace)"
            lines.append(line)
        return lines

    def engine_stopped(self) -> None:
        if not self.summary:
            return
        logger.info("\n".join(self.summary))
        outcome = self.crawler.stats.get_value(OUTCOME)
        if outcome != "complete":
            logger.error(
                "The output is %s: see 'missing' in the summary above (exit code 1)",
                outcome.upper(),
            )
