"""``scrapy crawl cpf -O formations.csv``: the Mon Compte Formation catalogue, complete.

Calls, in order (Explore API v2.1 of the Caisse des Dépôts Opendatasoft portal):

1. ``GET /catalog/datasets/{id}``: the dataset's field names, so that renamed
   columns (``date_chargement``, ``code_rs``, ``siret_of``) are mapped back and
   the CSV columns never change;
2. ``GET …/records?select=code_departement, count(*) as n&group_by=code_departement``:
   how many rows each département has (the null département included), with
   the user's filters;
3. only if a département exceeds ``CPF_PARTITION_ROWS``: the same count by
   (département, ``code_nsf_1``) for those départements;
4. one ``GET …/exports/jsonl?where=<partition>`` per partition (see
   :mod:`cpfft.cpf.plan`). Each export must hold exactly the counted rows
   and end on a whole JSON line; otherwise it is counted and fetched again.

The portal's grouped ``limit`` is not settled (its OpenAPI text wants
``offset + limit`` *below* 20 000; portals accept 20 000, or refuse only above
30 000; a lower cap is possible): a count refused with 400 for its limit is
sent again with the limit the refusal states (or a smaller step), and a count
answer holding as many groups as its limit is treated as possibly cut.

While the portal reindexes, its counts may keep disagreeing with its exports.
A partition whose whole exports keep giving fewer rows than counted is, after
``CPF_PARTITION_ATTEMPTS``, written if every export gave the same rows, and
reported under ``missing:`` with both numbers (the run is incomplete). An
export with *more* rows than counted is written at once and checked against
one fresh count (see :meth:`CpfSpider.parse_export`).
"""

from __future__ import annotations

import io
import json
import logging
from collections import Counter, deque
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlencode

import scrapy
from scrapy.spidermiddlewares.httperror import HttpError

from cpfft.config import SETTINGS_BY_NAME, check_base_url, positive_int
from cpfft.cpf.plan import (
    Group,
    Partition,
    Schema,
    SchemaError,
    all_of,
    any_of,
    in_list,
    is_limit_refusal,
    next_group_limit,
    parse_groups,
    parse_metadata,
    plan_partitions,
    quote,
)
from cpfft.cpf.themes import catalogue, theme_parser
from cpfft.errors import ConfigurationError
from cpfft.geo import DEPARTEMENTS_BY_CODE, REGIONS_BY_CODE, find_departement, find_region
from cpfft.items import FORMATION_FIELDS, Formation
from cpfft.middlewares.retry import JSON_META
from cpfft.params import Param, choice, integer, listing, parse_arguments, text
from cpfft.pipelines import ALREADY_WRITTEN, DROPPED
from cpfft.run.contract import ApiSpider, describe_failure
from cpfft.run.report import count as spaced
from cpfft.run.resume import existing_rows, unguard
from cpfft.run.state import is_stopping, mark_incomplete

if TYPE_CHECKING:
    from scrapy.http import Response
    from scrapy.settings import BaseSettings
    from twisted.python.failure import Failure

logger = logging.getLogger(__name__)

OPENDATASOFT_QUOTA = "cpfft.cpf.quota.OpendatasoftQuotaMiddleware"
TYPES_REFERENTIEL = {"RS": "RS", "RNCP": "RNCP"}
#: The grouped ``limit`` tried first: enough for every département, and for the
#: (département, NSF code) pairs of the big ones.
GROUP_LIMIT = 20_000


def figures(values: list[int]) -> str:
    """[600, 1200, 900] → '600, 1 200 and 900'."""
    shown = [spaced(v) for v in values]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]


def api_message(response: Response) -> tuple[str, str]:
    """(error code, message) of an Opendatasoft error body; ('', '') if it is not one."""
    try:
        payload = json.loads(response.body)
    except ValueError:
        return "", ""
    if not isinstance(payload, dict):
        return "", ""
    code = payload.get("error_code") or payload.get("errorcode") or ""
    return str(code), str(payload.get("message") or payload.get("error") or "")


def themes_from(settings: BaseSettings) -> dict[str, tuple[str, ...]]:
    """Theme id → NSF codes: the built-in themes (:mod:`cpfft.cpf.themes`) and CPF_THEMES'."""
    try:
        extra = settings.getdict("CPF_THEMES")
    except (ValueError, TypeError, RecursionError):  # not JSON, or JSON but not an object
        raise ConfigurationError(
            'setting CPF_THEMES is not a JSON object. Example: {"boulangerie": ["221"]}'
        ) from None
    return catalogue(extra)


