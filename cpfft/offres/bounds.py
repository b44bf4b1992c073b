"""How the search API reads ``minCreationDate`` / ``maxCreationDate``, and how to write
an instant so that the API reads the instant meant.

Bounds are strings ``yyyy-MM-ddTHH:mm:ssZ`` with whole seconds, while offers carry
their creation time to the millisecond (``…T09:12:44.123Z``, true UTC). Three
points of that comparison are documented nowhere, so :mod:`cpfft.offres.calibration`
measures them at the start of each run:

- the **zone** the API reads the wall time of a bound in, despite the ``Z``: UTC,
  Paris time (one live report suggests it), or some fixed whole-hour offset;
- the **slack** of the upper bound: ``maxCreationDate=B`` admits offers created
  before ``B + slack``: one second (inclusive, compared to the second), one
  millisecond (inclusive, compared to the millisecond) or none (exclusive, either
  precision — both read the same). The lower bound is inclusive: ``min=B`` admits
  offers created at or after ``B``.

Everything here works in epoch milliseconds (ints) for instants and epoch
seconds for bounds, so that no float rounding moves an offer across a bound.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import cached_property
from zoneinfo import ZoneInfo

SECOND = 1000  # ms
HOUR = 3600  # s
FORMAT = "%Y-%m-%dT%H:%M:%SZ"
PARIS = "Europe/Paris"

#: The slack of an upper bound, as the range of what it may be (ms): a range
#: wider than one value means the calibration could not tell them apart.
INCLUSIVE_SECOND = (SECOND, SECOND)
INCLUSIVE_MS = (1, 1)
EXCLUSIVE = (0, 0)
BELOW_SECOND = (0, 1)  # exclusive, or inclusive at the millisecond: not told apart


def zone_info(zone: str) -> tzinfo:
    """``UTC``, an IANA name (``Europe/Paris``) or a fixed offset ``+02:00``."""
    if zone == "UTC":
        return UTC
    if zone[:1] in "+-" and len(zone) == 6 and zone[3] == ":":
        sign = -1 if zone[0] == "-" else 1
        return timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    return ZoneInfo(zone)


def fixed_zone(hours: int) -> str:
    return "UTC" if hours == 0 else f"{'-' if hours < 0 else '+'}{abs(hours):02d}:00"


def utc_text(second: int) -> str:
    """The API's format for an epoch second, written in UTC."""
    return datetime.fromtimestamp(second, UTC).strftime(FORMAT)


def parse_created(value: str) -> int:
    """An offer's ``dateCreation`` (``2026-11-29T09:12:44.123Z``) → epoch ms."""
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    whole = int(moment.replace(microsecond=0).timestamp())
    return whole * 1000 + moment.microsecond // 1000


def offset_hours(zone: str, ms: int) -> float:
    """UTC offset of ``zone`` at an instant, in hours."""
    moment = datetime.fromtimestamp(ms / 1000, UTC).astimezone(zone_info(zone))
    offset = moment.utcoffset() or timedelta(0)
    return offset.total_seconds() / HOUR


def last_change_before(zone: str, ms: int, days: int = 370) -> int | None:
    """Epoch second of the latest change of ``zone``'s UTC offset before ``ms`` (DST)."""
    tz = zone_info(zone)
    start = ms // 1000

    def offset(second: int) -> timedelta | None:
        return datetime.fromtimestamp(second, UTC).astimezone(tz).utcoffset()

    now_offset = offset(start)
    step = 86_400
    probe = start
    for _ in range(days):
        earlier = probe - step
        if offset(earlier) != now_offset:
            low, high = earlier, probe  # offset(low) differs, offset(high) is now's
            while high - low > 1:
                middle = (low + high) // 2
                if offset(middle) == now_offset:
                    high = middle
                else:
                    low = middle
            return high
        probe = earlier
    return None


@dataclass(frozen=True)
class Reading:
    """How the API reads bounds (see the module docstring)."""

    zone: str = "UTC"
    slack: tuple[int, int] = INCLUSIVE_SECOND

    @cached_property
    def tz(self) -> tzinfo:
        return zone_info(self.zone)

    # ------------------------------------------------------------ API strings

    def decode(self, text: str) -> int:
        """The instant (epoch ms) the API reads a bound string as."""
        wall = datetime.strptime(text, FORMAT)  # naive: the wall time, "Z" ignored
        return int(wall.replace(tzinfo=self.tz).timestamp()) * 1000

    def wall(self, second: int) -> str:
        """The bound string whose wall time, in this zone, is the epoch second given."""
        return datetime.fromtimestamp(second, UTC).astimezone(self.tz).strftime(FORMAT)

    def encode_min(self, second: int) -> str:
        """A lower bound the API reads at or before ``second`` (never later: no offer
        after it is left out). At an autumn clock change, a repeated wall time is read
        as its first occurrence, i.e. earlier: still safe."""
        return self.wall(second)

    def encode_max(self, second: int) -> str:
        """An upper bound the API reads at or after ``second`` (never earlier). In the
        second occurrence of a repeated wall hour the API would read one hour early:
        then the hour after is written instead (a little overlap, deduplicated)."""
        text = self.wall(second)
        if self.decode(text) < second * 1000:
            text = self.wall(second + HOUR)
        return text

    # ------------------------------------------------------------ edges (ms)

    def upper_edge(self, text: str) -> tuple[int, int]:
        """``max=text`` admits offers created before this edge: (lowest, highest) it may be."""
        base = self.decode(text)
        return base + self.slack[0], base + self.slack[1]

    def lower_edge(self, text: str) -> int:
        """``min=text`` admits offers created at or after this instant."""
        return self.decode(text)

    def second_after(self, ms: int) -> int:
        """The first second ``s`` whose upper bound surely admits an offer created at ``ms``."""
        return (ms - self.slack[0]) // SECOND + 1

    def second_before(self, ms: int) -> int:
        """The last second ``s`` whose upper bound admits every offer created before
        ``ms`` (a whole second) and as few after it as the slack allows."""
        return ms // SECOND - (self.slack[0] // SECOND)

    # ------------------------------------------------------------ words

    def describe(self) -> str:
        zone = {"UTC": "UTC", PARIS: "Paris time"}.get(self.zone, f"UTC{self.zone}")
        slack = {
            INCLUSIVE_SECOND: "maxCreationDate inclusive, compared to the second",
            INCLUSIVE_MS: "maxCreationDate inclusive, compared to the millisecond",
            EXCLUSIVE: "maxCreationDate exclusive",
            BELOW_SECOND: "maxCreationDate exclusive or inclusive to the millisecond",
        }.get(self.slack, f"slack {self.slack}")
        return f"bounds read as {zone}, {slack}"
