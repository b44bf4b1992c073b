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
   :mod:`cpfft.opendatasoft`). Each export must hold exactly the counted rows
   and end on a whole JSON line; otherwise it is fetched again, and never
   written short.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections import Counter, deque
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlencode

import scrapy

from cpfft.config import check_base_url, positive_int
from cpfft.geo import DEPARTEMENTS_BY_CODE, REGIONS_BY_CODE, find_departement, find_region
from cpfft.items import FORMATION_FIELDS, Formation
from cpfft.middlewares.retry import JSON_META
from cpfft.opendatasoft import (
    Group,
    Partition,
    Schema,
    SchemaError,
    all_of,
    any_of,
    in_list,
    parse_groups,
    parse_metadata,
    plan_partitions,
    quote,
)
from cpfft.params import (
    ConfigurationError,
    Param,
    choice,
    integer,
    listing,
    parse_arguments,
    shown,
    text,
)
from cpfft.pipelines import ALREADY_WRITTEN, DROPPED
from cpfft.resume import existing_rows, unguard
from cpfft.runstate import is_stopping, mark_incomplete
from cpfft.spiders._base import ApiSpider, describe_failure

if TYPE_CHECKING:
    from scrapy.http import Response
    from scrapy.settings import BaseSettings
    from twisted.python.failure import Failure

logger = logging.getLogger(__name__)

#: Themes → NSF specialty groups (§8 of the API note). Extend or override with
#: the CPF_THEMES setting, e.g. CPF_THEMES='{"btp": ["230", "231", "232", "233"]}'.
THEMES: dict[str, tuple[str, ...]] = {
    "numerique": ("326",),  # informatique, traitement de l'information, réseaux
    "sante": ("330", "331"),  # spécialités plurivalentes sanitaires et sociales; santé
}
OPENDATASOFT_QUOTA = "cpfft.middlewares.odsquota.OpendatasoftQuotaMiddleware"
TYPES_REFERENTIEL = {"RS": "RS", "RNCP": "RNCP"}
_DATASET_ID = re.compile(r"[A-Za-z0-9_-]{1,200}")


def themes_from(settings: BaseSettings) -> dict[str, tuple[str, ...]]:
    themes = dict(THEMES)
    try:
        extra = settings.getdict("CPF_THEMES")
    except (ValueError, TypeError, RecursionError):  # not JSON, or JSON but not an object
        raise ConfigurationError(
            'setting CPF_THEMES is not a JSON object. Example: {"btp": ["230", "231"]}'
        ) from None
    for name, codes in extra.items():
        if not (0 < len(name) <= 40 and name.isprintable() and "," not in name):
            raise ConfigurationError(
                f"setting CPF_THEMES: theme name {shown(str(name))} must be a short name without "
                "commas or control characters"
            )
        values = [codes] if isinstance(codes, str) else codes
        if (
            not isinstance(values, list)
            or not values
            or not all(isinstance(c, str) and re.fullmatch(r"\d{3}", c) for c in values)
        ):
            raise ConfigurationError(
                f"setting CPF_THEMES: theme {shown(str(name))} must map to a non-empty list of "
                '3-digit NSF codes, e.g. {"btp": ["230", "231"]}'
            )
        themes[str(name)] = tuple(values)
    return themes


def cpf_params(settings: BaseSettings) -> tuple[Param, ...]:
    themes = themes_from(settings)
    return (
        Param("q", text(200), "full-text search words, e.g. -a q=python"),
        Param(
            "theme",
            listing(
                choice({t: t for t in themes} | {"numérique": "numerique", "santé": "sante"}), 10
            ),
            f"one or more of {', '.join(themes)}",
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
        check_base_url(settings, "CPF_API_URL")
        dataset = str(settings.get("CPF_DATASET") or "")
        if not _DATASET_ID.fullmatch(dataset):
            raise ConfigurationError(
                f"setting CPF_DATASET={shown(dataset)} is not a dataset identifier "
                "(default: moncompteformation_catalogueformation)"
            )
        positive_int(settings, "CPF_PARTITION_ROWS", 1_000_000)
        positive_int(settings, "CPF_PARTITION_ATTEMPTS", 20)
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
        yield self.api_request(
            "/records",
            {
                "select": f"{departement}, count(*) as n",
                "group_by": departement,
                "where": where,
                "limit": 20000,
            },
            self.parse_counts,
            step="row count per département",
        )

    def parse_counts(self, response: Response) -> Iterator[scrapy.Request]:
        assert self.schema is not None
        try:
            counts = parse_groups(response.json(), (self.schema.field("code_departement"),))
        except (SchemaError, ValueError) as exc:
            mark_incomplete(self.crawler, f"cannot read the row counts: {exc}")
            logger.error("Cannot read the row counts: %s", exc)
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
        yield self.api_request(
            "/records",
            {
                "select": f"{departement}, {nsf}, count(*) as n",
                "group_by": f"{departement}, {nsf}",
                "where": all_of([self.filters(), any_of(scope)]),
                "limit": 20000,
            },
            self.parse_subcounts,
            step="row count per département and NSF code",
            groups=groups,
        )

    def parse_subcounts(self, response: Response) -> Iterator[scrapy.Request]:
        assert self.schema is not None
        groups: list[Group] = response.meta["groups"]
        keys = (self.schema.field("code_departement"), self.schema.field("code_nsf_1"))
        try:
            counts = parse_groups(response.json(), keys)
        except (SchemaError, ValueError) as exc:
            mark_incomplete(self.crawler, f"cannot read the row counts: {exc}")
            logger.error("Cannot read the row counts: %s", exc)
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

    def partition_over(self, number: int, failure: str | None = None) -> Iterator[scrapy.Request]:
        if failure is None:
            self.done.add(number)
        else:
            self.failed[number] = failure
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

    def parse_export(self, response: Response) -> Iterator[Formation | scrapy.Request]:
        number = response.meta["partition"]
        partition = self.partitions[number]
        body = response.body
        received = self.count_lines(body)
        if not self.ends_on_whole_row(body):
            yield from self.try_again(response, "export cut off mid-row", self.export_request)
        elif received != partition.expected:
            # Whole rows, but not as many as counted: cut at a row boundary, or the
            # catalogue changed since the count. Count again, then fetch again.
            problem = f"export gave {received} rows, {partition.expected} counted"
            yield from self.try_again(response, problem, self.recount_request)
        else:
            yield from self.rows(body, response)

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

    def rows(self, body: bytes, response: Response) -> Iterator[Formation | scrapy.Request]:
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
        yield from self.partition_over(response.meta["partition"])

    # ------------------------------------------------------------ failures

    def on_error(self, failure: Failure) -> Iterator[scrapy.Request]:
        request = failure.request
        step = request.meta.get("step", request.url)
        reason = describe_failure(failure, not_found_hint="check CPF_DATASET and CPF_API_URL")
        if not is_stopping(self.crawler):
            logger.error("%s failed: %s", step[:1].upper() + step[1:], reason)
        number = request.meta.get("partition")
        if number is not None:
            yield from self.partition_over(number, reason)
        elif not is_stopping(self.crawler):
            mark_incomplete(self.crawler, f"{step}: {reason}")

    def unfinished_work(self) -> list[str]:
        """What is missing from the output (read by the RunReport extension)."""
        missing = []
        for number, partition in sorted(self.partitions.items()):
            if number not in self.done:
                reason = self.failed.get(number, "not fetched (run stopped)")
                missing.append(f"{partition.describe()}: {reason}")
        return missing