def cpf_params(settings: BaseSettings) -> tuple[Param, ...]:
    themes = themes_from(settings)
    return (
        Param("q", text(200), "full-text search words, e.g. -a q=python"),
        Param(
            "theme",
            listing(theme_parser(themes), 10),
            "one or more themes, e.g. numerique,btp (the README lists them all)",
        ),
        Param("region", listing(find_region, 18), "region codes or names, e.g. 11 or Bretagne"),
        Param(
            "departement",
            listing(find_departement, 101),
            "département codes or names, e.g. 75,2A or Gironde",
        ),
        Param("type_referentiel", choice(TYPES_REFERENTIEL), "RS or RNCP"),
        Param("max_records", integer(1, 100_000_000), "a maximum number of rows, e.g. 500"),
    )


class CpfSpider(ApiSpider):
    name = "cpf"
    middlewares: ClassVar[dict[str, int]] = {OPENDATASOFT_QUOTA: 560}
    item_class = Formation
    custom_settings: ClassVar[dict[str, Any]] = {
        "FEED_EXPORT_FIELDS": FORMATION_FIELDS,
        # Two exports in flight keep the pipeline busy; more only holds more bodies in memory.
        "CONCURRENT_REQUESTS_PER_DOMAIN": 2,
    }

    # ------------------------------------------------------------ configuration

    @classmethod
    def check_configuration(cls, settings: BaseSettings, arguments: dict[str, Any]) -> dict:
        """Validate settings and arguments; return the parsed arguments."""
        for name in ("CPF_API_URL", "CPF_DATASET", "CPF_PARTITION_ROWS", "CPF_PARTITION_ATTEMPTS"):
            SETTINGS_BY_NAME[name].check(settings, name)  # the settings table's own check
        args = parse_arguments(cpf_params(settings), arguments)
        if args["region"] and args["departement"]:
            outside = [
                d
                for d in args["departement"]
                if DEPARTEMENTS_BY_CODE[d].region not in args["region"]
            ]
            if outside:
                regions = ", ".join(f"{r} ({REGIONS_BY_CODE[r].name})" for r in args["region"])
                raise ConfigurationError(
                    f"argument -a departement: {', '.join(outside)} is not in region "
                    f"{regions}, so nothing could match. Drop -a region or fix -a departement"
                )
        return args

    def configure(self, settings: BaseSettings, args: dict[str, Any]) -> None:
        self.args = args
        self.themes = themes_from(settings)
        base = check_base_url(settings, "CPF_API_URL")
        self.dataset_url = f"{base}/api/explore/v2.1/catalog/datasets/{settings.get('CPF_DATASET')}"
        self.partition_rows = positive_int(settings, "CPF_PARTITION_ROWS")
        self.max_attempts = positive_int(settings, "CPF_PARTITION_ATTEMPTS")
        self.schema: Schema | None = None
        self.progress_total: int | None = None
        self.partitions: dict[int, Partition] = {}
        self.done: set[int] = set()
        self.failed: dict[int, str] = {}
        self.snapshots: set[str] = set()
        self.queries: dict[int, str] = {}  # partition number -> full ODSQL condition
        self.waiting: deque[Partition] = deque()
        self.in_flight = 0
        self.exports_in_flight = 2
        # Grouped counts: the limit they are sent with, and the limits refused so far.
        self.group_limit = GROUP_LIMIT
        self.group_limits_refused: list[tuple[int, str]] = []
        self.group_limit_told = False
        # Per partition: the counted and exported rows of each whole export, and the
        # exports cut mid-row, to say precisely why a partition is given up.
        self.counts_seen: dict[int, list[int]] = {}
        self.exports_seen: dict[int, list[int]] = {}
        self.cut_exports: Counter[int] = Counter()
        self.written_anyway: set[int] = set()  # given up, but its exported rows are written
        self.warnings: list[str] = []  # summary lines: disagreements that cost no row

    # ------------------------------------------------------------ requests

    def api_request(
        self, path: str, params: dict[str, Any], callback: Any, **meta: Any
    ) -> scrapy.Request:
        query = urlencode({k: v for k, v in params.items() if v not in (None, "")})
        url = f"{self.dataset_url}{path}" + (f"?{query}" if query else "")
        # JSON answers that do not parse are retried (exports are JSONL, checked row by row).
        meta.setdefault(JSON_META, not path.startswith("/exports"))
        return scrapy.Request(
            url,
            callback=callback,
            errback=self.on_error,
            meta=meta,
            headers={"Accept": "application/json"},
            dont_filter=True,
        )

    async def start(self) -> AsyncIterator[scrapy.Request]:
        yield self.api_request("", {}, self.parse_metadata, step="dataset metadata")

    def filters(self) -> str:
        """The user's filters as one ODSQL condition ('' when none)."""
        assert self.schema is not None
        field = self.schema.field
        args = self.args
        clauses: list[str | None] = []
        if args["q"]:
            clauses.append(f"search({quote(args['q'])})")
        if args["theme"]:
            codes = sorted({c for t in args["theme"] for c in self.themes[t]})
            clauses.append(any_of(in_list(field(f"code_nsf_{i}"), codes) for i in (1, 2, 3)))
        if args["region"]:
            clauses.append(in_list(field("code_region"), args["region"]))
        if args["departement"]:
            clauses.append(in_list(field("code_departement"), args["departement"]))
        if args["type_referentiel"]:
            clauses.append(f"{field('type_referentiel')} = {quote(args['type_referentiel'])}")
        return all_of(clauses)

    # ------------------------------------------------------------ callbacks

    def parse_metadata(self, response: Response) -> Iterator[scrapy.Request]:
        try:
            schema = parse_metadata(response.json())
            self.schema = schema
            departement = schema.field("code_departement")
            schema.field("numero_formation")
            where = self.filters()
        except (SchemaError, ValueError) as exc:
            mark_incomplete(self.crawler, f"cannot use the dataset metadata: {exc}")
            logger.error("Cannot use the dataset metadata: %s", exc)
            return
        for name in schema.missing:
            logger.warning(
                "The dataset has no %r field (nor an alias): that column stays empty", name
            )
        renamed = {a: c for c, a in schema.actual.items() if a != c}
        if renamed:
            logger.info("Dataset fields mapped back to stable column names: %s", renamed)
        if schema.extra:
            logger.warning(
                "New dataset fields not exported (the columns stay stable): %s", schema.extra
            )
        yield self.count_request(
            {"select": f"{departement}, count(*) as n", "group_by": departement, "where": where},
            self.parse_counts,
            "row count per département",
        )

    def count_request(
        self, params: dict[str, Any], callback: Any, step: str, **extra: Any
    ) -> scrapy.Request:
        """A grouped count, sent with the grouped limit accepted so far."""
        return self.api_request(
            "/records",
            {**params, "limit": self.group_limit},
            callback,
            step=step,
            count_params=params,
            count_extra=extra,
            group_limit=self.group_limit,
            **extra,
        )

    def smaller_group_limit(self, failure: Failure) -> scrapy.Request | None:
        """A grouped count refused for its limit: the same count with a smaller one."""
        request = failure.request
        params = request.meta.get("count_params")
        exc = failure.value
        if params is None or not isinstance(exc, HttpError) or is_stopping(self.crawler):
            return None
        code, message = api_message(exc.response)
        if code == "ODSQLError" or not is_limit_refusal(exc.response.status, message):
            return None
        refused = request.meta["group_limit"]
        self.group_limits_refused.append((refused, message))
        smaller = next_group_limit(min(refused, self.group_limit), message)
        if smaller is None:
            return None
        logger.debug("Grouped limit=%d refused (%s); trying limit=%d", refused, message, smaller)
        self.group_limit = smaller
        return self.count_request(
            params, request.callback, request.meta["step"], **request.meta["count_extra"]
        )

    def counts_answered(self, response: Response) -> None:
        """Say once, at INFO, which grouped limit the portal accepted after refusals."""
        if self.group_limits_refused and not self.group_limit_told:
            self.group_limit_told = True
            first, message = self.group_limits_refused[0]
            logger.info(
                "The portal refused group_by limit=%d (%s); limit=%d accepted and used for "
                "every count by group",
                first,
                message or "HTTP 400",
                response.meta["group_limit"],
            )

    def parse_counts(self, response: Response) -> Iterator[scrapy.Request]:
        assert self.schema is not None
        self.counts_answered(response)
        try:
            counts = parse_groups(response.json(), (self.schema.field("code_departement"),))
        except (SchemaError, ValueError) as exc:
            mark_incomplete(self.crawler, f"cannot read the row counts: {exc}")
            logger.error("Cannot read the row counts: %s", exc)
            return
        limit = response.meta["group_limit"]
        if len(counts) >= limit:
            # As many groups as the limit allows: more may exist, and a département
            # missing from the counts would be missing from the output, unnoticed.
            problem = (
                f"row count per département: {len(counts)} groups came back, as many as "
                f"limit={limit} allows, so some may be missing; nothing was fetched"
            )
            mark_incomplete(self.crawler, problem)
            logger.error("Cannot plan the partitions: %s", problem)
            return
        groups = [Group(key[0], n) for key, n in counts]
        big = [g for g in groups if g.count > self.partition_rows]
        if not big:
            yield from self.plan(groups)
            return
        departement = self.schema.field("code_departement")
        nsf = self.schema.field("code_nsf_1")
        codes = [g.departement for g in big if g.departement is not None]
        scope = [in_list(departement, codes)] if codes else []
        if any(g.departement is None for g in big):
            scope.append(f"{departement} is null")
        yield self.count_request(
            {
                "select": f"{departement}, {nsf}, count(*) as n",
                "group_by": f"{departement}, {nsf}",
                "where": all_of([self.filters(), any_of(scope)]),
            },
            self.parse_subcounts,
            "row count per département and NSF code",
            groups=groups,
        )

    def parse_subcounts(self, response: Response) -> Iterator[scrapy.Request]:
        assert self.schema is not None
        self.counts_answered(response)
        groups: list[Group] = response.meta["groups"]
        keys = (self.schema.field("code_departement"), self.schema.field("code_nsf_1"))
        try:
            counts = parse_groups(response.json(), keys)
        except (SchemaError, ValueError) as exc:
            mark_incomplete(self.crawler, f"cannot read the row counts: {exc}")
            logger.error("Cannot read the row counts: %s", exc)
            return
        limit = response.meta["group_limit"]
        if len(counts) >= limit:
            # Possibly cut: a (département, NSF code) pair left out would never be
            # exported. The département counts are whole, so the big départements
            # are exported whole instead: bigger exports, no row lost.
            big = sorted(
                g.departement or "sans département" for g in groups if g.count > self.partition_rows
            )
            warning = (
                f"the count per département and NSF code gave {len(counts)} groups, as many "
                f"as limit={limit} allows, so it may be cut: départements {', '.join(big)} "
                "are exported whole, not split by NSF code"
            )
            logger.warning("%s", warning[:1].upper() + warning[1:])
            self.warnings.append(warning)
            yield from self.plan(groups)
            return
        split = {key[0] for key, _ in counts}
        finer = [Group(key[0], n, nsf=key[1], by_nsf=True) for key, n in counts]
        kept = [g for g in groups if g.count <= self.partition_rows or g.departement not in split]
        yield from self.plan(kept + finer)

    def plan(self, groups: list[Group]) -> Iterator[scrapy.Request]:
        assert self.schema is not None
        partitions = plan_partitions(groups, self.partition_rows, self.args["max_records"])
        self.partitions = {p.number: p for p in partitions}
        self.progress_total = sum(p.expected for p in partitions)
        stats = self.crawler.stats
        stats.set_value("cpfft/rows_expected", self.progress_total)
        stats.set_value("cpfft/partitions", len(partitions))
        if not partitions:
            logger.info("No row matches the filters: the CSV will hold the header only")
            return
        logger.info(
            "Plan: %d rows in %d partition(s) of at most %d rows, one export call each",
            self.progress_total,
            len(partitions),
            self.partition_rows,
        )
        remaining = stats.get_value("cpfft/quota/remaining")
        if remaining is not None and remaining < len(partitions):
            logger.warning(
                "Only %d API calls left in today's quota for %d exports: the run may stop early",
                remaining,
                len(partitions),
            )
        departement = self.schema.field("code_departement")
        nsf = self.schema.field("code_nsf_1")
        where = self.filters()
        for partition in partitions:
            self.queries[partition.number] = all_of([where, partition.where(departement, nsf)])
        resumed = self.crawler.settings.get("CPFFT_RESUME_FROM")
        if resumed:
            partitions = self.not_written_yet(partitions, Path(resumed))
        self.waiting.extend(partitions)
        yield from self.next_exports()

    def not_written_yet(self, partitions: list[Partition], path: Path) -> list[Partition]:
        """Resumed run: the partitions whose rows are not all in the output file already."""
        by_departement: Counter[str | None] = Counter()
        by_nsf: Counter[tuple[str | None, str | None]] = Counter()
        for row in existing_rows(path, self.crawler.settings.get("CPFFT_CSV_DELIMITER", ",")):
            dep = unguard(row.get("code_departement") or "") or None
            by_departement[dep] += 1
            by_nsf[dep, unguard(row.get("code_nsf_1") or "") or None] += 1
        left, kept_rows = [], 0
        for partition in partitions:
            have = sum(
                by_nsf[g.departement, g.nsf] if g.by_nsf else by_departement[g.departement]
                for g in partition.groups
            )
            if partition.limit is None and have == partition.expected:
                self.done.add(partition.number)
                kept_rows += have
            else:
                left.append(partition)
        # Counted like the rows skipped one by one: progress and summary see them.
        self.crawler.stats.inc_value(DROPPED + ALREADY_WRITTEN, kept_rows)
        logger.info(
            "Resuming: %d of %d partitions are complete in %s already; fetching the other %d",
            len(partitions) - len(left),
            len(partitions),
            path.name,
            len(left),
        )
        return left

    # ------------------------------------------------------------ partitions

    def next_exports(self) -> Iterator[scrapy.Request]:
        """Keep ``exports_in_flight`` partitions on the go; no more.

        Scrapy keeps downloading while earlier responses are being parsed, so
        scheduling every export at once would hold every partition's body in
        memory together. One partition is parsed while the next downloads.
        """
        while self.waiting and self.in_flight < self.exports_in_flight:
            if is_stopping(self.crawler):
                return
            partition = self.waiting.popleft()
            self.in_flight += 1
            yield self.export_request(partition.number, attempt=1)

    def partition_over(
        self, number: int, failure: str | None = None, written: bool = False
    ) -> Iterator[scrapy.Request]:
        """The partition is done, or given up with ``failure`` (``written``: its
        exported rows are in the file all the same)."""
        if failure is None:
            self.done.add(number)
        else:
            self.failed[number] = failure
            if written:
                self.written_anyway.add(number)
        self.in_flight -= 1
        yield from self.next_exports()

    def export_request(self, number: int, attempt: int) -> scrapy.Request:
        partition = self.partitions[number]
        return self.api_request(
            "/exports/jsonl",
            {
                "where": self.queries[number],
                "limit": -1 if partition.limit is None else partition.limit,
            },
            self.parse_export,
            step=partition.describe(),
            partition=number,
            attempt=attempt,
        )

    def recount_request(self, number: int, attempt: int) -> scrapy.Request:
        return self.api_request(
            "/records",
            {"select": "count(*) as n", "where": self.queries[number], "limit": 1},
            self.parse_recount,
            step=f"{self.partitions[number].describe()} recount",
            partition=number,
            attempt=attempt,
        )

    def verify_request(self, number: int, received: int) -> scrapy.Request:
        return self.api_request(
            "/records",
            {"select": "count(*) as n", "where": self.queries[number], "limit": 1},
            self.parse_verify,
            step=f"{self.partitions[number].label()} fresh count",
            partition=number,
            received=received,
            verify=True,
        )

    def parse_export(self, response: Response) -> Iterator[Formation | scrapy.Request]:
        number = response.meta["partition"]
        partition = self.partitions[number]
        body = response.body
        if not self.ends_on_whole_row(body):
            self.cut_exports[number] += 1
            yield from self.try_again(response, "export cut off mid-row", self.export_request)
            return
        received = self.count_lines(body)
        counted = partition.expected
        self.counts_seen.setdefault(number, []).append(counted)
        self.exports_seen.setdefault(number, []).append(received)
        if received == counted:
            yield from self.rows(body, response)
        elif received > counted:
            # More whole rows than counted. A cut never adds rows, so these rows exist
            # (the duplicate filter keeps any row given twice from being written twice):
            # they are written now rather than thrown away and fetched again. But the
            # count is the only independent measure of completeness, and the extra rows
            # may as well be rows being withdrawn while the portal reindexes. So one
            # fresh count(*) decides: if it now agrees with the rows written, the
            # catalogue merely changed since the first count, and the run stays complete
            # with a warning in the summary; if it still disagrees, the run is
            # incomplete and the summary gives both numbers.
            logger.warning(
                "%s: export gave %d rows, %d counted; writing them and counting again",
                partition.label(),
                received,
                counted,
            )
            yield from self.rows(
                body, response, then=lambda: [self.verify_request(number, received)]
            )
        elif response.meta["attempt"] < self.max_attempts:
            # Whole rows, but fewer than counted: cut at a row boundary, or the
            # catalogue changed since the count. Count again, then fetch again.
            problem = f"export gave {received} rows, {counted} counted"
            yield from self.try_again(response, problem, self.recount_request)
        else:
            yield from self.short_for_good(response, received)

    def count_said(self, number: int) -> str:
        counts = [
            c
            for i, c in enumerate(self.counts_seen[number])
            if i == 0 or c != self.counts_seen[number][i - 1]
        ]
        if len(counts) == 1:
            return f"the count says {spaced(counts[0])} rows"
        return f"the counts said {', then '.join(spaced(c) for c in counts)} rows"

    def short_for_good(
        self, response: Response, received: int
    ) -> Iterator[Formation | scrapy.Request]:
        """The last attempt, still fewer whole rows than counted: give the partition up.

        If every whole export gave the same rows, the export is consistent and the
        count is what disagrees (the portal reindexing): the rows are written, since
        they are all the portal gives, and the summary says the count disagrees. If
        the exports differ, they were cut short: nothing is written, and the line
        keeps the partition's counted rows, which are the rows missing.
        """
        number = response.meta["partition"]
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
            logger.error("%s: %s", partition.label(), failure)
            yield from self.rows(
                body=response.body,
                response=response,
                then=lambda: self.partition_over(number, failure, written=True),
            )
            return
        failure = (
            f"{said}, the {len(exports)} whole exports gave {figures(exports)} rows{also_cut} "
            "(cut short, or the portal is reindexing; run again later); none written"
        )
        logger.error("%s: %s", partition.describe(), failure)
        yield from self.partition_over(number, failure)

    def parse_verify(self, response: Response) -> Iterator[scrapy.Request]:
        """The fresh count after an export longer than its count (see parse_export)."""
        number = response.meta["partition"]
        partition = self.partitions[number]
        received = response.meta["received"]
        counted = partition.expected
        head = (
            f"the count said {spaced(counted)} rows, the export gave {spaced(received)}, "
            "all written"
        )
        try:
            ((_, fresh),) = parse_groups(response.json(), ())
        except (SchemaError, ValueError) as exc:
            failure = f"{head}; its fresh count cannot be read: {exc}"
            logger.error("%s: %s", partition.label(), failure)
            yield from self.partition_over(number, failure, written=True)
            return
        if partition.limit is not None:
            fresh = min(fresh, partition.limit)  # the export holds at most `limit` rows
        if fresh == received:
            warning = f"{partition.label()}: {head}; a fresh count agrees ({spaced(fresh)})"
            logger.warning("%s", warning)
            self.warnings.append(warning)
            partition.recount(fresh)
            self.adjust_total(partition.expected - counted)
            yield from self.partition_over(number)
            return
        still = "still says" if fresh == counted else "says"
        failure = (
            f"the count says {spaced(counted)} rows, the export gave {spaced(received)}, all "
            f"written; a fresh count {still} {spaced(fresh)} (the portal may be reindexing; "
            "run again later)"
        )
        logger.error("%s: %s", partition.label(), failure)
        yield from self.partition_over(number, failure, written=True)

    @staticmethod
    def count_lines(body: bytes) -> int:
        body = body.rstrip(b"\r\n")
        return body.count(b"\n") + 1 if body else 0

    @staticmethod
    def ends_on_whole_row(body: bytes) -> bool:
        stripped = body.rstrip(b"\r\n")
        if not stripped:
            return True
        try:
            json.loads(stripped.rsplit(b"\n", 1)[-1])
        except ValueError:
            return False
        return True

    def try_again(self, response: Response, problem: str, request: Any) -> Iterator[scrapy.Request]:
        """Fetch a partition again (``request(number, attempt)``), or give it up."""
        number = response.meta["partition"]
        attempt = response.meta["attempt"]
        description = self.partitions[number].describe()
        self.crawler.stats.inc_value("cpfft/partition_retries")
        if attempt >= self.max_attempts:
            logger.error("%s: %s; gave up after %d attempts", description, problem, attempt)
            yield from self.partition_over(number, f"{problem} (gave up after {attempt} attempts)")
            return
        logger.warning("%s: %s; fetching it again", description, problem)
        yield request(number, attempt + 1)

    def parse_recount(self, response: Response) -> Iterator[scrapy.Request]:
        number = response.meta["partition"]
        partition = self.partitions[number]
        try:
            ((_, n),) = parse_groups(response.json(), ())
        except (SchemaError, ValueError) as exc:
            yield from self.partition_over(number, f"cannot read its row count: {exc}")
            return
        before = partition.expected
        partition.recount(n)
        if partition.expected != before:
            logger.warning(
                "%s: the catalogue changed during the run (%d rows now, %d before)",
                partition.describe(),
                partition.expected,
                before,
            )
            self.adjust_total(partition.expected - before)
        yield self.export_request(number, response.meta["attempt"])

    def adjust_total(self, delta: int) -> None:
        if self.progress_total is not None:
            self.progress_total += delta
            self.crawler.stats.set_value("cpfft/rows_expected", self.progress_total)

    def rows(
        self, body: bytes, response: Response, then: Any = None
    ) -> Iterator[Formation | scrapy.Request]:
        """Yield the export's rows, then ``then()`` (default: the partition is done)."""
        assert self.schema is not None
        rename = self.schema.rename
        for line in io.BytesIO(body):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                # A malformed row inside a whole body: fetch the partition again;
                # rows already written are dropped as duplicates.
                yield from self.try_again(response, "malformed row in export", self.export_request)
                return
            row = {rename[k]: v for k, v in record.items() if k in rename}
            snapshot = row.get("date_extract")
            if snapshot is not None and snapshot not in self.snapshots:
                self.snapshots.add(snapshot)
                if len(self.snapshots) == 2:
                    logger.warning(
                        "The catalogue was refreshed during the run (date_extract %s): "
                        "rows come from more than one daily snapshot",
                        " and ".join(sorted(self.snapshots)),
                    )
            yield Formation(**row)
        yield from self.partition_over(response.meta["partition"]) if then is None else then()

    # ------------------------------------------------------------ failures

    def on_error(self, failure: Failure) -> Iterator[scrapy.Request]:
        request = failure.request
        smaller = self.smaller_group_limit(failure)
        if smaller is not None:
            yield smaller
            return
        step = request.meta.get("step", request.url)
        reason = describe_failure(failure, not_found_hint="check CPF_DATASET and CPF_API_URL")
        refused = isinstance(failure.value, HttpError) and failure.value.response.status == 400
        if refused and request.meta.get("count_params") is not None and self.group_limits_refused:
            tried = ", ".join(str(limit) for limit, _ in self.group_limits_refused)
            reason += f" (group_by limits refused: {tried})"
        if not is_stopping(self.crawler):
            logger.error("%s failed: %s", step[:1].upper() + step[1:], reason)
        number = request.meta.get("partition")
        if number is not None and request.meta.get("verify"):
            partition = self.partitions[number]
            reason = (
                f"the count said {spaced(partition.expected)} rows, the export gave "
                f"{spaced(request.meta['received'])}, all written; its fresh count failed: "
                f"{reason}"
            )
            yield from self.partition_over(number, reason, written=True)
        elif number is not None:
            yield from self.partition_over(number, reason)
        elif not is_stopping(self.crawler):
            mark_incomplete(self.crawler, f"{step}: {reason}")

    def unfinished_work(self) -> list[str]:
        """What is missing from the output (read by the RunReport extension).

        A partition not written names its counted rows (``…; 1200 rows)``: those rows
        are missing); one whose exported rows are written anyway names none, its
        reason gives the numbers.
        """
        missing = []
        for number, partition in sorted(self.partitions.items()):
            if number not in self.done:
                reason = self.failed.get(number, "not fetched (run stopped)")
                name = partition.label() if number in self.written_anyway else partition.describe()
                missing.append(f"{name}: {reason}")
        return missing

    def finish_output(self, csv_path: Path | None) -> list[str]:
        """Summary lines (read by the RunReport extension): disagreements that cost no row."""
        return [f"  warning:            {w}" for w in self.warnings]
