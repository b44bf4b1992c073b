"""Measure, at the start of a run and in a handful of calls, what the search API does
with creation-date bounds and windows (see :mod:`cpfft.offres.bounds`):

1. **zone** — one call: the national query (no filter, newest first) with
   ``maxCreationDate`` = 13 hours ago written in UTC. The newest offer answered was
   created just before the instant the API read; the whole hours between the two are
   the zone's offset (any offset from −12 h to +14 h lands in the data).
2. **verify, and the slack of the upper bound** — a one-second window around that
   offer, written in the zone found: if it holds the offer, the zone is right and
   the upper bound is inclusive to the second; if not, a two-second window: if it
   holds the offer, the zone is right and the upper bound admits less than a second
   (exclusive, or inclusive to the millisecond). Otherwise the neighbouring offsets
   are tried.
3. **Paris time or a fixed offset** — when the offset found is Paris's, one offer
   from before the last clock change tells whether the offset moved with it.
4. **exclusive or inclusive to the millisecond** — only if an offer created at an
   exact second (``.000``) was seen: a window ending at that second tells.
5. **window cap** — ``range=3000-3000``: refused with « La position de début doit être
   inférieure ou égale à N. » when the cap is lower; N is read from the message.

The calibration is a generator (``steps()``): it yields :class:`Probe` requests
and is sent back what each one answered (:class:`Seen`), so it has no I/O and is
unit-tested without Scrapy.
"""

from __future__ import annotations

import re
from collections.abc import Generator
from dataclasses import dataclass, field

from cpfft.offres.bounds import (
    BELOW_SECOND,
    EXCLUSIVE,
    HOUR,
    INCLUSIVE_MS,
    INCLUSIVE_SECOND,
    PARIS,
    SECOND,
    Reading,
    fixed_zone,
    last_change_before,
    offset_hours,
    utc_text,
)

DEFAULT_CAP = 3000
CAP_MESSAGE = re.compile(r"position de d\w+but doit \w+tre inf\w+rieure ou \w+gale \w+ (\d+)")
LOOKBACK = 13 * HOUR  # the zone probe's bound, so that every offset −12…+14 h lands in the past


@dataclass
class Probe:
    """One calibration call on the national query (``sort=1``, no filter)."""

    purpose: str
    params: dict[str, str]


@dataclass
class Seen:
    """What a probe answered: HTTP status, ``Content-Range`` total, the offers in the
    API's order as (id, creation ms), and a 400's message."""

    status: int
    total: int = 0
    offers: list[tuple[str, int]] = field(default_factory=list)
    message: str = ""


def cap_from_message(message: str) -> int | None:
    m = CAP_MESSAGE.search(message or "")
    return int(m.group(1)) if m else None


