"""``scrapy crawl offres -a motsCles=python -a region=11 -O offres.csv``: every matching offer.

The spider only turns decisions into requests; the decisions live in pure modules:

1. Page 0 of the whole query, newest first. If it holds every offer (≤ 150), done.
2. Otherwise the **calibration** (:mod:`cpfft.offres.calibration`, a handful of
   calls on the national query) measures how the API reads creation-date bounds
   (zone, inclusive or exclusive upper bound, precision) and the window cap.
3. The **cursor** (:mod:`cpfft.offres.cursor`) splits the query into creation-date
   windows the API can page through, newest first, from ``t0`` (fixed at the
   start: offers published during the crawl shift nothing), and checks every window
   against the API's own counts. The run is COMPLETE only if every check passes;
   otherwise the summary says how many offers are missing and between which dates.

Under ``CPFFT_OUTPUT_DIR`` each query keeps a state (:mod:`cpfft.offres.incremental`):
a complete run writes what changed since the previous one, and
``-a depuis=dernier`` starts the creation-date window at the previous complete
run's ``t0`` (minus ``FT_INCREMENTAL_OVERLAP`` seconds, for offers indexed
late), skipping the offers of the overlap that the state already holds.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlencode

import scrapy
from scrapy import signals
from scrapy.exceptions import DontCloseSpider

from cpfft.cleaning import clean_date
from cpfft.config import SETTINGS_BY_NAME, check_base_url, shown_setting
from cpfft.errors import ConfigurationError
from cpfft.items import OFFRE_HEADERS, Offre
from cpfft.middlewares.retry import JSON_META, response_json
from cpfft.offres.bounds import Reading, parse_created, utc_text
from cpfft.offres.calibration import Calibration, Probe, Seen, cap_from_message
from cpfft.offres.credentials import load_credentials
from cpfft.offres.cursor import TOP, WINDOW, CursorPlanner, Fetch
from cpfft.offres.incremental import QueryState, StateError
from cpfft.offres.search import (
    SEARCH_PARAMS,
    api_query,
    check_combinations,
    offre_from_api,
    parse_api_date,
    parse_content_range,
)
from cpfft.params import integer, parse_arguments
from cpfft.run.contract import ApiSpider, describe_failure
from cpfft.run.output import changes_file, output_dir
from cpfft.run.report import ROWS_IN_OUTPUT
from cpfft.run.resume import Journal
from cpfft.run.state import is_stopping, mark_incomplete

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.settings import BaseSettings
    from twisted.python.failure import Failure

logger = logging.getLogger(__name__)

SEARCH_PATH = "/partenaire/offresdemploi/v2/offres/search"
OAUTH = "cpfft.offres.oauth.OAuth2TokenMiddleware"
OAUTH_ENDPOINT_DEFAULT = (
    "https://entreprise.francetravail.fr/connexion/oauth2/access_token?realm=/partenaire"
)
WHOLE_FIRST = Fetch(TOP, 0, WINDOW - 1, 100, "first")  # page 0 of the whole query


def check_rate(settings: BaseSettings) -> float:
    raw = settings.get("FT_MAX_RPS")
    try:
        rate = float(raw)
    except (TypeError, ValueError, OverflowError):
        rate = -1.0
    if not 0 < rate <= 100:
        raise ConfigurationError(
            f"setting FT_MAX_RPS={shown_setting(raw)} must be a number of requests per second, "
            "0 < x ≤ 100"
        )
    return rate


def check_overlap(settings: BaseSettings) -> int:
    raw = str(settings.get("FT_INCREMENTAL_OVERLAP", "3600"))
    try:
        return integer(0, 7 * 86_400)(raw.strip())
    except ValueError as exc:
        raise ConfigurationError(f"setting FT_INCREMENTAL_OVERLAP (seconds): {exc}") from None


#: Arguments that cannot go with -a depuis=dernier, and why.
NOT_WITH_DEPUIS = {
    "minCreationDate": "it sets the creation-date window itself",
    "maxCreationDate": "it sets the creation-date window itself",
    "publieeDepuis": "it sets the creation-date window itself",
    "max_offers": "a run cut short cannot be the reference of the next one",
}


def check_incremental(settings: BaseSettings, args: dict[str, Any]) -> None:
    check_overlap(settings)
    if not args["depuis"]:
        return
    for name, why in NOT_WITH_DEPUIS.items():
        if args[name] is not None:
            raise ConfigurationError(f"argument -a depuis: cannot go with -a {name}: {why}")
    if output_dir(settings) is None:
        raise ConfigurationError(
            "argument -a depuis: needs CPFFT_OUTPUT_DIR (an absolute directory), where the "
            "state of each query is kept between runs"
        )
    if settings.getdict("FEEDS") and not settings.get("CPFFT_RUN_OUTPUT"):
        raise ConfigurationError(
            "argument -a depuis: writes timestamped files under CPFFT_OUTPUT_DIR; drop -O/-o"
        )


def stamps(offers: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """(id, creation ms) of each offer, in the API's order. An offer without a usable
    date is left out: if that loses it, the checks report it as missing."""
    out = []
    for offer in offers:
        try:
            out.append((str(offer["id"]), parse_created(offer["dateCreation"])))
        except (KeyError, TypeError, ValueError):
            continue
    return out


class OffresSpider(ApiSpider):
    name = "offres"
    middlewares: ClassVar[dict[str, int]] = {OAUTH: 650}
    item_class = Offre
    custom_settings: ClassVar[dict[str, Any]] = {
        "FEED_EXPORT_FIELDS": OFFRE_HEADERS,
        "FT_OAUTH_ENABLED": True,
    }

    # ------------------------------------------------------------ configuration

    @classmethod
    def check_configuration(cls, settings: BaseSettings, arguments: dict[str, Any]) -> dict:
        for name in ("FT_API_URL", "FT_TOKEN_URL", "FT_SCOPE", "FT_MAX_RPS", "FT_OLDEST_CREATION"):
            SETTINGS_BY_NAME[name].check(settings, name)  # the settings table's own check
        args = parse_arguments(SEARCH_PARAMS, arguments)
        problem = check_combinations(args)
        if problem:
            raise ConfigurationError(problem)
        check_incremental(settings, args)
        load_credentials()
        return args

    @classmethod
    def output_label(cls, args: dict[str, Any]) -> str | None:
        return "depuis" if args["depuis"] else None

    def configure(self, settings: BaseSettings, args: dict[str, Any]) -> None:
        slot = settings.get("FT_DOWNLOAD_SLOT", "francetravail")
        # One slot for the token host and the API host: the quota is per application and
        # counts token calls. Its pace (FT_MAX_RPS, and the holds after a 429) is kept by
        # cpfft.middlewares.pace; concurrency only has to cover the latency at that rate.
        # (Settings are not frozen yet while spiders are made.)
        slots = settings.getdict("DOWNLOAD_SLOTS")
        slots[slot] = {"delay": 0, "concurrency": 32, "jitter": 0}
        settings.set("DOWNLOAD_SLOTS", slots, priority="spider")
        self.slot = slot
        self.args = args
        self.search_url = check_base_url(settings, "FT_API_URL") + SEARCH_PATH
        self.base = api_query(args)
        self.user_low = self.base.pop("minCreationDate", None)
        self.user_high = self.base.pop("maxCreationDate", None)
        self.oldest = settings.get("FT_OLDEST_CREATION")
        self.max_offers: int | None = args["max_offers"]
        self.progress_total: int | None = None
        self.written: set[str] = set()
        self.calibration: Calibration | None = None
        self.steps: Any = None
        self.planner: CursorPlanner | None = None
        # The query's state under CPFFT_OUTPUT_DIR (not for runs cut short on purpose).
        run_output = settings.get("CPFFT_RUN_OUTPUT")
        self.query_state: QueryState | None = None
        if run_output and self.max_offers is None and not args["publieeDepuis"]:
            api = check_base_url(settings, "FT_API_URL")
            self.query_state = QueryState(Path(run_output).parent, api, dict(api_query(args)))
        self.overlap = check_overlap(settings)
        self.incremental = False
        self.since: int | None = None  # -a depuis=dernier: epoch second the window starts at
        self.partial_output = False  # read by RunReport: latest.csv stays on a whole extraction
        self.t0 = 0  # epoch second: no offer created later is part of this run

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> OffresSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.on_idle, signal=signals.spider_idle)
        return spider

    # ------------------------------------------------------------ start

    async def start(self) -> AsyncIterator[scrapy.Request]:
        # One second before now: no offer published from now on falls inside a window.
        t0 = utc_text(int(datetime.now(UTC).timestamp()) - 1)
        if self.args["sort"] not in (None, "1"):
            logger.warning(
                "-a sort=%s ignored: offers are fetched newest first (sort=1)", self.args["sort"]
            )
        journal = Journal.of(self.crawler.settings)
        if journal is not None:
            # A resumed run plans the same windows: same upper bound as the first attempt.
            t0 = journal.get("t0") or t0
            journal.set("t0", t0)
        self.t0 = int(parse_api_date(t0).timestamp())
        if self.query_state is not None:
            try:
                self.open_state()
            except StateError as exc:
                logger.error("%s", exc)
                mark_incomplete(self.crawler, str(exc))
                self.query_state = None
                return
        whole = {} if self.since is None else {"minCreationDate": utc_text(self.since),
                                                "maxCreationDate": utc_text(self.t0 + 86_400)}  # fmt: skip
        if self.user_low:
            whole = {"minCreationDate": self.user_low, "maxCreationDate": self.user_high}
        self.whole = whole
        yield self.request(WHOLE_FIRST, {**self.base, **whole, "sort": "1", "range": "0-149"})

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
        if state.last_t0 is None:
            logger.warning(
                "-a depuis=dernier: no complete run of this query yet, so this run extracts "
                "every matching offer"
            )
            return
        since = parse_api_date(state.last_t0) - timedelta(seconds=self.overlap)
        self.since = int(since.timestamp())
        self.incremental = self.partial_output = True
        logger.info(
            "-a depuis=dernier: offers created since %s (last complete run of this query, "
            "minus %d s for offers indexed late)",
            utc_text(self.since),
            self.overlap,
        )

    def request(self, fetch: Fetch | Probe, params: dict[str, str]) -> scrapy.Request:
        calibrating = isinstance(fetch, Probe)
        return scrapy.Request(
            f"{self.search_url}?{urlencode(params)}",
            callback=self.parse_calibration if calibrating else self.parse_page,
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

    def fetch(self, fetch: Fetch) -> scrapy.Request:
        assert self.planner is not None
        return self.request(fetch, self.planner.params(fetch))

    # ------------------------------------------------------------ responses

    def read(self, response: Response) -> tuple[int, list[dict[str, Any]], list[Any], str]:
        """(total, offers, facets, error): ``error`` is a 400's message or a broken body."""
        data: Any = {}
        if response.status != 204 and response.body:
            try:
                data = response_json(response)
            except ValueError:
                return 0, [], [], "the answer is not JSON"
        if not isinstance(data, dict):
            return 0, [], [], "the answer is not a JSON object"
        if response.status == 400:
            return 0, [], [], str(data.get("message") or "HTTP 400")
        offers = [o for o in data.get("resultats") or [] if isinstance(o, dict)]
        window = parse_content_range(response.headers.get(b"Content-Range"))
        # A 204 without the header, or a complete 200 without one: the page is the total.
        total = window[2] if window is not None else len(offers)
        return total, offers, data.get("filtresPossibles") or [], ""

    def parse_page(self, response: Response) -> Iterator[Offre | scrapy.Request]:
        fetch: Fetch = response.meta["fetch"]
        total, offers, facets, error = self.read(response)
        if fetch.purpose == "first":
            yield from self.on_first(total, offers, error)
            return
        planner = self.planner
        assert planner is not None
        if error:
            cap = cap_from_message(error) if response.status == 400 else None
            if cap is not None:
                logger.info("the API takes windows up to %d only: smaller windows from now on", cap)
                for follow in planner.lower_cap(cap):
                    yield self.fetch(follow)
                return
            planner.failure(fetch, f"HTTP {response.status}: {error}")
            return
        if fetch.purpose == "page":
            yield from self.offers(offers)
        for follow in planner.answer(fetch, total, stamps(offers), facets):
            yield self.fetch(follow)
        while planner.notes:
            logger.info("%s", planner.notes.pop(0))

    def on_first(self, total: int, offers: list[dict[str, Any]], error: str) -> Iterator[Any]:
        """Page 0 of the whole query: the total, and all of it when it fits in one page."""
        if error:
            message = f"the first page of the query failed: {error}"
            logger.error("%s", message)
            mark_incomplete(self.crawler, message)
            return
        self.progress_total = total if self.max_offers is None else min(total, self.max_offers)
        self.crawler.stats.set_value("cpfft/offers_matching", total)
        logger.info("%d offers match; fetching them %d per call", total, WINDOW)
        if total <= len(offers):
            yield from self.offers(offers)  # one page holds the whole query: nothing to prove
            return
        if self.max_offers is not None:
            # A sample proves nothing and needs no calibration: the newest offers, read
            # as if the API took bounds in UTC.
            yield from self.start_cursor(Reading(), 3000)
            return
        settings = self.crawler.settings
        self.calibration = Calibration(self.t0 * 1000, settings.get("FT_OLDEST_CREATION"))
        self.steps = self.calibration.steps()
        yield self.probe(next(self.steps))

    def probe(self, probe: Probe) -> scrapy.Request:
        return self.request(probe, {**probe.params, "sort": "1"})

    def parse_calibration(self, response: Response) -> Iterator[scrapy.Request]:
        total, offers, _, error = self.read(response)
        try:
            probe = self.steps.send(Seen(response.status, total, stamps(offers), error))
        except StopIteration:
            yield from self.calibrated()
            return
        yield self.probe(probe)

    def calibrated(self) -> Iterator[scrapy.Request]:
        calibration = self.calibration
        assert calibration is not None
        stats = self.crawler.stats
        stats.set_value("cpfft/calibration/calls", calibration.calls)
        reading = calibration.reading
        if reading is None:
            reading = Reading()
            logger.warning(
                "Calibration: %s; assuming %s (the checks will tell)",
                calibration.failure,
                reading.describe(),
            )
        else:
            logger.info(
                "Calibration (%d calls): %s", calibration.calls, "; ".join(calibration.notes)
            )
        stats.set_value("cpfft/calibration/reading", reading.describe())
        stats.set_value("cpfft/calibration/window_cap", calibration.cap)
        yield from self.start_cursor(reading, calibration.cap)

    def start_cursor(self, reading: Reading, cap: int) -> Iterator[scrapy.Request]:
        low = self.user_low or self.oldest
        if self.since is not None:  # the whole query, now written as the API reads bounds
            low = reading.encode_min(self.since)
            self.whole = {"minCreationDate": low,
                          "maxCreationDate": reading.encode_max(self.t0 + 86_400)}  # fmt: skip
        high = reading.encode_max(self.t0)
        top_check = True
        if self.user_high and reading.decode(self.user_high) <= self.t0 * 1000:
            high, top_check = self.user_high, False  # window 1 is the whole query
        self.planner = CursorPlanner(reading, low, high, cap=cap, base=self.base,
                                     whole=self.whole, top_check=top_check,
                                     budget=self.max_offers)  # fmt: skip
        for fetch in self.planner.start():
            yield self.fetch(fetch)

    def offers(self, rows: list[dict[str, Any]]) -> Iterator[Offre]:
        for data in rows:
            if self.incremental and self.query_state.unchanged(
                str(data.get("id")), clean_date(data.get("dateActualisation"))
            ):
                self.crawler.stats.inc_value("cpfft/offers_already_known")
                continue
            if self.max_offers is not None:
                offer_id = data.get("id")
                if offer_id not in self.written and len(self.written) >= self.max_offers:
                    return
                self.written.add(offer_id)
            yield offre_from_api(data)

    def on_idle(self) -> None:
        """Checks still waiting for a count: ask for it before the spider closes."""
        if self.planner is None or is_stopping(self.crawler):
            return
        pending = self.planner.pending()
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
        changes = state.commit(csv_path, utc_text(self.t0), self.incremental, delimiter)
        for name in ("added", "updated", "withdrawn"):
            if getattr(changes, name) is not None:
                self.crawler.stats.set_value(f"cpfft/changes/{name}", getattr(changes, name))
        lines = [f"  changes:            {changes.describe()} → {changes_file(csv_path).name}"]
        known = self.crawler.stats.get_value("cpfft/offers_already_known")
        if known:
            lines.append(f"  already known:      {known} offers of the overlap, not written again")
        return lines

    def summary_lines(self, outcome: str) -> list[str]:
        """The calibration and the checks, for the run summary."""
        lines = []
        calibration, planner = self.calibration, self.planner
        if calibration is not None:
            reading = calibration.reading
            what = reading.describe() if reading else f"failed ({calibration.failure})"
            lines.append(
                f"  calibration:        {calibration.calls} calls: {what}; windows up to "
                f"{calibration.cap}"
            )
        if planner is not None:
            accounts = planner.accounts
            extra = []
            if accounts.refetched:
                extra.append(f"{accounts.refetched} pages fetched again after withdrawals")
            if accounts.counts:
                extra.append(f"{accounts.counts} counts asked")
            extra.append(f"{accounts.whole + 1} calls on the whole query")
            lines.append(
                f"  checks:             {accounts.checks_passed} passed against the API's counts "
                f"over {accounts.windows} windows" + (f" ({', '.join(extra)})" if extra else "")
            )
        stats = self.crawler.stats
        # Rows in the file (a resumed run's earlier rows included; set by RunReport before
        # it asks for these lines), plus the overlap's offers deliberately not written again.
        written = stats.get_value(ROWS_IN_OUTPUT, stats.get_value("item_scraped_count", 0))
        written += stats.get_value("cpfft/offers_already_known", 0)
        total = self.progress_total
        if outcome == "complete" and total and written < total and self.max_offers is None:
            lines.append(
                f"  withdrawn meanwhile: {total - written} of the {total} offers matching at the "
                "start were withdrawn before their turn (the checks account for them)"
            )
        return lines

    # ------------------------------------------------------------ failures

    def on_error(self, failure: Failure) -> None:
        fetch = failure.request.meta["fetch"]
        reason = describe_failure(failure)
        if isinstance(fetch, Probe):  # calibration: go on with what is known, the checks tell
            assert self.calibration is not None
            self.calibration.failure = f"a calibration call failed: {reason}"
            self.calibration.reading = None
            if not is_stopping(self.crawler):
                yield from self.calibrated()
            return
        if fetch.purpose == "first":
            message = f"the first page of the query failed: {reason}"
            if not is_stopping(self.crawler):
                logger.error("%s", message)
            mark_incomplete(self.crawler, message)
            return
        assert self.planner is not None
        self.planner.failure(fetch, reason)
        if not is_stopping(self.crawler):
            logger.error("offers %d-%d: %s", fetch.first, fetch.last, reason)

    def unfinished_work(self) -> list[str]:
        return [] if self.planner is None else self.planner.unfinished()
