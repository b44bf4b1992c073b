"""Benchmark: a national France Travail query, cpfft versus the old approach, in one run.

Starts the France Travail emulator (separate process; token bucket 10 req/s
per application, 30 ms latency) with at least 20 000 matching offers, then
runs against it, one after the other: ``scrapy crawl offres -O …`` and
bench/old_offres.py (one token, range windows in a loop, no splitting).
Prints one table.

    pip install -e '.[bench]'
    python bench/offres_bench.py                 # 25 000 offers
    python bench/offres_bench.py --offers 40000

Requests and 429s are counted by the emulator; the sustained rate is API calls
per second between the first and the last call it received.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO, admin, count_rows, start_emulator

sys.path.insert(0, str(REPO))
from tests.fakeapi.francetravail import CLIENT_ID, CLIENT_SECRET


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--offers", type=int, default=25_000)
    parser.add_argument("--latency-ms", type=float, default=30.0)
    options = parser.parse_args()
    emulator, url = start_emulator(
        "francetravail", "--offers", str(options.offers), "--latency-ms", str(options.latency_ms)
    )
    token_url = f"{url}/connexion/oauth2/access_token?realm=/partenaire"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FT_", "SCRAPY"))}
    env.update(SCRAPY_SETTINGS_MODULE="cpfft.settings", FT_API_URL=url, FT_TOKEN_URL=token_url,
               FT_CLIENT_ID=CLIENT_ID, FT_CLIENT_SECRET=CLIENT_SECRET, PYTHONPATH=str(REPO))  # fmt: skip
    results = []
    try:
        matching = admin(url, "stats")["offers"]
        with tempfile.TemporaryDirectory(prefix="cpfft-bench-") as tmp:
            runs = {
                "cpfft": [sys.executable, "-m", "scrapy", "crawl", "offres", "-O", "cpfft.csv"],
                "old approach": [
                    sys.executable,
                    str(REPO / "bench" / "old_offres.py"),
                    url,
                    token_url,
                    "old.csv",
                ],
            }
            for name, cmd in runs.items():
                admin(url, "reset")
                started = time.perf_counter()
                code = subprocess.run(
                    cmd, cwd=tmp, env=env, capture_output=True, check=False
                ).returncode
                wall = time.perf_counter() - started
                stats = admin(url, "stats")
                results.append((name, count_rows(Path(tmp) / cmd[-1]), stats, wall, code))
    finally:
        emulator.terminate()
        emulator.wait(10)
    ideal = math.ceil(matching / 150)
    print("| approach | offers obtained / matching | API requests (ideal ⌈N/150⌉ = "
          f"{ideal}) | token calls | 429 received | sustained req/s (cap 10) | wall time | exit |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for name, got, stats, wall, code in results:
        print(
            f"| {name} | {got:,} / {matching:,} ({100 * got / matching:.1f} %) | {stats['api_calls']} "
            f"({stats['api_calls'] / ideal:.2f} × ideal) | {stats['token_calls']} | {stats['http_429']} | "
            f"{stats['sustained_rps']:.2f} | {wall:.1f} s | {code} |".replace(",", " ")
        )
    print(f"\nEmulator: {options.latency_ms:g} ms latency, token bucket 10 req/s per application; "
          f"machine: {os.cpu_count()} CPUs.")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
