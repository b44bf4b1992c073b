"""Drive the calibration and the cursor planner against :class:`SimApi`, as the spider
does against the real API (highest priority first)."""

from __future__ import annotations

from collections.abc import Callable

from cpfft.offres.bounds import Reading
from cpfft.offres.calibration import Calibration, cap_from_message
from cpfft.offres.cursor import CursorPlanner, Fetch
from tests.offres.simapi import SimApi

OLDEST = "2000-01-01T00:00:00Z"


def calibrate(api: SimApi, now_ms: int) -> Calibration:
    calibration = Calibration(now_ms, OLDEST)
    steps = calibration.steps()
    probe = next(steps)
    while True:
        seen, _ = api.search({**probe.params, "sort": "1"})
        try:
            probe = steps.send(seen)
        except StopIteration:
            return calibration


def planner_for(reading: Reading, now_ms: int, cap: int = 3000, **kw) -> CursorPlanner:
    return CursorPlanner(reading, OLDEST, reading.encode_max(now_ms // 1000 - 1), cap=cap, **kw)


def crawl(
    api: SimApi, planner: CursorPlanner, churn: Callable[[SimApi, int], None] | None = None
) -> set[str]:
    """Every fetch the planner asks for, until it asks for none; the ids written."""
    queue: list[Fetch] = planner.start()
    written: set[str] = set()
    answers = 0
    while queue or (queue := planner.pending()):
        queue.sort(key=lambda f: -f.priority)
        fetch = queue.pop(0)
        seen, facets = api.search(planner.params(fetch))
        answers += 1
        if churn is not None:
            churn(api, answers)
        if seen.status == 400:
            cap = cap_from_message(seen.message)
            assert cap is not None, seen.message
            queue += planner.lower_cap(cap)
            continue
        if fetch.purpose == "page":
            written.update(offer_id for offer_id, _ in seen.offers)
        queue += planner.answer(fetch, seen.total, seen.offers, facets)
    return written
