"""The stages of an offres run (cpfft.offres.plan), without Scrapy: t0, page 0 of the
whole query, the calibration's sequence, where the cursor starts, the sample's cap."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from cpfft.offres.bounds import PARIS, Reading, utc_text
from cpfft.offres.calibration import Probe, Seen
from cpfft.offres.cursor import TOP, CursorPlanner, Fetch
from cpfft.offres.plan import (
    WHOLE_FIRST,
    Answer,
    Page,
    Plan,
    depuis_start,
    first_page_failed,
    sort_warning,
    start_t0,
)
from cpfft.offres.search import SEARCH_PARAMS, api_query
from cpfft.params import parse_arguments
from tests.offres.drive import OLDEST
from tests.offres.simapi import SimApi, dataset

NOW = int(datetime(2026, 12, 1, 12, 0, 7, tzinfo=UTC).timestamp())
BASE = {"motsCles": "python"}


def plan(**kw) -> Plan:
    made = Plan(dict(BASE), oldest=OLDEST, **kw)
    made.t0 = NOW - 1
    return made


# ------------------------------------------------------------------ start


def test_t0_is_one_second_before_now_unless_the_run_resumes():
    assert start_t0(NOW, None) == ("2026-12-01T12:00:06Z", NOW - 1)
    assert start_t0(NOW, "2026-11-30T08:00:00Z") == (
        "2026-11-30T08:00:00Z",
        int(datetime(2026, 11, 30, 8, tzinfo=UTC).timestamp()),
    )


def test_only_a_sort_other_than_newest_first_is_warned_about():
    assert sort_warning(None) is None
    assert sort_warning("1") is None
    assert sort_warning("0") == "-a sort=0 ignored: offers are fetched newest first (sort=1)"


def test_depuis_starts_at_the_last_complete_runs_t0_minus_the_overlap():
    since, level, message = depuis_start("2026-11-30T08:00:00Z", 3600)
    assert since == int(datetime(2026, 11, 30, 7, tzinfo=UTC).timestamp())
    assert level == logging.INFO
    assert message == (
        "-a depuis=dernier: offers created since 2026-11-30T07:00:00Z (last complete run of "
        "this query, minus 3600 s for offers indexed late)"
    )
    since, level, message = depuis_start(None, 3600)
    assert (since, level) == (None, logging.WARNING)
    assert message == (
        "-a depuis=dernier: no complete run of this query yet, so this run extracts every "
        "matching offer"
    )


def test_first_page_failure_names_the_reason():
    assert first_page_failed("HTTP 500") == "the first page of the query failed: HTTP 500"


# ------------------------------------------------------------------ page 0


def test_page_0_of_the_whole_query_without_date_bounds():
    p = plan()
    assert p.first() is WHOLE_FIRST
    assert (WHOLE_FIRST.window, WHOLE_FIRST.purpose, WHOLE_FIRST.priority) == (TOP, "first", 100)
    assert p.params(WHOLE_FIRST) == {"motsCles": "python", "sort": "1", "range": "0-149"}
    assert not p.incremental


def test_page_0_since_the_last_run_ends_a_day_after_t0():
    p = plan()
    p.since = NOW - 86_400
    p.first()
    assert p.incremental
    assert p.params(WHOLE_FIRST) == {
        "motsCles": "python",
        "minCreationDate": utc_text(NOW - 86_400),
        "maxCreationDate": utc_text(NOW - 1 + 86_400),
        "sort": "1",
        "range": "0-149",
    }


def test_page_0_within_the_users_bounds():
    p = plan(user_low="2026-11-01T00:00:00Z", user_high="2026-11-15T00:00:00Z")
    p.first()
    assert p.params(WHOLE_FIRST) == {
        "motsCles": "python",
        "minCreationDate": "2026-11-01T00:00:00Z",
        "maxCreationDate": "2026-11-15T00:00:00Z",
        "sort": "1",
        "range": "0-149",
    }


def test_the_run_expects_the_total_or_the_sample():
    assert plan().expected(5000) == 5000
    assert plan(max_offers=300).expected(5000) == 300
    assert plan(max_offers=300).expected(120) == 120


def test_a_sample_starts_the_cursor_at_once_reading_bounds_as_utc():
    p = plan(max_offers=300)
    p.first()
    steps = p.after_first()
    assert p.calibration is None
    assert p.planner is not None
    assert (p.planner.reading, p.planner.cap, p.planner.budget) == (Reading(), 3000, 300)
    assert not p.planner.checking  # a sample proves nothing
    assert not p.planner.top_needed
    assert steps == [Fetch(1, 0, 149, 100)]
    assert p.params(steps[0]) == {
        "motsCles": "python",
        "minCreationDate": OLDEST,
        "maxCreationDate": utc_text(NOW - 1),
        "sort": "1",
        "range": "0-149",
    }


# ------------------------------------------------------------------ calibration


def calibrate(p: Plan, api: SimApi) -> int:
    """Answer the plan's probes from ``api`` as the spider does; the number of probes."""
    (probe,) = p.after_first()
    probes = 0
    while probe is not None:
        assert isinstance(probe, Probe)
        probes += 1
        seen, _ = api.search(p.params(probe))
        probe = p.next_probe(seen)
    return probes


