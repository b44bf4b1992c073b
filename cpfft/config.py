"""Where configuration comes from, and the checks that make it impossible to get wrong silently.

Precedence, highest first: ``-s NAME=value`` on the command line, the process
environment, a ``.env`` file found from the working directory upwards, then the
default. Nothing secret is read at import time.

Every setting a user can give is declared once, in :data:`SETTINGS`: its name
(as written with ``-s``, in the environment or in ``.env``), its default, its
check, what it does, and, for the few that are Scrapy's own settings under a cpfft
name (``CPFFT_RETRY_TIMES`` → ``RETRY_TIMES``…), the Scrapy setting it sets. From
that table:

- :mod:`cpfft.settings` takes each value from the environment or ``.env``, else
  the default (:func:`env`);
- :class:`SettingsAddon`, a Scrapy add-on, gives a Scrapy setting the value of its
  cpfft name at the priority that name was given with, before logging is set up
  and again for each crawler: ``-s CPFFT_RETRY_TIMES=0`` wins over the
  environment, as ``-s RETRY_TIMES=0`` does, under ``scrapy crawl``, scrapyd and
  a ``CrawlerProcess`` alike;
- :func:`check_common_settings` checks every value with the same one-line message
  whatever its source, before Scrapy starts (``scrapy crawl``, also under scrapyd,
  and ``scrapy sonde``), and the add-on again when a crawler is made (so a
  ``CrawlerProcess`` in a script is checked too).
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import dotenv_values, find_dotenv
from scrapy.settings import BaseSettings
from scrapy.utils.misc import load_object

from cpfft.errors import ConfigurationError, shown, shown_uri
from cpfft.exporters import DELIMITERS, EXCEL_MAX_ROWS
from cpfft.params import closest
from cpfft.run.output import output_dir


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
            if value is not None and environment_value(name, os.environ.get(name, "")) is None:
                os.environ[name] = value
        except ValueError:  # a NUL character, or a name the environment cannot hold
            # The value may be a secret: only the name is shown.
            os.environ["CPFFT_DOTENV_ERROR"] = (
                f"{path}: variable {shown(name)} cannot be set (NUL character or invalid "
                "name); fix that line"
            )
            return path
    return path


def environment_value(name: str, raw: str) -> str | None:
    """The value an environment variable gives setting ``name``; None if it is empty.

    Surrounding spaces are dropped, except for a setting whose value may be a space
    character (the tab delimiter)."""
    spec = SETTINGS_BY_NAME.get(name)
    value = raw if spec is not None and not spec.strip else raw.strip()
    return value or None


def env(name: str, default: str | None = None) -> str:
    """Setting ``name`` from the environment (where :func:`load_environment` put the
    ``.env`` values), else its default in :data:`SETTINGS` (``default``: for a name that
    is not there)."""
    value = environment_value(name, os.environ.get(name, ""))
    if value is not None:
        return value
    return SETTINGS_BY_NAME[name].default if default is None else default


# ---------------------------------------------------------------- checks of one value
# Each takes the settings and the name to read, returns the value as it is used, or
# raises ConfigurationError with a one-line message naming the setting.


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


def positive_number(settings: BaseSettings, name: str, allow_zero: bool = False) -> float:
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


def check_delimiter(settings: BaseSettings, name: str) -> str:
    delimiter = settings.get(name)
    if not isinstance(delimiter, str) or delimiter not in DELIMITERS:
        listing = ", ".join(f"{d!r} ({n})" for d, n in DELIMITERS.items())
        raise ConfigurationError(
            f"setting {name}={shown_setting(delimiter)} is not supported. Use one of {listing}"
        )
    return delimiter


def check_boolean(settings: BaseSettings, name: str) -> bool:
    try:
        # What the CSV exporter reads, with Scrapy's own rules (no yes/no, on/off).
        return settings.getbool(name)
    except (TypeError, ValueError, OverflowError):
        raise ConfigurationError(
            f"setting {name}={shown_setting(settings.get(name))} is not a boolean. "
            "Use true or false"
        ) from None


def check_log_level(settings: BaseSettings, name: str) -> int | str:
    level = settings.get(name)
    if not isinstance(level, int) and not (
        isinstance(level, str) and level in logging.getLevelNamesMapping()
    ):
        raise ConfigurationError(
            f"setting {name}={shown_setting(level)} is not a log level. Use DEBUG, INFO, "
            "WARNING, ERROR or CRITICAL"
        )
    return level


def _text(raw: object) -> str:
    """A setting given as text (from Python it may be anything); "" if it cannot be."""
    try:
        return str(raw or "")
    except ValueError:  # an int with more digits than Python prints
        return ""


# The spiders' check_configuration() make the next three checks too, with the same messages.

_DATASET_ID = re.compile(r"[A-Za-z0-9_-]{1,200}")


def check_dataset(settings: BaseSettings, name: str) -> str:
    dataset = _text(settings.get(name))
    if not _DATASET_ID.fullmatch(dataset):
        raise ConfigurationError(
            f"setting {name}={shown(dataset)} is not a dataset identifier "
            f"(default: {SETTINGS_BY_NAME[name].default})"
        )
    return dataset


#: A scope token as OAuth2 defines it (RFC 6749 §3.3): printable ASCII but space, " and \.
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")


def check_scope(settings: BaseSettings, name: str) -> str:
    raw = settings.get(name)
    scope = _text(raw)
    default = shown(SETTINGS_BY_NAME[name].default)
    if not scope.split():
        raise ConfigurationError(f"setting {name} is empty. Default: {default}")
    if not all(_SCOPE_TOKEN.fullmatch(token) for token in scope.split()):
        raise ConfigurationError(
            f"setting {name}={shown_setting(raw)} is not a list of OAuth2 scopes (ASCII "
            f'words without " nor \\, separated by spaces). Default: {default}'
        )
    return " ".join(scope.split())


def check_utc_time(settings: BaseSettings, name: str) -> datetime:
    text = _text(settings.get(name))
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        raise ConfigurationError(
            f"setting {name}={shown(text)} must look like 2000-01-01T00:00:00Z"
        ) from None


def check_xlsx_rows(settings: BaseSettings, name: str) -> int:
    raw = settings.get(name)
    try:
        most = int(str(raw))
    except ValueError:
        most = 0
    if not 2 <= most <= EXCEL_MAX_ROWS:
        raise ConfigurationError(
            f"setting {name}={shown_setting(raw)} must be a whole number from 2 to "
            f"{EXCEL_MAX_ROWS} (rows of an Excel sheet, header included)"
        )
    return most


def check_output_dir(settings: BaseSettings, name: str) -> Path | None:
    return output_dir(settings)  # reads CPFFT_OUTPUT_DIR


def check_schema(settings: BaseSettings, name: str) -> str:
    """A PostgreSQL schema name that needs no quoting: lower-case letters, digits, ``_``."""
    raw = str(settings.get(name))
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,39}", raw) or raw.startswith("pg_"):
        raise ConfigurationError(
            f"setting {name}={shown_setting(raw)} must be a schema name of lower-case letters, "
            "digits and _ (at most 40, not starting with a digit or pg_), e.g. cpfft"
        )
    return raw


@dataclass(frozen=True)
class SpiderCheck:
    """The check a source package keeps for its own setting: ``path`` is the dotted path of
    a function of the settings, imported when first called (spiders import this module)."""

    path: str

    def __call__(self, settings: BaseSettings, name: str) -> object:
        return load_object(self.path)(settings)


# ---------------------------------------------------------------- the settings


@dataclass(frozen=True)
class Setting:
    """One setting a user can give, with ``-s``, in the environment or in ``.env``."""

    name: str
    #: As text, as the environment gives it.
    default: str
    #: ``check(settings, name)``: the value as it is used, or ConfigurationError.
    check: Callable[[BaseSettings, str], object]
    #: One line: what it does.
    help: str
    #: The Scrapy setting this one sets, if it is one of Scrapy's under a cpfft name.
    scrapy: str | None = None
    #: Whether surrounding spaces of an environment value are dropped.
    strip: bool = True


_OAUTH_ENDPOINT = (
    "https://entreprise.francetravail.fr/connexion/oauth2/access_token?realm=/partenaire"
)

#: Every setting a user can give, in the order of cpfft/settings.py. `.env.example` and
#: the README's "Réglages" list the same names and defaults.
SETTINGS: tuple[Setting, ...] = (
    # ------------------------------------------------ CPF catalogue (Opendatasoft portal)
    Setting("CPF_API_URL", "https://opendata.caissedesdepots.fr", check_base_url,
            "Base URL of the Opendatasoft portal (or of the emulator)."),
    Setting("CPF_DATASET", "moncompteformation_catalogueformation", check_dataset,
            "Identifier of the catalogue's dataset on the portal."),
    Setting("CPF_THEMES", "{}", SpiderCheck("cpfft.cpf.plan.themes_from"),
            'Extra -a theme values: a JSON object {"theme": ["NSF code", ...]}.'),
    Setting("CPF_PARTITION_ROWS", "6000", partial(positive_int, minimum=1, maximum=1_000_000),
            "Rows per bulk export (one API call each). Bigger = fewer calls, more memory."),
    Setting("CPF_PARTITION_ATTEMPTS", "4", partial(positive_int, minimum=1, maximum=20),
            "How often a partition is fetched again when its export comes back short or cut."),
    Setting("CPF_QUOTA_MAX_WAIT", "120", partial(positive_number, allow_zero=True),
            "A 429 whose quota resets sooner than this (s) is waited for; a later one stops."),
    # ------------------------------------------------ France Travail « Offres d'emploi v2 »
    # Credentials (FT_CLIENT_ID / FT_CLIENT_SECRET) are NOT settings: cpfft.offres.credentials
    # reads them from the environment only when needed.
    Setting("FT_API_URL", "https://api.francetravail.io", check_base_url,
            "Base URL of the France Travail API (or of the emulator)."),
    Setting("FT_TOKEN_URL", _OAUTH_ENDPOINT,
            partial(check_url, base=False, example=_OAUTH_ENDPOINT),
            "The OAuth2 token endpoint."),
    Setting("FT_SCOPE", "api_offresdemploiv2 o2dsoffre", check_scope,
            "OAuth2 scopes asked for, separated by spaces."),
    Setting("FT_MAX_RPS", "10", SpiderCheck("cpfft.offres.checks.check_rate"),
            "Hard cap on requests per second, token calls included (quota: 10/s per "
            "application; split it between jobs that share one)."),
    Setting("CPFFT_RATE_INCREASE", "0.02", positive_number,
            "After each successful call the rate rises by this fraction toward FT_MAX_RPS; "
            "each 429 halves it."),
    Setting("FT_OLDEST_CREATION", "2000-01-01T00:00:00Z", check_utc_time,
            "Lower creation-date bound of queries without -a minCreationDate."),
    Setting("FT_INCREMENTAL_OVERLAP", "3600", SpiderCheck("cpfft.offres.checks.check_overlap"),
            "-a depuis=dernier starts this many seconds before the previous complete run's "
            "bound, for offers indexed late."),
    # ------------------------------------------------ network
    Setting("CPFFT_DOWNLOAD_TIMEOUT", "300", positive_number,
            "Seconds per call: exports are streamed for tens of seconds (Scrapy's 180 is tight).",
            scrapy="DOWNLOAD_TIMEOUT"),
    Setting("CPFFT_RETRY_TIMES", "5", partial(positive_int, minimum=0, maximum=100),
            "Retries after a 5xx, a short 429 or a timeout.", scrapy="RETRY_TIMES"),
    Setting("CPFFT_RETRY_BACKOFF", "1", positive_number,
            "Seconds before the first retry, doubling after each."),
    Setting("CPFFT_RETRY_BACKOFF_MAX", "60", positive_number,
            "Longest wait between two retries, in seconds."),
    Setting("CPFFT_RETRY_AFTER_MAX", "600", positive_number,
            "Cap on a server's Retry-After, in seconds."),
    Setting("CPFFT_UNREACHABLE_RETRIES", "2", partial(positive_int, minimum=0, maximum=100),
            "Retries when a host that has not answered yet does not resolve or refuses the "
            "connection; then the run stops in one line."),
    Setting("CPFFT_RATE_LIMIT_RETRIES", "50", partial(positive_int, minimum=0, maximum=1000),
            'Retries of a 429 ("wait", not "failed"), apart from CPFFT_RETRY_TIMES.'),
    # ------------------------------------------------ output
    Setting("CPFFT_XLSX_MAX_ROWS", str(EXCEL_MAX_ROWS), check_xlsx_rows,
            "Rows of an xlsx sheet, header included (Excel's limit); a run expecting more "
            "stops first."),
    Setting("CPFFT_CSV_DELIMITER", ",", check_delimiter,
            ", (default) ; (French Excel) tab or |.", strip=False),
    Setting("CPFFT_OUTPUT_DIR", "", check_output_dir,
            "Without -O: write <dir>/<spider>/<UTC timestamp>.csv and keep <spider>/latest.csv "
            "on the newest complete one (absolute path)."),
    Setting("CPFFT_CSV_FORMULA_GUARD", "true", check_boolean,
            "Prefix ' to cells a spreadsheet would run as formulas: true or false."),
    Setting("CPFFT_POSTGRESQL_SCHEMA", "cpfft", check_schema,
            "scrapy entrepot postgresql://…: the schema that holds the warehouse (replaced "
            "whole at each load)."),
    # ------------------------------------------------ logs
    Setting("CPFFT_PROGRESS_INTERVAL", "10", positive_number,
            "Seconds between two progress lines."),
    Setting("CPFFT_LOG_LEVEL", "INFO", check_log_level,
            "DEBUG, INFO, WARNING, ERROR or CRITICAL.", scrapy="LOG_LEVEL"),
)  # fmt: skip
SETTINGS_BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}


def check_common_settings(settings: BaseSettings) -> None:
    """Check every setting of :data:`SETTINGS` (whatever the spider: all are checked at
    start) and the output paths; raise ConfigurationError with a one-line message."""
    dotenv_error = os.environ.get("CPFFT_DOTENV_ERROR")
    if dotenv_error:
        raise ConfigurationError(dotenv_error)
    check_names(settings)
    for spec in SETTINGS:
        check_setting(settings, spec)
    for uri, options in settings.getdict("FEEDS").items():
        _check_output_path(str(uri))
        if isinstance(options, dict) and str(options.get("format", "")).lower() == "parquet":
            from cpfft.parquet import require_pyarrow  # imports pyarrow only to check it

            require_pyarrow(f"output {shown(shown_uri(str(uri)), 120)}")


#: The prefixes of cpfft's settings: a name with one of them that cpfft does not know is a typo.
OWN_PREFIXES = ("CPF_", "CPFFT_", "FT_")
#: Read from the environment only: a ``-s`` value would show in logs and job listings.
CREDENTIALS = ("FT_CLIENT_ID", "FT_CLIENT_SECRET")


def check_names(settings: BaseSettings) -> None:
    """Refuse a setting named like cpfft's that cpfft does not have (``-s CPF_PARTITON_ROWS``
    would otherwise be ignored without a word), with the likely name; and the credentials."""
    import cpfft.settings as declared  # cpfft.settings imports this module

    known = set(SETTINGS_BY_NAME) | {name for name in vars(declared) if name.isupper()}
    for name in settings.attributes:
        upper = name.upper()  # Scrapy's names are case-sensitive: -s cpf_… is ignored too
        if not upper.startswith(OWN_PREFIXES) or name in known:
            continue
        if upper in CREDENTIALS:
            raise ConfigurationError(
                f"setting {name}: the France Travail credentials are not settings (a -s value "
                "shows in logs and in scrapyd's job listing): put FT_CLIENT_ID and "
                "FT_CLIENT_SECRET in the environment or in .env"
            )
        guess = upper if upper in SETTINGS_BY_NAME else closest(upper, SETTINGS_BY_NAME)
        hint = f" Did you mean {guess}?" if guess else ""
        label = name if name.isprintable() and len(name) <= 60 else shown(name)
        raise ConfigurationError(
            f"setting {label}: unknown cpfft setting.{hint} "
            "The settings are listed in the README (« Réglages »)"
        )


def check_setting(settings: BaseSettings, spec: Setting) -> None:
    """Check the value of ``spec`` (left alone if not set at all). For one of Scrapy's
    settings under a cpfft name, the values of both names, the one in force first."""
    if spec.scrapy is None:
        if settings.getpriority(spec.name) is not None:
            spec.check(settings, spec.name)
        return
    checks = [partial(_check_alias, settings, spec)]
    if settings.getpriority(spec.scrapy) is not None:
        checks.append(partial(spec.check, settings, spec.scrapy))
    if not _alias_in_force(settings, spec):
        checks.reverse()
    for check in checks:
        check()


def _check_alias(settings: BaseSettings, spec: Setting) -> None:
    """The value of the cpfft name, checked as the Scrapy setting it becomes; the message
    says where it came from."""
    assert spec.scrapy is not None
    if settings.getpriority(spec.name) is None:
        return
    given = BaseSettings({spec.scrapy: settings.get(spec.name)})
    try:
        spec.check(given, spec.scrapy)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{exc} (given as {spec.name})") from None


def _alias_in_force(settings: BaseSettings, spec: Setting) -> bool:
    """Whether the cpfft name of a Scrapy setting was given with at least the Scrapy
    setting's priority (``-s CPFFT_RETRY_TIMES`` beats the environment's RETRY_TIMES, but
    not ``-s RETRY_TIMES``)."""
    assert spec.scrapy is not None
    alias = settings.getpriority(spec.name)
    return alias is not None and alias >= (settings.getpriority(spec.scrapy) or 0)


def apply_aliases(settings: BaseSettings, valid_only: bool = False) -> None:
    """Give each Scrapy setting with a cpfft name the value of that name, at that name's
    priority, where that name is in force.

    ``valid_only``: a wrong value is left out, for the checks to report."""
    for spec in SETTINGS:
        if spec.scrapy is None or not _alias_in_force(settings, spec):
            continue
        if valid_only:
            try:
                _check_alias(settings, spec)
            except ConfigurationError:
                continue
        priority = settings.getpriority(spec.name)
        assert priority is not None
        settings.set(spec.scrapy, settings.get(spec.name), priority=priority)


class SettingsAddon:
    """Scrapy add-on (``ADDONS`` in :mod:`cpfft.settings`): what :data:`SETTINGS` says of
    Scrapy's own settings holds in every run, and every setting is checked.

    Scrapy calls ``update_pre_crawler_settings`` on the settings of a crawler process before
    it sets up logging (so ``-s CPFFT_LOG_LEVEL`` applies to its first line), and
    ``update_settings`` on each crawler's settings once the spider's are in."""

    @classmethod
    def update_pre_crawler_settings(cls, settings: BaseSettings) -> None:
        # No check here: `scrapy sonde` makes its crawler process before it checks the
        # settings (a wrong value: one line, exit 2). A wrong value is not applied either:
        # a wrong LOG_LEVEL would be a traceback when logging is set up.
        apply_aliases(settings, valid_only=True)

    def update_settings(self, settings: BaseSettings) -> None:
        check_common_settings(settings)  # already done by `scrapy crawl`; not by a script
        apply_aliases(settings)

    def __repr__(self) -> str:
        return f"{__name__}.{type(self).__name__}"


def _can_create_in(folder: Path) -> bool:
    """Whether a file can be created in ``folder`` (tried, then removed): permissions
    alone do not say it for root, a read-only mount or /proc."""
    try:
        with tempfile.TemporaryFile(dir=folder, prefix=".cpfft-check-"):
            return True
    except OSError:
        return False


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
        if path.exists() and not path.is_file():  # a device or pipe: -O /dev/stdout
            if not os.access(path, os.W_OK):
                raise ConfigurationError(f"output {shown(uri, 120)} cannot be written")
            return
        folder = path.parent
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        if not folder.is_dir():
            raise ConfigurationError(
                f"output {shown(uri, 120)} cannot be written: {shown(str(folder), 120)} is a "
                "file, not a folder; give a path in an existing or creatable folder"
            )
        if not os.access(folder, os.W_OK) or not _can_create_in(folder):
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
