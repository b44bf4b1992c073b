"""Where configuration comes from, and the checks that make it impossible to get wrong silently.

Precedence, highest first: ``-s NAME=value`` on the command line, the process
environment, a ``.env`` file found from the working directory upwards, then the
defaults in :mod:`cpfft.settings`. Nothing secret is read at import time.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from dotenv import dotenv_values, find_dotenv

from cpfft.exporters import DELIMITERS
from cpfft.params import ConfigurationError, shown

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
    except OSError as exc:  # e.g. readable by its owner only
        os.environ["CPFFT_DOTENV_ERROR"] = f"cannot read {path}: {exc.strerror}"
        return path
    for name, value in values.items():
        # A variable set but empty in the environment does not hide the .env value.
        try:
            if value is not None and not os.environ.get(name, "").strip():
                os.environ[name] = value
        except ValueError:  # a NUL character, or a name the environment cannot hold
            # The value may be a secret: only the name is shown.
            os.environ["CPFFT_DOTENV_ERROR"] = (
                f"{path}: variable {shown(name)} cannot be set (NUL character or invalid "
                "name); fix that line"
            )
            return path
    return path


def env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def shown_setting(raw: object) -> str:
    """A setting's value for a one-line error message, shortened if huge."""
    if isinstance(raw, str):
        return shown(raw)
    try:
        text = repr(raw)
    except ValueError:  # an int with more digits than Python prints
        return "a huge number"
    return text if len(text) <= 60 else text[:60] + "…"


def check_base_url(settings: BaseSettings, name: str) -> str:
    """Return the URL setting ``name`` without trailing slash, or raise a one-line error."""
    return check_url(settings, name).rstrip("/")


def check_url(
    settings: BaseSettings, name: str, base: bool = True, example: str = "https://host"
) -> str:
    """Return the http(s) URL setting ``name``, or raise a one-line error.

    A ``base`` URL has no query nor fragment (paths and parameters are added to it).
    """
    raw = settings.get(name)
    value = raw.strip() if isinstance(raw, str) else ""  # a URL is text
    shown_value = shown(value, 120) if isinstance(raw, str) else shown_setting(raw)
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a port out of 0-65535 or not a number
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            f"setting {name}={shown_value} is not an http(s) URL. "
            f"Set it to e.g. {example} (environment, .env or -s {name}=…)"
        )
    if not value.isprintable() or any(c.isspace() for c in value):
        # urlsplit() silently drops tabs and line breaks: the URL used would not be the one shown.
        raise ConfigurationError(
            f"setting {name}={shown_value} contains a space, control character or bytes "
            "that are not UTF-8. Give a plain URL"
        )
    if base and (parts.query or parts.fragment):
        raise ConfigurationError(
            f"setting {name}={shown_value} must not contain '?' or '#'. Give only the base URL"
        )
    return value


