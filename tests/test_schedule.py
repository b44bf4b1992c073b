"""cpfft-schedule's own checks (the scrapyd round trip is in test_scrapyd.py)."""

import base64
import json
import os
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest

from cpfft.schedule import main, query_key
from tests.support.crawling import clean_env

USER, PASSWORD = "cpfft", "sched-pass-123"


@pytest.fixture
def environ(monkeypatch, tmp_path):
    """cpfft-schedule's environment: the developer's cpfft, API and scrapyd variables gone,
    the run from an empty directory (no .env)."""
    for name in list(os.environ):
        if name.startswith(("CPF", "FT_", "SCRAPY", "PYTHON_DOTENV")):
            monkeypatch.delenv(name)
    for name, value in clean_env().items():
        if name.startswith(("CPF", "FT_", "SCRAPY", "PYTHONPATH")):
            monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)

    def set_env(**values):
        for name, value in values.items():
            monkeypatch.setenv(name, value)

    return set_env


def test_query_key_depends_on_spider_and_arguments_only():
    assert query_key("offres", {"a": "1", "b": "2"}) == query_key("offres", {"b": "2", "a": "1"})
    assert query_key("offres", {"a": "1"}) != query_key("offres", {"a": "2"})
    assert query_key("cpf", {}) != query_key("offres", {})


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["offres", "-a", "FT_CLIENT_SECRET=x"], "secrets never go in job arguments"),
        (["offres", "-s", "FT_CLIENT_ID=x"], "-s FT_CLIENT_ID: secrets never go in job arguments"),
        (["offres", "-s", "CPFFT_OUTPUT_DIR"], "use -s NAME=VALUE"),
        (["offres", "-a", "motsCles"], "use -a NAME=VALUE"),
        (["cpf", "--url", "ftp://127.0.0.1:6800"], "is not an http(s) URL"),
        (["cpf", "--env-file", "/nonexistent/scrapyd.env"], "--env-file /nonexistent/scrapyd.env"),
    ],
)
def test_refused_before_any_call(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_help_is_plain_text(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "``" not in text
    assert "--env-file" in text
    assert "exit status" in text


def test_unreachable_scrapyd_is_one_line_and_exit_1(environ, tmp_path, capsys):
    environ(CPFFT_OUTPUT_DIR=str(tmp_path / "exports"))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert main(["cpf", "--url", f"http://127.0.0.1:{port}"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"cpfft-schedule: error: scrapyd at http://127.0.0.1:{port}:")
    assert "\n" not in err


class FakeScrapyd:
    """Just enough of scrapyd's listjobs.json / schedule.json / daemonstatus.json to see
    what is posted; with ``auth``, basic authentication as scrapyd does it."""

    def __init__(self, auth: tuple[str, str] | None = None):
        self.running: list[dict] = []
        self.posted: list[dict] = []
        self.requests = 0
        self.refusal: str | None = None  # schedule.json answers status "error" with it
        expected = "Basic " + base64.b64encode(":".join(auth).encode()).decode() if auth else None
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def authorised(self):
                fake.requests += 1
                if expected and self.headers.get("Authorization") != expected:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'basic realm="Scrapyd"')
                    self.send_header("Content-Length", "12")
                    self.end_headers()
                    self.wfile.write(b"Unauthorized")
                    return False
                return True

            def do_GET(self):
                if self.authorised():
                    self.answer({"status": "ok", "pending": [], "running": fake.running,
                                 "finished": []})  # fmt: skip

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                if not self.authorised():
                    return
                if fake.refusal:
                    self.answer({"status": "error", "message": fake.refusal})
                    return
                form = parse_qs(body)
                fake.posted.append(form)
                self.answer({"status": "ok", "jobid": form["jobid"][0]})

            def answer(self, payload):
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def scrapyd():
    nodes = []

    def start(auth=None):
        node = FakeScrapyd(auth)
        nodes.append(node)
        return node

    yield start
    for node in nodes:
        node.stop()


def test_settings_are_posted_and_a_running_query_is_skipped(environ, scrapyd, tmp_path, capsys):
    environ(FT_CLIENT_ID="id", FT_CLIENT_SECRET="secret")
    node = scrapyd()
    x, y = tmp_path / "x", tmp_path / "y"
    argv = ["offres", "-a", "motsCles=python", "-s", f"CPFFT_OUTPUT_DIR={x}", "--url", node.url]
    assert main(argv) == 0
    (form,) = node.posted
    assert form["setting"] == [f"CPFFT_OUTPUT_DIR={x}"]
    assert form["motsCles"] == ["python"]
    assert form["spider"] == ["offres"]
    out = capsys.readouterr().out
    assert f"scheduled offres as job {form['jobid'][0]}" in out
    assert f"(output in {x / 'offres' / 'motsCles=python'})" in out
    assert not x.exists()  # the check before posting creates nothing
    node.running = [{"id": form["jobid"][0]}]
    assert main(argv) == 0  # the same query is still running: skipped
    assert "skipped offres: the same run is still running" in capsys.readouterr().out
    assert len(node.posted) == 1
    # Another output directory is another job.
    assert main([*argv[:3], "-s", f"CPFFT_OUTPUT_DIR={y}", "--url", node.url]) == 0
    assert len(node.posted) == 2


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["cpf", "-a", "them=numerique"], {}, "argument -a them: unknown argument. Did you mean"),
        (["offres", "-a", "departement=999"], {"FT_CLIENT_ID": "i", "FT_CLIENT_SECRET": "s"},
         "argument -a departement:"),
        (["offres"], {}, "FT_CLIENT_ID and FT_CLIENT_SECRET not set"),
        (["cpf", "-s", "CPFFT_CSV_DELIMITER=x"], {}, "setting CPFFT_CSV_DELIMITER='x'"),
        (["cpf"], {"CPFFT_OUTPUT_DIR": ""}, "no output folder: set CPFFT_OUTPUT_DIR to an absolute"),
        (["cpf"], {"CPFFT_OUTPUT_DIR": "relative"}, "must be an absolute directory"),
        (["scrapyd"], {}, "unknown spider 'scrapyd'"),
        (["cfp"], {}, "unknown spider 'cfp'. Did you mean cpf?"),
        (["cpf", "-s", "CPF_PARTITON_ROWS=5"], {}, "Did you mean CPF_PARTITION_ROWS?"),
    ],
)  # fmt: skip
def test_a_job_that_would_fail_its_checks_is_not_posted(
    environ, scrapyd, tmp_path, capsys, argv, env, message
):
    environ(**{"CPFFT_OUTPUT_DIR": str(tmp_path / "exports"), **env})
    node = scrapyd()
    assert main([*argv, "--url", node.url]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"cpfft-schedule: error: {argv[0]} not scheduled: ")
    assert message in lines[0]
    assert " -O" not in lines[0]  # cpfft-schedule takes no -O: never advise one
    assert "Traceback" not in err
    assert node.requests == 0
    # Where the environment may be the cause, the line says which environment was used.
    from_environment = not message.startswith(("argument", "unknown spider"))
    assert ("--env-file" in lines[0]) == from_environment


