import pytest

from cpfft.offres.credentials import CredentialsError, load_credentials


@pytest.fixture(autouse=True)
def no_env(monkeypatch):
    monkeypatch.delenv("FT_CLIENT_ID", raising=False)
    monkeypatch.delenv("FT_CLIENT_SECRET", raising=False)


def test_environment_first(monkeypatch, tmp_path):
    monkeypatch.setenv("FT_CLIENT_ID", "PAR_app_123")
    monkeypatch.setenv("FT_CLIENT_SECRET", "abcdef")
    (tmp_path / "credentials.txt").write_text("CLIENT_ID=other\nCLIENT_SECRET=other\n")
    creds = load_credentials(tmp_path)
    assert (creds.client_id, creds.secret) == ("PAR_app_123", "abcdef")
    assert "abcdef" not in repr(creds)
    assert "abcdef" not in str(creds)


def test_legacy_credentials_file_found_upwards(tmp_path):
    (tmp_path / "credentials.txt").write_text(
        "# old script\nCLIENT_ID = PAR_old\nCLIENT_SECRET=  xyz \n"
    )
    deeper = tmp_path / "a" / "b"
    deeper.mkdir(parents=True)
    creds = load_credentials(deeper)
    assert (creds.client_id, creds.secret) == ("PAR_old", "xyz")
    assert creds.trimmed
    assert creds.source == str(tmp_path / "credentials.txt")


def test_missing_names_the_variables_and_env_example(tmp_path, monkeypatch):
    monkeypatch.setenv("FT_CLIENT_ID", "PAR_app")
    with pytest.raises(CredentialsError) as exc:
        load_credentials(tmp_path)
    message = str(exc.value)
    assert "FT_CLIENT_SECRET not set" in message
    assert ".env.example" in message
    assert "credentials.txt" in message
    assert "\n" not in message


def test_legacy_file_not_utf8(tmp_path):
    (tmp_path / "credentials.txt").write_bytes(b"CLIENT_ID=\xe9\xe8\nCLIENT_SECRET=x\n")
    with pytest.raises(CredentialsError, match="is not valid UTF-8"):
        load_credentials(tmp_path)
