"""``scrapy sonde [-o sonde.json] [--source cpf|offres|both]``: probe the live services once.

Read-only, one call at a time, at most 20 calls (see :mod:`cpfft.sonde` for what
is measured and why). Prints a short French report on stdout and writes the JSON
profile (default ``sonde.json``). Checks first, as ``scrapy crawl`` does: a bad
setting or missing France Travail credentials → one line on stderr, exit 2.
Exit 1 when a measurement could not be made (the report says which).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlencode

import scrapy
from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError

from cpfft.commands import quiet_unless_asked
from cpfft.config import check_base_url, check_common_settings
from cpfft.cpf.spider import CpfSpider
from cpfft.errors import ConfigurationError
from cpfft.middlewares.retry import JSON_META
from cpfft.offres.checks import check_rate
from cpfft.offres.oauth import OAuth2TokenMiddleware
from cpfft.offres.spider import OffresSpider
from cpfft.run.contract import describe_failure
from cpfft.sonde import FT, MAX_CALLS, ODS, SOURCES, Answer, Call, Sonde, Unreachable, report

if TYPE_CHECKING:
    import argparse

    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from twisted.python.failure import Failure

EXIT_MEASURE_FAILED = 1
EXIT_USAGE = 2


class SondeSpider(scrapy.Spider):
    """Runs :meth:`cpfft.sonde.Sonde.steps` one call at a time through the crawl's
    middlewares: the France Travail token, the pace, the retries."""

    name = "sonde"
    custom_settings: ClassVar[dict[str, Any]] = {
        "FT_OAUTH_ENABLED": True,
        "CPF_QUOTA_ENABLED": True,
        "CONCURRENT_REQUESTS": 1,
        # A probe, not a run: no run summary, no output file.
        "EXTENSIONS": {"cpfft.run.report.RunReport": None},
    }

    def __init__(self, sonde: Sonde, **kwargs: Any):
        super().__init__(**kwargs)
        self.sonde = sonde
        self.steps = sonde.steps()
        self.finished = False

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> SondeSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        base = check_base_url(settings, "CPF_API_URL")
        spider.urls = {
            ODS: f"{base}/api/explore/v2.1/catalog/datasets/{settings.get('CPF_DATASET')}",
            FT: check_base_url(settings, "FT_API_URL"),
        }
        spider.slot = settings.get("FT_DOWNLOAD_SLOT", "francetravail")
        return spider

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for request in self.advance(lambda: next(self.steps)):
            yield request

    def request(self, call: Call) -> scrapy.Request:
        query = urlencode(call.params)
        meta: dict[str, Any] = {
            "call": call,
            "handle_httpstatus_all": True,  # the probe reads every status itself
            JSON_META: call.path != "/exports/jsonl",
        }
        if call.api == FT:
            meta["download_slot"] = self.slot
        return scrapy.Request(
            self.urls[call.api] + call.path + (f"?{query}" if query else ""),
            callback=self.parse,
            errback=self.on_error,
            headers={"Accept": "application/json"},
            meta=meta,
            dont_filter=True,
        )

    def parse(self, response: Response) -> Iterator[scrapy.Request]:
        oauth = self.crawler.get_downloader_middleware(OAuth2TokenMiddleware)
        if oauth is not None and oauth.expires_in is not None:
            self.sonde.token_lifetime = oauth.expires_in
        headers = {
            key.decode("latin-1").lower(): values[0].decode("latin-1")
            for key, values in response.headers.items()
            if values
        }
        answer = Answer(response.status, headers, response.body)
        yield from self.advance(lambda: self.steps.send(answer))

    def on_error(self, failure: Failure) -> Iterator[scrapy.Request]:
        call: Call = failure.request.meta["call"]
        reason = f"« {call.purpose} » a échoué : {describe_failure(failure)}"
        yield from self.advance(lambda: self.steps.throw(Unreachable(reason)))

    def advance(self, step: Callable[[], Call]) -> Iterator[scrapy.Request]:
        try:
            call = step()
        except StopIteration:
            self.finished = True
            return
        yield self.request(call)


class Command(ScrapyCommand):
    requires_project = True

    def syntax(self) -> str:
        return "[-o sonde.json] [--source cpf|offres|both]"

    def short_desc(self) -> str:
        return f"Probe the live APIs once (read-only, ≤ {MAX_CALLS} calls): French report + JSON profile"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument(
            "-o",
            "--output",
            default="sonde.json",
            help="JSON profile to write (default sonde.json)",
        )
        parser.add_argument(
            "--source",
            default="both",
            choices=["cpf", "offres", "both"],
            help="which API to probe (default both; offres needs FT_CLIENT_ID/FT_CLIENT_SECRET)",
        )

    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        super().process_options(args, opts)
        assert self.settings is not None
        quiet_unless_asked(self.settings)  # the report is the output

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if args:
            raise UsageError("scrapy sonde takes no positional argument", print_help=False)
        assert self.settings is not None
        settings = self.settings
        names = ["cpf", "offres"] if opts.source == "both" else [opts.source]
        output = Path(opts.output)
        try:
            check_common_settings(settings)
            if "cpf" in names:
                CpfSpider.check_configuration(settings, {})
            if "offres" in names:
                OffresSpider.check_configuration(settings, {})
            if not output.parent.is_dir():
                raise ConfigurationError(
                    f"-o {output}: the folder {output.parent} does not exist; create it or "
                    "choose another path"
                )
        except ConfigurationError as exc:
            hint = ""
            if opts.source == "both" and "credentials" in str(exc):
                hint = " (or probe the catalogue alone: scrapy sonde --source cpf)"
            print(f"cpfft: error: {exc}{hint}", file=sys.stderr)
            sys.exit(EXIT_USAGE)
        sonde = Sonde(
            int(time.time() * 1000),
            str(settings.get("FT_OLDEST_CREATION")),
            tuple(SOURCES[n] for n in names),
        )
        assert self.crawler_process is not None
        crawler = self.crawler_process.create_crawler(SondeSpider)
        self.crawler_process.crawl(crawler, sonde=sonde)
        self.crawler_process.start()
        spider = crawler.spider
        stats = crawler.stats.get_stats() if crawler.stats else {}
        if FT in sonde.profile:
            slot = settings.get("FT_DOWNLOAD_SLOT", "francetravail")
            sonde.profile[FT]["measured"]["answered_429"] = stats.get(f"cpfft/rate/{slot}/429", 0)
        if spider is None or not spider.finished:
            reason = stats.get("finish_reason", "interrupted")
            sonde.problems.append(f"the probe did not finish ({reason})")
        sonde.profile["problems"] = sonde.problems
        output.write_text(json.dumps(sonde.profile, ensure_ascii=False, indent=2) + "\n", "utf-8")
        for line in report(sonde.profile, check_rate(settings), str(output)):
            print(line)
        for problem in sonde.problems:
            print(f"cpfft: non mesuré : {problem}", file=sys.stderr)
        self.exitcode = EXIT_MEASURE_FAILED if sonde.problems else 0
