"""``scrapy crawl offres -a motsCles=python -a region=11 -O offres.csv``: every matching offer.

The spider only turns decisions into requests and pages into rows. The run's stages
(page 0 of the whole query, the calibration, the cursor that splits the query into
creation-date windows and checks each against the API's counts) are decided in
:mod:`cpfft.offres.plan`; the query's state between runs (what changed, ``-a
depuis=dernier``) is kept by :mod:`cpfft.offres.incremental`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlencode

import scrapy
from scrapy import signals
from scrapy.exceptions import DontCloseSpider

from cpfft.config import check_base_url
from cpfft.items import OFFRE_HEADERS, Offre
from cpfft.middlewares.pace import rated_slot
from cpfft.middlewares.retry import JSON_META, response_json
from cpfft.offres.bounds import utc_text
from cpfft.offres.calibration import Probe
from cpfft.offres.checks import check_overlap, check_run
from cpfft.offres.cursor import Fetch
from cpfft.offres.incremental import QueryState, StateError
from cpfft.offres.plan import Answer, Page, Plan, depuis_start, sort_warning, start_t0
from cpfft.offres.search import api_query, offre_from_api, read_page
from cpfft.offres.summary import change_stats, changes_lines, summary_lines
from cpfft.run.contract import ApiSpider, describe_failure, log_lines
from cpfft.run.output import changes_file, query_folder, run_folder
from cpfft.run.report import COORDINATES, ROWS_IN_OUTPUT
from cpfft.run.resume import Journal
from cpfft.run.rows import Rows
from cpfft.run.state import is_stopping, mark_incomplete

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.settings import BaseSettings
    from twisted.python.failure import Failure

logger = logging.getLogger(__name__)

SEARCH_PATH = "/partenaire/offresdemploi/v2/offres/search"


class OffresSpider(ApiSpider):
    name = "offres"
    item_class = Offre
    custom_settings: ClassVar[dict[str, Any]] = {
        "FEED_EXPORT_FIELDS": OFFRE_HEADERS,
        "FT_OAUTH_ENABLED": True,
    }

    # ------------------------------------------------------------ configuration

    @classmethod
    def check_configuration(cls, settings: BaseSettings, arguments: dict[str, Any]) -> dict:
        return check_run(settings, arguments)

    @classmethod
    def output_label(cls, settings: BaseSettings, args: dict[str, Any]) -> str | None:
        """``depuis`` for an incremental run: ``-a depuis=dernier`` after a complete run of
        the query. Without one, the run extracts the whole query: it is named, and becomes
        ``latest.csv``, like any whole extraction."""
        if not args["depuis"]:
            return None
        folder = run_folder(settings, cls.name, query_folder(args))
        if folder is None:
            return None  # -O: the user names the file
        state = QueryState(folder, check_base_url(settings, "FT_API_URL"), dict(api_query(args)))
        return "depuis" if state.has_complete_run() else None

    def configure(self, settings: BaseSettings, args: dict[str, Any]) -> None:
        self.slot = rated_slot(settings)
        self.args = args
        api = check_base_url(settings, "FT_API_URL")
        self.search_url = api + SEARCH_PATH
        self.plan = Plan.of(args, settings.get("FT_OLDEST_CREATION"))
        self.progress_total: int | None = None
        self.query_state = QueryState.of_run(settings.get("CPFFT_RUN_OUTPUT"), api, args)
        self.overlap = check_overlap(settings)
        self.partial_output = False  # read by RunReport: latest.csv stays on a whole extraction

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> OffresSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.on_idle, signal=signals.spider_idle)
        return spider

    # ------------------------------------------------------------ start

    async def start(self) -> AsyncIterator[scrapy.Request]:
        now = int(datetime.now(UTC).timestamp())
        warning = sort_warning(self.args["sort"])
        if warning:
            logger.warning("%s", warning)
        journal = Journal.of(self.crawler.settings)
        t0, self.plan.t0 = start_t0(now, journal.get("t0") if journal is not None else None)
        if journal is not None:
            journal.set("t0", t0)
        if self.query_state is not None:
            try:
                self.open_state()
            except StateError as exc:
                logger.error("%s", exc)
                mark_incomplete(self.crawler, str(exc))
                self.query_state = None
                return
        yield self.fetch(self.plan.first())

    def open_state(self) -> None:
        """Take the query's state; with -a depuis=dernier, where the window starts."""
        state = self.query_state
        assert state is not None
        state.open()
        self.crawler.signals.connect(state.record, signal=signals.item_scraped)
        resumed = self.crawler.settings.get("CPFFT_RESUME_FROM")
        if resumed:  # the rows the interrupted attempt wrote are part of this run too
            state.record_file(Path(resumed), self.crawler.settings.get("CPFFT_CSV_DELIMITER", ","))
        if not self.args["depuis"]:
            return
        self.plan.since, level, message = depuis_start(state.last_t0, self.overlap)
        self.partial_output = self.plan.incremental
        logger.log(level, "%s", message)

    def fetch(self, fetch: Fetch | Probe) -> scrapy.Request:
        calibrating = isinstance(fetch, Probe)
        return scrapy.Request(
            f"{self.search_url}?{urlencode(self.plan.params(fetch))}",
            callback=self.parse_answer,
            errback=self.on_error,
            headers={"Accept": "application/json"},
            meta={
                "fetch": fetch,
                "download_slot": self.slot,
                "handle_httpstatus_list": [400],
                JSON_META: True,
            },
            priority=100 if calibrating else fetch.priority,
            dont_filter=True,
        )

    # ------------------------------------------------------------ responses

    def read(self, response: Response) -> Page:
        data: Any = {}
        if response.status != 204 and response.body:
            try:
                data = response_json(response)
            except ValueError:
                return Page(response.status, 0, [], [], "the answer is not JSON")
        found = read_page(response.status, data, response.headers.get(b"Content-Range"))
        return Page(response.status, *found)

    def parse_answer(self, response: Response) -> Iterator[Rows | scrapy.Request]:
        yield from self.carry(self.plan.answered(response.meta["fetch"], self.read(response)))

    def on_error(self, failure: Failure) -> Iterator[Rows | scrapy.Request]:
        fetch = failure.request.meta["fetch"]
        stopping = is_stopping(self.crawler)
        yield from self.carry(self.plan.failed(fetch, describe_failure(failure), stopping))

    def carry(self, answer: Answer) -> Iterator[Rows | scrapy.Request]:
        """Do what the plan says after an answer (see :class:`cpfft.offres.plan.Answer`)."""
        if answer.total is not None:
            self.progress_total = answer.total
        for name, value in answer.stats.items():
            self.crawler.stats.set_value(name, value)
        log_lines(logger, answer.lines)
        if answer.failure is not None:
            mark_incomplete(self.crawler, answer.failure)
        yield from self.offers(answer.offers)
        for fetch in answer.fetches:
            yield self.fetch(fetch)
        for note in answer.notes:
            logger.info("%s", note)

    def offers(self, rows: list[dict[str, Any]]) -> Iterator[Rows]:
        """A page's offers, as one batch of rows (see :mod:`cpfft.run.rows`)."""
        known = self.already_known if self.plan.incremental else None
        tally: Counter[str] = Counter()
        batch = [offre_from_api(data, tally) for data in self.plan.keep(rows, known)]
        for verdict, number in tally.items():
            self.crawler.stats.inc_value(COORDINATES + verdict, number)
        if batch:
            yield Rows(batch)

    def already_known(self, offer_id: str, updated: str | None) -> bool:
        """An offer of the overlap the query's state holds as it is: counted, not written."""
        assert self.query_state is not None
        if not self.query_state.unchanged(offer_id, updated):
            return False
        self.crawler.stats.inc_value("cpfft/offers_already_known")
        return True

    def on_idle(self) -> None:
        """Checks still waiting for a count: ask for it before the spider closes."""
        planner = self.plan.planner
        if planner is None or is_stopping(self.crawler):
            return
        pending = planner.pending()
        for fetch in pending:
            self.crawler.engine.crawl(self.fetch(fetch))
        if pending:
            raise DontCloseSpider

    # ------------------------------------------------------------ end of run

    def finish_output(self, csv_path: Path | None) -> list[str]:
        """Called by RunReport: commit the query's state if the run is complete."""
        state, self.query_state = self.query_state, None
        if state is None:
            return []
        if csv_path is None:
            state.close()  # incomplete: the next run compares with the same snapshot
            return []
        delimiter = self.crawler.settings.get("CPFFT_CSV_DELIMITER", ",")
        changes = state.commit(csv_path, utc_text(self.plan.t0), self.plan.incremental, delimiter)
        for name, value in change_stats(changes).items():
            self.crawler.stats.set_value(name, value)
        known = self.crawler.stats.get_value("cpfft/offers_already_known")
        return changes_lines(changes, changes_file(csv_path).name, known)

    def summary_lines(self, outcome: str) -> list[str]:
        """The calibration and the checks, for the run summary."""
        stats = self.crawler.stats
        # Rows in the file (a resumed run's earlier rows included; set by RunReport before
        # it asks for these lines), plus the overlap's offers deliberately not written again.
        written = stats.get_value(ROWS_IN_OUTPUT, stats.get_value("item_scraped_count", 0))
        written += stats.get_value("cpfft/offers_already_known", 0)
        accounts = None if self.plan.planner is None else self.plan.planner.accounts
        sample = self.plan.max_offers is not None
        return summary_lines(
            self.plan.calibration, accounts, outcome, self.progress_total, written, sample
        )

    def unfinished_work(self) -> list[str]:
        return self.plan.unfinished()
