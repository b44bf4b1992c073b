"""``scrapy crawl`` for cpfft: validate before anything runs, and tell the truth in the exit code.

Scrapy's own command exits 0 even when the output is incomplete, and reports
a bad spider argument as a traceback. This one:

- checks the spider name, every spider argument and the settings before
  Scrapy even starts (no banner, no request, no output file touched): on a
  mistake it prints one line, ``cpfft: error: …``, to stderr, appends it to
  ``LOG_FILE`` if one is set (scrapyd gives each job its log file that way, and
  Scrapy's logging has not started yet), and exits with status 2;
- without ``-O``/``-o``, writes a timestamped file in the query's folder under
  ``CPFFT_OUTPUT_DIR`` (see :mod:`cpfft.run.output`);
- with ``-s JOBDIR=…``, resumes an interrupted run of the same command,
  appending to its output (see :mod:`cpfft.run.resume`);
- after the crawl, exits with status 1 unless the run was complete (see
  :mod:`cpfft.run.state`): finish reason ``finished`` and nothing missing.

Spiders provide ``check_configuration(settings, arguments)`` (a classmethod
raising :class:`~cpfft.params.ConfigurationError`).

``python -m cpfft.commands.crawl SPIDER [-a NAME=VALUE…] [-s NAME=VALUE…]`` runs
the same checks as a scheduled run (no ``-O``) without running anything nor
creating any file, and prints one JSON line: ``{"output": folder}`` (exit 0)
or ``{"error": message, "environment": bool}`` (exit 2; ``environment``: false
when the spider name or an argument is wrong). ``cpfft-schedule`` uses it before posting
a job, in the environment the job will have.
"""

from __future__ import annotations

import argparse
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
from cpfft.errors import ArgumentError, ConfigurationError
from cpfft.run.output import query_folder, set_aside_name, timestamped_output
from cpfft.run.report import OUTCOME, quiet_scrapy_logs
from cpfft.run.resume import RUNNING, Journal, header_of, repair_tail

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings, Settings

EXIT_INCOMPLETE = 1
EXIT_USAGE = 2


class UnknownSpiderError(ConfigurationError):
    pass