def test_every_other_run_is_calibrated_probe_after_probe():
    p = plan()
    p.first()
    (probe,) = p.after_first()
    assert isinstance(probe, Probe)
    assert probe.purpose == "zone"
    assert p.params(probe) == {**probe.params, "sort": "1"}  # the national query
    assert p.planner is None
    api = SimApi(dataset(20_000, NOW * 1000, exact_every=10), zone=PARIS)
    p = plan()
    probes = calibrate(p, api)
    assert probes == api.calls == p.calibration.calls
    done = p.calibrated()
    assert not done.failed
    assert done.reading == p.calibration.reading
    assert done.reading.zone == PARIS
    assert done.cap == 3000
    assert done.message == (f"Calibration ({probes} calls): {'; '.join(p.calibration.notes)}")
    assert done.message.startswith(f"Calibration ({probes} calls): bounds read as Paris time, ")
    assert done.stats == {
        "cpfft/calibration/calls": probes,
        "cpfft/calibration/reading": done.reading.describe(),
        "cpfft/calibration/window_cap": 3000,
    }


def test_a_failed_probe_leaves_the_cursor_reading_bounds_as_utc():
    p = plan()
    p.first()
    p.after_first()
    p.calibration_failed("HTTP 500")
    done = p.calibrated()
    assert done.failed
    assert done.reading == Reading()
    assert done.message == (
        "Calibration: a calibration call failed: HTTP 500; assuming bounds read as UTC, "
        "maxCreationDate inclusive, compared to the second (the checks will tell)"
    )
    assert done.stats["cpfft/calibration/calls"] == 1
    assert done.stats["cpfft/calibration/reading"] == Reading().describe()


def test_a_calibration_without_an_old_offer_says_why():
    p = plan()
    (probe,) = p.after_first()
    probe = p.next_probe(Seen(204))
    assert probe.purpose == "window cap"
    assert p.next_probe(Seen(204)) is None
    done = p.calibrated()
    assert done.failed
    assert done.message.startswith(
        "Calibration: no offer older than 13 hours to calibrate the date bounds against; "
        "assuming bounds read as UTC"
    )


# ------------------------------------------------------------------ the cursor


def test_the_cursor_spans_the_query_up_to_t0_and_checks_the_whole_query():
    p = plan()
    p.first()
    reading = Reading("+02:00")
    (fetch,) = p.start_cursor(reading, 1000)
    planner = p.planner
    assert (planner.cap, planner.budget, planner.top_needed, planner.checking) == (
        1000, None, True, True,
    )  # fmt: skip
    assert (planner.first.low, planner.first.high) == (OLDEST, reading.encode_max(NOW - 1))
    assert p.params(fetch) == planner.params(fetch)
    assert p.unfinished() == planner.unfinished()
    high = reading.encode_max(NOW - 1)
    assert p.unfinished() == [
        f"window 1 (created {OLDEST} to {high}), offers 0-149: not fetched (run stopped)"
    ]


