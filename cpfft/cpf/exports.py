"""The partitions' exports: what each has given so far, and what to do after each answer
(pure, no Scrapy: plain values in, small decisions out).

A partition (:mod:`cpfft.cpf.plan`) is one JSONL export that must hold exactly the
rows counted for it and end on a whole JSON line. After each answer, :class:`Exports`
says what comes next, as a :class:`Step`:

- whole and as counted: write its rows; the partition is done;
- cut mid-row (or a malformed row inside a whole body): fetch it again, up to
  ``max_attempts`` (``CPF_PARTITION_ATTEMPTS``) in all;
- whole rows, fewer than counted (cut at a row boundary, or the catalogue changed
  since the count): count again, then fetch again. On the last attempt, if every whole
  export gave the same rows, the exports are consistent and the count is what
  disagrees (the portal reindexing): the rows are written, since they are all the
  portal gives, and the partition is reported with both numbers. If the exports
  differ, they were cut short: nothing is written;
- more whole rows than counted: written at once (a cut never adds rows; the
  duplicate filter keeps a row given twice from being written twice), then one fresh
  count decides. If it agrees with the rows written, the catalogue merely changed
  since the first count: the run stays complete, with a warning in the summary. If it
  still disagrees, the extra rows may be rows being withdrawn while the portal
  reindexes: the run is incomplete and the summary gives both numbers.

A partition given up is listed by :meth:`Exports.missing` (the run's ``missing:``
lines): with its counted rows when none of its rows is written (those rows are
missing), without them when its exported rows are written anyway (its reason gives
the numbers).
"""

from __future__ import annotations

import io
import json
import logging
from collections import Counter, deque
from collections.abc import Callable, Generator, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeVar

from cpfft.cpf.plan import Partition, one_count, quota_warning
from cpfft.items import Formation

T = TypeVar("T")

INFO, WARNING, ERROR = logging.INFO, logging.WARNING, logging.ERROR
#: Partitions whose exports are in flight at once: two keep the pipeline busy (one is
#: parsed while the next downloads); more would only hold more bodies in memory.
EXPORTS_IN_FLIGHT = 2


def spaced(n: int) -> str:
    """1234567 → '1 234 567', as the run summary writes its figures."""
    return f"{n:,}".replace(",", " ")


def figures(values: list[int]) -> str:
    """[600, 1200, 900] → '600, 1 200 and 900'."""
    shown = [spaced(v) for v in values]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]


def count_lines(body: bytes) -> int:
    """The rows of a JSONL body that ends on a whole row: its lines, final breaks aside."""
    body = body.rstrip(b"\r\n")
    return body.count(b"\n") + 1 if body else 0


def ends_on_whole_row(body: bytes) -> bool:
    """True if the body's last line is a whole JSON value (or the body is empty)."""
    stripped = body.rstrip(b"\r\n")
    if not stripped:
        return True
    try:
        json.loads(stripped.rsplit(b"\n", 1)[-1])
    except ValueError:
        return False
    return True


def plan_lines(
    rows: int, partitions: list[Partition], partition_rows: int, quota_left: int | None
) -> list[tuple[int, str]]:
    """What to log, as (logging level, line), once ``rows`` rows are planned in these
    exports; ``quota_left``: calls left in today's quota, if known. A partition bigger
    than ``partition_rows`` (a group no finer count could split) is named by its size:
    it is held in memory whole while it is read."""
    if not partitions:
        return [(INFO, "No row matches the filters: the CSV will hold the header only")]
    plan = (
        f"Plan: {rows} rows in {len(partitions)} partition(s) of at most {partition_rows} "
        "rows, one export call each"
    )
    bigger = sorted((p.expected for p in partitions if p.expected > partition_rows), reverse=True)
    if bigger:
        plan += (
            f", except {len(bigger)} that no finer count could split "
            f"(the biggest: {bigger[0]} rows)"
        )
    lines = [(INFO, plan)]
    warning = quota_warning(quota_left, len(partitions))
    if warning:
        lines.append((WARNING, warning))
    return lines


def resume_line(planned: int, left: int, name: str) -> str:
    """What a resumed run logs once it knows which of its ``planned`` partitions are
    complete in the output file ``name`` already (``left``: those still to fetch)."""
    return (
        f"Resuming: {planned - left} of {planned} partitions are complete in {name} already; "
        f"fetching the other {left}"
    )


