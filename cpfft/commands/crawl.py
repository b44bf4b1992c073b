"""``scrapy crawl`` for cpfft: validate before anything runs, and tell the truth in the exit code.

Scrapy's own command exits 0 even when the output is incomplete, and reports
a bad spider argument as a traceback. This one:

- checks the spider name, every spider argument and the settings before
  Scrapy even starts (no banner, no request, no output file touched): on a
  mistake it prints one line, ``cpfft: error: …``, to stderr and exits with
  status 2;
- without ``-O``/``-o``, writes a timestamped file under ``CPFFT_OUTPUT_DIR``
  (see :mod:`cpfft.output`);
- with ``-s JOBDIR=…``, resumes an interrupted run of the same command,
  appending to its output (see :mod:`cpfft.resume`);
- after the crawl, exits with status 1 unless the run was complete (see
  :mod:`cpfft.runstate`): finish reason ``finished`` and nothing missing.

Spiders provide ``check_configuration(settings, arguments)`` (a classmethod
raising :class:`~cpfft.params.ConfigurationError`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.exceptions import UsageError
from scrapy.spiderloader import get_spider_loader

from cpfft.config import check_common_settings
from cpfft.extensions.report import OUTCOME
from cpfft.output import set_aside_name, timestamped_output
from cpfft.params import ConfigurationError
from cpfft.resume import RUNNING, Journal, header_of, repair_tail

if TYPE_CHECKING:
    import argparse

    from scrapy.settings import Settings

EXIT_INCOMPLETE = 1
EXIT_USAGE = 2


class Command(ScrapyCrawlCommand):
    def short_desc(self) -> str:
        return "Run a spider (cpfft: arguments checked first, non-zero exit if incomplete)"

    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        super().process_options(args, opts)
        if len(args) != 1:
            return  # Scrapy's run() reports the usage error
        try:
            self.check(
                args[0], opts.spargs, output_given=bool(opts.output or opts.overwrite_output)
            )
        except ConfigurationError as exc:
            print(f"cpfft: error: {exc}", file=sys.stderr)
            sys.exit(EXIT_USAGE)

    def check(self, name: str, arguments: dict[str, str], output_given: bool) -> None:
        assert self.settings is not None
        loader = get_spider_loader(self.settings)
        try:
            spidercls = loader.load(name)
        except KeyError:
            names = ", ".join(sorted(loader.list()))
            raise ConfigurationError(f"unknown spider {name!r}. Spiders: {names}") from None
        settings = self.settings.copy()
        spidercls.update_settings(settings)
        check = getattr(spidercls, "check_configuration", None)
        parsed = check(settings, arguments) if check is not None else {}
        journal = Journal.of(settings)
        if not output_given and not self.settings.getdict("FEEDS"):
            # Scheduled run: a timestamped file under CPFFT_OUTPUT_DIR (see cpfft.output),
            # unless this resumes an interrupted run, which goes on writing its file.
            path = self.resumed_output(journal, name) or timestamped_output(
                settings,
                name,
                arguments.get("_job"),
                getattr(spidercls, "output_label", lambda _: None)(parsed),
            )
            feeds = {str(path): {"format": "csv", "overwrite": True}}
            for target in (self.settings, settings):
                target.set("FEEDS", feeds, priority="cmdline")
                target.set("CPFFT_RUN_OUTPUT", str(path), priority="cmdline")
        if journal is not None:
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
