"""End to end on a real scrapyd (loopback, basic auth): deploy, schedule, outputs, no secret leaks.

Each scrapyd runs in its own temporary directory from a generated scrapyd.conf,
outside the project (so the egg is what runs), with the API emulators' URLs and
the France Travail credentials in *its environment* — never in schedule.json.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BOM, REPO, clean_env, ft_env
from tests.fakeapi.cpfdata import INDEX
from tests.fakeapi.francetravail import CLIENT_SECRET

pytestmark = pytest.mark.crawl

USER, PASSWORD = "ci", "ci-scrapyd-pass"
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Scrapyd:
    def __init__(self, root: Path, env: dict[str, str]):
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        root.mkdir(parents=True)
        (root / "scrapyd.conf").write_text(
            "[scrapyd]\n"
            f"bind_address = 127.0.0.1\nhttp_port = {self.port}\n"
            f"username = {USER}\npassword = {PASSWORD}\n"
            f"eggs_dir = {root / 'eggs'}\nlogs_dir = {root / 'logs'}\ndbs_dir = {root / 'dbs'}\n"
            "items_dir =\njobs_to_keep = 20\npoll_interval = 0.3\nmax_proc = 2\n"
        )
        self.env = env
        self.log = (root / "scrapyd.log").open("wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "scrapyd"], cwd=root, env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT)  # fmt: skip
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

    def request(self, path: str, data: bytes | None = None) -> Any:
        request = urllib.request.Request(f"{self.url}/{path}", data=data)
        token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.read()

    def get(self, path: str) -> dict[str, Any]:
        return json.loads(self.request(path))

    def wait(self, job: str, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while self.get(f"status.json?job={job}")["currstate"] != "finished":
            assert time.monotonic() < deadline, f"job {job} did not finish"
            time.sleep(0.3)

    def job_log(self, spider: str, job: str) -> str:
        return (self.root / "logs" / "cpfft" / spider / f"{job}.log").read_text(encoding="utf-8")

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

    def start(name: str, env: dict[str, str]) -> Scrapyd:
        node = Scrapyd(tmp_path / name, env)
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


def schedule(node: Scrapyd, spider: str, *args: str) -> str:
    env = clean_env(
        {"SCRAPYD_URL": node.url, "SCRAPYD_USERNAME": USER, "SCRAPYD_PASSWORD": PASSWORD}
    )
    argv = [str(BIN / "cpfft-schedule"), spider]
    for arg in args:
        argv += ["-a", arg]
    out = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def job_of(message: str) -> str:
    assert "scheduled" in message, message
    return message.rsplit(" ", 1)[-1]


def node_env(out: Path, ods_api: Any, ft_api: Any, **extra: str) -> dict[str, str]:
    env = clean_env({"SCRAPY_SETTINGS_MODULE": None, "PYTHONPATH": None})
    env.update(ft_env(ft_api))
    env.update(CPF_API_URL=ods_api.url, CPFFT_OUTPUT_DIR=str(out), CPFFT_PROGRESS_INTERVAL="5")
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
    project = project_copy(tmp_path)
    answer = deploy(project, node)
    assert answer["spiders"] == 2
    assert node.get("listspiders.json?project=cpfft")["spiders"] == ["cpf", "offres"]

    cpf_job = job_of(schedule(node, "cpf"))
    offres_job = job_of(schedule(node, "offres", "departement=75,92"))
    again = schedule(node, "cpf")  # the first cpf run is still pending or running
    assert again.startswith("cpfft-schedule: skipped cpf"), again
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
    offres_rows = csv_rows(out / "offres" / "latest.csv")
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
    runs = sorted(p for p in (out / "cpf").iterdir() if p.name != "latest.csv")
    assert len(runs) == 2
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
    merged = [r[6] for out in (a_out, b_out) for r in csv_rows(out / "offres" / "latest.csv")[1:]]
    assert len(merged) == len(set(merged)), "an offer was extracted by both nodes"
    assert set(merged) == set(single_ids) == {o.data["id"] for o in ft_api.dataset.offers}
    assert ft_api.stats()["http_429"] == before_429 == 0
