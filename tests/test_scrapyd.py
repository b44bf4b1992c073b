"""End to end on a real scrapyd (loopback, basic auth): deploy, schedule, outputs, no secret leaks.

Each scrapyd runs in its own temporary directory from the project's
deploy/scrapyd.conf (paths and port changed), outside the project (so the egg
is what runs), with the API emulators' URLs, the France Travail credentials
and its own user name and password in an *environment file*, given to scrapyd
as the README says (systemd's ``EnvironmentFile``, or exported variables) and
to ``cpfft-schedule --env-file`` — never in schedule.json.
"""

from __future__ import annotations

import base64
import configparser
import csv
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from dotenv import dotenv_values

from tests.fakeapi.cpfdata import INDEX
from tests.fakeapi.francetravail import CLIENT_SECRET
from tests.support.crawling import BOM, REPO, clean_env, ft_env, scrapy_command

pytestmark = pytest.mark.crawl

USER, PASSWORD = "ci", "ci-scrapyd-pass"
BIN = Path(sys.executable).parent
#: What a service manager gives a service besides its EnvironmentFile.
SERVICE_BASE = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def service_base() -> dict[str, str]:
    return {k: os.environ[k] for k in SERVICE_BASE if k in os.environ}


class Scrapyd:
    """A scrapyd started the way the README says: ``how`` is ``environment-file`` (what
    systemd does with ``EnvironmentFile=``: the file's variables, nothing else of ours),
    ``exported`` (``set -a; . file; set +a`` in the shell that starts it) or ``dotenv``
    (the file saved as ``.env`` in scrapyd's working directory, the old README's advice)."""

    def __init__(self, root: Path, variables: dict[str, str], how: str):
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        root.mkdir(parents=True)
        conf = configparser.ConfigParser()
        conf.read(REPO / "deploy" / "scrapyd.conf", encoding="utf-8")
        conf["scrapyd"].update(
            bind_address="127.0.0.1", http_port=str(self.port), eggs_dir=str(root / "eggs"),
            logs_dir=str(root / "logs"), dbs_dir=str(root / "dbs"), jobs_to_keep="20",
            poll_interval="0.3", max_proc="2",
        )  # fmt: skip
        with (root / "scrapyd.conf").open("w", encoding="utf-8") as stream:
            conf.write(stream)
        self.env_file = root / ("scrapyd.env" if how != "dotenv" else ".env")
        self.env_file.write_text(
            "# scrapyd's environment\n" + "".join(f"{k}='{v}'\n" for k, v in variables.items()),
            encoding="utf-8",
        )
        self.env_file.chmod(0o600)
        env = service_base()
        command = [sys.executable, "-m", "scrapyd"]
        if how == "environment-file":
            env.update(dotenv_values(self.env_file, interpolate=False))
        elif how == "exported":
            command = ["bash", "-c", 'set -a; . "$1"; set +a; shift; exec "$@"', "scrapyd",
                       str(self.env_file), *command]  # fmt: skip
        self.log = (root / "scrapyd.log").open("wb")
        self.proc = subprocess.Popen(command, cwd=root, env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT)  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            try:
                if self.get("daemonstatus.json")["status"] == "ok":
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError((root / "scrapyd.log").read_text())
            time.sleep(0.2)

    def request(self, path: str, data: bytes | None = None, auth: bool = True) -> Any:
        request = urllib.request.Request(f"{self.url}/{path}", data=data)
        if auth:
            token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.read()

    def status_without_password(self) -> int:
        try:
            self.request("daemonstatus.json", auth=False)
        except urllib.error.HTTPError as exc:
            exc.close()
            return exc.code
        return 200

    def get(self, path: str) -> dict[str, Any]:
        return json.loads(self.request(path))

    def wait(self, job: str, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while self.get(f"status.json?job={job}")["currstate"] != "finished":
            assert time.monotonic() < deadline, f"job {job} did not finish"
            time.sleep(0.3)

    def job_log(self, spider: str, job: str) -> str:
        return (self.root / "logs" / "cpfft" / spider / f"{job}.log").read_text(encoding="utf-8")

    def jobs(self) -> list[dict[str, Any]]:
        listing = self.get("listjobs.json?project=cpfft")
        return [j for state in ("pending", "running", "finished") for j in listing[state]]

    def stop(self) -> None:
        self.proc.terminate()  # its own pid, nobody else's
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


@pytest.fixture
def scrapyd(tmp_path: Path) -> Iterator[Callable[..., Scrapyd]]:
    nodes: list[Scrapyd] = []

    def start(name: str, variables: dict[str, str], how: str = "environment-file") -> Scrapyd:
        node = Scrapyd(tmp_path / name, variables, how)
        nodes.append(node)
        return node

    yield start
    for node in nodes:
        node.stop()


def project_copy(tmp_path: Path) -> Path:
    """What a user deploys from: the package and its build files, nothing of tests/."""
    target = tmp_path / "project"
    target.mkdir()
    shutil.copytree(REPO / "cpfft", target / "cpfft", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("setup.py", "pyproject.toml", "scrapy.cfg", "README.md"):
        shutil.copy(REPO / name, target / name)
    return target


def deploy(project: Path, node: Scrapyd) -> dict[str, Any]:
    env = clean_env({"SCRAPY_SETTINGS_MODULE": None, "SCRAPYD_URL": node.url,
                     "SCRAPYD_USERNAME": USER, "SCRAPYD_PASSWORD": PASSWORD})  # fmt: skip
    out = subprocess.run([str(BIN / "scrapyd-deploy"), "-v", "1.0.0"], cwd=project, env=env,
                         capture_output=True, text=True, check=False)  # fmt: skip
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout.strip().splitlines()[-1])
    assert answer["status"] == "ok", answer  # scrapyd reports errors as 200 + status "error"
    return answer


def run_schedule(node: Scrapyd, spider: str, *args: str, options: tuple[str, ...] = ()
                 ) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """``cpfft-schedule --env-file <scrapyd's file> spider -a …`` as a crontab line runs it:
    the scrapyd URL in its environment, nothing else (the password comes from the file)."""
    env = clean_env({"SCRAPYD_URL": node.url})
    argv = [str(BIN / "cpfft-schedule"), "--env-file", str(node.env_file), *options, spider]
    for arg in args:
        argv += ["-a", arg]
    return subprocess.run(argv, env=env, capture_output=True, text=True, check=False)


def schedule(node: Scrapyd, spider: str, *args: str) -> str:
    out = run_schedule(node, spider, *args)
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""  # no warning: scrapyd asks for its password
    return out.stdout.strip()


def job_of(message: str) -> str:
    found = re.search(r"scheduled \w+ as job (\S+)", message)
    assert found, message
    return found.group(1)


def node_env(out: Path, ods_api: Any, ft_api: Any, **extra: str) -> dict[str, str]:
    """scrapyd's environment file (deploy/cpfft-scrapyd.env.example, filled in)."""
    env = {"SCRAPYD_USERNAME": USER, "SCRAPYD_PASSWORD": PASSWORD}
    env.update(ft_env(ft_api))
    env.update(CPF_API_URL=ods_api.url, CPFFT_OUTPUT_DIR=str(out), CPFFT_PROGRESS_INTERVAL="5",
               CPFFT_RETRY_BACKOFF="0.05")  # fmt: skip
    env.update(extra)
    return env


def csv_rows(path: Path) -> list[list[str]]:
    data = path.read_bytes()
    assert data.startswith(BOM)
    return list(csv.reader(io.StringIO(data[3:].decode("utf-8"), newline="")))


def test_deploy_schedule_and_outputs(scrapyd, ods, ft, tmp_path):
    ods_api, ft_api = ods(rows=1500), ft(offers=1200)
    out = tmp_path / "exports"
    node = scrapyd("node", node_env(out, ods_api, ft_api))
    assert node.status_without_password() == 401  # the environment file turned auth on
    project = project_copy(tmp_path)
    answer = deploy(project, node)
    assert answer["spiders"] == 2
    assert node.get("listspiders.json?project=cpfft")["spiders"] == ["cpf", "offres"]

    # Each catalogue call answers slowly until the duplicate is refused: the first cpf run
    # is then certainly still pending or running, however fast it would otherwise be.
    ods_api.config.latency_ms = 5000
    cpf_job = job_of(schedule(node, "cpf"))
    message = schedule(node, "offres", "departement=75,92")
    offres_job = job_of(message)
    assert f"(output in {out / 'offres' / 'departement=75,92'})" in message
    again = schedule(node, "cpf")
    assert re.fullmatch(
        rf"cpfft-schedule: skipped cpf: the same run is still (pending|running) \(job {cpf_job}\)",
        again,
    ), again
    ods_api.config.latency_ms = 0
    node.wait(cpf_job)
    node.wait(offres_job)

    # CSVs: BOM, header, exactly the emulators' truth.
    cpf_rows = csv_rows(out / "cpf" / "latest.csv")
    header = cpf_rows[0]
    keys = {
        (r[header.index("numero_formation")], r[header.index("code_departement")])
        for r in cpf_rows[1:]
    }
    i, j = INDEX["numero_formation"], INDEX["code_departement"]
    assert keys == {(r[i], r[j] or "") for r in ods_api.dataset.rows if r[i]}
    # Each query has its folder; the file names carry the whole scrapyd job id.
    assert len(list((out / "cpf").glob(f"*_{cpf_job}.csv"))) == 1
    assert len(list((out / "offres" / "departement=75,92").glob(f"*_{offres_job}.csv"))) == 1
    offres_rows = csv_rows(out / "offres" / "departement=75,92" / "latest.csv")
    assert offres_rows[0][:6] == [
        "Intitulé",
        "Lieu",
        "Entreprise",
        "Date de publication",
        "Description",
        "URL",
    ]
    ids = {r[6] for r in offres_rows[1:]}
    assert ids == {o.data["id"] for o in ft_api.dataset.offers if o.departement in ("75", "92")}

    # No secret in the job logs nor in the job listing.
    listing = node.request("listjobs.json?project=cpfft").decode()
    for text in (node.job_log("cpf", cpf_job), node.job_log("offres", offres_job), listing):
        assert CLIENT_SECRET not in text
        assert PASSWORD not in text
        for token in ft_api.tokens:
            assert token not in text
    assert "Run summary (offres): COMPLETE" in node.job_log("offres", offres_job)

    # A new run gets its own file and latest.csv moves to it.
    first = (out / "cpf" / "latest.csv").stat().st_ino
    second_job = job_of(schedule(node, "cpf"))
    node.wait(second_job)
    runs = sorted(p for p in (out / "cpf").glob("*.csv") if p.name != "latest.csv")
    assert len(runs) == 2
    assert runs[-1].name.endswith(f"_{second_job}.csv")  # the newest run sorts last
    assert (out / "cpf" / "latest.csv").samefile(runs[-1])
    assert (out / "cpf" / "latest.csv").stat().st_ino != first


def test_two_nodes_share_one_extraction(scrapyd, ft, ods, tmp_path):
    """Each node takes a creation-date range with half the request rate; merged = single node."""
    ods_api, ft_api = ods(rows=10), ft(offers=4000)
    project = project_copy(tmp_path)
    single_out, a_out, b_out = tmp_path / "single", tmp_path / "a", tmp_path / "b"
    single = scrapyd("single", node_env(single_out, ods_api, ft_api))
    node_a = scrapyd("a", node_env(a_out, ods_api, ft_api, FT_MAX_RPS="5"))
    node_b = scrapyd("b", node_env(b_out, ods_api, ft_api, FT_MAX_RPS="5"))
    for node in (single, node_a, node_b):
        deploy(project, node)
    times = sorted(o.created for o in ft_api.dataset.offers)
    middle = times[len(times) // 2].strftime("%Y-%m-%dT%H:%M:%SZ")
    before = times[len(times) // 2].replace(microsecond=0).timestamp() - 1
    before_s = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(before))
    single.wait(job_of(schedule(single, "offres")))
    before_429 = ft_api.stats()["http_429"]
    jobs = [
        (node_a, job_of(schedule(node_a, "offres", "minCreationDate=2000-01-01T00:00:00Z",
                                 f"maxCreationDate={before_s}"))),
        (node_b, job_of(schedule(node_b, "offres", f"minCreationDate={middle}",
                                 "maxCreationDate=2099-01-01T00:00:00Z"))),
    ]  # fmt: skip
    for node, job in jobs:  # both nodes at once, each with half of the 10 req/s quota
        node.wait(job)
    single_ids = [r[6] for r in csv_rows(single_out / "offres" / "latest.csv")[1:]]
    latest = []
    for out in (a_out, b_out):  # each date range is a query of its own: its own folder
        (path,) = (out / "offres").glob("*/latest.csv")
        assert path.parent.name.startswith("maxCreationDate=")
        latest.append(path)
    merged = [r[6] for path in latest for r in csv_rows(path)[1:]]
    assert len(merged) == len(set(merged)), "an offer was extracted by both nodes"
    assert set(merged) == set(single_ids) == {o.data["id"] for o in ft_api.dataset.offers}
    assert ft_api.stats()["http_429"] == before_429 == 0


def test_a_job_that_would_fail_is_refused_and_one_that_fails_says_why_in_its_log(
    scrapyd, ods, ft, tmp_path
):
    node = scrapyd("node", node_env(tmp_path / "exports", ods(rows=10), ft(offers=10)))
    deploy(project_copy(tmp_path), node)
    for spider, argument, message in [
        ("cpf", "them=numerique", "argument -a them: unknown argument. Did you mean -a theme"),
        ("offres", "departement=999", "argument -a departement: "),
    ]:
        refused = run_schedule(node, spider, argument)
        assert refused.returncode == 2, refused.stdout
        assert refused.stderr.startswith(f"cpfft-schedule: error: {spider} not scheduled: ")
        assert message in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1
    assert node.jobs() == []  # nothing was posted

    # Posted anyway (--no-check): the job dies before Scrapy starts, and its log says why.
    job = job_of(run_schedule(node, "cpf", "them=numerique", options=("--no-check",)).stdout)
    node.wait(job)
    (finished,) = node.jobs()
    assert finished["log_url"] == f"/logs/cpfft/cpf/{job}.log"
    log = node.request(finished["log_url"].lstrip("/")).decode()
    assert "[cpfft] ERROR: cpfft: error: argument -a them: unknown argument" in log
    assert "nothing was run; exit code 2" in log


def test_readme_environment_methods_and_the_dotenv_trap(scrapyd, ods, ft, tmp_path):
    ods_api, ft_api = ods(rows=200), ft(offers=10)
    project = project_copy(tmp_path)
    # Exported variables: scrapyd and cpfft-schedule started from the same environment.
    out = tmp_path / "exports"
    exported = scrapyd("exported", node_env(out, ods_api, ft_api), how="exported")
    assert exported.status_without_password() == 401
    deploy(project, exported)
    shared = subprocess.run(
        ["bash", "-c", 'set -a; . "$1"; set +a; exec "$2" cpf', "cron",
         str(exported.env_file), str(BIN / "cpfft-schedule")],
        env={**service_base(), "SCRAPYD_URL": exported.url},
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert shared.returncode == 0, shared.stderr
    assert shared.stderr == ""
    exported.wait(job_of(shared.stdout))
    assert (out / "cpf" / "latest.csv").exists()

    # A .env in scrapyd's working directory: its jobs read it, scrapyd does not, so it
    # runs without a password; cpfft-schedule says so.
    trap = scrapyd("dotenv", node_env(tmp_path / "other", ods_api, ft_api), how="dotenv")
    assert trap.status_without_password() == 200
    deploy(project, trap)
    warned = run_schedule(trap, "cpf")
    assert warned.returncode == 0, warned.stderr
    assert warned.stderr.startswith(
        f"cpfft-schedule: warning: scrapyd at {trap.url} answers without a password"
    )


def etat(out: Path, cwd: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """``scrapy etat …`` as a monitoring check runs it: CPFFT_OUTPUT_DIR in its environment."""
    return scrapy_command(cwd, "etat", *options, env=clean_env({"CPFFT_OUTPUT_DIR": str(out)}))


def test_the_status_command_alerts_on_a_stale_and_on_a_failed_query(scrapyd, ods, ft, tmp_path):
    out = tmp_path / "exports"
    node = scrapyd("node", node_env(out, ods(rows=40), ft(offers=10)))
    deploy(project_copy(tmp_path), node)
    job = job_of(schedule(node, "cpf"))
    node.wait(job)

    # One complete run: all is well within 26 hours, and the JSON says the same.
    status = etat(out, tmp_path, "--max-age", "26h", "-o", str(tmp_path / "etat.json"))
    assert status.returncode == 0, status.stdout + status.stderr
    lines = status.stdout.splitlines()
    assert lines[0].startswith(f"Exécutions sous {out} (")
    assert lines[1] == "cpf (1 exécution)"
    log = node.root / "logs" / "cpfft" / "cpf" / f"{job}.log"
    assert re.fullmatch(
        rf"  \d{{4}}-\d\d-\d\d \d\d:\d\d UTC  COMPLETE\s+40 lignes  il y a \d+ s  journal : {log}",
        lines[2],
    ), lines[2]
    assert lines[-1] == "tout va bien : 1 requête, chacune complète il y a moins de 26h"
    document = json.loads((tmp_path / "etat.json").read_text(encoding="utf-8"))
    (query,) = document["requetes"]
    assert query["requete"] == "cpf"
    assert query["alerte"] is None
    (run,) = query["executions"]
    assert (run["status"], run["rows"], run["job"], run["exit_code"]) == ("COMPLETE", 40, job, 0)
    assert run["output"].endswith(f"_{job}.csv")

    # Stale: the same run is older than a one-second maximum age.
    time.sleep(1.5)
    stale = etat(out, tmp_path, "--max-age", "1s")
    assert stale.returncode == 1
    assert re.search(
        r"^alerte : cpf : dernière exécution complète il y a \d+ s, plus que 1s \(--max-age\)$",
        stale.stdout,
        re.MULTILINE,
    ), stale.stdout

    # Failed at the API: a query whose catalogue URL leads nowhere.
    broken = job_of(
        run_schedule(
            node, "cpf", "theme=numerique", options=("-s", "CPF_API_URL=http://127.0.0.1:9")
        ).stdout
    )
    node.wait(broken)
    # Refused before it started: posted with --no-check and a mistyped argument; scrapyd
    # lists it "finished" all the same.
    refused = job_of(run_schedule(node, "cpf", "them=numerique", options=("--no-check",)).stdout)
    node.wait(refused)
    assert {j["id"] for j in node.get("listjobs.json?project=cpfft")["finished"]} >= {
        broken,
        refused,
    }

    failing = etat(out, tmp_path, "--max-age", "26h")
    assert failing.returncode == 1, failing.stdout + failing.stderr
    alerts = [line for line in failing.stdout.splitlines() if line.startswith("alerte :")]
    assert alerts[0] == (
        "alerte : cpf -a them=numerique : exécution refusée avant son début (code 2) : argument "
        "-a them: unknown argument. Did you mean -a theme=…? Valid arguments: q, theme, region, "
        "departement, type_referentiel, max_records"
    )
    assert re.fullmatch(
        r"alerte : cpf/theme=numerique : dernière exécution FAILED \(\d{4}-\d\d-\d\d \d\d:\d\d UTC\)"
        r" : "
        + re.escape(
            "Cannot reach 127.0.0.1:9 (the connection is refused; 3 attempts). Network or "
            "proxy? To work offline, point CPF_API_URL at an emulator (README, « Émulateurs »)"
        ),
        alerts[1],
    ), alerts
    assert len(alerts) == 2, alerts
    assert "cpf (1 exécution)" in failing.stdout  # the healthy query is still listed
    assert PASSWORD not in failing.stdout
    assert CLIENT_SECRET not in failing.stdout
