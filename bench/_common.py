"""Helpers shared by the benchmarks: run an emulator in its own process, talk to its admin API."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
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