def test_a_user_upper_bound_before_t0_is_the_first_window_and_needs_no_top_check():
    p = plan(user_low="2026-11-01T00:00:00Z", user_high="2026-11-15T00:00:00Z")
    p.first()
    p.start_cursor(Reading(), 3000)
    first = p.planner.first
    assert (first.low, first.high) == ("2026-11-01T00:00:00Z", "2026-11-15T00:00:00Z")
    assert not p.planner.top_needed
    later = plan(user_low="2026-11-01T00:00:00Z", user_high="2027-01-01T00:00:00Z")
    later.first()
    later.start_cursor(Reading(), 3000)
    assert later.planner.first.high == utc_text(NOW - 1)
    assert later.planner.top_needed


def test_since_the_last_run_the_bounds_are_written_as_the_api_reads_them():
    p = plan()
    p.since = NOW - 86_400
    p.first()
    reading = Reading("+01:00")
    p.start_cursor(reading, 3000)
    low = reading.encode_min(NOW - 86_400)
    assert p.planner.first.low == low
    top = p.planner.params(Fetch(TOP, 0, 149, 100, "top"))
    assert (top["minCreationDate"], top["maxCreationDate"]) == (
        low, reading.encode_max(NOW - 1 + 86_400),
    )  # fmt: skip


def test_the_plan_of_the_arguments_keeps_the_users_bounds_apart():
    args = parse_arguments(SEARCH_PARAMS, {"motsCles": "python", "max_offers": "5",
                                           "minCreationDate": "2026-11-01T00:00:00Z",
                                           "maxCreationDate": "2026-11-20T00:00:00Z"})  # fmt: skip
    made = Plan.of(args, OLDEST)
    assert made.base == api_query({**args, "minCreationDate": None, "maxCreationDate": None})
    assert "minCreationDate" not in made.base
    assert "maxCreationDate" not in made.base
    assert (made.user_low, made.user_high) == ("2026-11-01T00:00:00Z", "2026-11-20T00:00:00Z")
    assert (made.oldest, made.max_offers) == (OLDEST, 5)
    whole = Plan.of(parse_arguments(SEARCH_PARAMS, {}), OLDEST)
    assert (whole.user_low, whole.user_high, whole.max_offers) == (None, None, None)


def test_a_page_keeps_the_offers_not_already_known_up_to_the_sample():
    page = [{"id": "a", "dateActualisation": "2026-11-30T10:00:00.000Z"}, {"id": "b"},
            {"id": "c", "dateActualisation": " 2026-11-29T08:00:00Z "}, {"id": "d"}]  # fmt: skip
    asked = []

    def known(offer_id, updated):
        asked.append((offer_id, updated))
        return offer_id == "c"

    assert list(plan().keep(page, None)) == page
    assert list(plan().keep(page, known)) == [page[0], page[1], page[3]]
    # The update time as the output writes it (the state compares it with the file's).
    assert asked == [
        ("a", "2026-11-30T10:00:00.000Z"), ("b", None), ("c", "2026-11-29T08:00:00Z"), ("d", None)
    ]  # fmt: skip
    sample = plan(max_offers=2)
    assert list(sample.keep(page, known)) == [page[0], page[1]]  # full at "d"
    assert list(sample.keep(page[:1], None)) == page[:1]  # written already: taken again
    # One offer at a time: an offer is taken by the sample only once the one before is
    # handed over (a failure while writing one leaves the next ones untaken).
    one_by_one = plan(max_offers=3)
    offers = one_by_one.keep(page, None)
    assert next(offers) == page[0]
    assert one_by_one.written == {"a"}


def test_a_sample_takes_up_to_max_offers_distinct_offers():
    p = plan(max_offers=2)
    assert [p.admits(i) for i in ("a", "b", "a", "c", "b")] == [True, True, True, False, True]
    unlimited = plan()
    assert all(unlimited.admits(str(i)) for i in range(10_000))
    assert unlimited.written == set()


