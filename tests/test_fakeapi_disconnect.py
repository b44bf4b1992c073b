"""The emulators stay quiet when a client dies mid-answer: one log line, no traceback."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.support.crawling import REPO, clean_env

EXPORT = "/api/explore/v2.1/catalog/datasets/moncompteformation_catalogueformation/exports/jsonl"

#: A client that starts an export, reads a little of it and then waits to be killed. Its
#: small receive buffer keeps most of the (~15 MB) answer unsent, so the emulator is still
#: writing when the client dies, and the kernel resets the connection (unread data).
CLIENT = """
import socket, sys, time
host, port = sys.argv[1], int(sys.argv[2])
sock = socket.socket()
sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
sock.connect((host, port))
sock.sendall(f"GET {sys.argv[3]} HTTP/1.1\\r\\nHost: {host}\\r\\n\\r\\n".encode())
received = 0
while received < 20000:
    received += len(sock.recv(4096))
print("downloading", flush=True)
time.sleep(600)
"""


def wait_for(predicate, what: str, proc: subprocess.Popen | None = None, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process ended before {what}")
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_client_killed_mid_download_is_one_line_without_traceback(tmp_path: Path):
    out, err = tmp_path / "emulator.out", tmp_path / "emulator.err"
    with out.open("w") as stdout, err.open("w") as stderr:
        emulator = subprocess.Popen(
            [sys.executable, "-m", "tests.fakeapi", "ods", "--port", "0", "--rows", "5000"],
            cwd=REPO, env=clean_env(), stdout=stdout, stderr=stderr,
        )  # fmt: skip
    try:
        wait_for(lambda: "ready" in err.read_text(), "the emulator to start", emulator)
        url = out.read_text().splitlines()[0]
        host, port = url.removeprefix("http://").split(":")
        with subprocess.Popen(
            [sys.executable, "-c", CLIENT, host, port, EXPORT],
            stdout=subprocess.PIPE, text=True, env=clean_env(),
        ) as client:  # fmt: skip
            try:
                assert client.stdout is not None
                assert client.stdout.readline().strip() == "downloading"
            finally:
                client.kill()  # SIGKILL: no goodbye, the kernel resets the connection
        # The emulator notices on its next write: a line, or (the bug) a traceback.
        wait_for(
            lambda: "went away" in err.read_text() or "Traceback" in err.read_text(),
            "the emulator to notice the client is gone",
            emulator,
        )
    finally:
        emulator.send_signal(signal.SIGINT)
        emulator.wait(30)
    log = err.read_text()
    assert "Traceback" not in log, log
    lines = log.splitlines()
    assert lines[0] == "ods emulator ready; Ctrl-C to stop"
    # One line (its reason is the OS's: connection lost, reset, transport closing…).
    assert len(lines) == 2, log
    assert lines[1].startswith(f"client 127.0.0.1 went away during GET {EXPORT} ("), log
