"""Shared fixtures: loopback emulators, and real ``scrapy crawl`` runs against them.

Crawls run as subprocesses (``python -m scrapy crawl …``) in a temporary
working directory, exactly as a user runs them, so exit codes, stderr and the
CSV on disk are what is tested. The environment is scrubbed of any cpfft / API
variable of the developer's machine, and no ``.env`` is found from the
temporary directory.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fakeapi import FtEmulator, OdsEmulator, ServerThread
from tests.fakeapi.francetravail import CLIENT_ID, CLIENT_SECRET

REPO = Path(__file__).resolve().parent.parent
BOM = b"\xef\xbb\xbf"


def emulator_factory(cls: type, **defaults: Any) -> Iterator[Callable[..., Any]]:
    """Yield ``start(**knobs)``, which runs a ``cls`` emulator on 127.0.0.1:0; stop them after."""
    servers: list[ServerThread] = []

    def start(**knobs: Any) -> Any:
        emulator = cls(**(defaults | knobs))
        _ = emulator.dataset  # generate the data before the clock starts
        server = ServerThread(emulator.app()).start()
        servers.append(server)
        emulator.url = server.url
        return emulator

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def ods() -> Iterator[Callable[..., OdsEmulator]]:
    """Factory: ``ods(rows=5000, fail_rate_5xx=0.2)`` starts an Opendatasoft emulator."""
    yield from emulator_factory(OdsEmulator, rows=3000)


@pytest.fixture
def ft() -> Iterator[Callable[..., FtEmulator]]:
    """Factory: ``ft(offers=5000, latency_ms=30)`` starts a France Travail emulator."""
    yield from emulator_factory(FtEmulator, offers=2000)


def ft_env(emulator: FtEmulator, **extra: str) -> dict[str, str]:
    """Environment pointing cpfft at a France Travail emulator, with its test credentials."""
    env = {
        "FT_API_URL": emulator.url,  # type: ignore[attr-defined]
        "FT_TOKEN_URL": f"{emulator.url}/connexion/oauth2/access_token?realm=/partenaire",  # type: ignore[attr-defined]
        "FT_CLIENT_ID": CLIENT_ID,
        "FT_CLIENT_SECRET": CLIENT_SECRET,
    }
    env.update(extra)
    return env


@dataclass
class CrawlResult:
    returncode: int
    stderr: str
    output: Path

    @property
    def log(self) -> str:
        return self.stderr

    def csv_bytes(self) -> bytes:
        return self.output.read_bytes()

    def rows(self, delimiter: str = ",") -> tuple[list[str], list[list[str]]]:
        data = self.csv_bytes()
        assert data.startswith(BOM), "the CSV must start with a UTF-8 BOM"
        table = list(
            csv.reader(io.StringIO(data[3:].decode("utf-8"), newline=""), delimiter=delimiter)
        )
        return table[0], table[1:]

    def dicts(self, delimiter: str = ",") -> list[dict[str, str]]:
        header, rows = self.rows(delimiter)
        return [dict(zip(header, r, strict=True)) for r in rows]


def clean_env(extra: dict[str, str | None] | None = None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CPF", "FT_", "SCRAPY", "PYTHON_DOTENV"))
    }
    env["SCRAPY_SETTINGS_MODULE"] = "cpfft.settings"
    # Never the real services: a test that forgets its emulator hits a closed loopback port.
    env["CPF_API_URL"] = "http://127.0.0.1:9"
    env["FT_API_URL"] = "http://127.0.0.1:9"
    env["FT_TOKEN_URL"] = "http://127.0.0.1:9/connexion/oauth2/access_token?realm=/partenaire"
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["CPFFT_RETRY_BACKOFF"] = "0.05"  # tests need not wait seconds between retries
    env["CPFFT_PROGRESS_INTERVAL"] = "1"
    for key, value in (extra or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


@pytest.fixture
def crawl(tmp_path: Path) -> Callable[..., CrawlResult]:
    """``crawl("cpf", {"q": "python"}, env={...}, settings={...})`` → :class:`CrawlResult`."""

    def run(
        spider: str,
        args: dict[str, str] | None = None,
        *,
        env: dict[str, str] | None = None,
        settings: dict[str, str] | None = None,
        output: str = "out.csv",
        cwd: Path | None = None,
        timeout: float = 240,
    ) -> CrawlResult:
        workdir = cwd or tmp_path
        cmd = [sys.executable, "-m", "scrapy", "crawl", spider]
        if output:
            cmd += ["-O", output]
        for key, value in (args or {}).items():
            cmd += ["-a", f"{key}={value}"]
        for key, value in (settings or {}).items():
            cmd += ["-s", f"{key}={value}"]
        proc = subprocess.run(
            cmd,
            cwd=workdir,
            env=clean_env(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return CrawlResult(proc.returncode, proc.stderr, workdir / output)

    return run


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the chaos suite's matrix (cells record themselves with ``record_property``)."""
    cells = [
        value
        for outcome in ("passed", "failed")
        for report in terminalreporter.stats.get(outcome, [])
        if getattr(report, "when", "") == "call"
        for name, value in getattr(report, "user_properties", [])
        if name == "chaos"
    ]
    if not cells:
        return
    columns = ["spider", "faults", "outcome", "expected", "written", "missing_lines", "calls",
               "retries", "exit"]  # fmt: skip
    cells.sort(key=lambda c: (c["spider"], c["faults"]))
    widths = [max(len(col), *(len(str(c[col])) for c in cells)) for col in columns]
    terminalreporter.section("chaos matrix")
    line = " | ".join(col.ljust(w) for col, w in zip(columns, widths, strict=True))
    terminalreporter.write_line(line)
    terminalreporter.write_line("-+-".join("-" * w for w in widths))
    for cell in cells:
        terminalreporter.write_line(
            " | ".join(str(cell[c]).ljust(w) for c, w in zip(columns, widths, strict=True))
        )
    rows = sum(c["expected"] for c in cells)
    terminalreporter.write_line(
        f"{len(cells)} runs, {rows} rows checked, "
        f"{sum(c['exit'] == 0 for c in cells)} complete, "
        f"{sum(c['exit'] != 0 for c in cells)} incomplete with the missing part listed"
    )
