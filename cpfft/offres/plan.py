"""What an offres run fetches, stage by stage. Pure: no Scrapy, no I/O.

1. ``t0``: one second before the run starts (a resumed run keeps the first attempt's,
   so that it plans the same windows). With ``-a depuis=dernier``, the creation-date
   window starts at the last complete run's ``t0`` minus the overlap.
2. Page 0 of the whole query, newest first. If it holds every offer, it is written and
   nothing is left to prove.
3. Otherwise, a run cut short on purpose (``max_offers``) starts the cursor at once,
   reading bounds as UTC: a sample proves nothing and needs no calibration. Every other
   run is first **calibrated** (:mod:`cpfft.offres.calibration`), probe after probe.
4. The **cursor** (:mod:`cpfft.offres.cursor`) starts from the bounds the calibration
   measured; from there on it decides every fetch, and checks every window against
   the API's own counts. The run is COMPLETE only if every check passes; otherwise
   the summary says how many offers are missing and between which dates.

The spider turns each :class:`~cpfft.offres.calibration.Probe` and
:class:`~cpfft.offres.cursor.Fetch` into a request (with :meth:`Plan.params`) and
hands each answer (:meth:`Plan.answered`) or failure (:meth:`Plan.failed`) back; it
carries out the :class:`Answer` it gets: log lines, stats, offers to write, fetches.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from cpfft.cleaning import clean_date
from cpfft.offres.bounds import Reading, utc_text
from cpfft.offres.calibration import Calibration, Probe, Seen, cap_from_message
from cpfft.offres.cursor import TOP, WINDOW, CursorPlanner, Fetch
from cpfft.offres.search import api_query, parse_api_date, stamps

#: Page 0 of the whole query (the first request of every run).
WHOLE_FIRST = Fetch(TOP, 0, WINDOW - 1, 100, "first")
INFO, WARNING, ERROR = logging.INFO, logging.WARNING, logging.ERROR
SAMPLE_CAP = 3000  # the window cap assumed by a sample, which is not calibrated
DAY = 86_400


def start_t0(now: int, resumed: str | None) -> tuple[str, int]:
    """The run's ``t0`` as the API writes it and as an epoch second, from ``now``
    (epoch second): one second before, so that no offer published from now on falls
    inside a window; a resumed run keeps the first attempt's (``resumed``)."""
    text = resumed or utc_text(now - 1)
    return text, int(parse_api_date(text).timestamp())


def sort_warning(sort: str | None) -> str | None:
    """The warning for a ``-a sort`` the run cannot follow (offers come newest first)."""
    if sort in (None, "1"):
        return None
    return f"-a sort={sort} ignored: offers are fetched newest first (sort=1)"


def depuis_start(last_t0: str | None, overlap: int) -> tuple[int | None, int, str]:
    """``-a depuis=dernier``: the epoch second the creation-date window starts at (None:
    no complete run of this query yet, so the whole query), the log level and the line
    that says so. ``last_t0``: the last complete run's ``t0``."""
    if last_t0 is None:
        return None, logging.WARNING, (
            "-a depuis=dernier: no complete run of this query yet, so this run extracts "
            "every matching offer"
        )  # fmt: skip
    since = int((parse_api_date(last_t0) - timedelta(seconds=overlap)).timestamp())
    return since, logging.INFO, (
        f"-a depuis=dernier: offers created since {utc_text(since)} (last complete run of "
        f"this query, minus {overlap} s for offers indexed late)"
    )  # fmt: skip


def first_page_failed(reason: str) -> str:
    """Why the run has nothing: its first call failed."""
    return f"the first page of the query failed: {reason}"


@dataclass
class Calibrated:
    """The end of the calibration: the reading the cursor starts with, the log line that
    says what was measured (a warning when nothing was), and the stats to set."""

    reading: Reading
    cap: int
    failed: bool
    message: str
    stats: dict[str, object]


@dataclass(frozen=True)
class Page:
    """A search answer as read: HTTP status, the total its Content-Range gives, its
    offers and facets, and ``error``: a 400's message or a body that is not JSON."""

    status: int
    total: int
    offers: list[dict[str, Any]]
    facets: list[Any]
    error: str = ""