@dataclass
class Calibration:
    now_ms: int
    oldest: str  # a lower bound far in the past (its zone does not matter)
    reading: Reading | None = None
    cap: int = DEFAULT_CAP
    calls: int = 0
    notes: list[str] = field(default_factory=list)
    failure: str | None = None
    known: dict[str, int] = field(default_factory=dict)

    def steps(self) -> Generator[Probe, Seen, None]:
        zone_slack = yield from self._zone()
        if zone_slack is not None:
            zone, slack = zone_slack
            if slack == BELOW_SECOND:
                slack = yield from self._millisecond(zone)
            self.reading = Reading(zone, slack)
            self.notes.append(self.reading.describe())
        yield from self._cap()

    def ask(self, probe: Probe) -> Generator[Probe, Seen, Seen]:
        self.calls += 1
        seen = yield probe
        for offer_id, created in seen.offers:
            self.known[offer_id] = created
        return seen

    def window(self, purpose: str, low: str, high: str) -> Generator[Probe, Seen, Seen]:
        params = {"minCreationDate": low, "maxCreationDate": high, "range": "0-149"}
        return (yield from self.ask(Probe(purpose, params)))

    # ------------------------------------------------------------ zone and slack

    def _zone(self) -> Generator[Probe, Seen, tuple[str, tuple[int, int]] | None]:
        bound = self.now_ms // SECOND - LOOKBACK
        seen = yield from self.window("zone", self.oldest, utc_text(bound))
        if not seen.offers:
            self.failure = "no offer older than 13 hours to calibrate the date bounds against"
            return None
        newest = seen.offers[0][1]
        hours = (bound * SECOND - newest + SECOND) // (HOUR * SECOND)
        reference = next((o for o in seen.offers if o[1] % SECOND), seen.offers[0])
        candidates = [h for h in (hours, hours - 1, hours + 1) if -12 <= h <= 14]
        for n, candidate in enumerate(candidates):
            slack = yield from self._verify(fixed_zone(candidate), reference, wide_first=n > 0)
            if slack is not None:
                zone = fixed_zone(candidate)
                if candidate and offset_hours(PARIS, reference[1]) == candidate:
                    zone = yield from self._paris_or_fixed(candidate, reference)
                return zone, slack
        self.failure = (
            "the date bounds could not be calibrated: no whole-hour offset puts a known "
            "offer inside its own second"
        )
        return None

    def _verify(
        self, zone: str, offer: tuple[str, int], wide_first: bool
    ) -> Generator[Probe, Seen, tuple[int, int] | None]:
        """Is ``offer`` inside its own second written in ``zone``? → the slack, or None.

        A one-second window ``[s, s]`` holds it only if the upper bound is inclusive to
        the second; a two-second one ``[s, s+1]`` holds it whatever the slack, and
        only if the zone is right. The first candidate zone starts narrow (usually
        one call), the others wide (one call to reject each)."""
        reading = Reading(zone)
        second = offer[1] // SECOND
        narrow = (reading.wall(second), reading.wall(second))
        wide = (reading.wall(second), reading.wall(second + 1))
        if wide_first:
            seen = yield from self.window("verify", *wide)
            if offer[0] not in dict(seen.offers):
                return None
            seen = yield from self.window("verify", *narrow)
            return INCLUSIVE_SECOND if offer[0] in dict(seen.offers) else BELOW_SECOND
        seen = yield from self.window("verify", *narrow)
        if offer[0] in dict(seen.offers):
            return INCLUSIVE_SECOND
        seen = yield from self.window("verify", *wide)
        return BELOW_SECOND if offer[0] in dict(seen.offers) else None

    def _paris_or_fixed(
        self, hours: int, reference: tuple[str, int]
    ) -> Generator[Probe, Seen, str]:
        change = last_change_before(PARIS, reference[1])
        fixed = fixed_zone(hours)
        if change is None:
            return fixed
        bound_text = Reading(fixed).wall(change - 3 * HOUR)
        seen = yield from self.window("zone before the clock change", self.oldest, bound_text)
        if not seen.offers:
            self.notes.append("no offer from before the last clock change: Paris time assumed")
            return PARIS
        older = next((o for o in seen.offers if o[1] % SECOND), seen.offers[0])
        bound = Reading("UTC").decode(bound_text)
        measured = (bound - seen.offers[0][1] + SECOND) // (HOUR * SECOND)
        guess, other = (PARIS, fixed) if measured != hours else (fixed, PARIS)
        for zone in (guess, other):
            reading = Reading(zone)
            second = older[1] // SECOND
            check = yield from self.window(
                "zone before the clock change", reading.wall(second), reading.wall(second + 1)
            )
            if older[0] in dict(check.offers):
                return zone
        self.notes.append("the offset before the last clock change could not be verified")
        return fixed

    def _millisecond(self, zone: str) -> Generator[Probe, Seen, tuple[int, int]]:
        """Exclusive, or inclusive to the millisecond? Only an offer created at .000 tells."""
        reading = Reading(zone)
        exact = [(i, c) for i, c in self.known.items() if c % SECOND == 0]
        for offer_id, created in exact[:1]:
            second = created // SECOND
            seen = yield from self.window(
                "millisecond", reading.wall(second - 1), reading.wall(second)
            )
            return INCLUSIVE_MS if offer_id in dict(seen.offers) else EXCLUSIVE
        return BELOW_SECOND

    # ------------------------------------------------------------ window cap

    def _cap(self) -> Generator[Probe, Seen, None]:
        seen = yield from self.ask(Probe("window cap", {"range": f"{DEFAULT_CAP}-{DEFAULT_CAP}"}))
        if seen.status == 400:
            cap = cap_from_message(seen.message)
            if cap is None:
                self.notes.append(f"window cap: unexpected answer ({seen.message[:80]})")
                return
            self.cap = cap
        self.notes.append(f"windows start at most at {self.cap}")
