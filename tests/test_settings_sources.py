"""Every user setting × every source: ``-s``, the environment, ``.env``.

For each setting of :data:`cpfft.config.SETTINGS`, from each source, a valid value
other than the default is the one the crawl uses (for Scrapy's own settings under a
cpfft name, ``CPFFT_RETRY_TIMES`` → ``RETRY_TIMES``…, the Scrapy setting), and a wrong
one stops ``scrapy crawl`` with exit 2 and the same one-line error whatever the
source and the spider. ``-s`` > environment > ``.env`` > default holds for each.

Most of it runs in-process and cheaply: the steps ``scrapy crawl`` takes up to the
crawl itself (project settings, ``-s``, cpfft's checks, then the add-ons of the
crawler process and of a crawler), with :mod:`cpfft.settings` imported again in each
environment. A few real ``scrapy crawl`` runs then show the effect on logging and retries.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from scrapy.addons import AddonManager
from scrapy.crawler import Crawler
from scrapy.settings import Settings
from scrapy.utils.project import get_project_settings

import cpfft.commands.crawl as crawl_command
import cpfft.settings
from cpfft.config import SETTINGS, SETTINGS_BY_NAME, Setting
from cpfft.cpf.spider import CpfSpider
from cpfft.errors import ConfigurationError
from cpfft.offres.spider import OffresSpider
from tests.support.crawling import clean_env

SOURCES = ["-s", "environment", ".env"]
SPIDERS = {"cpf": CpfSpider, "offres": OffresSpider}
CREDENTIALS = {"FT_CLIENT_ID": "PAR_settings_0123456789", "FT_CLIENT_SECRET": "secret-0123456789"}

#: For every setting: two valid values other than its default, and a wrong one.
VALUES: dict[str, tuple[str, str, str]] = {
    "CPF_API_URL": ("http://127.0.0.1:9", "http://127.0.0.1:8/portail", "ftp://127.0.0.1"),
    "CPF_DATASET": ("catalogue_test", "autre-jeu", "../etc"),
    "CPF_THEMES": ('{"btp": ["230", "231"]}', '{"x": "326"}', "btp"),
    "CPF_PARTITION_ROWS": ("2500", "1000000", "0"),
    "CPF_PARTITION_ATTEMPTS": ("7", "1", "21"),
    "CPF_QUOTA_MAX_WAIT": ("0", "30.5", "-1"),
    "FT_API_URL": ("http://127.0.0.1:9", "https://127.0.0.1:8/", "api.francetravail.io"),
    "FT_TOKEN_URL": ("http://127.0.0.1:9/token?realm=/p", "https://127.0.0.1:8/t", "ftp://h/t"),
    "FT_SCOPE": ("api_offresdemploiv2", "o2dsoffre api_offresdemploiv2", 'api "x"'),
    "FT_MAX_RPS": ("2.5", "100", "101"),
    "CPFFT_RATE_INCREASE": ("0.1", "1", "0"),
    "FT_OLDEST_CREATION": ("2020-06-01T00:00:00Z", "2024-01-31T12:30:00Z", "2020-06-01"),
    "FT_INCREMENTAL_OVERLAP": ("60", "0", "-5"),
    "CPFFT_DOWNLOAD_TIMEOUT": ("7", "0.5", "0"),
    "CPFFT_RETRY_TIMES": ("0", "100", "abc"),
    "CPFFT_RETRY_BACKOFF": ("0.5", "2", "soon"),
    "CPFFT_RETRY_BACKOFF_MAX": ("30", "120", "0"),
    "CPFFT_RETRY_AFTER_MAX": ("120", "3600", "inf"),
    "CPFFT_RATE_LIMIT_RETRIES": ("3", "0", "1001"),
    "CPFFT_UNREACHABLE_RETRIES": ("1", "0", "101"),
    "CPFFT_XLSX_MAX_ROWS": ("1000", "2", "1"),
    "CPFFT_CSV_DELIMITER": ("\t", ";", ":"),
    "CPFFT_OUTPUT_DIR": ("/srv/cpfft-exports", "/srv/autre", "relative/dir"),
    "CPFFT_CSV_FORMULA_GUARD": ("false", "0", "yes"),
    "CPFFT_POSTGRESQL_SCHEMA": ("entrepot", "cpfft_test", "Cpfft"),
    "CPFFT_PROGRESS_INTERVAL": ("2.5", "60", "-1"),
    "CPFFT_LOG_LEVEL": ("WARNING", "DEBUG", "bogus"),
}
NAMES = list(VALUES)


def owner(spec: Setting) -> str:
    """The spider that reads the setting (both read the CPFFT_* ones)."""
    return "offres" if spec.name.startswith("FT_") else "cpf"


def dotenv_line(name: str, value: str) -> str:
    """``NAME=value`` as a user writes it; double quotes (with escapes) for a tab."""
    if value.isprintable() and value == value.strip():
        return f"{name}={value}\n"
    return f"{name}={json.dumps(value, ensure_ascii=False)}\n"


@dataclass
class Run:
    """What ``scrapy crawl`` came to: the exit code and stderr of its checks, or the
    settings of the crawler process (logging is set up from them) and of the crawler."""

    code: int | None
    stderr: str
    process: Settings | None = None
    crawler: Settings | None = None


@pytest.fixture
def scrapy_crawl(tmp_path, monkeypatch):
    """``scrapy_crawl("cpf", s={...}, environment={...}, dotenv={...})`` → :class:`Run`."""
    saved = dict(os.environ)
    monkeypatch.chdir(tmp_path)
    # Process-wide log filters the command sets for a real run: not for this test process.
    monkeypatch.setattr(crawl_command, "quiet_scrapy_logs", lambda: None, raising=False)

    def run(
        spider: str,
        *,
        s: dict[str, str] | None = None,
        environment: dict[str, str] | None = None,
        dotenv: dict[str, str] | None = None,
    ) -> Run:
        os.environ.clear()
        os.environ.update(
            {k: v for k, v in saved.items() if not k.startswith(("CPF", "FT_", "SCRAPY"))}
        )
        os.environ.update(SCRAPY_SETTINGS_MODULE="cpfft.settings", **CREDENTIALS)
        os.environ.update(environment or {})
        dotenv_file = tmp_path / ".env"
        dotenv_file.unlink(missing_ok=True)
        if dotenv:
            dotenv_file.write_text("".join(dotenv_line(k, v) for k, v in dotenv.items()))
        importlib.reload(cpfft.settings)  # reads the environment and .env, as at startup
        settings = get_project_settings()
        command = crawl_command.Command()
        settings.setdict(command.default_settings, priority="command")
        command.settings = settings
        parser = argparse.ArgumentParser()
        command.add_options(parser)
        argv = [spider, "-O", "out.csv"]
        for name, value in (s or {}).items():
            argv += ["-s", f"{name}={value}"]
        opts, args = parser.parse_known_args(argv)
        stderr = io.StringIO()
        try:
            with contextlib.redirect_stderr(stderr):
                command.process_options(args, opts)
        except SystemExit as exc:
            return Run(exc.code, stderr.getvalue())
        # What a crawler process does first, then a crawler, before anything is built.
        AddonManager.load_pre_crawler_settings(settings)
        crawler = Crawler(SPIDERS[spider], settings)
        crawler.addons.load_settings(crawler.settings)
        return Run(None, stderr.getvalue(), settings, crawler.settings)

    yield run
    os.environ.clear()
    os.environ.update(saved)
    importlib.reload(cpfft.settings)


def given(source: str, name: str, value: str) -> dict[str, dict[str, str]]:
    key = {"-s": "s", "environment": "environment", ".env": "dotenv"}[source]
    return {key: {name: value}}


def effective(run: Run, spec: Setting) -> tuple[object, object]:
    """The value the crawl uses: in the crawler process's settings and in the crawler's."""
    assert run.code is None, run.stderr
    assert run.process is not None
    assert run.crawler is not None
    name = spec.scrapy or spec.name
    return run.process.get(name), run.crawler.get(name)


def expected_error(spec: Setting, value: str) -> str:
    """The one line a wrong value gives: the setting's check, with the name as written."""
    name = spec.scrapy or spec.name
    with pytest.raises(ConfigurationError) as error:
        spec.check(Settings({name: value}), name)
    suffix = f" (given as {spec.name})" if spec.scrapy else ""
    return f"cpfft: error: {error.value}{suffix}\n"


