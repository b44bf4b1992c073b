"""Running the emulators and real ``scrapy crawl`` subprocesses against them.

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

from tests.fakeapi import FtEmulator, ServerThread
from tests.fakeapi.francetravail import CLIENT_ID, CLIENT_SECRET

REPO = Path(__file__).resolve().parent.parent.parent
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


def scrapy_command(
    cwd: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    """``scrapy <args>`` in ``cwd`` as a user runs it → CompletedProcess (text). ``env``
    is the whole environment (default: :func:`clean_env`)."""
    return subprocess.run(
        [sys.executable, "-m", "scrapy", *args],
        cwd=cwd,
        env=clean_env() if env is None else env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
