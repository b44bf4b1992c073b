"""A scheduled run's status record (see :mod:`cpfft.run.status`), kept as the run goes.

Only runs that write under ``CPFFT_OUTPUT_DIR`` (no ``-O``) have one: ``RUNNING`` when
the spider opens, then, when the engine stops, what the run summary says (outcome,
rows in the output, cause, exit code). A run killed without warning stays ``RUNNING``,
which ``scrapy etat`` flags once it is older than ``--max-age``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from scrapy import signals
from scrapy.exceptions import NotConfigured

from cpfft.run.output import output_dir, set_aside_name
from cpfft.run.report import CAUSE, OUTCOME, ROWS_IN_OUTPUT
from cpfft.run.status import RunRecord, now_text, record_file, write_record

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)


class RunStatusRecorder:
    def __init__(self, crawler: Crawler, output: Path, base: Path):
        self.crawler = crawler
        self.output = output
        self.path = record_file(output)
        self.record = RunRecord(
            spider=crawler.spidercls.name,
            query=output.parent.relative_to(base).as_posix(),
            started=now_text(),
            output=output.name,
            log=crawler.settings.get("LOG_FILE") or None,
        )

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RunStatusRecorder:
        run_output = crawler.settings.get("CPFFT_RUN_OUTPUT")
        base = output_dir(crawler.settings)
        if not run_output or base is None:
            raise NotConfigured  # no message: Scrapy would log one at WARNING for every -O run
        ext = cls(crawler, Path(run_output), base)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.engine_stopped, signal=signals.engine_stopped)
        return ext

    def spider_opened(self, spider: Spider) -> None:
        # scrapyd gives its job id as the spider argument _job (the file name carries it too).
        self.record.job = str(getattr(spider, "_job", "") or "") or None
        self.save()

    def engine_stopped(self) -> None:
        stats = self.crawler.stats
        outcome = str(stats.get_value(OUTCOME) or "failed")
        self.record.status = outcome.upper()
        self.record.finished = now_text()
        self.record.rows = stats.get_value(ROWS_IN_OUTPUT)
        self.record.cause = stats.get_value(CAUSE)
        self.record.exit_code = 0 if outcome == "complete" else 1
        if outcome != "complete" and not self.output.exists():
            # Its rows were set aside (….incomplete.csv), or there were none.
            aside = set_aside_name(self.output)
            self.record.output = aside.name if aside.exists() else None
        self.save()

    def save(self) -> None:
        try:
            write_record(self.path, self.record)
        except OSError as exc:  # the run's own outcome stands; monitoring will see it stale
            logger.error("cannot write the run's status %s: %s", self.path, exc.strerror)