def test_every_setting_is_tested():
    assert set(VALUES) == {spec.name for spec in SETTINGS}
    for name, (first, second, _) in VALUES.items():
        assert len({first, second, SETTINGS_BY_NAME[name].default}) == 3, name


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("name", NAMES)
def test_a_valid_value_takes_effect(scrapy_crawl, name, source):
    spec = SETTINGS_BY_NAME[name]
    value = VALUES[name][0]
    run = scrapy_crawl(owner(spec), **given(source, name, value))
    assert effective(run, spec) == (value, value)


@pytest.mark.parametrize("spider", SPIDERS)
@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("name", NAMES)
def test_a_wrong_value_is_one_line_exit_2(scrapy_crawl, name, source, spider):
    """Whatever the spider: every setting is checked at start."""
    spec = SETTINGS_BY_NAME[name]
    wrong = VALUES[name][2]
    run = scrapy_crawl(spider, **given(source, name, wrong))
    assert run.code == 2
    assert run.stderr == expected_error(spec, wrong)
    assert name in run.stderr  # the name as the user wrote it


@pytest.mark.parametrize(
    "case", ["-s over environment and .env", "environment over .env", "default"]
)
@pytest.mark.parametrize("name", NAMES)
def test_precedence(scrapy_crawl, name, case):
    spec = SETTINGS_BY_NAME[name]
    first, second, _ = VALUES[name]
    if case == "default":
        run, value = scrapy_crawl(owner(spec)), spec.default
    elif case == "environment over .env":
        run = scrapy_crawl(owner(spec), environment={name: first}, dotenv={name: second})
        value = first
    else:
        run = scrapy_crawl(
            owner(spec), s={name: first}, environment={name: second}, dotenv={name: second}
        )
        value = first
    assert effective(run, spec) == (value, value)


