"""The README's scrapyd set-up (« Mise en place, pas à pas »), run as written in a scratch root.

The steps are written for root on a Debian machine: they create a system user,
folders under /opt, /srv and /var, and files under /etc. The test runs them in a
private mount namespace (``unshare --mount``) where /etc, /opt, /srv and /var are
overlays over a scratch folder: the commands run unchanged, with their own absolute
paths, and see the machine's files, while what they write lands in the scratch
folder and the machine itself is untouched. A step
that used a user or a folder that no earlier step made would fail here as it would
on a new server.

The test fills in only what the reader fills in: the project's path
(``/chemin/vers/cpfft``, here a copy of the files git would commit), the password
(``…``) and the environment file's values (the emulators' URLs and credentials, on
the lines the example file has for them). scrapyd listens on the README's port,
6800, outside the range the other tests' servers take theirs from.

Without systemd as PID 1, the systemd way of starting scrapyd cannot run: the test
installs the unit as written and has ``systemd-analyze verify`` check it in the
namespace (its user, its ``ExecStart``), then starts scrapyd the other documented
way (exported variables, as the ``scrapyd`` user). The crontab lines run as cron
runs them: as the ``scrapyd`` user, with cron's small environment.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakeapi.cpfdata import INDEX
from tests.fakeapi.francetravail import CLIENT_ID, CLIENT_SECRET
from tests.support.crawling import REPO
from tests.test_quickstart import fresh_machine_env, scratch_copy

pytestmark = [pytest.mark.crawl, pytest.mark.timeout(900)]

PROJECT = "/opt/src/cpfft"  # where the test puts the project, for /chemin/vers/cpfft
PASSWORD = "setup-pass"
OVERLAID = ("etc", "opt", "srv", "var")  # what the steps write to
#: A Debian root shell's PATH: the system's python3, as on a server (not a Python under /root
#: that the scrapyd user could not run).
ROOT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#: What cron gives a job: its own PATH, the user's HOME, LOGNAME and SHELL, nothing else.
CRON_ENV = ["env", "-i", "PATH=/usr/bin:/bin", "HOME=/var/lib/scrapyd", "LOGNAME=scrapyd",
            "SHELL=/bin/sh"]  # fmt: skip


def root_env() -> dict[str, str]:
    return fresh_machine_env(PATH=ROOT_PATH)


def section(title: str) -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    return readme.split(f"\n### {title}\n", 1)[1].split("\n### ", 1)[0]


def blocks(text: str, language: str) -> list[str]:
    """The fenced blocks of ``language`` in ``text``, indentation removed."""
    found = re.findall(rf"^( *)```{language}\n(.*?)^\1```", text, re.DOTALL | re.MULTILINE)
    return ["\n".join(line[len(indent) :] for line in body.splitlines()) for indent, body in found]


def can_unshare() -> bool:
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("nsenter"):
        return False
    probe = subprocess.run(["unshare", "--mount", "true"], capture_output=True, check=False)
    return probe.returncode == 0


class Root:
    """A private mount namespace where /etc, /opt, /srv and /var are overlays: the machine's
    files show through, and whatever the steps write lands in a scratch folder. A sleeping
    process holds the namespace open; each step enters it with ``nsenter``."""

    def __init__(self, scratch: Path):
        self.scratch = scratch
        mounts = []
        for name in OVERLAID:
            upper, work = scratch / "upper" / name, scratch / "work" / name
            upper.mkdir(parents=True)
            work.mkdir(parents=True)
            mounts.append(f"mount -t overlay overlay -o lowerdir=/{name},upperdir={upper},"
                          f"workdir={work} /{name}")  # fmt: skip
        script = " && ".join(mounts) + " && echo ready && exec sleep infinity"
        self.holder = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "bash", "-c", script],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.holder.stdout is not None
        assert self.holder.stdout.readline() == "ready\n"

    def path(self, absolute: str) -> Path:
        """Where a file the steps wrote at ``absolute`` is seen from outside the namespace."""
        return self.scratch / "upper" / absolute.lstrip("/")

    def argv(self, *command: str, cwd: str = "/") -> list[str]:
        """``command`` run in the namespace, from ``cwd`` (a path of the namespace)."""
        return ["nsenter", "-t", str(self.holder.pid), "--mount", "--", "sh", "-c",
                'cd "$1" && shift && exec "$@"', "enter", cwd, *command]  # fmt: skip

    def run(self, script: str, cwd: str = "/") -> subprocess.CompletedProcess[str]:
        """``script`` as a root shell would run it, stopping at the first failing command."""
        out = subprocess.run(self.argv("bash", "-euo", "pipefail", "-c", script, cwd=cwd),
                             env=root_env(), capture_output=True, text=True, check=False,
                             timeout=600)  # fmt: skip
        assert out.returncode == 0, f"{script}\n{out.stdout}\n{out.stderr}"
        return out

    def write(self, absolute: str, text: str) -> None:
        """Replace the content of a file in the namespace (its owner and mode stay)."""
        subprocess.run(self.argv("sh", "-c", 'cat > "$1"', "write", absolute), input=text,
                       text=True, check=True)  # fmt: skip

    def close(self) -> None:
        self.holder.kill()
        self.holder.wait()
        self.holder.stdout.close()  # type: ignore[union-attr]


@pytest.fixture
def root(tmp_path: Path) -> Iterator[Root]:
    if not can_unshare():
        pytest.skip("needs root and mount namespaces (unshare --mount), as CI has")
    scratch = Root(tmp_path / "root")
    yield scratch
    scratch.close()


def scrapyd_get(path: str) -> dict[str, Any]:
    request = urllib.request.Request(f"http://127.0.0.1:6800/{path}")
    token = base64.b64encode(f"cpfft:{PASSWORD}".encode()).decode()
    request.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def csv_table(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline="")))


def fill(text: str, values: dict[str, str]) -> str:
    """Each ``NAME=`` line of the example (commented or not) set to its value, as a reader would."""
    for name, value in values.items():
        text, count = re.subn(rf"^#?{name}=.*$", f"{name}='{value}'", text, flags=re.MULTILINE)
        assert count == 1, f"the example environment file has no line for {name}"
    return text


def test_the_readme_scrapyd_steps_run_as_written(root, ods, ft, tmp_path):
    with socket.socket() as sock:
        if sock.connect_ex(("127.0.0.1", 6800)) == 0:
            pytest.fail("port 6800, the README's scrapyd port, is already taken on this machine")
    ods_api, ft_api = ods(rows=1200), ft(offers=800)
    steps = section("Mise en place, pas à pas")
    create, install, configure, systemd, exported, deploy = (
        b.replace("/chemin/vers/cpfft", PROJECT) for b in blocks(steps, "bash")
    )
    assert "useradd" in create
    assert "systemctl" in systemd
    assert "runuser" in exported
    root.run(f"mkdir -p {PROJECT} && cp -a {scratch_copy(tmp_path / 'project')}/. {PROJECT}")

    # 1-3: the user and folders, the virtualenv, the configuration files.
    root.run(create)
    root.run(install)
    root.run(configure)
    env_file = root.path("/etc/cpfft/scrapyd.env")
    root.write("/etc/cpfft/scrapyd.env", fill(env_file.read_text(encoding="utf-8"), {"SCRAPYD_PASSWORD": PASSWORD, "FT_CLIENT_ID": CLIENT_ID,
                    "FT_CLIENT_SECRET": CLIENT_SECRET, "CPF_API_URL": ods_api.url,
                    "FT_API_URL": ft_api.url,
                    "FT_TOKEN_URL": f"{ft_api.url}/connexion/oauth2/access_token?realm=/partenaire"}))  # fmt: skip
    passwd = root.path("/etc/passwd").read_text(encoding="utf-8")
    uid = int(re.search(r"^scrapyd:x:(\d+):", passwd, re.MULTILINE).group(1))  # type: ignore[union-attr]
    with pytest.raises(KeyError):
        pwd.getpwuid(uid)  # the user exists in the scratch root only
    stat = env_file.stat()
    assert (stat.st_uid, stat.st_mode & 0o777) == (uid, 0o600)
    for folder in ("/var/lib/scrapyd", "/var/log/scrapyd", "/srv/cpfft/exports"):
        assert root.path(folder).stat().st_uid == uid, folder

    # 4: the systemd unit, installed as written and checked (no systemd to start it here).
    commands = [line for line in systemd.splitlines() if not line.startswith("systemctl ")]
    root.run("\n".join(commands), cwd=PROJECT)
    assert root.path("/etc/systemd/system/scrapyd.service").is_file()
    if shutil.which("systemd-analyze"):
        root.run("systemd-analyze verify /etc/systemd/system/scrapyd.service")
    # ...and scrapyd started the other way, as the scrapyd user, in the foreground.
    log = (tmp_path / "scrapyd.out").open("wb")
    server = subprocess.Popen(root.argv("bash", "-c", exported, cwd=PROJECT),
                              env=root_env(), stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if scrapyd_get("daemonstatus.json")["status"] == "ok":
                    break
            except OSError:
                pass
            assert server.poll() is None, (tmp_path / "scrapyd.out").read_text()
            assert time.monotonic() < deadline, (tmp_path / "scrapyd.out").read_text()
            time.sleep(0.3)
        running = subprocess.run(["ps", "-eo", "uid=,args="], capture_output=True, text=True,
                                 check=True).stdout  # fmt: skip
        assert re.search(rf"^ *{uid} .*/opt/cpfft/bin/scrapyd", running, re.MULTILINE), running

        # 5: deploy, with the password of the environment file.
        out = root.run(deploy.replace("SCRAPYD_PASSWORD=…", f"SCRAPYD_PASSWORD={PASSWORD}"))
        assert json.loads(out.stdout.strip().splitlines()[-1])["status"] == "ok"

        # 6: the crontab lines, as cron runs them.
        (crontab,) = blocks(steps, "cron")
        jobs = {}
        for line in crontab.splitlines():
            command = line.split(None, 5)[5]
            out = root.run(shlex.join(["runuser", "-u", "scrapyd", "--", *CRON_ENV, "sh", "-c",
                                       command]))  # fmt: skip
            found = re.search(r"scheduled (\w+) as job (\S+)", out.stdout)
            assert found, out.stdout + out.stderr
            assert out.stderr == ""  # no warning: scrapyd asked for its password
            jobs[found.group(1)] = found.group(2)
        assert set(jobs) == {"cpf", "offres"}
        deadline = time.monotonic() + 300
        while any(
            scrapyd_get(f"status.json?job={job}")["currstate"] != "finished"
            for job in jobs.values()
        ):
            assert time.monotonic() < deadline, "the scheduled jobs did not finish"
            time.sleep(0.5)

        # 7: the results where the README says, written by the scrapyd user.
        exports = root.path("/srv/cpfft/exports")
        cpf = exports / "cpf" / "latest.csv"
        assert cpf.stat().st_uid == uid
        table = csv_table(cpf)
        n, d = table[0].index("numero_formation"), table[0].index("code_departement")
        i, j = INDEX["numero_formation"], INDEX["code_departement"]
        assert {(r[n], r[d]) for r in table[1:]} == {
            (r[i], r[j] or "") for r in ods_api.dataset.rows if r[i]
        }
        offres = exports / "offres" / "motsCles=python,region=11" / "latest.csv"
        table = csv_table(offres)
        expected = {o.data["id"] for o in ft_api.dataset.offers
                    if o.region == "11" and "python" in o.keywords}  # fmt: skip
        assert expected
        assert {r[table[0].index("id")] for r in table[1:]} == expected
        assert len(table) - 1 == len(expected)
        for spider, job in jobs.items():
            text = root.path(f"/var/log/scrapyd/cpfft/{spider}/{job}.log").read_text("utf-8")
            assert f"Run summary ({spider}): COMPLETE" in text
            assert CLIENT_SECRET not in text
            assert PASSWORD not in text

        # ...and the monitoring crontab of « Surveiller les exécutions », as cron runs it.
        (monitoring,) = blocks(section("Surveiller les exécutions : `scrapy etat`"), "cron")
        variables = [line for line in monitoring.splitlines() if re.match(r"^[A-Z_]+=", line)]
        command = next(line for line in monitoring.splitlines() if line[:1].isdigit())
        check = subprocess.run(
            root.argv("runuser", "-u", "scrapyd", "--", *CRON_ENV,
                      *[v for v in variables if not v.startswith("MAILTO=")],
                      "sh", "-c", command.split(None, 5)[5]),
            env=root_env(), capture_output=True, text=True, check=False,
        )  # fmt: skip
        # All complete and fresh: nothing written, so cron sends no mail.
        assert (check.returncode, check.stdout, check.stderr) == (0, "", "")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()
