"""Where configuration comes from, and the checks that make it impossible to get wrong silently.

Precedence, highest first: ``-s NAME=value`` on the command line, the process
environment, a ``.env`` file found from the working directory upwards, then the
defaults in :mod:`cpfft.settings`. Nothing secret is read at import time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from dotenv import dotenv_values, find_dotenv

from cpfft.exporters import DELIMITERS
from cpfft.params import ConfigurationError

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings


def load_environment() -> str | None:
    """Load ``.env`` (found from the working directory, as scrapyd eggs need) into
    ``os.environ`` without overriding real (non-empty) environment variables.

    Returns the path of the file loaded, if any.
    """
    path = find_dotenv(usecwd=True)
    if not path:
        return None
    try:
        values = dotenv_values(path, encoding="utf-8")
    except UnicodeDecodeError:
        # Reported as a one-line error by check_common_settings().
        os.environ["CPFFT_DOTENV_ERROR"] = f"{path} is not valid UTF-8; save it as UTF-8"
        return path
    for name, value in values.items():
        # A variable set but empty in the environment does not hide the .env value.
        if value is not None and not os.environ.get(name, "").strip():
            os.environ[name] = value
    return path


def env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def check_base_url(settings: BaseSettings, name: str) -> str:
    """Return the URL setting ``name`` without trailing slash, or raise a one-line error."""
    raw = settings.get(name)
    value = str(raw or "").strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            f"setting {name}={value!r} is not an http(s) URL. "
            f"Set it to e.g. https://host (environment, .env or -s {name}=…)"
        )
    if parts.query or parts.fragment:
        raise ConfigurationError(
            f"setting {name}={value!r} must not contain '?' or '#'. Give only the base URL"
        )
    return value.rstrip("/")


def check_common_settings(settings: BaseSettings) -> None:
    """Checks shared by every spider (CSV options, output paths)."""
    dotenv_error = os.environ.get("CPFFT_DOTENV_ERROR")
    if dotenv_error:
        raise ConfigurationError(dotenv_error)
    delimiter = settings.get("CPFFT_CSV_DELIMITER")
    if delimiter not in DELIMITERS:
        shown = ", ".join(f"{d!r} ({n})" for d, n in DELIMITERS.items())
        raise ConfigurationError(
            f"setting CPFFT_CSV_DELIMITER={delimiter!r} is not supported. Use one of {shown}"
        )
    guard = str(settings.get("CPFFT_CSV_FORMULA_GUARD")).strip().lower()
    if guard not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
        raise ConfigurationError(
            f"setting CPFFT_CSV_FORMULA_GUARD={guard!r} is not a boolean. Use true or false"
        )
    for name in (
        "CPFFT_PROGRESS_INTERVAL",
        "DOWNLOAD_TIMEOUT",
        "CPFFT_RETRY_BACKOFF",
        "CPFFT_RETRY_BACKOFF_MAX",
        "CPFFT_RETRY_AFTER_MAX",
    ):
        _positive_number(settings, name)
    positive_int(settings, "RETRY_TIMES", 100, minimum=0)
    for uri in settings.getdict("FEEDS"):
        _check_output_path(str(uri))


def _positive_number(settings: BaseSettings, name: str) -> float:
    raw = settings.get(name)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = -1.0
    if not 0 < value < float("inf"):
        raise ConfigurationError(f"setting {name}={raw!r} must be a positive number")
    return value


def positive_int(
    settings: BaseSettings, name: str, maximum: int | None = None, minimum: int = 1
) -> int:
    raw = settings.get(name)
    try:
        value = int(str(raw).strip())
    except ValueError:
        value = minimum - 1
    if value < minimum or (maximum is not None and value > maximum):
        upper = f" and at most {maximum}" if maximum else ""
        raise ConfigurationError(
            f"setting {name}={raw!r} must be a whole number ≥ {minimum}{upper}"
        )
    return value


def _check_output_path(uri: str) -> None:
    """A local output file must be creatable, so the run does not fail after the crawl."""
    if uri == "-" or uri.startswith("stdout:") or "%(" in uri:
        return
    parts = urlsplit(uri)
    if parts.scheme not in ("", "file") and len(parts.scheme) > 1:
        return  # remote storage (s3://, ftp://…): checked by Scrapy at store time
    path = Path(parts.path if parts.scheme == "file" else uri)
    if path.is_dir():
        raise ConfigurationError(f"output {uri!r} is a directory. Give a file name, e.g. -O x.csv")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not os.access(folder, os.W_OK):
        raise ConfigurationError(f"output {uri!r} cannot be written: {folder} is not writable")
    if path.exists() and not os.access(path, os.W_OK):
        raise ConfigurationError(f"output {uri!r} cannot be written: the file is read-only")