@pytest.mark.parametrize("name", [s.name for s in SETTINGS if s.scrapy])
def test_scrapy_name_still_works_and_command_line_wins(scrapy_crawl, name):
    """-s RETRY_TIMES=3 is Scrapy's own way: it beats the environment's CPFFT_RETRY_TIMES;
    with both names on the command line, the cpfft one (the documented one) wins."""
    spec = SETTINGS_BY_NAME[name]
    assert spec.scrapy is not None
    first, second, wrong = VALUES[name]
    run = scrapy_crawl(owner(spec), s={spec.scrapy: first}, environment={name: second})
    assert effective(run, spec) == (first, first)
    run = scrapy_crawl(owner(spec), s={spec.scrapy: second, name: first})
    assert effective(run, spec) == (first, first)
    run = scrapy_crawl(owner(spec), s={spec.scrapy: wrong})
    assert run.code == 2
    assert run.stderr == expected_error(spec, wrong).replace(f" (given as {name})", "")


ISSUE_MESSAGES = {
    "CPFFT_LOG_LEVEL": (
        "bogus",
        (
            "setting LOG_LEVEL='bogus' is not a log level. Use DEBUG, INFO, WARNING, ERROR or "
            "CRITICAL (given as CPFFT_LOG_LEVEL)"
        ),
    ),
    "CPFFT_RETRY_TIMES": (
        "abc",
        (
            "setting RETRY_TIMES='abc' must be a whole number ≥ 0 and at most 100 (given as "
            "CPFFT_RETRY_TIMES)"
        ),
    ),
}


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("name", ISSUE_MESSAGES)
def test_messages_of_the_issue(scrapy_crawl, name, source):
    wrong, message = ISSUE_MESSAGES[name]
    run = scrapy_crawl("cpf", **given(source, name, wrong))
    assert (run.code, run.stderr) == (2, f"cpfft: error: {message}\n")


