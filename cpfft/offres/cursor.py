"""The creation-date cursor: every offer of a query past the API's window cap, and
the proof that none was missed. Pure: no Scrapy, no I/O.

A query reaches at most ``cap + 150`` offers (windows of 150, the first index at
most ``cap``). The planner splits the query into **windows** of creation dates,
newest first (``sort=1``):

1. Window 1 spans ``[low, t0]``, ``t0`` fixed at start, so offers published while
   the crawl runs (after ``t0``) shift no window.
2. Page 0 of a window is its probe: ``Content-Range`` gives its total. Up to the
   reach, the other pages are fetched and the window is done. Beyond, the *cursor
   page* (first index = cap) comes first: the creation time ``D`` of its last offer
   gives the next window, ``[low, B]`` with ``B`` the first second whose upper bound
   surely admits ``D`` — as the API reads bounds, which the calibration measured
   (:class:`~cpfft.offres.bounds.Reading`). Offers of ``D``'s second come twice,
   deduplicated by id.
3. More offers than the reach up to ``D``'s own second: that second is split off
   and split again by a facet whose counts cover it exactly (``typeContrat``,
   unless the query filters on ``natureContrat``, which the API ORs with it; then
   ``experience``, ``qualification``, ``natureContrat``).
4. The pages of a window go from the last to the first: an offer withdrawn
   meanwhile moves later offers into pages not fetched yet (fetched twice, never
   missed). Page 0, fetched first as the probe, and any page a retry put before the
   one after it, could lose one that way: if the window's count dropped after such a
   page was answered, it is fetched once more at the end.

**The proof.** Every answer carries the window's current total. The planner
checks, for each window, against counts the API gave *after* the offers were
fetched (so that offers withdrawn meanwhile can only make the check easier, never
hide a gap):

- a last window: its count ≤ the distinct offers fetched from it;
- a window with a next one: its count minus the next window's count (measured
  before it) — the offers only it holds — ≤ the distinct offers fetched from it
  that the next window does not admit;
- the first window against the whole query without date bounds, measured after it:
  every offer of the query older than ``t0`` is in the first window.

A check that fails names how many offers are missing and between which creation
times: the run is then incomplete, never written short as complete.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cpfft.offres.bounds import Reading

WINDOW = 150  # offers per call (Accept-Range)
SPLIT_FACETS = ("typeContrat", "experience", "qualification", "natureContrat")
PROBE_PRIORITY = 100  # above every page: each probe starts at once
TOP = 0  # the number of the whole query's own "window" (the top check)


def when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"


@dataclass
class Fetch:
    """A request to make: ``first``–``last`` of window ``window`` (0: the whole query)."""

    window: int
    first: int
    last: int
    priority: int
    purpose: str = "page"  # page | count | top


@dataclass
class Window:
    number: int
    low: str
    high: str
    extra: dict[str, str] = field(default_factory=dict)
    tried: tuple[str, ...] = ()
    role: str = "first"  # first | next | rest | second (one second, split by facets if need be)
    total: int | None = None
    seen: list[tuple[int, int]] = field(default_factory=list)  # (answer number, total)
    pages: set[int] = field(default_factory=set)
    done: set[int] = field(default_factory=set)
    failed: dict[int, str] = field(default_factory=dict)
    offers: dict[str, int] = field(default_factory=dict)  # fetched: id → creation ms
    child: int | None = None  # the next window of the cursor
    split: list[int] = field(default_factory=list)
    answered: dict[int, tuple[int, int]] = field(default_factory=dict)  # page → first answer
    refetch: bool = False  # pages that may have lost an offer asked again
    counting: bool = False  # a count asked for the check
    checked: bool = False

    def describe(self) -> str:
        facet = "".join(f", {k}={v}" for k, v in self.extra.items())
        return f"window {self.number} (created {self.low} to {self.high}{facet})"

    def complete(self) -> bool:
        return self.total is not None and self.pages <= self.done and not self.failed

    def latest_after(self, answer: int) -> int | None:
        later = [total for number, total in self.seen if number > answer]
        return later[-1] if later else None


@dataclass
class Accounts:
    """What the checks measured, for the run summary."""

    windows: int = 0
    checks_passed: int = 0
    refetched: int = 0
    counts: int = 0
    whole: int = 0  # calls on the whole query (the check of window 1)
    missing: int = 0


class CursorPlanner:
    def __init__(
        self,
        reading: Reading,
        low: str,
        high: str,
        *,
        cap: int = 3000,
        base: dict[str, str] | None = None,
        whole: dict[str, str] | None = None,
        top_check: bool = True,
        budget: int | None = None,
    ):
        self.reading = reading
        self.cap = cap
        self.base = dict(base or {})
        self.windows: dict[int, Window] = {}
        self.numbers = itertools.count(1)
        self.answers = itertools.count(1)
        self.problems: list[str] = []
        self.notes: list[str] = []  # decisions worth a log line, taken by the caller
        self.accounts = Accounts()
        self.whole = dict(whole or {})  # the date bounds of the whole query (the user's)
        self.top_needed = top_check and budget is None
        self.checking = budget is None  # a run cut short on purpose proves nothing
        self.top_new = 0  # offers of the whole query after t0, counted from its pages
        self.budget = budget
        self.reserved = 0
        self.first = self._window(low, high, role="first")

    @property
    def reach(self) -> int:
        return self.cap + WINDOW

    def _window(self, low: str, high: str, **kw: Any) -> Window:
        window = Window(next(self.numbers), low, high, **kw)
        self.windows[window.number] = window
        self.accounts.windows += 1
        return window

    def params(self, fetch: Fetch) -> dict[str, str]:
        """The query parameters of a fetch (``sort=1`` and the user's filters included)."""
        params = dict(self.base)
        if fetch.window == TOP:
            params.update(self.whole)
        else:
            window = self.windows[fetch.window]
            params.update(window.extra)
            params.update(minCreationDate=window.low, maxCreationDate=window.high)
        params.update(sort="1", range=f"{fetch.first}-{fetch.last}")
        return params

    def start(self) -> list[Fetch]:
        return [self.probe(self.first)]

    def probe(self, window: Window) -> Fetch:
        window.pages.add(0)
        return Fetch(window.number, 0, WINDOW - 1, PROBE_PRIORITY)

    def page(self, window: Window, first: int) -> Fetch:
        window.pages.add(first)
        # Last to first: see the module docstring.
        return Fetch(window.number, first, first + WINDOW - 1, first // WINDOW)

    # ------------------------------------------------------------ answers

    def answer(
        self,
        fetch: Fetch,
        total: int,
        offers: list[tuple[str, int]],
        facets: list[Any] | None = None,
    ) -> list[Fetch]:
        """Record an answer (its ``Content-Range`` total, the offers as (id, creation
        ms) in the API's order) and return what to fetch next."""
        number = next(self.answers)
        if fetch.window == TOP:
            self.accounts.whole += 1
            return self._top(fetch, total, offers)
        window = self.windows[fetch.window]
        window.seen.append((number, total))
        follow: list[Fetch] = []
        if fetch.purpose == "count":
            self.accounts.counts += 1
            return self._check(window)
        window.offers.update(offers)
        window.failed.pop(fetch.first, None)
        window.done.add(fetch.first)
        window.answered.setdefault(fetch.first, (number, total))
        if fetch.first == 0 and window.total is None:
            follow += self._on_probe(window, total, facets or [])
            if window is self.first and (top := self.top()) is not None:
                follow.append(top)
            parent = self._parent(window)
            if parent is not None:
                follow += self._check(parent)
        elif fetch.first == self.cap and window.total and window.total > self.reach:
            follow += self._on_cursor(window, offers, total)
        if window.complete():
            follow += self._on_complete(window)
        return follow

    def failure(self, fetch: Fetch, reason: str) -> None:
        if fetch.window == TOP:
            self.problems.append(f"the check against the whole query failed: {reason}")
            return
        window = self.windows[fetch.window]
        if fetch.purpose == "count":
            self.problems.append(f"{window.describe()}: its count could not be checked: {reason}")
            return
        window.failed[fetch.first] = reason

    def lower_cap(self, cap: int) -> list[Fetch]:
        """The API refused a window start above ``cap``: go on with the smaller reach."""
        if cap >= self.cap:
            return []
        self.cap = cap
        follow: list[Fetch] = []
        for window in list(self.windows.values()):
            if window.total is None or (window.complete() and window.checked):
                continue
            window.pages = {p for p in window.pages if p <= cap}
            for first in list(window.failed):
                if first > cap:
                    del window.failed[first]
            if window.total > self.reach and window.child is None and not window.split:
                follow.append(self.page(window, cap))  # the new cursor page
            follow += [
                self.page(window, p) for p in self.firsts(window.total) if p not in window.pages
            ]
        return follow

    def firsts(self, total: int) -> list[int]:
        """First indexes of the pages after page 0: every 150, and the cap's own page
        (which overlaps the one before it when the cap is not a multiple of 150)."""
        reachable = min(total, self.reach)
        pages = [f for f in range(WINDOW, reachable, WINDOW) if f < self.cap]
        return pages + ([self.cap] if reachable > self.cap else [])

    def _on_probe(self, window: Window, total: int, facets: list[Any]) -> list[Fetch]:
        window.total = total
        if total > self.reach and window.role == "second":
            return self._split_second(window, facets)
        reachable = min(total, self.reach)
        firsts = self.firsts(total)
        if total > self.reach:  # the cursor page first: it tells where the next window starts
            firsts = [self.cap] + [f for f in firsts if f != self.cap]
        self.reserved += min(WINDOW, reachable)
        follow = []
        for first in firsts:
            if self.budget is not None and self.reserved >= self.budget:
                break
            self.reserved += min(WINDOW, reachable - first)
            follow.append(self.page(window, first))
        return follow

    def budget_spent(self) -> bool:
        return self.budget is not None and self.reserved >= self.budget

    def _on_cursor(self, window: Window, offers: list[tuple[str, int]], total: int) -> list[Fetch]:
        if self.budget_spent():
            return []
        if not offers:
            if total <= self.cap:
                return []  # withdrawals since the probe: every offer is now within reach
            window.failed[self.cap] = f"offer {self.reach - 1} has no usable dateCreation"
            return []
        last = offers[-1][1]
        reading = self.reading
        high = reading.encode_max(reading.second_after(last))
        if reading.decode(high) < reading.decode(window.high):
            child = self._window(window.low, high, extra=dict(window.extra), tried=window.tried,
                                 role="next")  # fmt: skip
            window.child = child.number
            return [self.probe(child)]
        # More offers than the reach in the last second of the window: split it off.
        second = last // 1000
        dense = self._window(reading.encode_min(second), window.high, extra=dict(window.extra),
                             tried=window.tried, role="second")  # fmt: skip
        window.split = [dense.number]
        follow = [self.probe(dense)]
        rest_high = reading.encode_max(reading.second_before(second * 1000))
        if reading.decode(rest_high) >= reading.decode(window.low):
            rest = self._window(window.low, rest_high, extra=dict(window.extra),
                                tried=window.tried, role="rest")  # fmt: skip
            window.split.append(rest.number)
            follow.append(self.probe(rest))
        return follow

    def _split_second(self, window: Window, facets: list[Any]) -> list[Fetch]:
        """Split a one-second window holding more than the reach by a covering facet."""
        counts = {f.get("filtre"): f.get("agregation") or [] for f in facets if isinstance(f, dict)}
        for facet in SPLIT_FACETS:
            if facet in window.tried or facet in window.extra:
                continue
            if facet == "typeContrat" and "natureContrat" in self.base:
                continue  # the API ORs typeContrat with natureContrat
            if facet == "natureContrat" and "typeContrat" in self.base:
                continue
            values = {
                str(a.get("valeurPossible")): a.get("nbResultats", 0) for a in counts.get(facet, [])
            }
            if not values or sum(values.values()) != window.total or "X" in values:
                continue  # offers without a value would be lost
            self.notes.append(
                f"{window.describe()}: {window.total} offers in one second, split by {facet}"
            )
            follow = []
            for value in sorted(values):
                child = self._window(window.low, window.high, extra={**window.extra, facet: value},
                                     tried=(*window.tried, facet), role="second")  # fmt: skip
                window.split.append(child.number)
                follow.append(self.probe(child))
            window.checked = True  # its children cover it, by the facet counts
            self.accounts.checks_passed += 1
            return follow
        window.failed[-1] = f"{window.total} offers created in one second and no facet splits them"
        return []

    # ------------------------------------------------------------ checks

    def _on_complete(self, window: Window) -> list[Fetch]:
        if not window.refetch:
            window.refetch = True
            again = self.shifted(window)
            if again:
                self.accounts.refetched += len(again)
                window.done.difference_update(again)
                # Last to first again, after every page of the crawl so far.
                return [Fetch(window.number, f, f + WINDOW - 1, f // WINDOW - 100) for f in again]
        return self._check(window)

    @staticmethod
    def shifted(window: Window) -> list[int]:
        """Pages that may have lost an offer: a withdrawal moves every later offer one
        place up, so an offer of a page fetched *after* page ``p`` can move into ``p``'s
        region once ``p`` is fetched. That happens to page 0 (the probe comes first) and
        to any page a retry or a race put before the page after it — and only if the
        window's count dropped after ``p`` was answered. Those pages are fetched again."""
        again = []
        for first, (number, total) in window.answered.items():
            later_pages = any(n > number for f, (n, _) in window.answered.items() if f > first)
            dropped = any(n > number and t < total for n, t in window.seen)
            if later_pages and dropped:
                again.append(first)
        return sorted(again, reverse=True)

    def _parent(self, window: Window) -> Window | None:
        for other in self.windows.values():
            if other.child == window.number:
                return other
        return None

    def _check(self, window: Window) -> list[Fetch]:
        if window.checked or not window.complete() or not self.checking:
            return []
        if window.split:
            window.checked = True  # the windows it was split into check themselves
            return []
        if window.child is None:  # the last window of its chain
            latest = window.seen[-1][1]
            return self._verdict(window, latest, window.offers.values(), None)
        child = self.windows[window.child]
        if not child.seen:
            return []  # after the next window's probe
        probed_at, child_total = child.seen[0]
        latest = window.latest_after(probed_at)
        if latest is None:
            if window.counting:
                return []
            window.counting = True
            return [Fetch(window.number, 0, 0, -2, "count")]
        edge = self.reading.upper_edge(child.high)[0]
        own = [c for c in window.offers.values() if c >= edge]
        return self._verdict(window, latest - child_total, own, edge)

    def _verdict(
        self, window: Window, counted: int, fetched: Iterable[int], edge: int | None
    ) -> list[Fetch]:
        window.checked = True
        times = list(fetched)
        if counted <= len(times):
            self.accounts.checks_passed += 1
            window.offers = {}  # no longer needed: free the memory
            return []
        missing = counted - len(times)
        self.accounts.missing += missing
        since = "" if edge is None else f" from {when(edge)}"
        self.problems.append(
            f"{window.describe()}: the API counts {counted} offers{since}, {len(times)} were "
            f"fetched: {missing} missing"
        )
        return []

    # ------------------------------------------------------------ the whole query

    def top(self) -> Fetch | None:
        """After window 1's probe: the whole query without date bounds, newest first."""
        if not self.top_needed:
            return None
        self.top_needed = False
        return Fetch(TOP, 0, WINDOW - 1, PROBE_PRIORITY, "top")

    def _top(self, fetch: Fetch, total: int, offers: list[tuple[str, int]]) -> list[Fetch]:
        edge = self.reading.upper_edge(self.first.high)[0]
        newer = sum(1 for _, created in offers if created >= edge)
        self.top_new += newer
        if newer == len(offers) and fetch.last + 1 < total and fetch.first < self.cap:
            first = fetch.last + 1  # all newer than t0 so far: look further
            return [Fetch(TOP, first, first + WINDOW - 1, PROBE_PRIORITY, "top")]
        first_total = self.first.seen[0][1] if self.first.seen else 0
        older = total - self.top_new
        if older > first_total:
            missing = older - first_total
            self.accounts.missing += missing
            self.problems.append(
                f"the whole query holds {older} offers created before {when(edge)}, window 1 "
                f"only {first_total}: {missing} offers outside every window (the API reads "
                "maxCreationDate differently from the calibration)"
            )
        else:
            self.accounts.checks_passed += 1
        return []

    # ------------------------------------------------------------ end of run

    def unfinished(self) -> list[str]:
        """One line per piece of the query not fetched or not proven complete."""
        lines = []
        for window in self.windows.values():
            for first in sorted(window.pages - window.done):
                if first < 0:
                    continue
                reason = window.failed.get(first, "not fetched (run stopped)")
                lines.append(f"{window.describe()}, offers {first}-{first + WINDOW - 1}: {reason}")
            if -1 in window.failed:
                lines.append(f"{window.describe()}: {window.failed[-1]}")
        return lines + self.problems

    def pending(self) -> list[Fetch]:
        """Checks still waiting for a count (asked once the crawl is otherwise idle)."""
        follow: list[Fetch] = []
        for window in self.windows.values():
            follow += self._check(window)
        return follow
