"""The one kind of error a user sees: a mistake in an argument or a setting, said in one line.

Raised by every check made before a run starts (arguments, settings, credentials,
output paths); ``scrapy crawl`` and ``cpfft-schedule`` print it as ``cpfft: error: …``
and exit with status 2. :func:`shown` is how a user's value is quoted in such a line.
"""

from __future__ import annotations

import importlib
from types import ModuleType

#: How to install the optional analysis dependencies (pyarrow for Parquet, duckdb for the
#: warehouse and the report): the main install stays light without them.
ANALYSIS_EXTRA = "pip install -e '.[analyse]'"


class ConfigurationError(Exception):
    """A user mistake in an argument or a setting; ``str()`` is one line."""


class NoOutputError(ConfigurationError):
    """Neither ``-O``/``-o`` nor ``CPFFT_OUTPUT_DIR``: the run has nowhere to write."""

    #: What a scheduled run (``cpfft-schedule``, no ``-O`` there) is told instead.
    SCHEDULED = (
        "no output folder: set CPFFT_OUTPUT_DIR to an absolute directory in the job's "
        "environment (a scheduled run writes its timestamped files and a latest.csv there)"
    )


class ArgumentError(ConfigurationError):
    def __init__(self, name: str, message: str):
        self.name = name
        # A name typed with a line break or pasted huge must not break the one-line message.
        label = name if name.isprintable() and 0 < len(name) <= 60 else shown(name)
        super().__init__(f"argument -a {label}: {message}")


def first_line(exc: BaseException, default: str | None = None) -> str:
    """The first line of an exception's message, for a one-line error; ``default`` (the
    exception's class name unless given) when the message is empty."""
    lines = str(exc).strip().splitlines()
    if lines:
        return lines[0]
    return type(exc).__name__ if default is None else default


def sentence(text: str) -> str:
    """``text`` with its first letter in capitals, as a log line starts (the same words
    also end a ``missing:`` line, in lower case)."""
    return text[:1].upper() + text[1:]


def shown_uri(uri: str) -> str:
    """An output URI as an error line may show it: without its user name and password
    (``ftp://user:secret@host/x`` → ``ftp://host/x``)."""
    from scrapy.utils.url import strip_url

    if "@" not in uri:
        return uri
    return strip_url(uri, strip_credentials=True, strip_default_port=False, strip_fragment=False)


def shown(value: str, limit: int = 60) -> str:
    """A value quoted for an error message, on one line, shortened if huge."""
    if len(value) > limit:
        value = value[:limit] + "…"
    text = repr(value)
    # Escapes (\x00, \U000e0001…) can make the quoted text up to 10 times longer.
    return text if len(text) <= 2 * limit else text[: 2 * limit] + "…"


def analysis_module(name: str, what: str, extra: str = "analyse") -> ModuleType:
    """Import the optional dependency ``name`` for ``what`` (a command, an output), or raise
    ConfigurationError saying how to install its extra (``analyse``, ``postgresql``)."""
    try:
        return importlib.import_module(name)
    except ImportError:
        if extra == "analyse":
            raise ConfigurationError(
                f"{what} needs the analysis extra ({name}): {ANALYSIS_EXTRA}"
            ) from None
        raise ConfigurationError(
            f"{what} needs the {extra} extra ({name}): pip install -e '.[analyse,{extra}]'"
        ) from None
