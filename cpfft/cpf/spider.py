"""``scrapy crawl cpf -O formations.csv``: the Mon Compte Formation catalogue, complete.

Explore API v2.1 of the Caisse des Dépôts Opendatasoft portal: the dataset metadata, one
or two grouped counts (:mod:`cpfft.cpf.counts`), then one JSONL export per partition
(:mod:`cpfft.cpf.plan`), each checked against its count (:mod:`cpfft.cpf.exports`
decides what follows each export: write, fetch again, count again, give up). This spider
only turns their decisions into requests, reads the answers and yields the rows.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlencode

import scrapy
from scrapy.spidermiddlewares.httperror import HttpError

from cpfft.config import check_base_url, positive_int
from cpfft.cpf.checks import check_run
from cpfft.cpf.counts import Count, Counts, Unusable
from cpfft.cpf.exports import (
    EXPORTS_IN_FLIGHT,
    Ask,
    Exports,
    Fetch,
    Over,
    Step,
    export_rows,
    plan_lines,
    resume_line,
)
from cpfft.cpf.plan import LEVELS, Group, Partition, themes_from
from cpfft.errors import sentence
from cpfft.items import FORMATION_FIELDS, Formation
from cpfft.middlewares.retry import JSON_META
from cpfft.pipelines import ALREADY_WRITTEN, DROPPED
from cpfft.run.contract import ApiSpider, describe_failure, log_lines
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
        return check_run(settings, arguments)

    def configure(self, settings: BaseSettings, args: dict[str, Any]) -> None:
        self.args = args
        base = check_base_url(settings, "CPF_API_URL")
        self.dataset_url = f"{base}/api/explore/v2.1/catalog/datasets/{settings.get('CPF_DATASET')}"
        self.exports = Exports(positive_int(settings, "CPF_PARTITION_ATTEMPTS"))
        partition_rows = positive_int(settings, "CPF_PARTITION_ROWS")
        self.counts = Counts(args, themes_from(settings), partition_rows, self.exports.warnings)

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

    def count_request(self, count: Count) -> scrapy.Request:
        """A grouped count, sent with the grouped limit accepted so far."""
        params = self.counts.params(count)
        return self.api_request("/records", params, self.parse_counts, step=count.step,
                                count=count, group_limit=params["limit"])  # fmt: skip

    def fetch(self, fetch: Fetch) -> scrapy.Request:
        """A partition's export, recount or fresh count."""
        path, params = self.exports.call(fetch)
        callback = self.parse_export if fetch.ask is Ask.EXPORT else self.parse_recount
        step = self.exports.step_name(fetch)
        return self.api_request(path, params, callback, step=step, fetch=fetch)

    # ------------------------------------------------------------ counts and plan

    def parse_metadata(self, response: Response) -> Iterator[scrapy.Request]:
        yield from self.counted(lambda: self.counts.metadata(response.json))

    def parse_counts(self, response: Response) -> Iterator[scrapy.Request]:
        meta = response.meta
        yield from self.counted(
            lambda: self.counts.answered(meta["count"], meta["group_limit"], response.json)
        )

    def counted(self, answer: Callable[[], Count | list[Group]]) -> Iterator[scrapy.Request]:
        """Carry out what a count's answer calls for: the next count, or the plan."""
        try:
            then: Count | list[Group] | Unusable = answer()
        except Unusable as exc:
            then = exc
        log_lines(logger, self.counts.notes)
        self.counts.notes.clear()
        if isinstance(then, Unusable):
            mark_incomplete(self.crawler, then.reason)
            logger.error("%s", then.line)
        elif isinstance(then, Count):
            yield self.count_request(then)
        else:
            yield from self.plan(then)

    def plan(self, groups: list[Group]) -> Iterator[scrapy.Request]:
        partitions, queries = self.counts.partitions(groups)
        self.progress_total = self.exports.plan(partitions, queries)
        stats = self.crawler.stats
        stats.set_value("cpfft/rows_expected", self.progress_total)
        stats.set_value("cpfft/partitions", len(partitions))
        quota_left = stats.get_value("cpfft/quota/remaining")
        rows, partition_rows = self.progress_total, self.counts.partition_rows
        log_lines(logger, plan_lines(rows, partitions, partition_rows, quota_left))
        if not partitions:
            return
        resumed = self.crawler.settings.get("CPFFT_RESUME_FROM")
        if resumed:
            partitions = self.not_written_yet(partitions, Path(resumed))
        self.exports.queue(partitions)
        yield from self.next_exports()

    def not_written_yet(self, partitions: list[Partition], path: Path) -> list[Partition]:
        """Resumed run: the partitions whose rows are not all in the output file already."""
        delimiter = self.crawler.settings.get("CPFFT_CSV_DELIMITER", ",")
        written = (
            tuple(unguard(row.get(name) or "") for name in LEVELS)
            for row in existing_rows(path, delimiter)
        )
        left, kept_rows = self.exports.not_written_yet(partitions, written)
        # Counted like the rows skipped one by one: progress and summary see them.
        self.crawler.stats.inc_value(DROPPED + ALREADY_WRITTEN, kept_rows)
        logger.info("%s", resume_line(len(partitions), len(left), path.name))
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
        step = self.exports.answered(fetch, response.body)
        yield from self.follow(step, response.body, fetch.attempt)

    def parse_recount(self, response: Response) -> Iterator[scrapy.Request]:
        """A partition's recount, or its fresh count after an export longer than counted."""
        yield from self.follow(self.exports.recounted(response.meta["fetch"], response.json))

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
        """The export's rows in batches; False at a malformed row (the rows before it
        yielded), True at the end."""
        assert self.counts.schema is not None
        rename = self.counts.schema.rename
        return (yield from export_rows(body, rename, self.new_snapshot, Rows, BATCH_ROWS))

    def new_snapshot(self, snapshot: str) -> None:
        warning = self.exports.new_snapshot(snapshot)
        if warning:
            logger.warning("%s", warning)

    # ------------------------------------------------------------ failures

    def on_error(self, failure: Failure) -> Iterator[scrapy.Request]:
        request = failure.request
        exc = failure.value
        status = exc.response.status if isinstance(exc, HttpError) else None
        count = request.meta.get("count")
        if count is not None and status is not None and not is_stopping(self.crawler):
            retry = self.counts.refused(request.meta["group_limit"], status, exc.response.body)
            if retry is not None:
                logger.debug("%s", retry)
                yield self.count_request(count)
                return
        step = request.meta.get("step", request.url)
        reason = describe_failure(failure, not_found_hint="check CPF_DATASET and CPF_API_URL")
        if count is not None:
            reason = self.counts.failed(reason, status)
        if not is_stopping(self.crawler):
            logger.error("%s failed: %s", sentence(step), reason)
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
