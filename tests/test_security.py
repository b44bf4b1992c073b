"""Security checks of whole runs: secrets stay secret, no remote shell, formulas neutralised.

(The token never following a redirect to another host is checked in
test_offres_crawl.py; the secret-looking scrapyd arguments in test_schedule.py.)
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cpfft.errors import shown_uri
from tests.fakeapi.francetravail import CLIENT_ID, CLIENT_SECRET
from tests.support.crawling import ft_env

pytestmark = pytest.mark.crawl


def everything_written(*folders: Path) -> bytes:
    return b"".join(p.read_bytes() for f in folders for p in f.rglob("*") if p.is_file())


def test_no_secret_in_logs_stats_csv_state_or_jobdir(ft, crawl, tmp_path):
    # Tokens revoked mid-run (401 path), 5xx retries, a JOBDIR, the scheduled layout
    # with its query state and changes file, everything logged at DEBUG.
    api = ft(offers=5000, heavy_share=0.5, revoke_tokens_every=8, fail_rate_5xx=0.1)
    out, jobdir = tmp_path / "exports", tmp_path / "job"
    result = crawl(
        "offres",
        {"departement": "75"},
        env=ft_env(api, CPFFT_OUTPUT_DIR=str(out)),
        settings={"LOG_LEVEL": "DEBUG", "JOBDIR": str(jobdir), "STATS_DUMP": "True"},
        output="",
    )
    assert result.returncode == 0, result.log[-3000:]
    assert len(api.tokens) >= 2, "the run must have used several tokens"
    assert "Dumping Scrapy stats" in result.log
    secrets = [CLIENT_ID, CLIENT_SECRET, *api.tokens]
    for secret in secrets:
        assert secret not in result.log
    files = everything_written(out, jobdir)
    assert files, "the run wrote its CSV, changes file, state and journal"
    for secret in secrets:
        assert secret.encode() not in files
    assert b"Bearer" not in files
    assert "Bearer" not in result.log


def enabled_extensions(log: str) -> str:
    m = re.search(r"Enabled extensions:\n\[(.*?)\]", log, re.DOTALL)
    assert m, log[:3000]
    return m.group(1)


def test_telnet_and_remote_control_are_off_unless_enabled_on_purpose(ods, crawl):
    api = ods(rows=200)
    # Scrapy lists the enabled extensions at DEBUG (cpfft's banner is one line at INFO).
    default = crawl("cpf", env={"CPF_API_URL": api.url}, settings={"LOG_LEVEL": "DEBUG"})
    assert default.returncode == 0
    extensions = enabled_extensions(default.log)
    assert "TelnetConsole" not in extensions
    assert "RemoteControl" not in extensions
    assert "Telnet console listening" not in default.log
    on_purpose = crawl(
        "cpf",
        env={"CPF_API_URL": api.url},
        settings={"TELNETCONSOLE_ENABLED": "1", "TELNETCONSOLE_PORT": "0", "LOG_LEVEL": "DEBUG"},
    )
    assert on_purpose.returncode == 0, on_purpose.log[-2000:]
    assert "TelnetConsole" in enabled_extensions(on_purpose.log)


def test_formula_cells_are_neutralised_by_default(ft, crawl):
    api = ft(offers=600, hostile_every=7)
    hostile = {o.data["id"]: o.data["intitule"] for o in api.dataset.offers
               if o.data["intitule"].startswith(("=", "+", "-", "@"))}  # fmt: skip
    assert hostile, "the emulator serves formula-looking titles"
    rows = {r["id"]: r for r in crawl("offres", env=ft_env(api)).dicts()}
    for offer_id, title in hostile.items():
        assert rows[offer_id]["Intitulé"] == "'" + title


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        ("ftp://user:secret@host/x.parquet", "ftp://host/x.parquet"),
        ("s3://key:secret@bucket/x.parquet", "s3://bucket/x.parquet"),
        ("ftp://host/x.parquet", "ftp://host/x.parquet"),
        ("x.parquet", "x.parquet"),
    ],
)
def test_an_output_uri_in_an_error_line_has_no_password(uri, shown):
    assert shown_uri(uri) == shown
