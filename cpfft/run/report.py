"""A quiet log, progress lines during the run, the outcome of the run, and its summary.

- Before the crawl (:func:`quiet_scrapy_logs`, called by the ``crawl``
  command): Scrapy's start-up banner (versions, components, overridden
  settings) and its stats dump go to DEBUG; one banner line says what runs.
- Every ``CPFFT_PROGRESS_INTERVAL`` seconds: rows done / total (the total comes
  from the API, through the spider's ``progress_total`` attribute), percentage,
  rate and ETA.
- When the spider closes: the outcome, stored in the ``cpfft/outcome`` stat —
  ``complete`` only if the run finished normally, every feed was stored and no
  component reported missing data (see :mod:`cpfft.run.state`); otherwise
  ``incomplete`` (some rows written) or ``failed``.
- When the engine stops: a summary (rows in the output file, duplicates
  removed, rows dropped and why, API calls, retries, elapsed time, and what is
  missing), at INFO when the run is complete, else at ERROR — headed by the
  cause — and followed by one ERROR line. A run that failed before its first row
  gets two lines instead: the cause, then what it did and its exit code (a third
  names anything else missing).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import platform
import time
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import scrapy
from scrapy import signals
from scrapy.extensions.feedexport import FeedExporter  # our subclass is one too
from scrapy.utils.asyncio import create_looping_call

from cpfft import __version__
from cpfft.datapackage import descriptor_name
from cpfft.pipelines import ALREADY_WRITTEN, DROPPED
from cpfft.run.contract import contract
from cpfft.run.feeds import WRITE_FAILED, promote_outputs, write_descriptors, write_failed
from cpfft.run.output import (
    LATEST_CHANGES,
    LATEST_DESCRIPTOR,
    OutputError,
    changes_file,
    publish,
    set_aside,
)
from cpfft.run.resume import Journal, count_rows
from cpfft.run.state import INCOMPLETE, PROBLEMS, STOP_MESSAGE, mark_incomplete

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler

logger = logging.getLogger("cpfft.report")

OUTCOME = "cpfft/outcome"
#: What the offers' coordinates check did (cpfft.offres.place), per verdict.
COORDINATES = "cpfft/coordinates/"
ALREADY_WRITTEN_STAT = DROPPED + ALREADY_WRITTEN
#: Cells the CSV exporter prefixed with ' so that a spreadsheet shows them as text.
FORMULA_GUARDED = "cpfft/csv/formula_guarded"
#: Why a run is not complete, in one line (the summary's headline cause).
CAUSE = "cpfft/cause"
#: Data rows in the output file at the end: this run's, plus a resumed run's earlier ones.
ROWS_IN_OUTPUT = "cpfft/rows_in_output"
#: Why a run ends early when no component said (finish reasons set by Scrapy).
FINISH_REASONS = {
    "shutdown": "interrupted (Ctrl-C or a termination signal) before the end",
    "closespider_timeout": "stopped by CLOSESPIDER_TIMEOUT before the end",
    "closespider_itemcount": "stopped by CLOSESPIDER_ITEMCOUNT before the end",
    "closespider_pagecount": "stopped by CLOSESPIDER_PAGECOUNT before the end",
    "closespider_errorcount": "stopped by CLOSESPIDER_ERRORCOUNT before the end",
    "memusage_exceeded": "stopped: MEMUSAGE_LIMIT_MB exceeded",
}


class DemoteToDebug(logging.Filter):
    """Log the INFO records of one logger whose message starts with one of
    ``prefixes`` at DEBUG: shown with ``-L DEBUG``, hidden at the default INFO
    (the handler's level is checked after the logger's filters)."""

    def __init__(self, prefixes: tuple[str, ...]):
        super().__init__()
        self.prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        if (
            record.levelno == logging.INFO
            and isinstance(record.msg, str)
            and record.msg.startswith(self.prefixes)
        ):
            record.levelno, record.levelname = logging.DEBUG, logging.getLevelName(logging.DEBUG)
        return True


class ScrapyBanner(DemoteToDebug):
    #: Scrapy's start-up and shutdown lines that say nothing about the run: its
    #: banner (versions, add-ons, components, overridden settings — with the whole
    #: FEED_EXPORT_FIELDS list), the spider opened/closed lines, the stats dump.
    LINES: ClassVar[dict[str, tuple[str, ...]]] = {
        "scrapy.utils.log": ("Scrapy %(version)s started", "Versions:"),
        "scrapy.addons": ("Enabled addons:",),
        "scrapy.middleware": ("Enabled %(componentname)ss:",),
        "scrapy.crawler": ("Overridden settings:",),
        "scrapy.core.engine": ("Spider opened", "Spider closed ("),
        "scrapy.statscollectors": ("Dumping Scrapy stats:",),
    }


def quiet_scrapy_logs() -> None:
    """Move Scrapy's banner and stats dump to DEBUG (idempotent).

    Call it before the crawler process exists: the banner is logged when it is
    created. RunReport logs a one-line banner of its own when the crawl starts.
    """
    for name, prefixes in ScrapyBanner.LINES.items():
        target = logging.getLogger(name)
        if not any(isinstance(f, ScrapyBanner) for f in target.filters):
            target.addFilter(ScrapyBanner(prefixes))


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
        self.rows_before = 0  # rows an interrupted run left in the output (resumed run)
        self.kept: list[str] = []  # an incomplete run's working files (X.incomplete.csv)
        self.short = False  # a run that failed before its first row: a two-line summary

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RunReport:
        quiet_scrapy_logs()  # already done by the crawl command, before Scrapy's banner
        ext = cls(crawler)
        ext.log_banner()  # extensions are built when the crawl starts
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

    def log_banner(self) -> None:
        """What runs, in one line (Scrapy's own banner is at DEBUG)."""
        feeds = ", ".join(map(str, self.crawler.settings.getdict("FEEDS"))) or "no output file"
        logger.info(
            "cpfft %s (Scrapy %s, Python %s): crawl %s → %s",
            __version__,
            scrapy.__version__,
            platform.python_version(),
            self.crawler.spidercls.name,
            feeds,
        )

    def spider_opened(self, spider: Spider) -> None:
        resumed = self.crawler.settings.get("CPFFT_RESUME_FROM")
        if resumed and Path(resumed).is_file():
            # Before any row of this run is appended to it.
            self.rows_before = count_rows(Path(resumed))
        self.started = time.monotonic()
        self.last = (self.started, 0)
        self.task = create_looping_call(self.log_progress, spider)
        self.task.start(self.interval, now=False)

    def log_progress(self, spider: Spider) -> None:
        now, done = time.monotonic(), self.done()
        then, before = self.last
        self.last = (now, done)
        rate = (done - before) / (now - then) if now > then else 0.0
        total = contract(spider).progress_total
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
        for problem in contract(spider).unfinished_work():
            mark_incomplete(self.crawler, problem)
        if any(k.startswith("feedexport/failed_count/") for k in stats.get_stats()):
            mark_incomplete(self.crawler, "the output file could not be stored")
        if stats.get_value("spider_exceptions/count", 0):
            mark_incomplete(self.crawler, "a response could not be processed (see the errors)")
        written = stats.get_value("item_scraped_count", 0)
        if reason == "finished" and not stats.get_value(INCOMPLETE):
            outcome = "complete"
        else:  # an output that cannot be written is a failure, whatever was fetched
            outcome = "incomplete" if written and not stats.get_value(WRITE_FAILED) else "failed"
        outcome, notes = self.file_output(spider, outcome)
        if outcome == "complete":
            journal = Journal.of(self.crawler.settings)
            if journal is not None:
                journal.finish()  # the same JOBDIR now starts a fresh run
        stats.set_value(OUTCOME, outcome)
        if outcome != "complete":
            stats.set_value(CAUSE, self.cause(reason))
        if outcome == "failed" and not self.done() and not self.rows_before:
            self.short = True  # nothing fetched: the cause is all there is to say
            self.summary = self.short_summary(spider, reason) + notes
            return
        self.summary = self.build_summary(spider, reason, outcome) + notes
        if outcome != "complete" and not stats.get_value(PROBLEMS):
            # Stopped early with no component saying what is missing: the reason is.
            self.summary.append(f"  missing:            {self.cause(reason)}")

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
        try:
            notes += contract(spider).finish_output(path if outcome == "complete" else None)
        except OutputError as exc:
            logger.error("%s", exc)
            mark_incomplete(self.crawler, str(exc))
            outcome = "incomplete"
        try:
            kept = promote_outputs(self.crawler, outcome == "complete")
        except OSError as exc:
            write_failed(self.crawler, "the output", exc, closing=True)
            outcome, kept = "failed", []
        outcome = self.describe_outputs(spider, outcome, notes)
        self.kept = [working.name for working, _ in kept]
        notes += [
            f"  kept:               {working.name} ({output.name} unchanged)"
            for working, output in kept
        ]
        if kept:
            notes.append(self.resume_line())
        if path is None:
            return outcome, notes
        try:
            if outcome != "complete":
                moved = set_aside(path)
                return outcome, [
                    *notes,
                    f"  set aside:          {moved.name} (latest.csv unchanged)",
                ]
            if not contract(spider).partial_output:
                latest = publish(path)
                notes.append(f"  latest:             {latest} → {path.name}")
                descriptor = path.with_name(descriptor_name(path.name))
                if descriptor.exists():
                    publish(descriptor, LATEST_DESCRIPTOR)
            if changes_file(path).exists():
                latest = publish(changes_file(path), LATEST_CHANGES)
                notes.append(f"  latest changes:     {latest} → {changes_file(path).name}")
        except OSError as exc:
            mark_incomplete(self.crawler, f"cannot update latest.csv: {exc.strerror}")
            outcome = "incomplete"
        return outcome, notes

    def resume_line(self) -> str:
        """How to get the rows an incomplete run did not fetch without fetching the rest again."""
        if self.crawler.settings.get("JOBDIR"):
            return "  resume:             run the same command again: JOBDIR keeps its place"
        return (
            "  resume:             run again with -s JOBDIR=<folder> to be able to resume "
            "after a stop (this run had none; see README, « Interruption et reprise »)"
        )

    def describe_outputs(self, spider: Spider, outcome: str, notes: list[str]) -> str:
        """Write the data-package descriptor beside each output of a complete run (beside an
        incomplete run's kept rows, one that says incomplete); the outcome after that."""
        try:
            notes += write_descriptors(
                self.crawler, spider, outcome == "complete", self.rows_before
            )
        except OSError as exc:
            mark_incomplete(self.crawler, f"cannot write the output's descriptor: {exc}")
            outcome = "incomplete"
            with contextlib.suppress(OSError):  # no descriptor rather than a wrong one
                write_descriptors(self.crawler, spider, False)
        return outcome

    def cause(self, reason: str) -> str:
        """Why the run is not complete, in one line: what stopped it (a component, or
        Scrapy: Ctrl-C, a CLOSESPIDER_* limit…), else the first thing reported missing."""
        stats = self.crawler.stats
        if stats.get_value(STOP_MESSAGE):
            return str(stats.get_value(STOP_MESSAGE))
        if reason in FINISH_REASONS:
            return FINISH_REASONS[reason]
        problems = stats.get_value(PROBLEMS) or []
        if problems:
            return str(problems[0])
        if reason != "finished":
            return f"stopped before the end ({reason})"
        return "see the errors above"

    def headline(self, spider: Spider, reason: str, outcome: str) -> str:
        line = f"Run summary ({spider.name}): {outcome.upper()}"
        if outcome == "complete":
            return f"{line} (finish reason: {reason})"
        if reason != "finished":
            line += f" (finish reason: {reason})"
        why = self.cause(reason)
        others = [p for p in self.crawler.stats.get_value(PROBLEMS) or [] if p != why]
        return f"{line}: {why}" + (f" (+{len(others)} more under 'missing')" if others else "")

    def rows_line(self, spider: Spider, outcome: str) -> str:
        """Rows in the output file, and whether this run touched it at all."""
        stats = self.crawler.stats
        all_stats = stats.get_stats()
        written = stats.get_value("item_scraped_count", 0)
        feeds = ", ".join(map(str, self.crawler.settings.getdict("FEEDS")))
        if not feeds:
            return f"  rows written:       {count(written)} (no output file: use -O file.csv)"
        if self.kept and outcome != "complete":
            feeds = ", ".join(self.kept)  # the rows are there; the outputs are unchanged
        stored = any(k.startswith("feedexport/success_count/") for k in all_stats)
        failed = any(k.startswith("feedexport/failed_count/") for k in all_stats)
        before = self.rows_before
        if stats.get_value(WRITE_FAILED):
            stats.set_value(ROWS_IN_OUTPUT, 0)
            return f"  rows written:       none usable ({feeds} could not be written)"
        if not stored and not failed:  # the feed exporter left the file as it was
            stats.set_value(ROWS_IN_OUTPUT, before)
            if before:
                resumed = Path(self.crawler.settings.get("CPFFT_RESUME_FROM") or feeds).name
                return (
                    f"  rows written:       none by this run ({resumed} unchanged: "
                    f"{count(before)} rows from the interrupted run)"
                )
            return f"  rows written:       0 ({feeds} left untouched)"
        in_file = before + written
        stats.set_value(ROWS_IN_OUTPUT, in_file)
        total = contract(spider).progress_total
        line = f"  rows written:       {count(in_file)}"
        # Never "N of M expected" with N < M under COMPLETE: the spider explains the
        # difference (offers withdrawn during the run) in its own lines.
        if total and not (outcome == "complete" and in_file < total):
            line += f" of {count(total)} expected"
        line += f" → {feeds}"
        if before:
            line += f" ({count(before)} by the interrupted run, {count(written)} by this one)"
        if failed:
            line += " (storing it failed)"
        return line

    def build_summary(self, spider: Spider, reason: str, outcome: str) -> list[str]:
        stats = self.crawler.stats
        all_stats = stats.get_stats()
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
            self.headline(spider, reason, outcome),
            self.rows_line(spider, outcome),
            f"  duplicates removed: {count(stats.get_value('cpfft/dropped/duplicate', 0))}",
            f"  rows dropped:       {count(sum(dropped.values()))}" + (f" ({why})" if why else ""),
        ]
        if blanked:
            cells = ", ".join(f"{k}: {count(v)}" for k, v in sorted(blanked.items()))
            lines.append(f"  cells emptied:      {cells} (not a value of the column's type)")
        swapped = stats.get_value(COORDINATES + "swapped", 0)
        emptied = stats.get_value(COORDINATES + "emptied", 0)
        if swapped or emptied:
            lines.append(
                f"  coordinates:        {count(swapped)} latitude/longitude pairs swapped back, "
                f"{count(emptied)} emptied (outside the offer's département either way)"
            )
        guarded = stats.get_value(FORMULA_GUARDED, 0)
        if guarded:
            lines.append(
                f"  formula guard:      {count(guarded)} cells prefixed with ' (CSV only; see README)"
            )
        calls = count(stats.get_value("downloader/request_count", 0))
        retries = f"{count(stats.get_value('retry/count', 0))} retries"
        refetched = stats.get_value("cpfft/partition_retries", 0)
        if refetched:
            retries += f", {count(refetched)} partitions fetched again"
        renewed = stats.get_value("cpfft/oauth/401_retries", 0)
        if renewed:
            retries += f", {count(renewed)} sent again with a new token after a 401"
        lines += [
            f"  API calls:          {calls} ({retries})",
            *self.rate_lines(all_stats),
            *contract(spider).summary_lines(outcome),
            f"  elapsed:            {duration(time.monotonic() - self.started)}",
        ]
        lines += [f"  missing:            {p}" for p in stats.get_value(PROBLEMS) or []]
        return lines

    def short_summary(self, spider: Spider, reason: str) -> list[str]:
        """A run that failed before its first row: its cause, then what it did, then (a third
        line) anything else reported missing."""
        stats = self.crawler.stats
        stats.set_value(ROWS_IN_OUTPUT, 0)
        feeds = ", ".join(map(str, self.crawler.settings.getdict("FEEDS")))
        calls = stats.get_value("downloader/request_count", 0)
        retries = stats.get_value("retry/count", 0)
        plural = "ies" if retries != 1 else "y"
        if self.crawler.settings.get("CPFFT_RUN_OUTPUT"):  # a new name: nothing to leave
            where = "no file written (latest.csv unchanged)"
        else:
            where = f"{feeds} left untouched" if feeds else "no output file"
        done = [
            where,
            f"{count(calls)} API call{'s' if calls != 1 else ''} ({count(retries)} retr{plural})",
            f"elapsed {duration(time.monotonic() - self.started)}",
            "exit code 1",
        ]
        cause = self.cause(reason)
        lines = [f"Run summary ({spider.name}): FAILED: {cause}", f"  {'; '.join(done)}"]
        others = [p for p in stats.get_value(PROBLEMS) or [] if p != cause]
        if others:
            lines.append(f"  also missing: {'; '.join(others)}")
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
        outcome = self.crawler.stats.get_value(OUTCOME)
        # At the level of the outcome: an incomplete run's summary shows under -L WARNING.
        logger.log(
            logging.INFO if outcome == "complete" else logging.ERROR, "\n".join(self.summary)
        )
        if outcome != "complete" and not self.short:  # a short summary says it itself
            logger.error(
                "The output is %s: see 'missing' in the summary above (exit code 1)",
                outcome.upper(),
            )
