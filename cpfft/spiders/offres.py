"""``scrapy crawl offres -a motsCles=python -a region=11 -O offres.csv``: every matching offer.

The search API returns windows of 150 offers and no window may start after
index 3000, so one query reaches at most 3 150 offers. This spider goes past
that cap with a **creation-date cursor** instead of guessing partitions:

1. The crawl's time ``t0`` is fixed at start; every query carries
   ``minCreationDate`` (the user's, or ``FT_OLDEST_CREATION``) and
   ``maxCreationDate`` (the user's, or ``t0``) and ``sort=1`` (newest first).
   Offers published while the crawl runs are after ``t0``: they cannot shift
   the windows, so they cause neither losses nor duplicates.
2. Page 0 of a query is its probe: ``Content-Range`` gives the total. Up to
   3 150 offers: the other pages are fetched, done. Beyond: pages up to index
   3149 are fetched, and the creation time ``D`` of offer 3149 becomes the
   ``maxCreationDate`` of the next query (bounds are inclusive to the second,
   so offers created in second ``D`` come twice and are deduplicated by id).
   The pages of a query go from the last to the first (the cursor page first):
   an offer withdrawn during the crawl then moves later offers only into pages
   not fetched yet, so none is missed.
3. If more than 3 150 offers share one second, that second is split by a
   facet whose counts cover it entirely (``typeContrat`` — unless the query
   filters on ``natureContrat``, which the API ORs with it — then
   ``experience``, ``qualification``).

Requests ≈ ⌈N/150⌉ plus one probe per 3 150 offers; the probe of each query
is also its first page, so almost nothing is wasted.

Under ``CPFFT_OUTPUT_DIR`` each query keeps a state (:mod:`cpfft.incremental`):
a complete run writes what changed since the previous one, and
``-a depuis=dernier`` starts the creation-date window at the previous complete
run's ``t0`` (minus ``FT_INCREMENTAL_OVERLAP`` seconds, for offers indexed
late), skipping the offers of the overlap that the state already holds.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlencode

import scrapy
from scrapy import signals

from cpfft.cleaning import clean_date
from cpfft.config import check_base_url, check_url, shown_setting
from cpfft.credentials import load_credentials
from cpfft.francetravail import (
    MAX_START,
    REACHABLE,
    SEARCH_PARAMS,
    WINDOW,
    api_date,
    api_query,
    check_combinations,
    offre_from_api,
    parse_api_date,
    parse_content_range,
)
from cpfft.incremental import QueryState, StateError
from cpfft.items import OFFRE_HEADERS, Offre
from cpfft.middlewares.retry import JSON_META, response_json
from cpfft.output import changes_file, output_dir
from cpfft.params import ConfigurationError, integer, parse_arguments, shown
from cpfft.resume import Journal
from cpfft.runstate import is_stopping, mark_incomplete
from cpfft.spiders._base import ApiSpider, describe_failure

if TYPE_CHECKING:
    from scrapy.http import Response
    from scrapy.settings import BaseSettings
    from twisted.python.failure import Failure

logger = logging.getLogger(__name__)

SEARCH_PATH = "/partenaire/offresdemploi/v2/offres/search"
OAUTH = "cpfft.middlewares.oauth.OAuth2TokenMiddleware"
SPLIT_FACETS = ("typeContrat", "experience", "qualification", "natureContrat")
OAUTH_ENDPOINT_DEFAULT = (
    "https://entreprise.francetravail.fr/connexion/oauth2/access_token?realm=/partenaire"
)
PROBE_PRIORITY = 100  # above every page (first // WINDOW ≤ 20): each probe starts at once


@dataclass
class Query:
    """One search query: the user's filters, a creation-date window, maybe a facet value."""

    number: int
    low: str
    high: str
    extra: dict[str, str] = field(default_factory=dict)
    tried: tuple[str, ...] = ()
    total: int | None = None
    pages: set[int] = field(default_factory=set)  # first indexes scheduled
    done: set[int] = field(default_factory=set)
    failed: dict[int, str] = field(default_factory=dict)

    def describe(self) -> str:
        facet = "".join(f", {k}={v}" for k, v in self.extra.items())
        return f"query {self.number} (created {self.low} to {self.high}{facet})"


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
        check_base_url(settings, "FT_API_URL")
        check_url(settings, "FT_TOKEN_URL", base=False, example=OAUTH_ENDPOINT_DEFAULT)
        if not str(settings.get("FT_SCOPE") or "").split():
            raise ConfigurationError(
                "setting FT_SCOPE is empty. Default: 'api_offresdemploiv2 o2dsoffre'"
            )
        check_rate(settings)
        oldest = str(settings.get("FT_OLDEST_CREATION") or "")
        try:
            datetime.strptime(oldest, "%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            raise ConfigurationError(
                f"setting FT_OLDEST_CREATION={shown(oldest)} must look like 2000-01-01T00:00:00Z"
            ) from None
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
        # One slot for the token host and the API host: the quota is per application
        # and counts token calls. A slot delay is a hard cap on request starts (one per
        # delay); no jitter, which would allow bursts. Concurrency only has to cover
        # the latency at that rate. (Settings are not frozen yet while spiders are made.)
        slots = settings.getdict("DOWNLOAD_SLOTS")
        slots[slot] = {"delay": 1.0 / check_rate(settings), "concurrency": 32, "jitter": 0}
        settings.set("DOWNLOAD_SLOTS", slots, priority="spider")
        self.slot = slot
        self.args = args
        self.search_url = check_base_url(settings, "FT_API_URL") + SEARCH_PATH
        self.base = api_query(args)
        self.oldest = settings.get("FT_OLDEST_CREATION")
        self.max_offers: int | None = args["max_offers"]
        self.progress_total: int | None = None
        self.queries: list[Query] = []
        self.numbers = itertools.count(1)
        self.reserved = 0  # offers the scheduled pages can bring (max_offers budget)
        self.written: set[str] = set()
        # The query's state under CPFFT_OUTPUT_DIR (not for runs cut short on purpose).
        run_output = settings.get("CPFFT_RUN_OUTPUT")
        self.query_state: QueryState | None = None
        if run_output and self.max_offers is None and not args["publieeDepuis"]:
            api = check_base_url(settings, "FT_API_URL")
            self.query_state = QueryState(Path(run_output).parent, api, dict(self.base))
        self.overlap = check_overlap(settings)
        self.incremental = False
        self.partial_output = False  # read by RunReport: latest.csv stays on a whole extraction
        self.t0 = ""

    # ------------------------------------------------------------ requests

    async def start(self) -> AsyncIterator[scrapy.Request]:
        # Bounds are inclusive to the second: stop one second before now, so that no
        # offer published from now on can fall inside a window and shift its pages.
        t0 = api_date(datetime.now(UTC) - timedelta(seconds=1))
        if self.args["sort"] not in (None, "1"):
            logger.warning(
                "-a sort=%s ignored: offers are fetched newest first (sort=1)", self.args["sort"]
            )
        journal = Journal.of(self.crawler.settings)
        if journal is not None:
            # A resumed run plans the same windows: same upper bound as the first attempt.
            t0 = journal.get("t0") or t0
            journal.set("t0", t0)
        low = self.base.pop("minCreationDate", None) or self.oldest
        high = self.base.pop("maxCreationDate", None) or t0
        self.t0 = high
        if self.query_state is not None:
            try:
                low = self.open_state(low)
            except StateError as exc:
                logger.error("%s", exc)
                mark_incomplete(self.crawler, str(exc))
                self.query_state = None
                return
        yield self.probe(Query(next(self.numbers), low, high))

    def open_state(self, low: str) -> str:
        """Take the query's state; return where the creation-date window starts."""
        state = self.query_state
        assert state is not None
        state.open()
        self.crawler.signals.connect(state.record, signal=signals.item_scraped)
        resumed = self.crawler.settings.get("CPFFT_RESUME_FROM")
        if resumed:  # the rows the interrupted attempt wrote are part of this run too
            state.record_file(Path(resumed), self.crawler.settings.get("CPFFT_CSV_DELIMITER", ","))
        if not self.args["depuis"]:
            return low
        if state.last_t0 is None:
            logger.warning(
                "-a depuis=dernier: no complete run of this query yet, so this run extracts "
                "every matching offer"
            )
            return low
        since = parse_api_date(state.last_t0) - timedelta(seconds=self.overlap)
        self.incremental = self.partial_output = True
        logger.info(
            "-a depuis=dernier: offers created since %s (last complete run of this query, "
            "minus %d s for offers indexed late)",
            api_date(since),
            self.overlap,
        )
        return max(low, api_date(since))

    def probe(self, query: Query) -> scrapy.Request:
        self.queries.append(query)
        return self.page(query, 0, priority=PROBE_PRIORITY)

    def page(self, query: Query, first: int, priority: int | None = None) -> scrapy.Request:
        if priority is None:
            # The pages of a window are fetched from the last to the first: an offer
            # withdrawn meanwhile moves the later offers into pages not fetched yet
            # (one may come twice, deduplicated), never into one already fetched.
            priority = first // WINDOW
        query.pages.add(first)
        params = {**self.base, **query.extra, "minCreationDate": query.low,
                  "maxCreationDate": query.high, "sort": "1", "range": f"{first}-{first + WINDOW - 1}"}  # fmt: skip
        return scrapy.Request(
            f"{self.search_url}?{urlencode(params)}",
            callback=self.parse_page,
            errback=self.on_error,
            headers={"Accept": "application/json"},
            meta={
                "query": query.number,
                "first": first,
                "download_slot": self.slot,
                JSON_META: True,
            },
            priority=priority,
            dont_filter=True,
        )

    # ------------------------------------------------------------ responses

    def parse_page(self, response: Response) -> Iterator[Offre | scrapy.Request]:
        query = self.queries[response.meta["query"] - 1]
        first = response.meta["first"]
        offers: list[dict[str, Any]] = []
        facets: list[Any] = []
        if response.status != 204 and response.body:
            try:
                data = response_json(response)
            except ValueError:
                query.failed[first] = "the answer is not JSON"
                logger.error("%s, offers from %d: the answer is not JSON", query.describe(), first)
                return
            offers = [o for o in data.get("resultats") or [] if isinstance(o, dict)]
            facets = data.get("filtresPossibles") or []
        window = parse_content_range(response.headers.get(b"Content-Range"))
        if window is not None:
            total = window[2]
        elif first == 0:
            total = len(offers)  # 204 without header, or a complete 200 without one
        else:
            total = query.total or 0
        yield from self.offers(offers)
        query.done.add(first)
        if first == 0:
            yield from self.on_probe(query, total, facets)
        if first == MAX_START and query.total is not None and query.total > REACHABLE:
            yield from self.next_query(query, offers)

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

    def on_probe(self, query: Query, total: int, facets: list[Any]) -> Iterator[scrapy.Request]:
        query.total = total
        if self.progress_total is None:
            self.progress_total = total if self.max_offers is None else min(total, self.max_offers)
            self.crawler.stats.set_value("cpfft/offers_matching", total)
            logger.info("%d offers match; fetching them %d per call", total, WINDOW)
        reachable = min(total, REACHABLE)
        if total > REACHABLE and query.high == query.low:
            yield from self.split_second(query, facets)
            return
        self.reserved += min(WINDOW, reachable)
        firsts = list(range(WINDOW, reachable, WINDOW))
        if total > REACHABLE:
            # The cursor page first: it tells where the next query starts.
            firsts = [MAX_START] + [f for f in firsts if f != MAX_START]
        for first in firsts:
            if self.budget_spent():
                return
            self.reserved += min(WINDOW, reachable - first)
            yield self.page(query, first)

    def budget_spent(self) -> bool:
        return self.max_offers is not None and self.reserved >= self.max_offers

    def next_query(self, query: Query, offers: list[dict[str, Any]]) -> Iterator[scrapy.Request]:
        if self.budget_spent() or not offers:
            return
        try:
            last = parse_api_date(offers[-1]["dateCreation"])
        except (KeyError, TypeError, ValueError):
            query.failed[MAX_START] = "offer 3149 has no usable dateCreation"
            return
        high = api_date(last)
        if high == query.high:
            # More than 3 150 offers up to one second: that second needs a facet split.
            yield self.probe(Query(next(self.numbers), high, high, dict(query.extra), query.tried))
            low = query.low
            before = api_date(datetime.fromtimestamp(last.timestamp() - 1, UTC))
            if low <= before:
                yield self.probe(
                    Query(next(self.numbers), low, before, dict(query.extra), query.tried)
                )
            return
        yield self.probe(Query(next(self.numbers), query.low, high, dict(query.extra), query.tried))

    def split_second(self, query: Query, facets: list[Any]) -> Iterator[scrapy.Request]:
        """Split a one-second window holding more than 3 150 offers by a covering facet."""
        counts = {f.get("filtre"): f.get("agregation") or [] for f in facets if isinstance(f, dict)}
        for facet in SPLIT_FACETS:
            if facet in query.tried or facet in query.extra:
                continue
            if facet == "typeContrat" and "natureContrat" in self.base:
                continue  # the API ORs typeContrat with natureContrat
            if facet == "natureContrat" and "typeContrat" in self.base:
                continue
            values = {
                str(a.get("valeurPossible")): a.get("nbResultats", 0) for a in counts.get(facet, [])
            }
            if not values or sum(values.values()) != query.total or "X" in values:
                continue  # offers without a value would be lost
            logger.info(
                "%s: %d offers in one second, split by %s", query.describe(), query.total, facet
            )
            for value in sorted(values):
                extra = {**query.extra, facet: value}
                yield self.probe(
                    Query(next(self.numbers), query.low, query.high, extra, (*query.tried, facet))
                )
            query.done.update(query.pages)
            return
        query.failed[-1] = f"{query.total} offers created in one second and no facet splits them"
        logger.error("%s: %s", query.describe(), query.failed[-1])

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
        changes = state.commit(csv_path, self.t0, self.incremental, delimiter)
        for name in ("added", "updated", "withdrawn"):
            if getattr(changes, name) is not None:
                self.crawler.stats.set_value(f"cpfft/changes/{name}", getattr(changes, name))
        lines = [f"  changes:            {changes.describe()} → {changes_file(csv_path).name}"]
        known = self.crawler.stats.get_value("cpfft/offers_already_known")
        if known:
            lines.append(f"  already known:      {known} offers of the overlap, not written again")
        return lines

    # ------------------------------------------------------------ failures

    def on_error(self, failure: Failure) -> None:
        request = failure.request
        query = self.queries[request.meta["query"] - 1]
        first = request.meta["first"]
        reason = describe_failure(failure)
        query.failed[first] = reason
        if not is_stopping(self.crawler):
            logger.error("%s, offers from %d: %s", query.describe(), first, reason)
            if first == 0:
                mark_incomplete(self.crawler, f"{query.describe()}: {reason}")

    def unfinished_work(self) -> list[str]:
        missing = []
        for query in self.queries:
            for first in sorted(query.pages - query.done):
                reason = query.failed.get(first, "not fetched (run stopped)")
                missing.append(f"{query.describe()}, offers {first}-{first + WINDOW - 1}: {reason}")
            if -1 in query.failed:
                missing.append(f"{query.describe()}: {query.failed[-1]}")
        return missing
