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

While the portal reindexes, its counts may keep disagreeing with its exports;
:mod:`cpfft.cpf.exports` decides what to do after each export and count (fetch
again, count again, write anyway, give up), as :mod:`cpfft.cpf.plan` decides what
to count and export. This spider only turns their decisions into requests, reads
the JSON answers and yields the rows.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator, Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlencode

import scrapy
from scrapy.spidermiddlewares.httperror import HttpError

from cpfft.config import SETTINGS_BY_NAME, check_base_url, positive_int
from cpfft.cpf.exports import (
    EXPORTS_IN_FLIGHT,
    Ask,
    Exports,
    Fetch,
    Over,
    Step,
    count_lines,
    ends_on_whole_row,
)
from cpfft.cpf.plan import (
    Group,
    GroupLimit,
    Partition,
    Schema,
    SchemaError,
    all_of,
    check_places,
    cpf_params,
    cut_departements,
    departement_count,
    filters,
    one_count,
    parse_groups,
    parse_metadata,
    plan_partitions,
    quota_warning,
    refine,
    schema_notes,
    split_count,
    themes_from,
)
from cpfft.items import FORMATION_FIELDS, Formation
from cpfft.middlewares.retry import JSON_META
from cpfft.params import parse_arguments
from cpfft.pipelines import ALREADY_WRITTEN, DROPPED
from cpfft.run.contract import ApiSpider, describe_failure
from cpfft.run.resume import existing_rows, unguard
from cpfft.run.rows import BATCH_ROWS, Rows
from cpfft.run.state import is_stopping, mark_incomplete

if TYPE_CHECKING:
    from scrapy.http import Response
    from scrapy.settings import BaseSettings
    from twisted.python.failure import Failure

logger = logging.getLogger(__name__)