class Command(ScrapyCrawlCommand):
    #: Set by :func:`check_job`: check only, create nothing.
    dry_run = False
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
            self.check(
                args[0], opts.spargs, output_given=bool(opts.output or opts.overwrite_output)
            )
        except ConfigurationError as exc:
            print(f"cpfft: error: {exc}", file=sys.stderr)
            log_before_start(self.settings, f"cpfft: error: {exc} (nothing was run; exit code 2)")
            sys.exit(EXIT_USAGE)
        except Exception as exc:
            # A bug: the traceback goes to stderr as usual, and the job's log says so.
            log_before_start(
                self.settings,
                f"cpfft: error: the checks before the crawl failed: {type(exc).__name__}: "
                f"{exc} (nothing was run; the traceback is on stderr)",
            )
            raise

    def check(self, name: str, arguments: dict[str, str], output_given: bool) -> None:
        assert self.settings is not None
        loader = get_spider_loader(self.settings)
        try:
            spidercls = loader.load(name)
        except KeyError:
            names = ", ".join(sorted(loader.list()))
            raise UnknownSpiderError(f"unknown spider {name!r}. Spiders: {names}") from None
        settings = self.settings.copy()
        spidercls.update_settings(settings)
        check = getattr(spidercls, "check_configuration", None)
        parsed = check(settings, arguments) if check is not None else {}
        journal = Journal.of(settings)
        if not output_given and not self.settings.getdict("FEEDS"):
            # Scheduled run: a timestamped file under CPFFT_OUTPUT_DIR (see cpfft.run.output),
            # unless this resumes an interrupted run, which goes on writing its file.
            path = self.resumed_output(journal, name) or timestamped_output(
                settings,
                name,
                arguments.get("_job"),
                getattr(spidercls, "output_label", lambda _: None)(parsed),
                query=query_folder(parsed),
                create=not self.dry_run,
            )
            self.output_folder = path.parent
            feeds = {str(path): {"format": "csv", "overwrite": True}}
            for target in (self.settings, settings):
                target.set("FEEDS", feeds, priority="cmdline")
                target.set("CPFFT_RUN_OUTPUT", str(path), priority="cmdline")
        if journal is not None and not self.dry_run:
            self.begin_journal(journal, name, arguments, settings)
        check_common_settings(settings)

    @staticmethod
    def resumed_output(journal: Journal | None, name: str) -> Path | None:
        if journal is None or journal.get("status") != RUNNING or journal.get("spider") != name:
            return None
        return Path(journal.get("output"))

    def begin_journal(
        self, journal: Journal, name: str, arguments: dict[str, str], settings: Settings
    ) -> None:
        """Record this run in JOBDIR, or set up the resumption of the one recorded there."""
        assert self.settings is not None
        feeds = self.settings.getdict("FEEDS")
        uri, options = next(iter(feeds.items())) if len(feeds) == 1 else ("", {})
        local = uri.removeprefix("file://")
        if not local or "://" in local or local == "-":
            raise ConfigurationError(
                "-s JOBDIR: resuming needs exactly one local output file (-O file.csv)"
            )
        if str(options.get("format", "csv")).lower() != "csv":
            # A resumed run appends whole rows to the file it finds; only a CSV file can be
            # checked and cut back to its last whole row, then appended to.
            raise ConfigurationError(
                f"-s JOBDIR: resuming works with a CSV output only, not {options.get('format')} "
                "(-O file.csv); run without JOBDIR for this format"
            )
        path = Path(local).absolute()
        own = {k: v for k, v in arguments.items() if not k.startswith("_")}
        if not journal.begin(name, own, str(path)):
            return
        aside = set_aside_name(path)
        if not path.exists() and aside.exists():
            aside.replace(path)  # a stopped scheduled run had set its file aside
        if not path.exists():
            return
        removed = repair_tail(path)
        if not header_of(path, settings.get("CPFFT_CSV_DELIMITER", ",")):
            return  # not even a header: start the file again
        options = {**options, "overwrite": False,
                   "item_export_kwargs": {"include_headers_line": False}}  # fmt: skip
        for target in (self.settings, settings):
            target.set("FEEDS", {uri: options}, priority="cmdline")
            target.set("CPFFT_RESUME_FROM", str(path), priority="cmdline")
            target.set("CPFFT_RESUME_REPAIRED", removed, priority="cmdline")

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


def check_job(argv: list[str]) -> int:
    """``python -m cpfft.commands.crawl SPIDER [-a…] [-s…]``: the checks of a scheduled
    run, nothing created; one JSON line on stdout (see the module's docstring)."""
    settings = get_project_settings()
    command = Command()
    command.dry_run = True
    settings.setdict(command.default_settings, priority="command")
    command.settings = settings
    parser = argparse.ArgumentParser(prog="python -m cpfft.commands.crawl", add_help=False)
    command.add_options(parser)
    opts, args = parser.parse_known_args(argv)
    try:
        ScrapyCrawlCommand.process_options(command, args, opts)
        if len(args) != 1:
            raise ConfigurationError("give exactly one spider name")
        command.check(args[0], opts.spargs, output_given=bool(opts.output or opts.overwrite_output))
    except (ConfigurationError, UsageError) as exc:
        # Whether the environment (settings, credentials, output directory) is the cause.
        own = isinstance(exc, ArgumentError | UnknownSpiderError | UsageError)
        print(json.dumps({"error": str(exc), "environment": not own}))
        return EXIT_USAGE
    folder = command.output_folder
    print(json.dumps({"output": str(folder) if folder else None}))
    return 0


if __name__ == "__main__":
    from cpfft.commands.crawl import check_job as check_job_  # this module, not __main__

    sys.exit(check_job_(sys.argv[1:]))
