"""Where settings come from: environment, .env found from the working directory, -s."""

import json
import subprocess
import sys
import urllib.request

import pytest

from tests.support.crawling import REPO, clean_env

pytestmark = pytest.mark.crawl


def test_dotenv_in_working_directory_is_read(ods, crawl, tmp_path):
    api = ods(rows=40)
    (tmp_path / ".env").write_text(
        f"# local settings\nCPF_API_URL={api.url}\nCPFFT_CSV_DELIMITER=;\n"
    )
    result = crawl("cpf", env={"CPF_API_URL": ""})  # empty: .env decides
    assert result.returncode == 0, result.log
    assert len(result.rows(";")[1]) == 40


def test_environment_wins_over_dotenv_and_command_line_wins_over_both(ods, crawl, tmp_path):
    api = ods(rows=30)
    (tmp_path / ".env").write_text("CPF_API_URL=http://127.0.0.1:9\nCPFFT_CSV_DELIMITER=|\n")
    result = crawl("cpf", env={"CPF_API_URL": api.url}, settings={"CPFFT_CSV_DELIMITER": ";"})
    assert result.returncode == 0, result.log
    assert len(result.rows(";")[1]) == 30


def test_dotenv_that_is_not_utf8_is_a_one_line_error(crawl, tmp_path):
    (tmp_path / ".env").write_bytes(b'CPF_API_URL=http://127.0.0.1:9\nCPF_THEMES={"b\xe9": []}\n')
    result = crawl("cpf", env={"CPF_API_URL": ""})
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == f"cpfft: error: {tmp_path / '.env'} is not valid UTF-8; save it as UTF-8"
    )


def test_settings_import_with_an_empty_environment():
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)}
    code = "import cpfft.settings as s; print(s.CPF_API_URL)"
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "https://opendata.caissedesdepots.fr"


def test_scrapy_list(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "scrapy", "list"], env=clean_env(), cwd=tmp_path,
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert out.stdout.split() == ["cpf", "offres"]


def test_standalone_emulator(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakeapi", "ods", "--rows", "20", "--schema", "alias"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    with proc:
        try:
            url = proc.stdout.readline().strip()
            assert url.startswith("http://127.0.0.1:")
            meta_url = (
                f"{url}/api/explore/v2.1/catalog/datasets/moncompteformation_catalogueformation"
            )
            with urllib.request.urlopen(meta_url, timeout=10) as response:
                meta = json.loads(response.read())
            assert meta["metas"]["default"]["records_count"] == 20
            assert meta["fields"][0]["name"] == "date_chargement"
        finally:
            proc.terminate()


def test_env_example_lists_every_variable_and_no_secret():
    import re
    from pathlib import Path

    from cpfft.config import SETTINGS

    root = Path(__file__).resolve().parent.parent
    read = set(re.findall(r'env\("([A-Z_]+)"', (root / "cpfft" / "settings.py").read_text()))
    read |= {spec.name for spec in SETTINGS}  # tests/test_settings_sources.py: and defaults
    read |= {"FT_CLIENT_ID", "FT_CLIENT_SECRET", "SCRAPYD_URL", "SCRAPYD_USERNAME"}
    example = dict(
        line.split("=", 1)
        for line in (root / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert read <= set(example), read - set(example)
    for name in ("FT_CLIENT_ID", "FT_CLIENT_SECRET", "SCRAPYD_PASSWORD"):
        assert example[name] == ""