def export_rows(
    body: bytes,
    rename: Mapping[str, str],
    on_snapshot: Callable[[str], None],
    batch: Callable[[list[Formation]], T],
    size: int,
) -> Generator[T, None, bool]:
    """The rows of a JSONL export, ``size`` at a time, each batch made by ``batch``.
    Returns False at a malformed line (the rows before it given), True at the end.

    ``rename``: dataset field → output column (other fields are not exported);
    ``on_snapshot`` is called with each ``date_extract`` value not seen before."""
    # Today's dataset names every column as the output does: a record made only of
    # those fields is the row itself, without a renamed copy.
    same_names = all(k == v for k, v in rename.items())
    known = rename.keys()
    seen: set[str] = set()
    rows: list[Formation] = []
    for line in io.BytesIO(body):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            if rows:
                yield batch(rows)
            return False
        if same_names and record.keys() <= known:
            row = record
        else:
            row = {rename[k]: v for k, v in record.items() if k in rename}
        snapshot = row.get("date_extract")
        if snapshot is not None and snapshot not in seen:
            seen.add(snapshot)
            on_snapshot(snapshot)
        rows.append(Formation(**row))
        if len(rows) >= size:
            yield batch(rows)
            rows = []
    if rows:
        yield batch(rows)
    return True


class Ask(Enum):
    """The calls made for a partition."""

    EXPORT = "export"  # the partition's rows
    RECOUNT = "recount"  # its count again, before fetching it again
    VERIFY = "fresh count"  # its count again, after an export longer than counted


@dataclass(frozen=True)
class Fetch:
    """Send this call for partition ``number`` next."""

    ask: Ask
    number: int
    attempt: int = 1  # of the partition's export
    received: int = 0  # VERIFY: the rows the export gave (all written)


@dataclass(frozen=True)
class Over:
    """The partition is over: done (``failure`` None) or given up with ``failure``
    (``written``: its exported rows are in the file all the same)."""

    number: int
    failure: str | None = None
    written: bool = False


@dataclass(frozen=True)
class Step:
    """What to do after one answer, in this order: count one more partition retry
    (``retry``), log ``log`` (level, line), write the export's rows (``write``), change
    the rows expected by ``total_change``, then ``then``: the next call, or the
    partition is over (see :meth:`Exports.over`)."""

    then: Fetch | Over
    write: bool = False
    log: tuple[int, str] | None = None
    retry: bool = False
    total_change: int | None = None


