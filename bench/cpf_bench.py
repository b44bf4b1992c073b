"""Benchmark: the whole CPF catalogue, cpfft versus the old script, in one run.

For each catalogue size, starts the Opendatasoft emulator (separate process,
30 ms latency per call), then runs, one after the other against the same
emulator: ``scrapy crawl cpf -O …``, bench/old_cpf.py (v1 search, pages of
100, max_records 10 000, pandas) and a peer: the whole catalogue as one CSV
export (``/exports/csv``) downloaded with requests, read and written again
with pandas, without any cleaning (what odsclient users do). Prints one table,
and the ratio of cpfft's wall time to the peer's.

    pip install -e '.[bench]'
    python bench/cpf_bench.py              # 100 000 and 200 000 rows
    python bench/cpf_bench.py --rows 20000 --latency-ms 30
    python bench/cpf_bench.py --peer URL OUTPUT.csv   # the peer alone (run by the bench)

Peak RSS is the child's own ``ru_maxrss`` (os.wait4), so the emulator's memory
is not counted. API calls are counted by the emulator.
"""

from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO, admin, count_rows, start_emulator

DATASET = "moncompteformation_catalogueformation"


def peer(base_url: str, output: str) -> None:
    """The peer: one full CSV export, read and written again with pandas, no cleaning."""
    import io

    import pandas as pd
    import requests

    url = f"{base_url}/api/explore/v2.1/catalog/datasets/{DATASET}/exports/csv"
    response = requests.get(url, timeout=600)
    response.raise_for_status()
    frame = pd.read_csv(io.BytesIO(response.content), sep=";", encoding="utf-8-sig", dtype=str)
    frame.to_csv(output, index=False, encoding="utf-8-sig")


def measure(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, int]:
    """Wall seconds, peak RSS in MB, exit code of one child process."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_maxrss / 1024, proc.returncode


def run(rows: int, latency_ms: float, workdir: Path) -> list[dict]:
    emulator, url = start_emulator("ods", "--rows", str(rows), "--latency-ms", str(latency_ms))
    results = []
    try:
        available = admin(url, "stats")["rows"]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CPF", "SCRAPY"))}
        env.update(SCRAPY_SETTINGS_MODULE="cpfft.settings", CPF_API_URL=url,
                   PYTHONPATH=str(REPO))  # fmt: skip
        runs = {
            "cpfft": [sys.executable, "-m", "scrapy", "crawl", "cpf", "-O", f"cpfft_{rows}.csv"],
            "old script": [
                sys.executable,
                str(REPO / "bench" / "old_cpf.py"),
                url,
                f"old_{rows}.csv",
            ],
            "peer: CSV export + pandas": [
                sys.executable,
                str(REPO / "bench" / "cpf_bench.py"),
                "--peer",
                url,
                f"peer_{rows}.csv",
            ],
        }
        for name, cmd in runs.items():
            admin(url, "reset")
            wall, rss, code = measure(cmd, env, workdir)
            calls = admin(url, "stats")["calls"]
            got = count_rows(workdir / cmd[-1])
            results.append({
                "approach": name, "available": available, "rows": got, "calls": calls,
                "wall": wall, "rss": rss, "exit": code,
            })  # fmt: skip
    finally:
        emulator.terminate()
        emulator.wait(10)
    return results


def table(results: list[dict], latency_ms: float) -> str:
    head = ("| catalogue | approach | rows obtained / available | API calls | rows per call "
            "| wall time | time per 1 000 rows | peak RSS | exit |")  # fmt: skip
    lines = [head, "|" + "---|" * 9]
    for r in results:
        per_k = r["wall"] / r["rows"] * 1000 if r["rows"] else float("nan")
        lines.append(
            f"| {r['available']:,} | {r['approach']} | {r['rows']:,} / {r['available']:,} "
            f"({100 * r['rows'] / r['available']:.1f} %) | {r['calls']} | "
            f"{r['rows'] / max(r['calls'], 1):,.0f} | {r['wall']:.1f} s | {per_k:.2f} s | "
            f"{r['rss']:.0f} MB | {r['exit']} |".replace(",", " ")
        )
    lines.append(f"\nEmulator latency {latency_ms:g} ms per call; machine: {os.cpu_count()} CPUs.")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 200_000])
    parser.add_argument("--latency-ms", type=float, default=30.0)
    parser.add_argument("--peer", nargs=2, metavar=("URL", "OUTPUT"), help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.peer:
        peer(*options.peer)
        return 0
    results = []
    with tempfile.TemporaryDirectory(prefix="cpfft-bench-") as tmp:
        for rows in options.rows:
            results += run(rows, options.latency_ms, Path(tmp))
            print(f"done: {rows} rows", file=sys.stderr, flush=True)
    print(table(results, options.latency_ms))
    mine = [r for r in results if r["approach"] == "cpfft"]
    for small, big in itertools.pairwise(mine):
        growth = 100 * (big["rss"] - small["rss"]) / small["rss"]
        print(f"cpfft peak RSS growth from {small['available']:,} to {big['available']:,} rows: "
              f"{growth:+.1f} %".replace(",", " "))  # fmt: skip
    for rows in options.rows:
        by_name = {r["approach"]: r for r in results if r["available"] == rows}
        mine, other = by_name["cpfft"], by_name["peer: CSV export + pandas"]
        print(f"{rows:,} rows: cpfft takes {mine['wall'] / other['wall']:.2f} x the peer's "
              f"wall time".replace(",", " "))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
