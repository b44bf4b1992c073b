"""What every cpfft spider shares: arguments validated before the spider exists,
spider-specific downloader middlewares, and one-line descriptions of failures."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any, ClassVar

import scrapy
from scrapy.exceptions import CloseSpider
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from cpfft.errors import first_line
from cpfft.run.start import prepare

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings

#: Signal sent with ``total`` whenever a spider sets :attr:`ApiSpider.progress_total`,
#: i.e. as soon as it knows how many rows the run writes, before it fetches them. A
#: handler that raises CloseSpider stops the run right there (the spider's callback
#: goes no further), e.g. an output that cannot hold that many rows.
rows_expected = object()


class ApiSpider(scrapy.Spider):
    """The run contract: what cpfft's components (RunReport, the feed exporter, the
    exporters, the crawl command) read from a spider. Every hook is declared here with
    its default, so that a component never has to guess with ``getattr``; a spider that
    is not an ApiSpider gets these defaults (see :func:`contract`)."""

    #: The item (one CSV row) this spider yields; its KEY identifies a row.
    item_class: ClassVar[type]
    #: True when the run writes only part of a whole extraction on purpose (offres
    #: ``-a depuis=dernier``): RunReport then leaves ``latest.csv`` on the last whole one.
    partial_output: bool = False
    _progress_total: int | None = None

    @property
    def progress_total(self) -> int | None:
        """Rows this run expects, as the API counts them; None until known."""
        return self._progress_total

    @progress_total.setter
    def progress_total(self, total: int | None) -> None:
        self._progress_total = total
        crawler = getattr(self, "crawler", None)
        if total is None or crawler is None:
            return
        answers = crawler.signals.send_catch_log(
            signal=rows_expected, spider=self, total=total, dont_log=CloseSpider
        )
        for _, answer in answers:
            if isinstance(answer, Failure) and isinstance(answer.value, CloseSpider):
                raise answer.value

    @classmethod
    def check_configuration(
        cls, settings: BaseSettings, arguments: dict[str, Any]
    ) -> dict[str, Any]:
        """Validate settings and spider arguments; return the parsed arguments.

        Raises :class:`~cpfft.params.ConfigurationError` with a one-line message.
        """
        raise NotImplementedError

    @classmethod
    def prepare_run(
        cls, settings: BaseSettings, arguments: dict[str, Any], create: bool
    ) -> tuple[dict[str, Any], Path | None]:
        """Check the configuration, then decide the run's output file and resumption
        (:func:`cpfft.run.start.prepare`): the parsed arguments and the timestamped
        output (None without ``CPFFT_OUTPUT_DIR``). With ``create`` false, only checks,
        as the crawl command does before Scrapy starts; the spider, as it is made, does
        the same with ``create`` true."""
        parsed = cls.check_configuration(settings, arguments)
        label = cls.output_label(settings, parsed)
        return parsed, prepare(settings, cls.name, arguments, parsed, label, create=create)

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> ApiSpider:
        # The output file and the resumption, decided here (Scrapy applies the settings
        # after this method), so that scrapy crawl, scrapyd and CrawlerProcess agree.
        parsed, _ = cls.prepare_run(crawler.settings, kwargs, create=True)
        # Only scrapyd's own arguments (_job…) become attributes; the rest are validated.
        scrapyd = {k: v for k, v in kwargs.items() if k.startswith("_")}
        spider = super().from_crawler(crawler, *args, **scrapyd)
        spider.configure(crawler.settings, parsed)
        return spider

    def configure(self, settings: BaseSettings, args: dict[str, Any]) -> None:
        raise NotImplementedError

    def unfinished_work(self) -> list[str]:
        """What the run still lacks when it ends, one line each (printed as ``missing:``
        and making the run incomplete); [] when nothing is left."""
        return []

    def finish_output(self, csv_path: Path | None) -> list[str]:
        """Called by RunReport once the output file is closed. ``csv_path``: the run's
        file under ``CPFFT_OUTPUT_DIR`` if the run is complete, else None (also with
        ``-O``). Returns summary lines; raises :class:`cpfft.run.output.OutputError` when
        the output cannot be finished (the run is then incomplete)."""
        return []

    def summary_lines(self, outcome: str) -> list[str]:
        """Lines the run summary adds for this spider (``outcome``: complete, incomplete
        or failed), e.g. what was calibrated and checked."""
        return []

    @classmethod
    def output_label(cls, settings: BaseSettings, args: dict[str, Any]) -> str | None:
        """A word added to the name of this run's timestamped output file (see
        cpfft.run.output), decided before the run starts."""
        return None


def contract(spider: object) -> ApiSpider:
    """``spider`` if it is an ApiSpider; else a stand-in with the contract's defaults
    (e.g. a spider of another project run with cpfft's settings)."""
    return spider if isinstance(spider, ApiSpider) else _DEFAULTS


# An instance, not a named subclass: Scrapy's spider loader would list a subclass.
_DEFAULTS = ApiSpider(name="contract defaults")


def log_lines(logger: logging.Logger, lines: Iterable[tuple[int, str]]) -> None:
    """Log a planner's (logging level, line) pairs, in order, under the spider's logger."""
    for level, line in lines:
        logger.log(level, "%s", line)


def describe_failure(failure: Failure, not_found_hint: str = "") -> str:
    """One line for a failed request: HTTP status and the API's own message."""
    exc = failure.value
    if isinstance(exc, HttpError):
        response = exc.response
        try:
            payload = json.loads(response.body)
        except ValueError:
            payload = None
        message = ""
        if isinstance(payload, dict):
            message = str(payload.get("message") or payload.get("error") or "")
        status = f"HTTP {response.status}"
        if response.status == 404 and not_found_hint:
            status += f" ({not_found_hint})"
        return f"{status}: {message}" if message else status
    detail = first_line(exc, "")
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
