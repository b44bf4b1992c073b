"""The README's « Démarrage rapide » commands, run as written on a scratch copy of the project.

The commands are read from README.md itself, then run literally by bash in a copy
of the work tree (the files git would commit), with a PATH and environment
without this test run's virtual environment: the first command must make its
own ``.venv``, install the project and extract the catalogue (here from the
Opendatasoft emulator, through ``CPF_API_URL``). The installs use the package
registry as pip is configured (its cache makes them quick).

The second command installs the test tools and runs ``pytest``: running the whole
suite again from inside the suite would double its time, so the test runs the
command's install as written and replaces only its final ``pytest`` with
``pytest --collect-only -q`` (every test module imports, with every test
dependency) followed by one quick test file.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakeapi.cpfdata import FIELDS, INDEX
from tests.support.crawling import BOM, REPO

pytestmark = [pytest.mark.crawl, pytest.mark.timeout(900)]


def readme_commands() -> list[str]:
    """The shell commands of the README's first bash block under « Démarrage rapide »."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Démarrage rapide\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert block, "no bash block in « Démarrage rapide »"
    lines = [line.strip() for line in block.group(1).splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def scratch_copy(destination: Path) -> Path:
    """The files git would commit (tracked, or new and not ignored), copied to ``destination``."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():  # a tracked file may have been deleted in the work tree
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


def fresh_machine_env(**extra: str) -> dict[str, str]:
    """This environment without the test run's virtualenv, Python paths or cpfft settings."""
    own_bins = {str(Path(sys.prefix) / "bin")} if sys.prefix != sys.base_prefix else set()
    if os.environ.get("VIRTUAL_ENV"):
        own_bins.add(str(Path(os.environ["VIRTUAL_ENV"]) / "bin"))
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CPF", "FT_", "SCRAPY", "PYTHON", "PYTEST", "VIRTUAL_ENV"))
    }
    env["PATH"] = os.pathsep.join(
        p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p not in own_bins
    )
    # Never the real services (the first command's crawl goes to the emulator).
    env["FT_API_URL"] = "http://127.0.0.1:9"
    env["FT_TOKEN_URL"] = "http://127.0.0.1:9/connexion/oauth2/access_token?realm=/partenaire"
    env.update(extra)
    return env


def run(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=600, check=False,
    )  # fmt: skip


def test_the_readme_has_two_commands_each_in_its_own_virtualenv():
    install_and_crawl, install_and_test = readme_commands()
    venv = "python3 -m venv .venv && . .venv/bin/activate && "
    assert install_and_crawl == venv + "pip install -e . && scrapy crawl cpf -O formations.csv"
    assert install_and_test == venv + "pip install -e '.[test]' && pytest"


def test_ci_runs_the_readme_test_command_verbatim():
    _, install_and_test = readme_commands()
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    marker = ci.index("# The README's test command, verbatim:")
    assert ci[marker + 1] == install_and_test


def test_the_readme_commands_work_as_written_on_a_fresh_copy(ods, tmp_path):
    install_and_crawl, install_and_test = readme_commands()
    api = ods(rows=300)
    project = scratch_copy(tmp_path / "cpfft")
    env = fresh_machine_env(CPF_API_URL=api.url)

    first = run(install_and_crawl, project, env)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-4000:]
    assert (project / ".venv" / "bin" / "scrapy").exists()
    assert "Run summary (cpf): COMPLETE" in first.stderr
    assert "Traceback" not in first.stderr
    data = (project / "formations.csv").read_bytes()
    assert data.startswith(BOM)
    header, *rows = csv.reader(io.StringIO(data[3:].decode("utf-8"), newline=""))
    assert header == list(FIELDS)
    i, j = INDEX["numero_formation"], INDEX["code_departement"]
    truth = {(r[i], r[j] or "") for r in api.dataset.rows if r[i]}
    assert {(r[i], r[j]) for r in rows} == truth
    assert len(rows) == len(truth)

    # The second command, its final `pytest` limited to collecting the suite and one file.
    assert install_and_test.endswith(" && pytest")
    limited = (
        install_and_test.removesuffix(" && pytest")
        + " && pytest --collect-only -q -p no:cacheprovider"
        + " && pytest -q -n 0 -p no:cacheprovider tests/test_params.py"
    )
    second = run(limited, project, env)
    assert second.returncode == 0, second.stdout[-4000:] + second.stderr[-2000:]
    collected = re.search(r"^(\d+) tests collected", second.stdout, re.MULTILINE)
    assert collected, second.stdout[-2000:]
    assert int(collected.group(1)) > 500
    assert re.search(r"^\d+ passed in ", second.stdout, re.MULTILINE), second.stdout[-2000:]
    assert (project / ".venv" / "bin" / "pytest").exists()
