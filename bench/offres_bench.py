"""Benchmark: a national France Travail query under each unsettled API behaviour, in one run.

Starts the France Travail emulator (separate process; 30 ms latency) with at
least 20 000 matching offers with descriptions of realistic length, then runs
``scrapy crawl offres -O …`` against it under: the default emulator, date
bounds read as Paris time, an exclusive ``maxCreationDate``, a 1000/1149
window cap, and an application capped at 3 req/s (with the limiter's headers, then
without); then bench/old_offres.py
(one token, range windows in a loop, no splitting) on the default emulator.
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
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO, admin, count_rows, start_emulator

sys.path.insert(0, str(REPO))
from tests.fakeapi.francetravail import CLIENT_ID, CLIENT_SECRET

SCENARIOS = {
    # name: emulator knobs (see tests/fakeapi/francetravail.py)
    "default emulator": {},
    "bounds read as Paris time": {"bound_zone": "Europe/Paris"},
    "maxCreationDate exclusive": {"max_inclusive": False},
    "window cap 1000/1149": {"max_start": 1000},
    "application capped at 3 req/s": {"rate_per_second": 3.0, "rate_burst": 3},
    "3 req/s without limiter headers": {
        "rate_per_second": 3.0,
        "rate_burst": 3,
        "rate_headers_sent": False,
    },
}
DEFAULTS = {"bound_zone": "UTC", "max_inclusive": True, "max_start": 3000,
            "rate_per_second": 10.0, "rate_burst": 10, "rate_headers_sent": True}  # fmt: skip
CALIBRATION = re.compile(r"calibration:\s+(\d+) calls")
WHOLE = re.compile(r"(\d+) calls on the whole query")
RATE = re.compile(r"rate:\s+([\d.]+) req/s sustained")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--offers", type=int, default=25_000)
    parser.add_argument("--latency-ms", type=float, default=30.0)
    parser.add_argument("--only", action="append", help="run only the scenarios named")
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
            runs = [("cpfft", name, knobs) for name, knobs in SCENARIOS.items()
                    if not options.only or name in options.only]  # fmt: skip
            runs.append(("old approach", "default emulator", {}))
            for approach, scenario, knobs in runs:
                admin(url, "config", {**DEFAULTS, **knobs})
                admin(url, "reset")
                out = Path(tmp) / "out.csv"
                out.unlink(missing_ok=True)
                if approach == "cpfft":
                    cmd = [sys.executable, "-m", "scrapy", "crawl", "offres", "-O", str(out)]
                else:
                    cmd = [sys.executable, str(REPO / "bench" / "old_offres.py"), url, token_url,
                           str(out)]  # fmt: skip
                started = time.perf_counter()
                proc = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True,
                                      check=False)  # fmt: skip
                wall = time.perf_counter() - started
                stats = admin(url, "stats")
                calibration = CALIBRATION.search(proc.stderr)
                whole = WHOLE.search(proc.stderr)
                rate = RATE.search(proc.stderr)
                results.append((approach, scenario, count_rows(out), stats, wall, proc.returncode,
                                int(calibration.group(1)) if calibration else 0,
                                int(whole.group(1)) if whole else 0,
                                rate.group(1) if rate else "-"))  # fmt: skip
    finally:
        emulator.terminate()
        emulator.wait(10)
    ideal = math.ceil(matching / 150)
    print(
        f"National query, {matching:,} offers (ideal ⌈N/150⌉ = {ideal} requests)".replace(",", " ")
    )
    print("| approach | emulator | offers obtained / matching | requests | window requests "
          "(× ideal) | calibration calls | whole-query calls | 429 received | sent inside a "
          "Retry-After | sustained req/s | rate settled | wall time | exit |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for approach, scenario, got, stats, wall, code, calibration, whole, rate in results:
        windows = stats["api_calls"] - calibration - whole
        print(
            f"| {approach} | {scenario} | {got:,} / {matching:,} | {stats['api_calls']} | "
            f"{windows} ({windows / ideal:.3f} ×) | {calibration} | {whole} | {stats['http_429']} | "
            f"{stats.get('inside_retry_after', '?')} | {stats['sustained_rps']:.2f} | {rate} | "
            f"{wall:.1f} s | {code} |".replace(",", " ")
        )
    print(f"\nEmulator: {options.latency_ms:g} ms latency, realistic descriptions; requests counted "
          f"by the emulator (token calls apart); machine: {os.cpu_count()} CPUs.")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