def test_the_cursors_notes_are_handed_over_once():
    p = plan()
    assert p.notes() == []
    assert p.unfinished() == []
    p.planner = CursorPlanner(Reading(), OLDEST, utc_text(NOW - 1))
    p.planner.notes += ["one", "two"]
    assert p.notes() == ["one", "two"]
    assert p.notes() == []


def cursor_over_5000_offers() -> Plan:
    """A plan whose cursor's first window was counted: 5000 offers."""
    p = plan()
    p.first()
    (window,) = p.start_cursor(Reading(), 3000)
    p.planner.answer(window, 5000, [])
    return p


def test_a_refusal_naming_a_lower_cap_shrinks_the_windows_any_other_error_fails_the_fetch():
    p = cursor_over_5000_offers()
    cursor = Fetch(1, 3000, 3149, 20)
    refusal = "La position de début doit être inférieure ou égale à 1000."
    cap, smaller = p.refused(cursor, 400, refusal)
    assert cap == 1000
    assert p.planner.cap == 1000
    assert smaller == [Fetch(1, 1000, 1149, 6)]  # the new cursor page
    page = Fetch(1, 150, 299, 1)
    assert p.refused(page, 400, "La plage de résultats demandée est trop importante.") == (None, [])
    assert p.planner.windows[1].failed[150] == (
        "HTTP 400: La plage de résultats demandée est trop importante."
    )
    assert p.refused(page, 500, "the answer is not JSON") == (None, [])
    assert p.planner.windows[1].failed[150] == "HTTP 500: the answer is not JSON"
    # Only a 400 tells the cap: the same words in another answer are a failure.
    assert p.refused(page, 502, refusal) == (None, [])
    assert p.planner.windows[1].failed[150] == f"HTTP 502: {refusal}"
    assert p.planner.cap == 1000


# ------------------------------------------------------------------ answers, as the spider hands them over


def as_page(seen: Seen, facets: list | None = None) -> Page:
    """A simulated answer as the spider reads it: offers with their id and dateCreation."""
    offers = [
        {"id": i, "dateCreation": datetime.fromtimestamp(ms / 1000, UTC).isoformat()}
        for i, ms in seen.offers
    ]
    return Page(seen.status, seen.total, offers, facets or [], seen.message)


def test_page_0_holding_the_whole_query_is_written_and_nothing_else_is_asked():
    p = plan()
    p.first()
    offers = [{"id": "a"}, {"id": "b"}]
    answer = p.answered(WHOLE_FIRST, Page(200, 2, offers, []))
    assert answer == Answer(
        total=2,
        stats={"cpfft/offers_matching": 2},
        lines=[(logging.INFO, "2 offers match; fetching them 150 per call")],
        offers=offers,
    )
    assert p.calibration is None
    assert p.planner is None


def test_page_0_of_a_bigger_query_starts_the_calibration_or_the_samples_cursor():
    p = plan()
    p.first()
    answer = p.answered(WHOLE_FIRST, Page(206, 5000, [{"id": "a"}] * 150, []))
    assert (answer.total, answer.offers, answer.failure) == (5000, [], None)
    (probe,) = answer.fetches
    assert isinstance(probe, Probe)
    assert probe.purpose == "zone"
    sample = plan(max_offers=300)
    sample.first()
    answer = sample.answered(WHOLE_FIRST, Page(206, 5000, [{"id": "a"}] * 150, []))
    assert answer.total == 300
    assert answer.fetches == [Fetch(1, 0, 149, 100)]


def test_page_0_failing_leaves_the_run_with_nothing_said_once():
    p = plan()
    message = "the first page of the query failed: HTTP 400: bad motsCles"
    answer = p.answered(WHOLE_FIRST, Page(400, 0, [], [], "HTTP 400: bad motsCles"))
    assert answer == Answer(lines=[(logging.ERROR, message)], failure=message)
    assert p.failed(WHOLE_FIRST, "HTTP 400: bad motsCles", stopping=False) == answer
    # While the run is being stopped, its stop says why: the page was only dropped on the way.
    assert p.failed(WHOLE_FIRST, "HTTP 400: bad motsCles", stopping=True) == Answer()


