"""``cpfft-schedule``: ask scrapyd for a run, after checking it, unless the same run is still
pending or running.

scrapyd has no scheduler of its own; a crontab line or a systemd timer calls
this command, e.g. every day at 05:00::

    0 5 * * *  cpfft-schedule --env-file /etc/cpfft/scrapyd.env cpf
    30 5 * * * cpfft-schedule --env-file /etc/cpfft/scrapyd.env offres -a motsCles=python

**Checks first.** A job whose arguments or settings are wrong dies in scrapyd
before Scrapy starts, and scrapyd still lists it as ``finished``. So the job is
first checked exactly as ``scrapy crawl`` checks it before starting (spider
name, arguments, settings, France Travail credentials, output directory; see
:func:`cpfft.commands.crawl.check_job`), in a subprocess whose environment is
the one the job will get: scrapyd's environment file (``--env-file``, the
systemd ``EnvironmentFile``) if given, otherwise this command's own environment
(scrapyd started with the same exported variables). A failed check prints one
line and exits 2 without posting anything. ``--no-check`` skips it (a remote
scrapyd whose environment this machine cannot see).

The scrapyd URL and credentials come from the environment (``SCRAPYD_URL``,
default ``http://127.0.0.1:6800``; ``SCRAPYD_USERNAME``/``SCRAPYD_PASSWORD``),
or else from ``--env-file`` (where scrapyd reads them), never from the command
line. France Travail credentials are not passed at all: they belong in
scrapyd's own environment (``schedule.json`` arguments and ``setting=`` values
show in every job listing). A scrapyd that answers without a password is
reported with a warning.

``-s NAME=VALUE`` passes a Scrapy setting to the job (``setting=``).

The job id names the spider and a hash of its arguments and settings
(``offres-3f9a1c2e-20261129T050000Z``), so a run of the same spider and query
that is still pending or running is recognised and the new one skipped.
Exit status: 0 scheduled or skipped, 1 scrapyd refused or unreachable, 2 bad
usage or a job that would fail its checks.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from cpfft.errors import first_line

SECRET_NAMES = ("SECRET", "TOKEN", "PASSWORD", "CLIENT_ID")
DEFAULT_URL = "http://127.0.0.1:6800"
#: What a service manager gives a process besides its EnvironmentFile (and what Python needs).
BASE_ENVIRONMENT = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "SYSTEMROOT")
CHECK_TIMEOUT = 300  # seconds; the checks read no network
SCRAPYD_TIMEOUT = 30  # seconds per call to scrapyd: a crontab line must not hang

EXIT_REFUSED = 1
EXIT_USAGE = 2

DESCRIPTION = """\
Ask scrapyd for a run of a cpfft spider, after checking it as scrapy crawl would,
unless the same run is still pending or running."""
EPILOG = """\
examples (crontab):
  0 5 * * *  cpfft-schedule --env-file /etc/cpfft/scrapyd.env cpf
  30 5 * * * cpfft-schedule --env-file /etc/cpfft/scrapyd.env offres -a motsCles=python

before posting, the job is checked as scrapy crawl checks it (spider, arguments,
settings, France Travail credentials, output directory) with the environment the
job will get: the --env-file (scrapyd's environment file, e.g. systemd's
EnvironmentFile), or else this command's environment. A failed check prints one
line and exits 2; nothing is posted.

