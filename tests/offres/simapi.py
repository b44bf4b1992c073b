"""A pure, in-memory model of the search API's date bounds and windows, for unit tests
of the calibration and the cursor planner without HTTP.

It reads bounds the way the knobs say (zone of the wall time, inclusive or exclusive
upper bound, second or millisecond comparison, window cap), independently of
:mod:`cpfft.offres.bounds`, so the planner is tested against another implementation.
"""

from __future__ import annotations

import bisect
import random
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from cpfft.offres.calibration import Seen

FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def zone_of(name: str):
    if name == "UTC":
        return UTC
    if name[0] in "+-":
        from datetime import timedelta, timezone

        sign = -1 if name[0] == "-" else 1
        return timezone(sign * timedelta(hours=int(name[1:3])))
    return ZoneInfo(name)


class SimApi:
    def __init__(self, created: list[int], *, zone="UTC", max_inclusive=True, compare_ms=False,
                 cap=3000, facet_of=None):  # fmt: skip
        self.zone = zone_of(zone)
        self.max_inclusive = max_inclusive
        self.compare_ms = compare_ms
        self.cap = cap
        self.facet_of = facet_of or (lambda offer_id: "CDI" if int(offer_id) % 3 else "CDD")
        self.offers = sorted(((ms, f"{n:07d}") for n, ms in enumerate(created)))
        self.calls = 0

    def withdraw(self, offer_id: str) -> None:
        self.offers = [o for o in self.offers if o[1] != offer_id]

    def add(self, offer_id: str, ms: int) -> None:
        bisect.insort(self.offers, (ms, offer_id))

    def read(self, text: str) -> int:
        wall = datetime.strptime(text, FORMAT).replace(tzinfo=self.zone)
        return int(wall.timestamp()) * 1000

    def search(self, params: dict[str, str]) -> tuple[Seen, list]:
        self.calls += 1
        first, last = (int(x) for x in params.get("range", "0-149").split("-"))
        if last - first + 1 > 150:
            return Seen(400, message="La plage de résultats demandée est trop importante."), []
        if first > self.cap:
            return Seen(
                400,
                message=f"La position de début doit être inférieure ou égale à {self.cap}.",
            ), []
        offers = self.offers
        if "minCreationDate" in params:
            low = self.read(params["minCreationDate"])
            high = self.read(params["maxCreationDate"])
            if self.compare_ms:
                edge = high + 1 if self.max_inclusive else high
            else:
                edge = high + 1000 if self.max_inclusive else high
            start = bisect.bisect_left(offers, (low, ""))
            end = bisect.bisect_left(offers, (edge, ""))
            offers = offers[start:end]
        if "typeContrat" in params:
            offers = [o for o in offers if self.facet_of(o[1]) == params["typeContrat"]]
        newest = offers[::-1]  # sort=1: newest first (ties by id, descending)
        facets = [{"filtre": "typeContrat", "agregation": [
            {"valeurPossible": v, "nbResultats": sum(1 for o in offers if self.facet_of(o[1]) == v)}
            for v in ("CDD", "CDI")
        ]}]  # fmt: skip
        total = len(newest)
        page = [(i, ms) for ms, i in newest[first : last + 1]]
        status = 204 if first >= total else (200 if last >= total - 1 else 206)
        return Seen(status, total, page), facets


def dataset(count: int, now_ms: int, *, days: int = 60, seed: int = 7, burst: int = 0,
            exact_every: int = 97) -> list[int]:  # fmt: skip
    """Creation times (ms) spread over the last ``days`` days, some at an exact second
    (.000), and ``burst`` offers in one same second."""
    rng = random.Random(seed)
    out = []
    for n in range(count):
        ms = now_ms - rng.randrange(60_000, days * 86_400_000)
        if exact_every and n % exact_every == 0:
            ms -= ms % 1000
        out.append(ms)
    at = now_ms - days * 86_400_000 // 3
    out += [at - at % 1000 + rng.randrange(1000) for _ in range(burst)]
    return out