@dataclass
class Answer:
    """What the spider does after an answer, in this order: set the rows expected
    (``total``, once known) and the ``stats``; log ``lines`` as (logging level, line);
    record ``failure`` as what the run lacks; write ``offers``; send ``fetches``; log
    ``notes`` (the cursor's decisions, once the page is handed over)."""

    total: int | None = None
    stats: dict[str, object] = field(default_factory=dict)
    lines: list[tuple[int, str]] = field(default_factory=list)
    failure: str | None = None
    offers: list[dict[str, Any]] = field(default_factory=list)
    fetches: list[Fetch | Probe] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class Plan:
    """One run of a query: ``base``, its API parameters without the creation-date
    bounds the user gave (``user_low``, ``user_high``); ``oldest``, a lower bound far in
    the past; ``max_offers``, the size of a sample (None: every offer)."""

    base: dict[str, str]
    user_low: str | None = None
    user_high: str | None = None
    oldest: str = ""
    max_offers: int | None = None
    t0: int = 0  # epoch second: no offer created later is part of this run
    since: int | None = None  # -a depuis=dernier: epoch second the window starts at
    whole: dict[str, str] = field(default_factory=dict)  # the whole query's date bounds
    calibration: Calibration | None = None
    steps: Generator[Probe, Seen, None] | None = None
    planner: CursorPlanner | None = None
    written: set[object] = field(default_factory=set)  # ids of a sample written so far

    @classmethod
    def of(cls, args: Mapping[str, Any], oldest: str) -> Plan:
        """The plan of the spider's parsed arguments; ``oldest``: ``FT_OLDEST_CREATION``."""
        base = api_query(args)
        low = base.pop("minCreationDate", None)
        high = base.pop("maxCreationDate", None)
        return cls(base, low, high, oldest, args["max_offers"])

    @property
    def incremental(self) -> bool:
        """True when the run writes only the offers created since the last one."""
        return self.since is not None

    # ------------------------------------------------------------ requests

    def first(self) -> Fetch:
        """Page 0 of the whole query: within the user's bounds, or since the last run."""
        whole = {}
        if self.since is not None:
            whole = {"minCreationDate": utc_text(self.since),
                     "maxCreationDate": utc_text(self.t0 + DAY)}  # fmt: skip
        if self.user_low:
            whole = {"minCreationDate": self.user_low, "maxCreationDate": self.user_high}
        self.whole = whole
        return WHOLE_FIRST

    def params(self, step: Fetch | Probe) -> dict[str, str]:
        """The query parameters of a request, newest first (``sort=1``)."""
        if isinstance(step, Probe):
            return {**step.params, "sort": "1"}
        if step.purpose == "first":
            return {**self.base, **self.whole, "sort": "1", "range": "0-149"}
        assert self.planner is not None
        return self.planner.params(step)

    # ------------------------------------------------------------ answers

    def answered(self, fetch: Fetch | Probe, page: Page) -> Answer:
        """What follows an answer to ``fetch``: a probe's, page 0's, or the cursor's."""
        if isinstance(fetch, Probe):
            probe = self.next_probe(Seen(page.status, page.total, stamps(page.offers), page.error))
            return self.after_calibration() if probe is None else Answer(fetches=[probe])
        if fetch.purpose == "first":
            if page.error:
                return self.first_failed(page.error, log=True)
            answer = Answer(
                total=self.expected(page.total),
                stats={"cpfft/offers_matching": page.total},
                lines=[(INFO, f"{page.total} offers match; fetching them {WINDOW} per call")],
            )
            if page.total <= len(page.offers):  # one page holds the whole query: nothing to prove
                answer.offers = page.offers
            else:
                answer.fetches = self.after_first()
            return answer
        assert self.planner is not None
        if page.error:
            cap, smaller = self.refused(fetch, page.status, page.error)
            told = f"the API takes windows up to {cap} only: smaller windows from now on"
            return Answer(lines=[] if cap is None else [(INFO, told)], fetches=smaller)
        return Answer(
            offers=page.offers if fetch.purpose == "page" else [],
            fetches=self.planner.answer(fetch, page.total, stamps(page.offers), page.facets),
            notes=self.notes(),
        )

    def failed(self, fetch: Fetch | Probe, reason: str, stopping: bool) -> Answer:
        """What follows a request that failed for good with ``reason`` (``stopping``: the
        run is being stopped, so nothing more is sent or logged)."""
        if isinstance(fetch, Probe):  # calibration: go on with what is known, the checks tell
            self.calibration_failed(reason)
            return Answer() if stopping else self.after_calibration()
        if fetch.purpose == "first":
            return self.first_failed(reason, log=not stopping)
        assert self.planner is not None
        self.planner.failure(fetch, reason)
        told = f"offers {fetch.first}-{fetch.last}: {reason}"
        return Answer(lines=[] if stopping else [(ERROR, told)])

    @staticmethod
    def first_failed(reason: str, log: bool) -> Answer:
        """Page 0 failed: the run has nothing. (Not ``log``: the run is being stopped, and
        its stop says why; page 0 was only dropped on the way.)"""
        if not log:
            return Answer()
        message = first_page_failed(reason)
        return Answer(lines=[(ERROR, message)], failure=message)

    # ------------------------------------------------------------ page 0

    def expected(self, total: int) -> int:
        """Offers the run writes, page 0 of the whole query counting ``total``."""
        return total if self.max_offers is None else min(total, self.max_offers)

    def after_first(self) -> list[Fetch | Probe]:
        """Page 0 did not hold the whole query: the sample's cursor, or the calibration."""
        if self.max_offers is not None:
            return [*self.start_cursor(Reading(), SAMPLE_CAP)]
        self.calibration = Calibration(self.t0 * 1000, self.oldest)
        self.steps = self.calibration.steps()
        return [next(self.steps)]

    # ------------------------------------------------------------ calibration

    def next_probe(self, seen: Seen) -> Probe | None:
        """What a probe answered → the next probe; None when the calibration is done."""
        assert self.steps is not None
        try:
            return self.steps.send(seen)
        except StopIteration:
            return None

    def calibration_failed(self, reason: str) -> None:
        """A probe failed: the cursor goes on with what is known, the checks tell."""
        assert self.calibration is not None
        self.calibration.failure = f"a calibration call failed: {reason}"
        self.calibration.reading = None

    def calibrated(self) -> Calibrated:
        calibration = self.calibration
        assert calibration is not None
        reading = calibration.reading
        if reading is None:
            reading = Reading()
            message = (
                f"Calibration: {calibration.failure}; assuming {reading.describe()} "
                "(the checks will tell)"
            )
        else:
            message = f"Calibration ({calibration.calls} calls): {'; '.join(calibration.notes)}"
        stats = {
            "cpfft/calibration/calls": calibration.calls,
            "cpfft/calibration/reading": reading.describe(),
            "cpfft/calibration/window_cap": calibration.cap,
        }
        return Calibrated(reading, calibration.cap, calibration.reading is None, message, stats)

    def after_calibration(self) -> Answer:
        """The calibration is over: say what it measured, and start the cursor."""
        done = self.calibrated()
        line = (WARNING if done.failed else INFO, done.message)
        return Answer(stats=done.stats, lines=[line],
                      fetches=self.start_cursor(done.reading, done.cap))  # fmt: skip

    # ------------------------------------------------------------ the cursor

    def start_cursor(self, reading: Reading, cap: int) -> list[Fetch]:
        """The cursor over ``[low, t0]`` as ``reading`` writes bounds; its first fetches."""
        low = self.user_low or self.oldest
        if self.since is not None:  # the whole query, now written as the API reads bounds
            low = reading.encode_min(self.since)
            self.whole = {"minCreationDate": low,
                          "maxCreationDate": reading.encode_max(self.t0 + DAY)}  # fmt: skip
        high = reading.encode_max(self.t0)
        top_check = True
        if self.user_high and reading.decode(self.user_high) <= self.t0 * 1000:
            high, top_check = self.user_high, False  # window 1 is the whole query
        self.planner = CursorPlanner(reading, low, high, cap=cap, base=self.base,
                                     whole=self.whole, top_check=top_check,
                                     budget=self.max_offers)  # fmt: skip
        return self.planner.start()

    def refused(self, fetch: Fetch, status: int, error: str) -> tuple[int | None, list[Fetch]]:
        """A cursor fetch answered with an error. A 400 that names a lower window cap →
        that cap, and the fetches of the smaller windows; else the fetch failed (None)."""
        assert self.planner is not None
        cap = cap_from_message(error) if status == 400 else None
        if cap is None:
            self.planner.failure(fetch, f"HTTP {status}: {error}")
            return None, []
        return cap, self.planner.lower_cap(cap)

    def keep(
        self, offers: list[dict[str, Any]], known: Callable[[str, str | None], bool] | None
    ) -> Iterator[dict[str, Any]]:
        """The offers of a page to write, one by one: an incremental run passes
        ``known(id, dateActualisation)``, true for an offer the query's state holds as it
        is (left out); a sample stops when it is full."""
        for data in offers:
            if known is not None and known(
                str(data.get("id")), clean_date(data.get("dateActualisation"))
            ):
                continue
            if not self.admits(data.get("id")):
                return
            yield data

    def admits(self, offer_id: object) -> bool:
        """Whether a sample still takes this offer (an offer already written is taken
        again: the output drops the duplicate). Every offer when there is no sample."""
        if self.max_offers is None:
            return True
        if offer_id not in self.written and len(self.written) >= self.max_offers:
            return False
        self.written.add(offer_id)
        return True

    def notes(self) -> list[str]:
        """The cursor's decisions worth a log line, since the last call."""
        if self.planner is None:
            return []
        notes = list(self.planner.notes)
        self.planner.notes.clear()
        return notes

    def unfinished(self) -> list[str]:
        return [] if self.planner is None else self.planner.unfinished()
