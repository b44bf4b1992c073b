"""France Travail application credentials: where they come from, and never where they go.

Looked up, in order: the environment variables ``FT_CLIENT_ID`` /
``FT_CLIENT_SECRET`` (a ``.env`` file found from the working directory is
loaded into the environment by :mod:`cpfft.config`), then a legacy
``credentials.txt`` with ``CLIENT_ID=`` / ``CLIENT_SECRET=`` lines (the old
script's file), searched from the working directory upwards.

The secret never appears in a ``repr``, an exception message or a log line.
Nothing here runs at import time: settings and spiders import without
credentials (scrapyd runs ``scrapy list``).
"""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from cpfft.errors import ConfigurationError

LEGACY_FILE = "credentials.txt"


class CredentialsError(ConfigurationError):
    pass


@dataclass(frozen=True)
class Credentials:
    client_id: str
    secret: str = field(repr=False)
    source: str = "environment"
    trimmed: bool = False  # whitespace had to be removed around a value

    def __repr__(self) -> str:
        return f"Credentials(client_id={self.client_id[:12]}…, source={self.source})"

    __str__ = __repr__


def _find(name: str, start: Path) -> Path | None:
    for folder in (start, *start.parents):
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None


def _read_legacy(path: Path) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise CredentialsError(f"{path} is not valid UTF-8; save it as UTF-8") from None
    except OSError as exc:
        raise CredentialsError(f"cannot read {path}: {exc.strerror}") from None
    values = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        key = key.strip().upper().removeprefix("FT_")
        if sep and key in ("CLIENT_ID", "CLIENT_SECRET"):
            values[key] = value
    return values


def load_credentials(cwd: Path | None = None) -> Credentials:
    """Return the credentials, or raise :class:`CredentialsError` (one line, no secret)."""
    client_id = os.environ.get("FT_CLIENT_ID", "")
    secret = os.environ.get("FT_CLIENT_SECRET", "")
    source = "environment or .env"
    if not client_id.strip() and not secret.strip():
        legacy = _find(LEGACY_FILE, cwd or Path.cwd())
        if legacy is not None:
            values = _read_legacy(legacy)
            client_id, secret = values.get("CLIENT_ID", ""), values.get("CLIENT_SECRET", "")
            source = str(legacy)
    missing = [
        n for n, v in (("FT_CLIENT_ID", client_id), ("FT_CLIENT_SECRET", secret)) if not v.strip()
    ]
    if missing:
        raise CredentialsError(
            f"France Travail credentials missing: {' and '.join(missing)} not set. Put FT_CLIENT_ID "
            "and FT_CLIENT_SECRET in the environment or in a .env file (see .env.example), or "
            "CLIENT_ID= and CLIENT_SECRET= lines in credentials.txt"
        )
    for name, value in (("FT_CLIENT_ID", client_id), ("FT_CLIENT_SECRET", secret)):
        # Bytes that are not UTF-8 (surrogates) or control characters would only fail later,
        # in the token request. The value is never shown: it may be the secret.
        if any(unicodedata.category(c) in ("Cc", "Cs") for c in value.strip()):
            raise CredentialsError(
                f"{name} (from {source}) contains a control character or bytes that are not "
                "UTF-8. Copy it again from your francetravail.io application"
            )
    trimmed = client_id != client_id.strip() or secret != secret.strip()
    return Credentials(client_id.strip(), secret.strip(), source, trimmed)
