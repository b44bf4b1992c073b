"""A real PostgreSQL server for the tests: Debian's, started on 127.0.0.1 in a scratch folder.

``initdb`` makes a cluster whose superuser ``cpfft`` has a password (scram-sha-256 over
TCP), ``postgres`` serves it on a free loopback port, and the fixture stops it at the end
of the session. As root (CI), the server runs as the ``postgres`` system user the Debian
package creates (PostgreSQL refuses to run as root). Without the server's programs the
tests skip with the reason; under CI (``CI`` set) they fail, since .ci/run installs them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

PASSWORD = "mot-de-passe-de-test-7Qz"  # a throwaway cluster's, in a temp folder


@dataclass
class Server:
    host: str
    port: int
    user: str = "cpfft"
    database: str = "postgres"
    #: How to stop it: pg_ctl's command, as the server's user.
    stop_command: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        """The address without the password (given in PGPASSWORD, as the README says)."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.database}"

    @property
    def env(self) -> dict[str, str]:
        return {"PGPASSWORD": PASSWORD}

    def connect(self, **kwargs):
        import psycopg

        return psycopg.connect(self.url, password=PASSWORD, autocommit=True, **kwargs)


def binaries() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


def need_server() -> Path:
    folder = binaries()
    if folder is not None:
        return folder
    reason = "PostgreSQL missing: apt-get install -y postgresql (.ci/run does it)"
    if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
        pytest.fail(f"the PostgreSQL tests must run under CI: {reason}")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(root: Path) -> tuple[Server, subprocess.Popen]:
    """Make a cluster under ``root`` and start it; the server, and its process."""
    folder = need_server()
    root.mkdir(parents=True, exist_ok=True)
    as_user: list[str] = []
    if os.geteuid() == 0:
        as_user = ["runuser", "-u", "postgres", "--"]
        root.chmod(0o755)
        for parent in root.parents:  # the postgres user must reach the folder
            if parent == Path(parent.anchor):
                break
            parent.chmod(parent.stat().st_mode | 0o711)
    data, sockets = root / "data", root / "sockets"
    sockets.mkdir()
    password = root / "password"
    password.write_text(PASSWORD + "\n")
    if as_user:
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
        shutil.chown(password, "postgres")
    subprocess.run(
        [*as_user, str(folder / "initdb"), "-D", str(data), "-U", "cpfft", f"--pwfile={password}",
         "--auth-host=scram-sha-256", "--auth-local=scram-sha-256", "-E", "UTF8",
         "--locale=C.UTF-8", "--no-sync"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    port = free_port()
    log = (root / "postgres.log").open("wb")
    process = subprocess.Popen(
        [*as_user, str(folder / "postgres"), "-D", str(data), "-p", str(port),
         "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={sockets}",
         "-c", "fsync=off", "-c", "full_page_writes=off", "-c", "synchronous_commit=off"],
        stdout=subprocess.DEVNULL, stderr=log, cwd=root,
    )  # fmt: skip
    log.close()  # the server has its own copy
    stop_command = (*as_user, str(folder / "pg_ctl"), "stop", "-D", str(data), "-m", "fast")
    server = Server("127.0.0.1", port, stop_command=stop_command)
    deadline = time.monotonic() + 60
    import psycopg

    while True:
        try:
            server.connect(connect_timeout=2).close()
            return server, process
        except psycopg.OperationalError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                error = (root / "postgres.log").read_text(errors="replace")
                raise RuntimeError(f"PostgreSQL did not start: {error[-2000:]}") from None
            time.sleep(0.2)


def stop(server: Server, process: subprocess.Popen) -> None:
    """A fast shutdown (open connections are closed), then the process is reaped."""
    subprocess.run(server.stop_command, capture_output=True, timeout=60, check=False)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