class CpfSpider(ApiSpider):
    name = "cpf"
    item_class = Formation
    custom_settings: ClassVar[dict[str, Any]] = {
        "FEED_EXPORT_FIELDS": FORMATION_FIELDS,
        "CPF_QUOTA_ENABLED": True,  # cpfft.cpf.quota: the portal's daily quota
        # The exports in flight at once (the planner queues the rest), and no more requests.
        "CONCURRENT_REQUESTS_PER_DOMAIN": EXPORTS_IN_FLIGHT,
    }

    # ------------------------------------------------------------ configuration

    @classmethod
    def check_configuration(cls, settings: BaseSettings, arguments: dict[str, Any]) -> dict:
        """Validate settings and arguments; return the parsed arguments."""
        for name in ("CPF_API_URL", "CPF_DATASET", "CPF_PARTITION_ROWS", "CPF_PARTITION_ATTEMPTS"):
            SETTINGS_BY_NAME[name].check(settings, name)  # the settings table's own check
        args = parse_arguments(cpf_params(settings), arguments)
        check_places(args)
        return args

    def configure(self, settings: BaseSettings, args: dict[str, Any]) -> None:
        self.args = args
        self.themes = themes_from(settings)
        base = check_base_url(settings, "CPF_API_URL")
        self.dataset_url = f"{base}/api/explore/v2.1/catalog/datasets/{settings.get('CPF_DATASET')}"
        self.partition_rows = positive_int(settings, "CPF_PARTITION_ROWS")
        self.schema: Schema | None = None
        self.where = ""  # the user's filters as one ODSQL condition
        self.limits = GroupLimit()
        self.exports = Exports(positive_int(settings, "CPF_PARTITION_ATTEMPTS"))

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

    def count_request(
        self, params: dict[str, Any], callback: Any, step: str, **extra: Any
    ) -> scrapy.Request:
        """A grouped count, sent with the grouped limit accepted so far."""
        limit = self.limits.current
        return self.api_request(
            "/records",
            {**params, "limit": limit},
            callback,
            step=step,
            count_params=params,
            count_extra=extra,
            group_limit=limit,
            **extra,
        )

    def fetch(self, fetch: Fetch) -> scrapy.Request:
        """A partition's export, recount or fresh count."""
        path, params = self.exports.call(fetch)
        callback = self.parse_export if fetch.ask is Ask.EXPORT else self.parse_count
        step = self.exports.step_name(fetch)
        return self.api_request(path, params, callback, step=step, fetch=fetch)

    # ------------------------------------------------------------ counts and plan

    def parse_metadata(self, response: Response) -> Iterator[scrapy.Request]:
        try:
            schema = parse_metadata(response.json())
            self.schema = schema
            departement = schema.field("code_departement")
            schema.field("numero_formation")
            self.where = filters(schema, self.args, self.themes)
        except (SchemaError, ValueError) as exc:
            mark_incomplete(self.crawler, f"cannot use the dataset metadata: {exc}")
            logger.error("Cannot use the dataset metadata: %s", exc)
            return
        for level, line in schema_notes(schema):
            logger.log(level, "%s", line)
        yield self.count_request(
            departement_count(departement, self.where),
            self.parse_counts,
            "row count per département",
        )

    def read_counts(self, response: Response, keys: tuple[str, ...]) -> list | None:
        """The groups of a grouped count; None (the run incomplete) if unreadable."""
        accepted = self.limits.accepted(response.meta["group_limit"])
        if accepted:
            logger.info("%s", accepted)
        try:
            return parse_groups(response.json(), keys)
        except (SchemaError, ValueError) as exc:
            mark_incomplete(self.crawler, f"cannot read the row counts: {exc}")
            logger.error("Cannot read the row counts: %s", exc)
            return None

    def parse_counts(self, response: Response) -> Iterator[scrapy.Request]:
        assert self.schema is not None
        counts = self.read_counts(response, (self.schema.field("code_departement"),))
        if counts is None:
            return
        problem = cut_departements(len(counts), response.meta["group_limit"])
        if problem:
            mark_incomplete(self.crawler, problem)
            logger.error("Cannot plan the partitions: %s", problem)
            return
        groups = [Group(key[0], n) for key, n in counts]
        split = split_count(groups, self.partition_rows, self.schema, self.where)
        if split is None:
            yield from self.plan(groups)
            return
        yield self.count_request(
            split, self.parse_subcounts, "row count per département and NSF code", groups=groups
        )

    def parse_subcounts(self, response: Response) -> Iterator[scrapy.Request]:
        assert self.schema is not None
        keys = (self.schema.field("code_departement"), self.schema.field("code_nsf_1"))
        counts = self.read_counts(response, keys)
        if counts is None:
            return
        groups, warning = refine(
            response.meta["groups"], counts, self.partition_rows, response.meta["group_limit"]
        )
        if warning:
            logger.warning("%s", warning[:1].upper() + warning[1:])
            self.exports.warnings.append(warning)
        yield from self.plan(groups)

    def plan(self, groups: list[Group]) -> Iterator[scrapy.Request]:
        assert self.schema is not None
        partitions = plan_partitions(groups, self.partition_rows, self.args["max_records"])
        self.progress_total = self.exports.plan(partitions)
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
        warning = quota_warning(stats.get_value("cpfft/quota/remaining"), len(partitions))
        if warning:
            logger.warning("%s", warning)
        departement = self.schema.field("code_departement")
        nsf = self.schema.field("code_nsf_1")
        self.exports.queries = {
            p.number: all_of([self.where, p.where(departement, nsf)]) for p in partitions
        }
        resumed = self.crawler.settings.get("CPFFT_RESUME_FROM")
        if resumed:
            partitions = self.not_written_yet(partitions, Path(resumed))
        self.exports.queue(partitions)
        yield from self.next_exports()

    def not_written_yet(self, partitions: list[Partition], path: Path) -> list[Partition]:
        """Resumed run: the partitions whose rows are not all in the output file already."""
        delimiter = self.crawler.settings.get("CPFFT_CSV_DELIMITER", ",")
        written = (
            (unguard(row.get("code_departement") or ""), unguard(row.get("code_nsf_1") or ""))
            for row in existing_rows(path, delimiter)
        )
        left, kept_rows = self.exports.not_written_yet(partitions, written)
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
        """Keep the export slots busy; no more. Scrapy keeps downloading while earlier
        responses are being parsed, so scheduling every export at once would hold every
        partition's body in memory together."""
        while self.exports.may_start():
            if is_stopping(self.crawler):
                return
            yield self.fetch(self.exports.start())

    def parse_export(self, response: Response) -> Iterator[Rows | scrapy.Request]:
        fetch: Fetch = response.meta["fetch"]
        body = response.body
        whole = ends_on_whole_row(body)
        received = count_lines(body) if whole else 0
        step = self.exports.exported(fetch.number, fetch.attempt, whole, received)
        yield from self.follow(step, body, fetch.attempt)

    def parse_count(self, response: Response) -> Iterator[scrapy.Request]:
        """A partition's recount, or its fresh count after an export longer than counted."""
        try:
            rows, unreadable = one_count(response.json()), ""
        except (SchemaError, ValueError) as exc:
            rows, unreadable = None, str(exc)
        yield from self.follow(self.exports.counted(response.meta["fetch"], rows, unreadable))

    def follow(
        self, step: Step, body: bytes = b"", attempt: int = 1
    ) -> Iterator[Rows | scrapy.Request]:
        """Carry out the planner's step (see :class:`cpfft.cpf.exports.Step`)."""
        if step.retry:
            self.crawler.stats.inc_value("cpfft/partition_retries")
        if step.log is not None:
            logger.log(step.log[0], "%s", step.log[1])
        if step.write and not (yield from self.rows(body)):
            yield from self.follow(self.exports.malformed(step.then.number, attempt))
            return
        if step.total_change is not None and self.progress_total is not None:
            self.progress_total += step.total_change
            self.crawler.stats.set_value("cpfft/rows_expected", self.progress_total)
        if isinstance(step.then, Over):
            self.exports.over(step.then)
            yield from self.next_exports()
        else:
            yield self.fetch(step.then)

    def rows(self, body: bytes) -> Generator[Rows, None, bool]:
        """Yield the export's rows in batches; False at a malformed row (the rows before
        it yielded), True at the end."""
        assert self.schema is not None
        rename = self.schema.rename
        # Today's dataset names every column as the output does: a record made only of
        # those fields is the row itself, without a renamed copy.
        same_names = all(k == v for k, v in rename.items())
        known = rename.keys()
        snapshots = self.exports.snapshots
        batch: list[Formation] = []
        for line in io.BytesIO(body):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                if batch:
                    yield Rows(batch)
                return False
            if same_names and record.keys() <= known:
                row = record
            else:
                row = {rename[k]: v for k, v in record.items() if k in rename}
            snapshot = row.get("date_extract")
            if snapshot is not None and snapshot not in snapshots:
                warning = self.exports.new_snapshot(snapshot)
                if warning:
                    logger.warning("%s", warning)
            batch.append(Formation(**row))
            if len(batch) >= BATCH_ROWS:
                yield Rows(batch)
                batch = []
        if batch:
            yield Rows(batch)
        return True

    # ------------------------------------------------------------ failures

    def on_error(self, failure: Failure) -> Iterator[scrapy.Request]:
        request = failure.request
        exc = failure.value
        params = request.meta.get("count_params")
        if params is not None and isinstance(exc, HttpError) and not is_stopping(self.crawler):
            sent = request.meta["group_limit"]
            smaller = self.limits.smaller(sent, exc.response.status, exc.response.body)
            if smaller is not None:
                limit, message = smaller
                logger.debug("Grouped limit=%d refused (%s); trying limit=%d", sent, message, limit)
                extra = request.meta["count_extra"]
                yield self.count_request(params, request.callback, request.meta["step"], **extra)
                return
        step = request.meta.get("step", request.url)
        reason = describe_failure(failure, not_found_hint="check CPF_DATASET and CPF_API_URL")
        refused = isinstance(exc, HttpError) and exc.response.status == 400
        if refused and params is not None and self.limits.refused:
            reason += f" (group_by limits refused: {self.limits.tried()})"
        if not is_stopping(self.crawler):
            logger.error("%s failed: %s", step[:1].upper() + step[1:], reason)
        fetch = request.meta.get("fetch")
        if fetch is not None:
            yield from self.follow(self.exports.request_failed(fetch, reason))
        elif not is_stopping(self.crawler):
            mark_incomplete(self.crawler, f"{step}: {reason}")

    # ------------------------------------------------------------ run contract

    def unfinished_work(self) -> list[str]:
        """What is missing from the output (read by the RunReport extension)."""
        return self.exports.missing()

    def finish_output(self, csv_path: Path | None) -> list[str]:
        """Summary lines (read by the RunReport extension): disagreements that cost no row."""
        return self.exports.summary_warnings()