def env_file(path, **values):
    path.write_text("".join(f"{k}='{v}'\n" for k, v in values.items()), encoding="utf-8")
    return path


def test_env_file_is_the_job_environment_and_gives_scrapyd_credentials(
    environ, scrapyd, tmp_path, capsys
):
    node = scrapyd(auth=(USER, PASSWORD))
    exports = tmp_path / "exports"
    good = env_file(tmp_path / "scrapyd.env", SCRAPYD_USERNAME=USER, SCRAPYD_PASSWORD=PASSWORD,
                    CPFFT_OUTPUT_DIR=exports, FT_CLIENT_ID="i", FT_CLIENT_SECRET="s$HOME")  # fmt: skip
    assert main(["offres", "--env-file", str(good), "--url", node.url]) == 0
    assert len(node.posted) == 1
    captured = capsys.readouterr()
    assert f"(output in {exports / 'offres'})" in captured.out
    assert captured.err == ""  # scrapyd asked for the password: no warning

    # The file is scrapyd's whole environment: what only this command has does not count.
    environ(FT_CLIENT_ID="mine", FT_CLIENT_SECRET="mine", CPFFT_OUTPUT_DIR=str(exports))
    partial = env_file(tmp_path / "partial.env", SCRAPYD_USERNAME=USER,
                       SCRAPYD_PASSWORD=PASSWORD, CPFFT_OUTPUT_DIR=exports)  # fmt: skip
    assert main(["offres", "--env-file", str(partial), "--url", node.url]) == 2
    err = capsys.readouterr().err
    assert "FT_CLIENT_ID and FT_CLIENT_SECRET not set" in err
    assert f"(checked with the environment of {partial})" in err
    assert len(node.posted) == 1


