"""``scrapy crawl`` for cpfft: validate before anything runs, and tell the truth in the exit code.

Scrapy's own command exits 0 even when the output is incomplete, and reports
a bad spider argument as a traceback. This one:

- checks the spider name, every spider argument and the settings before
  Scrapy even starts (no banner, no request, no output file touched): on a
  mistake it prints one line, ``cpfft: error: …``, to stderr, appends it to
  ``LOG_FILE`` if one is set (scrapyd gives each job its log file that way, and
  Scrapy's logging has not started yet), and exits with status 2;
- checks there too what the spider decides as it is made (see
  :mod:`cpfft.run.start`, the same under scrapyd and ``CrawlerProcess``): the
  timestamped file in the query's folder under ``CPFFT_OUTPUT_DIR`` when there is
  no ``-O``/``-o``, and the resumption of an interrupted run with ``-s JOBDIR=…``;
- after the crawl, exits with status 1 unless the run was complete (see
  :mod:`cpfft.run.state`): finish reason ``finished`` and nothing missing.

cpfft's spiders (:class:`~cpfft.run.contract.ApiSpider`) provide both checks in
``prepare_run(settings, arguments, create=False)``, which raises
:class:`~cpfft.errors.ConfigurationError` with a one-line message.

``python -m cpfft.commands.crawl SPIDER [-a NAME=VALUE…] [-s NAME=VALUE…]`` runs
the same checks as a scheduled run (no ``-O``) without running anything nor
creating any file, and prints one JSON line: ``{"output": folder}`` (exit 0)
or ``{"error": message, "environment": bool}`` (exit 2; ``environment``: false
when the spider name or an argument is wrong). ``cpfft-schedule`` uses it before posting
a job, in the environment the job will have.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.exceptions import UsageError
from scrapy.spiderloader import get_spider_loader
from scrapy.utils.project import get_project_settings

from cpfft.config import check_common_settings
from cpfft.errors import ArgumentError, ConfigurationError, NoOutputError, shown
from cpfft.params import closest
from cpfft.run.contract import ApiSpider
from cpfft.run.output import safe_name, timestamped_output
from cpfft.run.report import OUTCOME, quiet_scrapy_logs
from cpfft.run.status import FAILED, RunRecord, now_text, record_file, write_record

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

EXIT_INCOMPLETE = 1
EXIT_USAGE = 2


class UnknownSpiderError(ConfigurationError):
    pass


class Command(ScrapyCrawlCommand):
    #: Where the run's timestamped files go (set by :meth:`check`), for :func:`check_job`.
    output_folder: Path | None = None

    def short_desc(self) -> str:
        return "Run a spider (cpfft: arguments checked first, non-zero exit if incomplete)"

    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        super().process_options(args, opts)
        quiet_scrapy_logs()  # before Scrapy's banner: it is logged when the process starts
        if len(args) != 1:
            return  # Scrapy's run() reports the usage error
        assert self.settings is not None
        try:
            self.check(args[0], opts.spargs)
        except ConfigurationError as exc:
            print(f"cpfft: error: {exc}", file=sys.stderr)
            log_before_start(self.settings, f"cpfft: error: {exc} (nothing was run; exit code 2)")
            record_refused(self.settings, args[0], opts.spargs, str(exc))
            sys.exit(EXIT_USAGE)
        except Exception as exc:
            # A bug: the traceback goes to stderr as usual, and the job's log says so.
            log_before_start(
                self.settings,
                f"cpfft: error: the checks before the crawl failed: {type(exc).__name__}: "
                f"{exc} (nothing was run; the traceback is on stderr)",
            )
            raise

    def check(self, name: str, arguments: dict[str, str]) -> None:
        assert self.settings is not None
        loader = get_spider_loader(self.settings)
        try:
            spidercls = loader.load(name)
        except KeyError:
            names = sorted(loader.list())
            guess = closest(name.lower(), names)
            hint = f" Did you mean {guess}?" if guess else ""
            raise UnknownSpiderError(
                f"unknown spider {shown(name)}.{hint} Spiders: {', '.join(names)}"
            ) from None
        settings = self.settings.copy()
        spidercls.update_settings(settings)
        if issubclass(spidercls, ApiSpider):
            # What the spider will decide as it is made (see cpfft.run.start), checked now:
            # a mistake is one line, before Scrapy starts, and nothing is created.
            _, path = spidercls.prepare_run(settings, arguments, create=False)
            self.output_folder = path.parent if path is not None else None
        check_common_settings(settings)

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1:
            raise UsageError("give exactly one spider name, e.g. scrapy crawl cpf")
        assert self.crawler_process is not None
        crawler = self._create_crawler(args[0])
        self.crawler_process.crawl(crawler, **opts.spargs)
        self.crawler_process.start()
        if self.crawler_process.bootstrap_failed or crawler.stats.get_value(OUTCOME) != "complete":
            self.exitcode = EXIT_INCOMPLETE


def log_before_start(settings: BaseSettings, message: str) -> None:
    """Append ``message`` to ``LOG_FILE``, if set, as a Scrapy log line: before the crawl
    starts, Scrapy has not opened it yet (under scrapyd, the job's log would stay empty
    and ``log_url`` null)."""
    path = str(settings.get("LOG_FILE") or "")
    if not path:
        return
    mode = "a" if settings.getbool("LOG_FILE_APPEND", True) else "w"
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    try:
        with open(path, mode, encoding=settings.get("LOG_ENCODING") or "utf-8") as log:
            log.write(f"{stamp} [cpfft] ERROR: {message}\n")
    except (OSError, LookupError, ValueError):
        pass  # the message is on stderr anyway


def record_refused(
    settings: BaseSettings, spider: str, arguments: dict[str, str], message: str
) -> None:
    """A scheduled run (under CPFFT_OUTPUT_DIR, no -O) refused before it started leaves a
    status record too, so that ``scrapy etat`` shows it FAILED (scrapyd says "finished")."""
    if settings.getdict("FEEDS"):
        return
    # In its spider's folder; a name no spider has gets no folder of its own.
    folder = safe_name(spider) if spider in get_spider_loader(settings).list() else ""
    shown_args = " ".join(f"-a {k}={v}" for k, v in arguments.items() if not k.startswith("_"))
    record = RunRecord(
        spider=spider,
        query=f"{spider} {shown_args}".strip(),
        started=now_text(),
        status=FAILED,
        finished=now_text(),
        rows=0,
        cause=message,
        exit_code=EXIT_USAGE,
        log=settings.get("LOG_FILE") or None,
        job=arguments.get("_job") or None,
        refused=True,
    )
    # No CPFFT_OUTPUT_DIR, or the refusal is about it: nowhere to write. Either way the
    # message is on stderr and in the log.
    with contextlib.suppress(ConfigurationError, OSError):
        write_record(record_file(timestamped_output(settings, folder, record.job)), record)


def check_job(argv: list[str]) -> int:
    """``python -m cpfft.commands.crawl SPIDER [-a…] [-s…]``: the checks of a scheduled
    run, nothing created; one JSON line on stdout (see the module's docstring)."""
    settings = get_project_settings()
    command = Command()
    settings.setdict(command.default_settings, priority="command")
    command.settings = settings
    parser = argparse.ArgumentParser(prog="python -m cpfft.commands.crawl", add_help=False)
    command.add_options(parser)
    opts, args = parser.parse_known_args(argv)
    try:
        ScrapyCrawlCommand.process_options(command, args, opts)
        if len(args) != 1:
            raise ConfigurationError("give exactly one spider name")
        command.check(args[0], opts.spargs)
    except (ConfigurationError, UsageError) as exc:
        # Whether the environment (settings, credentials, output directory) is the cause.
        own = isinstance(exc, ArgumentError | UnknownSpiderError | UsageError)
        # A scheduled run takes no -O: only the output folder can fix it.
        message = NoOutputError.SCHEDULED if isinstance(exc, NoOutputError) else str(exc)
        print(json.dumps({"error": message, "environment": not own}))
        return EXIT_USAGE
    folder = command.output_folder
    print(json.dumps({"output": str(folder) if folder else None}))
    return 0


if __name__ == "__main__":
    from cpfft.commands.crawl import check_job as check_job_  # this module, not __main__

    sys.exit(check_job_(sys.argv[1:]))