class Exports:
    """Every partition's state (done, given up, written anyway, what its counts and
    exports said, exports cut mid-row), the partitions waiting for an export slot, and
    the disagreements that cost no row (summary warnings)."""

    def __init__(self, max_attempts: int, in_flight_max: int = EXPORTS_IN_FLIGHT) -> None:
        self.max_attempts = max_attempts
        self.in_flight_max = in_flight_max
        self.partitions: dict[int, Partition] = {}
        self.queries: dict[int, str] = {}  # partition number -> full ODSQL condition
        self.waiting: deque[int] = deque()
        self.in_flight = 0
        self.done: set[int] = set()
        self.failed: dict[int, str] = {}
        self.written_anyway: set[int] = set()  # given up, but its exported rows are written
        # Per partition: the counted and exported rows of each whole export, and the
        # exports cut mid-row, to say precisely why a partition is given up.
        self.counts_seen: dict[int, list[int]] = {}
        self.exports_seen: dict[int, list[int]] = {}
        self.cut_exports: Counter[int] = Counter()
        self.snapshots: set[str] = set()  # the date_extract values seen in the rows
        self.warnings: list[str] = []  # summary lines: disagreements that cost no row

    # ------------------------------------------------------------ plan and slots

    def plan(self, partitions: Iterable[Partition], queries: dict[int, str] | None = None) -> int:
        """Track these partitions (``queries``: partition number → its full ODSQL
        condition); return the rows they are expected to hold."""
        self.partitions = {p.number: p for p in partitions}
        self.queries = queries or {}
        return sum(p.expected for p in self.partitions.values())

    def not_written_yet(
        self, partitions: list[Partition], written: Iterable[tuple[str, ...]]
    ) -> tuple[list[Partition], int]:
        """Resumed run: the partitions whose rows are not all in the output file already,
        and the rows kept from it. ``written``: the :data:`~cpfft.cpf.plan.LEVELS` values
        (code_departement, code_nsf_1, code_formacode_1) of each row in the file ('' for
        an empty cell). A complete partition is done."""
        rows: Counter[tuple[str | None, ...]] = Counter()
        for values in written:
            key = tuple(v or None for v in values)
            for depth in range(1, len(key) + 1):
                rows[key[:depth]] += 1
        left, kept_rows = [], 0
        for partition in partitions:
            have = sum(rows[g.key] for g in partition.groups)
            if partition.limit is None and have == partition.expected:
                self.done.add(partition.number)
                kept_rows += have
            else:
                left.append(partition)
        return left, kept_rows

    def queue(self, partitions: Iterable[Partition]) -> None:
        """These partitions are to be exported, in this order."""
        self.waiting.extend(p.number for p in partitions)

    def may_start(self) -> bool:
        """True if a partition waits and an export slot is free."""
        return bool(self.waiting) and self.in_flight < self.in_flight_max

    def start(self) -> Fetch:
        """The first export of the next waiting partition (it takes a slot)."""
        self.in_flight += 1
        return Fetch(Ask.EXPORT, self.waiting.popleft())

    def over(self, over: Over) -> None:
        """The partition is over: record how, and free its slot."""
        if over.failure is None:
            self.done.add(over.number)
        else:
            self.failed[over.number] = over.failure
            if over.written:
                self.written_anyway.add(over.number)
        self.in_flight -= 1

    # ------------------------------------------------------------ calls

    def call(self, fetch: Fetch) -> tuple[str, dict[str, str | int]]:
        """(path under the dataset, query parameters) of a call."""
        where = self.queries[fetch.number]
        if fetch.ask is Ask.EXPORT:
            limit = self.partitions[fetch.number].limit
            return "/exports/jsonl", {"where": where, "limit": -1 if limit is None else limit}
        return "/records", {"select": "count(*) as n", "where": where, "limit": 1}

    def step_name(self, fetch: Fetch) -> str:
        """How a call is named when it fails."""
        partition = self.partitions[fetch.number]
        if fetch.ask is Ask.EXPORT:
            return partition.describe()
        if fetch.ask is Ask.RECOUNT:
            return f"{partition.describe()} recount"
        return f"{partition.label()} fresh count"

    # ------------------------------------------------------------ answers

    def answered(self, fetch: Fetch, body: bytes) -> Step:
        """A partition's export answered with ``body`` (see :meth:`exported`)."""
        whole = ends_on_whole_row(body)
        return self.exported(fetch.number, fetch.attempt, whole, count_lines(body) if whole else 0)

    def recounted(self, fetch: Fetch, load: Callable[[], Any]) -> Step:
        """A partition's recount or fresh count answered (``load`` reads its JSON); see
        :meth:`counted`."""
        try:
            rows, unreadable = one_count(load()), ""
        except ValueError as exc:  # SchemaError included
            rows, unreadable = None, str(exc)
        return self.counted(fetch, rows, unreadable)

    def exported(self, number: int, attempt: int, whole: bool, received: int) -> Step:
        """Export ``attempt`` of a partition came back; ``whole``: its body ends on a
        whole row; ``received``: its rows (lines), when whole."""
        if not whole:
            self.cut_exports[number] += 1
            return self.try_again(number, attempt, "export cut off mid-row", Ask.EXPORT)
        partition = self.partitions[number]
        counted = partition.expected
        self.counts_seen.setdefault(number, []).append(counted)
        self.exports_seen.setdefault(number, []).append(received)
        if received == counted:
            return Step(Over(number), write=True)
        if received > counted:
            line = (
                f"{partition.label()}: export gave {received} rows, {counted} counted; "
                "writing them and counting again"
            )
            verify = Fetch(Ask.VERIFY, number, attempt, received)
            return Step(verify, write=True, log=(WARNING, line))
        if attempt < self.max_attempts:
            problem = f"export gave {received} rows, {counted} counted"
            return self.try_again(number, attempt, problem, Ask.RECOUNT)
        return self.short_for_good(number, received)

    def malformed(self, number: int, attempt: int) -> Step:
        """A malformed row inside a whole body: fetch the partition again (rows already
        written are then dropped as duplicates)."""
        return self.try_again(number, attempt, "malformed row in export", Ask.EXPORT)

    def try_again(self, number: int, attempt: int, problem: str, ask: Ask) -> Step:
        """Call ``ask`` for the partition's next attempt, or give it up after the last."""
        description = self.partitions[number].describe()
        if attempt >= self.max_attempts:
            line = f"{description}: {problem}; gave up after {attempt} attempts"
            over = Over(number, f"{problem} (gave up after {attempt} attempts)")
            return Step(over, log=(ERROR, line), retry=True)
        line = f"{description}: {problem}; fetching it again"
        return Step(Fetch(ask, number, attempt + 1), log=(WARNING, line), retry=True)

    def count_said(self, number: int) -> str:
        """What the partition's counts said, each change of count once."""
        seen = self.counts_seen[number]
        counts = [c for i, c in enumerate(seen) if i == 0 or c != seen[i - 1]]
        if len(counts) == 1:
            return f"the count says {spaced(counts[0])} rows"
        return f"the counts said {', then '.join(spaced(c) for c in counts)} rows"

    def short_for_good(self, number: int, received: int) -> Step:
        """The last attempt, still fewer whole rows than counted: give the partition up,
        its rows written if every whole export gave the same rows."""
        partition = self.partitions[number]
        exports = self.exports_seen[number]
        cut = self.cut_exports[number]
        also_cut = f"; {cut} more were cut mid-row" if cut else ""
        said = self.count_said(number)
        if len(set(exports)) == 1:
            every = "every export" if not cut else "every whole export"
            failure = (
                f"{said}, {every} gave {spaced(received)}{also_cut} (the portal may be "
                f"reindexing; run again later); those {spaced(received)} rows are written"
            )
            line = f"{partition.label()}: {failure}"
            return Step(Over(number, failure, written=True), write=True, log=(ERROR, line))
        failure = (
            f"{said}, the {len(exports)} whole exports gave {figures(exports)} rows{also_cut} "
            "(cut short, or the portal is reindexing; run again later); none written"
        )
        return Step(Over(number, failure), log=(ERROR, f"{partition.describe()}: {failure}"))

    def counted(self, fetch: Fetch, rows: int | None, unreadable: str = "") -> Step:
        """A recount or fresh count answered ``rows`` (None: ``unreadable`` says why)."""
        if fetch.ask is Ask.VERIFY:
            return self.verified(fetch, rows, unreadable)
        number = fetch.number
        if rows is None:
            return Step(Over(number, f"cannot read its row count: {unreadable}"))
        partition = self.partitions[number]
        before = partition.expected
        partition.recount(rows)
        export = Fetch(Ask.EXPORT, number, fetch.attempt)
        if partition.expected == before:
            return Step(export)
        line = (
            f"{partition.describe()}: the catalogue changed during the run "
            f"({partition.expected} rows now, {before} before)"
        )
        return Step(export, log=(WARNING, line), total_change=partition.expected - before)

    def verified(self, fetch: Fetch, fresh: int | None, unreadable: str) -> Step:
        """The fresh count after an export longer than its count (see :meth:`exported`)."""
        number, received = fetch.number, fetch.received
        partition = self.partitions[number]
        counted = partition.expected
        head = (
            f"the count said {spaced(counted)} rows, the export gave {spaced(received)}, "
            "all written"
        )
        if fresh is None:
            failure = f"{head}; its fresh count cannot be read: {unreadable}"
            line = f"{partition.label()}: {failure}"
            return Step(Over(number, failure, written=True), log=(ERROR, line))
        if partition.limit is not None:
            fresh = min(fresh, partition.limit)  # the export holds at most `limit` rows
        if fresh == received:
            warning = f"{partition.label()}: {head}; a fresh count agrees ({spaced(fresh)})"
            self.warnings.append(warning)
            partition.recount(fresh)
            return Step(
                Over(number), log=(WARNING, warning), total_change=partition.expected - counted
            )
        still = "still says" if fresh == counted else "says"
        failure = (
            f"the count says {spaced(counted)} rows, the export gave {spaced(received)}, all "
            f"written; a fresh count {still} {spaced(fresh)} (the portal may be reindexing; "
            "run again later)"
        )
        line = f"{partition.label()}: {failure}"
        return Step(Over(number, failure, written=True), log=(ERROR, line))

    def request_failed(self, fetch: Fetch, reason: str) -> Step:
        """A partition's call failed for good with ``reason``: give the partition up."""
        if fetch.ask is not Ask.VERIFY:
            return Step(Over(fetch.number, reason))
        failure = (
            f"the count said {spaced(self.partitions[fetch.number].expected)} rows, the "
            f"export gave {spaced(fetch.received)}, all written; its fresh count failed: "
            f"{reason}"
        )
        return Step(Over(fetch.number, failure, written=True))

    def new_snapshot(self, snapshot: str) -> str | None:
        """A row's ``date_extract`` not seen before: the warning to log when rows now come
        from two daily snapshots (the catalogue was refreshed during the run); None for
        a value seen before."""
        if snapshot in self.snapshots:
            return None
        self.snapshots.add(snapshot)
        if len(self.snapshots) != 2:
            return None
        return (
            f"The catalogue was refreshed during the run (date_extract "
            f"{' and '.join(sorted(self.snapshots))}): rows come from more than one daily "
            "snapshot"
        )

    # ------------------------------------------------------------ the run's end

    def missing(self) -> list[str]:
        """One line per partition not done, in partition order (see the module's text)."""
        missing = []
        for number, partition in sorted(self.partitions.items()):
            if number not in self.done:
                reason = self.failed.get(number, "not fetched (run stopped)")
                name = partition.label() if number in self.written_anyway else partition.describe()
                missing.append(f"{name}: {reason}")
        return missing

    def summary_warnings(self) -> list[str]:
        """Summary lines: the disagreements that cost no row."""
        return [f"  warning:            {w}" for w in self.warnings]
