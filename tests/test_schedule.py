"""cpfft-schedule's own checks (the scrapyd round trip is in test_scrapyd.py)."""

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from urllib.parse import parse_qs

import pytest

from cpfft.schedule import main, query_key


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
    ],
)
def test_refused_before_any_call(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_unreachable_scrapyd_is_one_line_and_exit_1(capsys):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert main(["cpf", "--url", f"http://127.0.0.1:{port}"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"cpfft-schedule: error: scrapyd at http://127.0.0.1:{port}:")
    assert "\n" not in err


class FakeScrapyd(BaseHTTPRequestHandler):
    """Just enough of scrapyd's listjobs.json / schedule.json to see what is posted."""

    running: ClassVar[list[dict]] = []
    posted: ClassVar[list[dict]] = []

    def do_GET(self):
        self.answer({"status": "ok", "pending": [], "running": self.running, "finished": []})

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        form = parse_qs(body)
        self.posted.append(form)
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


def test_settings_are_posted_and_a_running_query_is_skipped(capsys):
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeScrapyd)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    argv = ["offres", "-a", "motsCles=python", "-s", "CPFFT_OUTPUT_DIR=/srv/x", "--url", url]
    try:
        assert main(argv) == 0
        (form,) = FakeScrapyd.posted
        assert form["setting"] == ["CPFFT_OUTPUT_DIR=/srv/x"]
        assert form["motsCles"] == ["python"]
        assert form["spider"] == ["offres"]
        FakeScrapyd.running = [{"id": form["jobid"][0]}]
        assert main(argv) == 0  # the same query is still running: skipped
        assert "skipped offres: the same run is still running" in capsys.readouterr().out
        assert len(FakeScrapyd.posted) == 1
        # Another output directory is another job.
        assert main([*argv[:3], "-s", "CPFFT_OUTPUT_DIR=/srv/y", "--url", url]) == 0
        assert len(FakeScrapyd.posted) == 2
    finally:
        server.shutdown()
        server.server_close()