def test_no_check_posts_at_once(environ, scrapyd, capsys):
    node = scrapyd()
    assert main(["cpf", "-a", "them=numerique", "--no-check", "--url", node.url]) == 0
    assert node.posted[0]["them"] == ["numerique"]
    assert "scheduled cpf as job cpf-" in capsys.readouterr().out


def test_scrapyd_without_password_is_a_warning(environ, scrapyd, tmp_path, capsys):
    environ(CPFFT_OUTPUT_DIR=str(tmp_path / "exports"))
    node = scrapyd()
    assert main(["cpf", "--url", node.url]) == 0
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"cpfft-schedule: warning: scrapyd at {node.url} answers without a "
                          "password")  # fmt: skip
    assert "SCRAPYD_USERNAME and SCRAPYD_PASSWORD in scrapyd's environment" in err
    assert "\n" not in err
    assert len(node.posted) == 1


@pytest.mark.parametrize(
    ("credentials", "message"),
    [
        ({}, "asks for a user name and password (HTTP 401): set SCRAPYD_USERNAME"),
        ({"SCRAPYD_USERNAME": USER, "SCRAPYD_PASSWORD": "wrong"},
         "refused SCRAPYD_USERNAME/SCRAPYD_PASSWORD (HTTP 401)"),
    ],
)  # fmt: skip
def test_missing_or_wrong_scrapyd_password_is_one_clear_line(
    environ, scrapyd, tmp_path, capsys, credentials, message
):
    environ(CPFFT_OUTPUT_DIR=str(tmp_path / "exports"), **credentials)
    node = scrapyd(auth=(USER, PASSWORD))
    assert main(["cpf", "--url", node.url]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"cpfft-schedule: error: scrapyd at {node.url}: {message}")
    assert "\n" not in err
    assert PASSWORD not in err
    assert node.posted == []


def test_a_scrapyd_error_answer_is_its_one_line(environ, scrapyd, capsys, tmp_path):
    """scrapyd reports a refusal as HTTP 200 with status "error" and a message."""
    node = scrapyd()
    node.refusal = "spider 'cpf' not found\nTraceback (most recent call last): …"
    environ(CPFFT_OUTPUT_DIR=str(tmp_path / "exports"))
    assert main(["cpf", "--no-check", "--url", node.url]) == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]  # after the no-password warning
    assert last == f"cpfft-schedule: error: scrapyd at {node.url}: spider 'cpf' not found"


def test_a_scrapyd_that_never_answers_is_one_line_not_a_hang(environ, capsys, monkeypatch):
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen()  # accepts the connection, never answers
    url = f"http://127.0.0.1:{listening.getsockname()[1]}"
    monkeypatch.setattr("cpfft.schedule.SCRAPYD_TIMEOUT", 0.5)
    try:
        assert main(["cpf", "--no-check", "--url", url]) == 1
    finally:
        listening.close()
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"cpfft-schedule: error: scrapyd at {url}: ")
    assert "timed out" in err.lower()
    assert "\n" not in err


def test_the_password_check_ignores_netrc(environ, scrapyd, tmp_path, monkeypatch, capsys):
    # A ~/.netrc entry for scrapyd's host must not make "without a password" look true:
    # requests reads ~/.netrc whenever a request has no auth of its own.
    environ(CPFFT_OUTPUT_DIR=str(tmp_path / "exports"), SCRAPYD_USERNAME=USER,
            SCRAPYD_PASSWORD=PASSWORD)  # fmt: skip
    node = scrapyd(auth=(USER, PASSWORD))
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine 127.0.0.1 login {USER} password {PASSWORD}\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    assert main(["cpf", "--url", node.url]) == 0
    assert capsys.readouterr().err == ""  # no "answers without a password" warning
    assert len(node.posted) == 1
