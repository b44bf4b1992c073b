"""``cpfft-schedule``: ask scrapyd for a run, unless the same run is still pending or running.

scrapyd has no scheduler of its own; a crontab line or a systemd timer calls
this command, e.g. every day at 05:00::

    0 5 * * *  cpfft-schedule cpf
    30 5 * * * cpfft-schedule offres -a motsCles=python -a region=11

The scrapyd URL and credentials come from the environment (``SCRAPYD_URL``,
default ``http://127.0.0.1:6800``; ``SCRAPYD_USERNAME``/``SCRAPYD_PASSWORD``),
never from the command line. France Travail credentials are not passed at
all: they belong in scrapyd's own environment (``schedule.json`` arguments and
``setting=`` values show in every job listing).

``-s NAME=VALUE`` passes a Scrapy setting to the job (``setting=``), e.g. its
own ``CPFFT_OUTPUT_DIR`` for a second query of the same spider.

The job id names the spider and a hash of its arguments and settings
(``offres-3f9a1c2e-20261129T050000Z``), so a run of the same spider and query
that is still pending or running is recognised and the new one skipped.
Exit status: 0 scheduled or skipped, 1 scrapyd refused or unreachable, 2 bad usage.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from typing import Any

SECRET_NAMES = ("SECRET", "TOKEN", "PASSWORD", "CLIENT_ID")


def query_key(spider: str, args: dict[str, str]) -> str:
    digest = hashlib.sha1(json.dumps(sorted(args.items())).encode(), usedforsecurity=False)
    return f"{spider}-{digest.hexdigest()[:8]}"


def call(
    base: str, path: str, data: dict[str, Any] | None = None, timeout: float = 30
) -> dict[str, Any]:
    url = f"{base.rstrip('/')}/{path}"
    body = urllib.parse.urlencode(data, doseq=True).encode() if data is not None else None
    request = urllib.request.Request(url, data=body, method="POST" if body else "GET")  # noqa: S310 - http(s) checked in parse()
    user, password = os.environ.get("SCRAPYD_USERNAME", ""), os.environ.get("SCRAPYD_PASSWORD", "")
    if user:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        payload = json.loads(response.read())
    if payload.get("status") != "ok":  # scrapyd reports errors as HTTP 200 + status "error"
        raise RuntimeError(str(payload.get("message") or payload).strip().splitlines()[0])
    return payload


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="cpfft-schedule", description=__doc__.splitlines()[0])
    parser.add_argument("spider", help="cpf or offres")
    parser.add_argument("-a", dest="args", action="append", default=[], metavar="NAME=VALUE",
                        help="spider argument (repeatable)")  # fmt: skip
    parser.add_argument("-s", dest="settings", action="append", default=[], metavar="NAME=VALUE",
                        help="Scrapy setting for this job, e.g. CPFFT_OUTPUT_DIR=/srv/x (repeatable)")  # fmt: skip
    parser.add_argument("--project", default="cpfft")
    parser.add_argument("--url", default=os.environ.get("SCRAPYD_URL") or "http://127.0.0.1:6800")
    options = parser.parse_args(argv)
    options.pairs = pairs(parser, "-a", options.args)
    options.setting_pairs = pairs(parser, "-s", options.settings)
    if urllib.parse.urlsplit(options.url).scheme not in ("http", "https"):
        parser.error(f"--url / SCRAPYD_URL {options.url!r} is not an http(s) URL")
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


def main(argv: list[str] | None = None) -> int:
    options = parse(argv)
    key = query_key(
        options.spider, options.pairs | {f"-s {k}": v for k, v in options.setting_pairs.items()}
    )
    try:
        jobs = call(options.url, f"listjobs.json?project={urllib.parse.quote(options.project)}")
        busy = [
            j
            for j in jobs.get("pending", []) + jobs.get("running", [])
            if str(j.get("id", "")).startswith(key)
        ]
        if busy:
            print(f"cpfft-schedule: skipped {options.spider}: the same run is still "
                  f"{'pending' if busy[0] in jobs.get('pending', []) else 'running'} (job {busy[0]['id']})")  # fmt: skip
            return 0
        jobid = f"{key}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"
        data = {
            "project": options.project,
            "spider": options.spider,
            "jobid": jobid,
            "setting": [f"{k}={v}" for k, v in options.setting_pairs.items()],
            **options.pairs,
        }
        answer = call(options.url, "schedule.json", data)
    except (OSError, RuntimeError, ValueError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        print(f"cpfft-schedule: error: scrapyd at {options.url}: {reason}", file=sys.stderr)
        return 1
    print(f"cpfft-schedule: scheduled {options.spider} as job {answer['jobid']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