def check_common_settings(settings: BaseSettings) -> None:
    """Checks shared by every spider (CSV options, output paths)."""
    dotenv_error = os.environ.get("CPFFT_DOTENV_ERROR")
    if dotenv_error:
        raise ConfigurationError(dotenv_error)
    delimiter = settings.get("CPFFT_CSV_DELIMITER")
    if not isinstance(delimiter, str) or delimiter not in DELIMITERS:
        listing = ", ".join(f"{d!r} ({n})" for d, n in DELIMITERS.items())
        raise ConfigurationError(
            f"setting CPFFT_CSV_DELIMITER={shown_setting(delimiter)} is not supported. "
            f"Use one of {listing}"
        )
    try:
        # What the CSV exporter reads, with Scrapy's own rules (no yes/no, on/off).
        settings.getbool("CPFFT_CSV_FORMULA_GUARD")
    except (TypeError, ValueError, OverflowError):
        guard = shown_setting(settings.get("CPFFT_CSV_FORMULA_GUARD"))
        raise ConfigurationError(
            f"setting CPFFT_CSV_FORMULA_GUARD={guard} is not a boolean. Use true or false"
        ) from None
    for name in (
        "CPFFT_PROGRESS_INTERVAL",
        "DOWNLOAD_TIMEOUT",
        "CPFFT_RETRY_BACKOFF",
        "CPFFT_RETRY_BACKOFF_MAX",
        "CPFFT_RETRY_AFTER_MAX",
        "CPFFT_RATE_INCREASE",
    ):
        _positive_number(settings, name)
    # Read by the Opendatasoft quota middleware once the crawl has started: checked now.
    _positive_number(settings, "CPF_QUOTA_MAX_WAIT", allow_zero=True)
    positive_int(settings, "RETRY_TIMES", 100, minimum=0)
    positive_int(settings, "CPFFT_RATE_LIMIT_RETRIES", 1000, minimum=0)
    level = settings.get("LOG_LEVEL")
    if not isinstance(level, int) and not (
        isinstance(level, str) and level in logging.getLevelNamesMapping()
    ):
        raise ConfigurationError(
            f"setting LOG_LEVEL={shown_setting(level)} is not a log level. Use DEBUG, INFO, "
            "WARNING, ERROR or CRITICAL (CPFFT_LOG_LEVEL)"
        )
    for uri in settings.getdict("FEEDS"):
        _check_output_path(str(uri))


def _positive_number(settings: BaseSettings, name: str, allow_zero: bool = False) -> float:
    raw = settings.get(name)
    try:
        value = float(raw)
    except (TypeError, ValueError, OverflowError):
        value = -1.0
    lowest_ok = value >= 0 if allow_zero else value > 0
    if not lowest_ok or value == float("inf"):
        kind = "a number ≥ 0" if allow_zero else "a positive number"
        raise ConfigurationError(f"setting {name}={shown_setting(raw)} must be {kind}")
    return value


def positive_int(
    settings: BaseSettings, name: str, maximum: int | None = None, minimum: int = 1
) -> int:
    raw = settings.get(name)
    try:
        # As Scrapy's getint() reads it: int() allows spaces around, but not every
        # character str.strip() removes (\x1c-\x1f).
        value = int(str(raw))
    except ValueError:
        value = minimum - 1
    if value < minimum or (maximum is not None and value > maximum):
        upper = f" and at most {maximum}" if maximum else ""
        raise ConfigurationError(
            f"setting {name}={shown_setting(raw)} must be a whole number ≥ {minimum}{upper}"
        )
    return value


def _check_output_path(uri: str) -> None:
    """A local output file must be creatable, so the run does not fail after the crawl."""
    if uri == "-" or uri.startswith("stdout:") or "%(" in uri:
        return
    try:
        parts = urlsplit(uri)
    except ValueError:  # e.g. an unclosed '[' after '//'
        raise ConfigurationError(
            f"output {shown(uri, 120)} is neither a file name nor a URL"
        ) from None
    if parts.scheme not in ("", "file") and len(parts.scheme) > 1:
        return  # remote storage (s3://, ftp://…): checked by Scrapy at store time
    path = Path(parts.path if parts.scheme == "file" else uri)
    try:
        if path.is_dir():
            raise ConfigurationError(
                f"output {shown(uri, 120)} is a directory. Give a file name, e.g. -O x.csv"
            )
        folder = path.parent
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        if not os.access(folder, os.W_OK):
            raise ConfigurationError(
                f"output {shown(uri, 120)} cannot be written: {shown(str(folder), 120)} is not writable"
            )
        if path.exists() and not os.access(path, os.W_OK):
            raise ConfigurationError(
                f"output {shown(uri, 120)} cannot be written: the file is read-only"
            )
    except OSError as exc:  # e.g. a file name too long for the file system
        raise ConfigurationError(
            f"output {shown(uri, 120)} cannot be used: {exc.strerror}"
        ) from None
