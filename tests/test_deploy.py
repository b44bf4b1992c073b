"""The GitHub Actions example (deploy/github-actions/) and the README text around it.

- ``actionlint`` finds nothing in the workflow, and does find the usual mistakes (a job
  name misspelt in ``needs:``, an input an action does not have, a step id misspelt) in
  a broken copy, so a clean verdict means something. Shell and Python linters that
  actionlint would call when found on ``PATH`` are switched off, so that the verdict
  depends only on the pinned actionlint (the ``run:`` lines are one-line commands).
- The France Travail credentials come only from repository secrets, only in the ``env:``
  of the step that extracts the offers, under the names cpfft reads, and no step prints
  them or writes them to a file.
- The workflow installs and runs what the README documents: the quick start's virtualenv
  command with an extra that pyproject.toml declares, spiders that ``scrapy list`` knows,
  and commands that ``scrapy -h`` lists, each command line quoted in the README.
- The README's licence subsection names the licences and links of cpfft/sources.py.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from cpfft.sources import FORMATIONS, OFFRES
from tests.run.test_contract import code_map
from tests.support.crawling import REPO, scrapy_command

WORKFLOW = REPO / "deploy" / "github-actions" / "cpfft-quotidien.yml"
README = REPO / "README.md"
SECRETS = ("FT_CLIENT_ID", "FT_CLIENT_SECRET")
#: Issue 12's interface: the workflow runs the warehouse and report commands exactly so.
INTERFACE = {
    "entrepot": "scrapy entrepot cpfft.duckdb",
    "rapport": "scrapy rapport cpfft.duckdb -O rapport.html",
}
SECRET_VALUE = re.compile(r"\$\{\{\s*secrets\.(\w+)\s*\}\}")


def workflow() -> dict[Any, Any]:
    return yaml.safe_load(WORKFLOW.read_text("utf-8"))


def steps() -> list[dict[str, Any]]:
    return [step for job in workflow()["jobs"].values() for step in job["steps"]]


def run_lines() -> list[str]:
    return [line for step in steps() for line in step.get("run", "").splitlines() if line]


def scrapy_commands() -> list[str]:
    """Each ``scrapy …`` command line the workflow runs (after the virtualenv activation)."""
    found = []
    for line in run_lines():
        for part in line.split("&&"):
            if part.split()[:1] == ["scrapy"]:
                found.append(part.strip())
    return found


def actionlint(path: Path) -> subprocess.CompletedProcess[str]:
    binary = Path(sys.executable).parent / "actionlint"
    found = str(binary) if binary.exists() else shutil.which("actionlint")
    assert found, "actionlint is not installed: pip install -e '.[test]'"
    return subprocess.run(
        [found, "-no-color", "-oneline", "-shellcheck=", "-pyflakes=", str(path)],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def scrapy(*args: str) -> str:
    out = scrapy_command(REPO, *args, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def section(text: str, heading: str) -> str:
    """The text under a Markdown heading, up to the next heading of the same or higher level."""
    level = len(heading.split(" ", 1)[0])
    lines = text.split("\n" + heading + "\n", 1)[1].splitlines()
    fenced = False
    for number, line in enumerate(lines):
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(rf"#{{1,{level}}} ", line):
            return "\n".join(lines[:number])
    return "\n".join(lines)


# ------------------------------------------------------------------ actionlint


def test_actionlint_finds_nothing():
    out = actionlint(WORKFLOW)
    assert (out.returncode, out.stdout, out.stderr) == (0, "", "")


BROKEN = {
    "a job misspelt in needs": (
        "    runs-on: ubuntu-latest\n",
        "    needs: [extraire]\n    runs-on: ubuntu-latest\n",
        'needs job "extraire" which does not exist',
    ),
    "an input the action does not have": (
        "          retention-days: 7\n",
        "          retention-day: 7\n",
        'input "retention-day" is not defined',
    ),
    "a step id misspelt": (
        "steps.install.outcome",
        "steps.instal.outcome",
        'property "instal" is not defined',
    ),
}


@pytest.mark.parametrize("mistake", BROKEN, ids=list(BROKEN))
def test_actionlint_fails_on_a_broken_copy(tmp_path, mistake):
    old, new, message = BROKEN[mistake]
    text = WORKFLOW.read_text("utf-8")
    assert text.count(old) == 1
    broken = tmp_path / WORKFLOW.name
    broken.write_text(text.replace(old, new), "utf-8")
    out = actionlint(broken)
    assert out.returncode == 1
    assert message in out.stdout


def test_the_actions_are_pinned_to_a_major_version():
    used = [step["uses"] for step in steps() if "uses" in step]
    assert len(used) == 5
    for action in used:
        assert re.fullmatch(r"actions/[\w/-]+@v\d+", action), action


def test_it_runs_daily_and_on_demand():
    triggers = workflow()[True]  # YAML 1.1 reads the key `on` as true
    assert set(triggers) == {"schedule", "workflow_dispatch"}
    [cron] = [entry["cron"] for entry in triggers["schedule"]]
    minute, hour, *every = cron.split()
    assert every == ["*", "*", "*"]
    assert minute.isdigit()
    assert hour.isdigit()


# ------------------------------------------------------------------ credentials


def test_the_credentials_are_the_names_cpfft_reads():
    reads = (REPO / "cpfft" / "offres" / "credentials.py").read_text("utf-8")
    for name in SECRETS:
        assert f'os.environ.get("{name}"' in reads


def test_secrets_only_in_the_env_of_the_offers_extraction():
    text = WORKFLOW.read_text("utf-8")
    assert "secrets" not in {k for job in workflow()["jobs"].values() for k in job}
    assert "env" not in workflow() or not SECRET_VALUE.search(str(workflow()["env"]))
    given = []
    for step in steps():
        outside_env = {k: v for k, v in step.items() if k != "env"}
        assert "secrets" not in str(outside_env), step
        for name, value in step.get("env", {}).items():
            if "secrets" in str(value):
                assert SECRET_VALUE.fullmatch(value), value
                assert SECRET_VALUE.fullmatch(value)[1] == name
                assert step["run"] == ". .venv/bin/activate && scrapy crawl offres", step
                given.append(name)
    assert sorted(given) == sorted(SECRETS)
    # Nothing else in the file reaches the secrets context (job env, with:, if:…).
    assert len(re.findall(r"secrets\.", text)) == len(SECRETS)
    assert "toJSON(secrets" not in text


def test_no_step_prints_or_stores_the_credentials():
    text = WORKFLOW.read_text("utf-8")
    assert not re.search(r"set\s+-[a-z]*x|bash\s+-[a-z]*x|ACTIONS_STEP_DEBUG", text)
    assert all("shell" not in step for step in steps())
    assert "defaults" not in workflow()
    for line in run_lines():
        assert not re.search(r"\b(echo|printf|env|printenv|export|declare|tee)\b", line), line
        for word in ("FT_", ".env", "credentials"):
            assert word not in line, line
    uploaded = [s["with"]["path"] for s in steps() if s.get("uses", "").startswith("actions/up")]
    assert uploaded
    for paths in uploaded:
        assert ".env" not in paths
        assert "credentials" not in paths


# ------------------------------------------------------------------ what it runs


def test_it_installs_with_the_readme_virtualenv_command_and_a_declared_extra():
    readme = README.read_text("utf-8")
    quick = section(readme, "## Démarrage rapide")
    first = next(line for line in quick.splitlines() if "pip install -e ." in line)
    venv = first.split("pip install", 1)[0]
    assert venv == "python3 -m venv .venv && . .venv/bin/activate && "
    [install] = [step for step in steps() if step.get("id") == "install"]
    match = re.fullmatch(re.escape(venv) + r"pip install -e '\.\[(\w+)\]'", install["run"])
    assert match, install["run"]
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))
    assert match[1] in pyproject["project"]["optional-dependencies"]
    for step in steps():
        if "scrapy" in step.get("run", ""):
            assert step["run"].startswith(". .venv/bin/activate && scrapy "), step["run"]


def test_it_runs_known_spiders_and_commands_each_documented_in_the_readme():
    commands = scrapy_commands()
    assert [c.split()[1] for c in commands] == ["crawl", "crawl", "entrepot", "rapport"]
    spiders = set(scrapy("list").split())
    assert {c.split()[2] for c in commands if c.split()[1] == "crawl"} == {"cpf", "offres"}
    assert {"cpf", "offres"} <= spiders
    listed = set(re.findall(r"^  (\w+) ", scrapy("-h"), re.MULTILINE))
    assert {"crawl", "sonde"} <= listed  # the listing is read right
    for command in commands:
        words = command.split()
        assert words[1] in listed, command
        if words[1] in INTERFACE:
            assert command == INTERFACE[words[1]]
        # Each option given is one the command itself documents.
        usage = scrapy(words[1], "-h")
        for option in (w for w in words[2:] if w.startswith("-")):
            assert re.search(rf"(^|[\s,\[]){re.escape(option)}\b", usage), (command, option)
    readme = README.read_text("utf-8")
    for command in commands:
        assert command in readme, f"the README does not show {command!r}"


def test_the_scheduled_layout_is_used_and_kept_between_runs():
    flow = workflow()
    [job] = flow["jobs"].values()
    assert job["env"]["CPFFT_OUTPUT_DIR"] == "${{ github.workspace }}/exports"
    cache = [s for s in steps() if s.get("uses", "").startswith("actions/cache/")]
    assert [s["uses"].split("@")[0] for s in cache] == [
        "actions/cache/restore",
        "actions/cache/save",
    ]
    restore, save = cache
    assert restore["with"]["path"] == save["with"]["path"] == "exports"
    assert restore["with"]["key"] == save["with"]["key"]
    assert "github.run_id" in save["with"]["key"]  # a new key each run: keys cannot be rewritten
    assert save["with"]["key"].startswith(restore["with"]["restore-keys"])


def test_the_outputs_are_uploaded_whatever_happened():
    [upload] = [s for s in steps() if s.get("uses", "").startswith("actions/upload-artifact")]
    assert upload["if"] == "always()"
    paths = upload["with"]["path"].split()
    assert {"cpfft.duckdb", "rapport.html", "exports/"} <= set(paths)
    assert 1 <= int(upload["with"]["retention-days"]) <= 30
    # The extractions fail the job (default condition on what follows them).
    for step in steps():
        if "scrapy crawl" in step.get("run", ""):
            assert "continue-on-error" not in step


# ------------------------------------------------------------------ README


def test_the_readme_licence_subsection_names_the_licences_of_sources_py():
    readme = README.read_text("utf-8")
    text = section(readme, "### Licence des offres France Travail : vos obligations")
    for value in (OFFRES.licence, OFFRES.licence_url, OFFRES.producer, OFFRES.obligations):
        assert value in text, value
    for value in (FORMATIONS.licence, FORMATIONS.licence_url, FORMATIONS.producer):
        assert value in text, value
    assert f"[{OFFRES.licence}]({OFFRES.licence_url})" in text
    for duty in ("24 heures", "retirées", "anonymis", "tiers", "12 mois", "--changements"):
        assert duty in text, duty
    # Next to the scheduling section.
    scheduling = readme.index("\n## Exécutions planifiées avec scrapyd\n")
    following = readme.index("\n## ", scheduling + 1)
    assert scheduling < readme.index(text) < following


def test_the_readme_describes_the_github_actions_example():
    readme = README.read_text("utf-8")
    text = section(readme, "## Exécutions planifiées avec GitHub Actions")
    assert f"]({WORKFLOW.relative_to(REPO)})" in text
    for name in (*SECRETS, "cpfft.duckdb", "rapport.html", "24 heures"):
        assert name in text, name
    assert str(WORKFLOW.relative_to(REPO)) in code_map()
