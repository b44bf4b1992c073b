"""Fixtures: loopback emulators, and real ``scrapy crawl`` runs against them.

Helpers shared by several test files live in :mod:`tests.support`; this file only
holds fixtures and hooks.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# Before the import below: the helpers' own asserts report their values too.
pytest.register_assert_rewrite("tests.support")

from cpfft.run.output import set_aside_name
from tests.fakeapi import FtEmulator, OdsEmulator
from tests.support import postgresql
from tests.support.crawling import CrawlResult, clean_env, emulator_factory


@pytest.fixture
def ods() -> Iterator[Callable[..., OdsEmulator]]:
    """Factory: ``ods(rows=5000, fail_rate_5xx=0.2)`` starts an Opendatasoft emulator."""
    yield from emulator_factory(OdsEmulator, rows=3000)


@pytest.fixture
def ft() -> Iterator[Callable[..., FtEmulator]]:
    """Factory: ``ft(offers=5000, latency_ms=30)`` starts a France Travail emulator."""
    yield from emulator_factory(FtEmulator, offers=2000)


@pytest.fixture(scope="session")
def postgresql_server(tmp_path_factory) -> Iterator[postgresql.Server]:
    """A real PostgreSQL server on 127.0.0.1, one per test process (see tests.support)."""
    server, process = postgresql.start(tmp_path_factory.mktemp("postgresql"))
    yield server
    postgresql.stop(server, process)


@pytest.fixture
def pg(postgresql_server: postgresql.Server) -> Iterator[postgresql.Server]:
    """A new, empty database on that server, for one test."""
    import uuid
    from dataclasses import replace

    name = f"t_{uuid.uuid4().hex[:12]}"
    with postgresql_server.connect() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield replace(postgresql_server, database=name)
    with postgresql_server.connect() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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
        path = workdir / output
        aside = set_aside_name(path)
        if proc.returncode != 0 and output and aside.exists():
            path = aside  # an incomplete run's rows (the output itself is left as it was)
        return CrawlResult(proc.returncode, proc.stderr, path)

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