@pytest.mark.parametrize("name", NAMES)
def test_a_crawler_made_without_scrapy_crawl_checks_too(scrapy_crawl, name):
    """A CrawlerProcess in a script (or any runner) gets the same check from the add-on."""
    spec = SETTINGS_BY_NAME[name]
    wrong = VALUES[name][2]
    run = scrapy_crawl(owner(spec))  # a valid project, then the wrong value as a script sets it
    assert run.process is not None
    run.process.set(name, wrong, priority="cmdline")
    crawler = Crawler(SPIDERS[owner(spec)], run.process)
    with pytest.raises(ConfigurationError) as error:
        crawler.addons.load_settings(crawler.settings)
    assert f"cpfft: error: {error.value}\n" == expected_error(spec, wrong)


# ------------------------------------------------------------------ real runs


@pytest.mark.crawl
@pytest.mark.parametrize("source", SOURCES)
def test_log_level_and_retries_take_effect_in_a_real_crawl(tmp_path, source):
    """The issue's run: an unreachable API (127.0.0.1:9), no retry, warnings only."""
    chosen = {"CPFFT_RETRY_TIMES": "0", "CPFFT_LOG_LEVEL": "WARNING"}
    cmd = [sys.executable, "-m", "scrapy", "crawl", "cpf", "-O", "out.csv"]
    env = clean_env()
    if source == "-s":
        for name, value in chosen.items():
            cmd += ["-s", f"{name}={value}"]
    elif source == "environment":
        env.update(chosen)
    else:
        (tmp_path / ".env").write_text("".join(dotenv_line(k, v) for k, v in chosen.items()))
    result = subprocess.run(
        cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 1, result.stderr
    # No retry (the default would make it 3 attempts), said in the summary's headline.
    assert "Cannot reach 127.0.0.1:9 (the connection is refused; 1 attempt)" in result.stderr
    levels = {line.split("] ", 1)[1].split(":", 1)[0] for line in result.stderr.splitlines()
              if line[:4].isdigit() and "] " in line}  # fmt: skip
    assert "ERROR" in levels
    assert not levels & {"INFO", "DEBUG"}, result.stderr  # not even Scrapy's first lines


# ------------------------------------------------------------------ the lists stay in step

ROOT = Path(__file__).resolve().parent.parent
#: Set by the code, not by users (and FT_CLIENT_ID / FT_CLIENT_SECRET are not settings).
#: Declared in settings.py but not for users (no environment variable): set by a spider or
#: by the crawl command for the components, or fixed.
INTERNAL = {
    "FT_DOWNLOAD_SLOT",
    "FT_OAUTH_ENABLED",
    "CPF_QUOTA_ENABLED",
    "FT_OAUTH_401_RETRIES",
    "CPFFT_RUN_OUTPUT",
    "CPFFT_RESUME_FROM",
    "CPFFT_RESUME_REPAIRED",
}


def test_cpfft_settings_module_has_each_setting_with_its_default(scrapy_crawl):
    scrapy_crawl("cpf")  # cpfft.settings imported in an environment without any of them
    own = {n for n in vars(cpfft.settings) if n.startswith(("CPF_", "CPFFT_", "FT_"))}
    assert own - INTERNAL == set(SETTINGS_BY_NAME)
    for spec in SETTINGS:
        assert getattr(cpfft.settings, spec.name) == spec.default, spec.name
        if spec.scrapy:
            assert getattr(cpfft.settings, spec.scrapy) == spec.default, spec.scrapy


def test_env_example_has_each_setting_with_its_default():
    lines = (ROOT / ".env.example").read_text(encoding="utf-8").splitlines()
    example = dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))
    for spec in SETTINGS:
        assert example.get(spec.name) == spec.default, spec.name
    others = {"FT_CLIENT_ID", "FT_CLIENT_SECRET", "SCRAPYD_URL", "SCRAPYD_USERNAME",
              "SCRAPYD_PASSWORD"}  # fmt: skip
    assert set(example) - others == set(SETTINGS_BY_NAME)


def test_readme_lists_each_setting_with_its_default():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Réglages\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if line.startswith("| `") and len(cells) >= 3:
            rows[cells[0].strip("`")] = cells[1]
    for spec in SETTINGS:
        default = f"`{spec.default}`" if spec.default else "—"
        assert rows.get(spec.name) == default, spec.name
