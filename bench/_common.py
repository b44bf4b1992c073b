"""Helpers shared by the benchmarks: run an emulator in its own process, talk to its admin API."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def start_emulator(api: str, *options: str) -> tuple[subprocess.Popen, str]:
    """``python -m tests.fakeapi <api> <options>`` in a separate process; returns it and its URL."""
    cmd = [sys.executable, "-m", "tests.fakeapi", api, *options]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, text=True)
    url = proc.stdout.readline().strip()
    if not url.startswith("http://127.0.0.1:"):
        proc.kill()
        raise SystemExit(f"emulator did not start: {url!r}")
    return proc, url


def admin(url: str, action: str, body: dict | None = None) -> dict:
    """``stats`` (GET), ``reset`` (POST) or ``config`` (POST ``body``: knobs to set) on the
    emulator's admin API."""
    method = "POST" if action == "reset" or body is not None else "GET"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{url}/_emulator/{action}", data=data, method=method)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def count_rows(path: Path) -> int:
    if not path.exists():
        return 0
    with path.open(encoding="utf-8-sig", newline="") as f:
        return sum(1 for _ in csv.reader(f)) - 1


def measure_command(
    cmd: list[str], cwd: Path, env: dict[str, str] | None = None
) -> tuple[float, float, int, str]:
    """Wall seconds, peak RSS in MB (the child's own ``ru_maxrss``, from os.wait4), exit
    code and output of one ``scrapy`` child process run from the repository's code, with
    no cpfft or Scrapy setting from this shell (``env`` adds some)."""
    full = {k: v for k, v in os.environ.items() if not k.startswith(("CPF", "SCRAPY", "FT_"))}
    full.update(SCRAPY_SETTINGS_MODULE="cpfft.settings", PYTHONPATH=str(REPO), **(env or {}))
    started = time.perf_counter()
    out = cwd / "child.out"
    with out.open("w") as stdout:
        proc = subprocess.Popen(cmd, cwd=cwd, env=full, stdout=stdout, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    return wall, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status), out.read_text()