environment: SCRAPYD_URL (default http://127.0.0.1:6800), SCRAPYD_USERNAME and
SCRAPYD_PASSWORD (else read from --env-file). France Travail credentials never
go on this command line: they belong in scrapyd's environment.

exit status: 0 scheduled or skipped, 1 scrapyd refused or unreachable,
2 bad usage or a job that would fail its checks.
"""


class ScrapydError(Exception):
    """scrapyd refused, failed or could not be reached; ``str()`` is one line."""


def query_key(spider: str, args: dict[str, str]) -> str:
    digest = hashlib.sha1(json.dumps(sorted(args.items())).encode(), usedforsecurity=False)
    return f"{spider}-{digest.hexdigest()[:8]}"


def _client_class() -> type:
    """ScrapydClient with its one transport method replaced: the same requests, with a
    timeout, and one line per failure (imported here: scrapyd-client is the ``scrapyd``
    extra)."""
    try:
        import requests
        from scrapyd_client import ScrapydClient
        from scrapyd_client.exceptions import ErrorResponse, MalformedResponse
        from scrapyd_client.pyclient import HEADERS, _process_response
    except ImportError:
        raise ScrapydError(
            "cpfft-schedule needs scrapyd-client: pip install -e '.[scrapyd]'"
        ) from None

    class Client(ScrapydClient):
        timeout: float = 30

        def _get(self, basename: str, params: dict[str, Any] | None = None) -> Any:
            return self._call("GET", basename, params=params or {})

        def _post(self, basename: str, data: Any) -> Any:
            return self._call("POST", basename, data=data)

        def _call(self, method: str, basename: str, **kwargs: Any) -> Any:
            try:
                response = requests.request(
                    method,
                    f"{self.url}/{basename}.json",
                    headers=HEADERS,
                    auth=self.auth,
                    timeout=self.timeout,
                    **kwargs,
                )
            except requests.RequestException as exc:
                raise ScrapydError(first_line(exc)) from None
            if response.status_code == 401:
                raise ScrapydError(
                    "refused SCRAPYD_USERNAME/SCRAPYD_PASSWORD (HTTP 401): give the user name "
                    "and password of scrapyd's environment"
                    if self.auth is not None
                    else "asks for a user name and password (HTTP 401): set SCRAPYD_USERNAME "
                    "and SCRAPYD_PASSWORD in this command's environment, or give --env-file"
                )
            if response.status_code >= 400:
                raise ScrapydError(
                    f"HTTP {response.status_code} {response.reason} on {basename}.json"
                )
            try:
                return _process_response(response)
            except ErrorResponse as exc:  # scrapyd reports errors as HTTP 200 + "error"
                raise ScrapydError(first_line(exc, "error")) from None
            except (MalformedResponse, KeyError, TypeError, AttributeError, RuntimeError) as exc:
                raise ScrapydError(
                    f"not a scrapyd answer on {basename}.json ({type(exc).__name__})"
                ) from None

    return Client


class Scrapyd:
    """scrapyd's API through scrapyd-client's :class:`ScrapydClient` (its calls, its
    answers' checks, its basic auth, ``~/.netrc`` included), plus what a crontab line
    needs: a timeout on every call, and each failure as one :class:`ScrapydError` line."""

    def __init__(
        self, url: str, credentials: tuple[str, str] | None = None, timeout: float | None = None
    ) -> None:
        timeout = SCRAPYD_TIMEOUT if timeout is None else timeout
        self.url, self.credentials, self.timeout = url.rstrip("/"), credentials, timeout
        self.client = _client_class()(self.url, *(credentials or (None, None)))
        self.client.timeout = timeout

    def anonymous(self) -> Scrapyd:
        """The same scrapyd, asked without any password (not even ``~/.netrc``'s)."""
        other = Scrapyd(self.url, None, self.timeout)
        # Not None: given auth=None, requests would look the host up in ~/.netrc.
        other.client.auth = _no_auth
        return other

    # The calls cpfft-schedule makes:

    def open_to_anyone(self) -> bool:
        """True if scrapyd answers a request that carries no password."""
        try:
            self.anonymous().client.daemonstatus()
        except ScrapydError:
            return False
        return True

    def jobs(self, project: str) -> dict[str, Any]:
        return self.client.jobs(project)

    def schedule(
        self, project: str, spider: str, jobid: str, settings: dict[str, str], args: dict
    ) -> str:
        fields = [("jobid", jobid), *(("setting", f"{k}={v}") for k, v in settings.items())]
        return self.client.schedule(project, spider, [*fields, *args.items()])


def _no_auth(request: Any) -> Any:
    """A request sent as it is, without any Authorization header."""
    return request


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="cpfft-schedule",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("spider", help="cpf or offres")
    parser.add_argument("-a", dest="args", action="append", default=[], metavar="NAME=VALUE",
                        help="spider argument (repeatable)")  # fmt: skip
    parser.add_argument("-s", dest="settings", action="append", default=[], metavar="NAME=VALUE",
                        help="Scrapy setting for this job, e.g. CPFFT_OUTPUT_DIR=/srv/x (repeatable)")  # fmt: skip
    parser.add_argument("--project", default="cpfft", help="scrapyd project (default: cpfft)")
    parser.add_argument("--url", default=None,
                        help=f"scrapyd's address (default: SCRAPYD_URL, else {DEFAULT_URL})")  # fmt: skip
    parser.add_argument("--env-file", type=Path, metavar="FILE",
                        help="scrapyd's environment file (KEY=value lines, e.g. systemd's "
                             "EnvironmentFile): the job is checked with it")  # fmt: skip
    parser.add_argument("--no-check", action="store_true",
                        help="post without checking the job first (a scrapyd whose "
                             "environment this machine cannot see)")  # fmt: skip
    options = parser.parse_args(argv)
    options.pairs = pairs(parser, "-a", options.args)
    options.setting_pairs = pairs(parser, "-s", options.settings)
    options.file_env = read_env_file(parser, options.env_file) if options.env_file else None
    fallback = options.file_env or {}
    options.url = (
        options.url or os.environ.get("SCRAPYD_URL") or fallback.get("SCRAPYD_URL") or DEFAULT_URL
    )
    if urllib.parse.urlsplit(options.url).scheme not in ("http", "https"):
        parser.error(f"--url / SCRAPYD_URL {options.url!r} is not an http(s) URL")
    source = os.environ if os.environ.get("SCRAPYD_USERNAME") else fallback
    user, password = source.get("SCRAPYD_USERNAME", ""), source.get("SCRAPYD_PASSWORD", "")
    options.credentials = (user, password) if user else None
    return options


def pairs(parser: argparse.ArgumentParser, flag: str, raw_pairs: list[str]) -> dict[str, str]:
    """``NAME=VALUE`` options as a dict; secret-looking names refused (job listings show them)."""
    found = {}
    for raw in raw_pairs:
        name, sep, value = raw.partition("=")
        if not sep or not name:
            parser.error(f"{flag} {raw!r}: use {flag} NAME=VALUE")
        if any(word in name.upper() for word in SECRET_NAMES):
            parser.error(
                f"{flag} {name}: secrets never go in job arguments; put them in scrapyd's "
                "environment"
            )
        found[name] = value
    return found


def read_env_file(parser: argparse.ArgumentParser, path: Path) -> dict[str, str]:
    """``KEY=value`` lines, as systemd's EnvironmentFile and ``set -a; . file`` read them
    (quotes removed, no ``$`` expansion); values never shown."""
    try:
        with path.open(encoding="utf-8") as stream:
            values = dotenv_values(stream=stream, interpolate=False)
    except UnicodeDecodeError:
        parser.error(f"--env-file {path}: not valid UTF-8; save it as UTF-8")
    except OSError as exc:
        parser.error(
            f"--env-file {path}: cannot read it ({exc.strerror}); run cpfft-schedule as a user "
            "who can read scrapyd's environment file (e.g. scrapyd's own user)"
        )
    return {k: v for k, v in values.items() if v is not None}


def job_environment(file_env: dict[str, str] | None) -> dict[str, str]:
    """The environment the job will get: scrapyd's environment file over what a service
    manager provides, or, without a file, this command's own environment."""
    if file_env is None:
        env = dict(os.environ)
    else:
        env = {k: os.environ[k] for k in BASE_ENVIRONMENT if k in os.environ}
        env.update(file_env)
    # What scrapyd's runner does when the egg is activated.
    env.setdefault("SCRAPY_SETTINGS_MODULE", "cpfft.settings")
    return env


def check_job(options: argparse.Namespace, jobid: str) -> dict[str, Any]:
    """Run the job's checks (``python -m cpfft.commands.crawl``) in the job's environment,
    from an empty directory (the job does not run from here): ``{"output": folder}`` or
    ``{"error": one line, "environment": whether the environment is the cause}``."""
    argv = [sys.executable, "-m", "cpfft.commands.crawl", options.spider, "-a", f"_job={jobid}"]
    for flag, values in (("-a", options.pairs), ("-s", options.setting_pairs)):
        for name, value in values.items():
            argv += [flag, f"{name}={value}"]
    try:
        with tempfile.TemporaryDirectory(prefix="cpfft-schedule-") as cwd:
            done = subprocess.run(  # noqa: S603 - our own interpreter and module
                argv,
                cwd=cwd,
                env=job_environment(options.file_env),
                capture_output=True,
                text=True,
                timeout=CHECK_TIMEOUT,
                check=False,
            )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"error": f"the checks could not run: {exc}", "environment": True}
    try:
        answer = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        answer = None
    if not isinstance(answer, dict):
        lines = done.stderr.strip().splitlines()
        reason = lines[-1] if lines else f"exit status {done.returncode}"
        return {"error": f"the checks could not run: {reason}", "environment": True}
    return answer


def main(argv: list[str] | None = None) -> int:
    options = parse(argv)
    key = query_key(
        options.spider, options.pairs | {f"-s {k}": v for k, v in options.setting_pairs.items()}
    )
    jobid = f"{key}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"
    output = None
    if not options.no_check:
        checked = check_job(options, jobid)
        if checked.get("error"):
            where = ""
            if checked.get("environment", True):
                where = (
                    f" (checked with the environment of {options.env_file})"
                    if options.env_file
                    else " (checked with this command's environment; if scrapyd has its own, "
                    "give its environment file with --env-file)"
                )
            print(f"cpfft-schedule: error: {options.spider} not scheduled: {checked['error']}"
                  f"{where}", file=sys.stderr)  # fmt: skip
            return EXIT_USAGE
        output = checked.get("output")
    try:
        scrapyd = Scrapyd(options.url, options.credentials)
        if scrapyd.open_to_anyone():
            print(f"cpfft-schedule: warning: scrapyd at {options.url} answers without a "
                  "password: anyone who can reach it can run jobs and read their logs. Set "
                  "SCRAPYD_USERNAME and SCRAPYD_PASSWORD in scrapyd's environment (systemd "
                  "EnvironmentFile or exported variables) and restart it", file=sys.stderr)  # fmt: skip
        jobs = scrapyd.jobs(options.project)
        busy = [
            j
            for j in jobs.get("pending", []) + jobs.get("running", [])
            if str(j.get("id", "")).startswith(key)
        ]
        if busy:
            print(f"cpfft-schedule: skipped {options.spider}: the same run is still "
                  f"{'pending' if busy[0] in jobs.get('pending', []) else 'running'} (job {busy[0]['id']})")  # fmt: skip
            return 0
        scheduled = scrapyd.schedule(
            options.project, options.spider, jobid, options.setting_pairs, options.pairs
        )
    except ScrapydError as exc:
        print(f"cpfft-schedule: error: scrapyd at {options.url}: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    where = f" (output in {output})" if output else ""
    print(f"cpfft-schedule: scheduled {options.spider} as job {scheduled}{where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