def test_probe_answers_lead_to_the_cursor_with_what_was_measured():
    api = SimApi(dataset(20_000, NOW * 1000, exact_every=10), zone=PARIS)
    p = plan()
    p.first()
    (fetch,) = p.answered(WHOLE_FIRST, Page(206, 20_000, [], [])).fetches
    answers = 0
    while isinstance(fetch, Probe):
        seen, facets = api.search(p.params(fetch))
        answer = p.answered(fetch, as_page(seen, facets))
        answers += 1
        fetch = answer.fetches[0]
    assert answers == p.calibration.calls
    ((level, line),) = answer.lines
    assert level == logging.INFO
    assert line.startswith(f"Calibration ({answers} calls): bounds read as Paris time, ")
    assert answer.stats["cpfft/calibration/window_cap"] == 3000
    assert p.planner is not None
    assert p.planner.reading.zone == PARIS
    assert answer.fetches == [Fetch(1, 0, 149, 100)]  # the cursor's first window, page 0


def test_a_failed_probe_goes_on_with_bounds_read_as_utc_unless_the_run_stops():
    p = plan()
    p.first()
    (probe,) = p.answered(WHOLE_FIRST, Page(206, 5000, [], [])).fetches
    answer = p.failed(probe, "HTTP 500", stopping=False)
    ((level, line),) = answer.lines
    assert level == logging.WARNING
    assert line.startswith("Calibration: a calibration call failed: HTTP 500; assuming")
    assert answer.failure is None  # the checks tell what is missing, if anything
    assert p.planner.reading == Reading()
    assert answer.fetches
    stopped = plan()
    stopped.first()
    (probe,) = stopped.answered(WHOLE_FIRST, Page(206, 5000, [], [])).fetches
    assert stopped.failed(probe, "HTTP 500", stopping=True) == Answer()
    assert stopped.planner is None
    assert stopped.calibration.failure == "a calibration call failed: HTTP 500"


def test_cursor_answers_write_pages_only_and_hand_over_the_cursors_notes():
    api = SimApi(dataset(400, NOW * 1000))
    p = plan(max_offers=1000)
    p.first()
    fetches = p.answered(WHOLE_FIRST, Page(206, 400, [], [])).fetches
    written = []
    while fetches:
        fetch = fetches.pop(0)
        seen, facets = api.search(p.params(fetch))
        p.planner.notes.append(f"note after {fetch.first}")
        answer = p.answered(fetch, as_page(seen, facets))
        assert answer.notes == [f"note after {fetch.first}"]
        assert (answer.total, answer.stats, answer.lines, answer.failure) == (None, {}, [], None)
        if fetch.purpose == "page":
            assert [o["id"] for o in answer.offers] == [i for i, _ in seen.offers]
        else:
            assert answer.offers == []
        written += [o["id"] for o in answer.offers]
        fetches += answer.fetches
    assert sorted(written) == sorted(i for _, i in api.offers)
    assert p.unfinished() == []


def test_cursor_refusals_and_failures():
    p = cursor_over_5000_offers()
    refusal = "La position de début doit être inférieure ou égale à 1000."
    answer = p.answered(Fetch(1, 3000, 3149, 20), Page(400, 0, [], [], refusal))
    assert answer.lines == [
        (logging.INFO, "the API takes windows up to 1000 only: smaller windows from now on")
    ]
    assert answer.fetches == [Fetch(1, 1000, 1149, 6)]
    # Another error: the fetch failed, silently here (the summary's missing: lines tell).
    assert p.answered(Fetch(1, 150, 299, 1), Page(500, 0, [], [], "the answer is not JSON")) == (
        Answer()
    )
    assert p.planner.windows[1].failed[150] == "HTTP 500: the answer is not JSON"
    failed = p.failed(Fetch(1, 300, 449, 1), "HTTP 503", stopping=False)
    assert failed == Answer(lines=[(logging.ERROR, "offers 300-449: HTTP 503")])
    assert p.planner.windows[1].failed[300] == "HTTP 503"
    assert p.failed(Fetch(1, 450, 599, 1), "HTTP 503", stopping=True) == Answer()
    assert p.planner.windows[1].failed[450] == "HTTP 503"
