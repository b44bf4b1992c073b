"""cpfft-schedule's own checks (the scrapyd round trip is in test_scrapyd.py)."""

import socket

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
