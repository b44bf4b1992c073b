"""Typed, validated spider arguments.

Scrapy hands spider arguments (``-a name=value``) over as raw strings and
silently turns misspelt ones into unused attributes. Each cpfft spider instead
declares its arguments as :class:`Param` objects; :func:`parse_arguments`
checks every argument before any request is sent and raises
:class:`ArgumentError`, whose text is a single line naming the argument, the
problem and the valid values (the errors themselves: :mod:`cpfft.errors`).
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cpfft.errors import ArgumentError, shown
from cpfft.geo import UnknownPlace, fold

#: Arguments that scrapyd adds to every job; accepted and ignored.
SCRAPYD_ARGUMENTS = frozenset({"_job", "_version"})


@dataclass(frozen=True)
class Param:
    """One spider argument: its name, how to parse it, and a one-line help."""

    name: str
    parse: Callable[[str], Any]
    help: str
    default: Any = None


def parse_arguments(params: Iterable[Param], raw: Mapping[str, Any]) -> dict[str, Any]:
    """Validate raw spider arguments; return ``{name: parsed value}`` for every param."""
    known = {p.name: p for p in params}
    values = {name: p.default for name, p in known.items()}
    for name, value in raw.items():
        if name in SCRAPYD_ARGUMENTS:
            continue
        param = known.get(name)
        if param is None:
            raise ArgumentError(name, _unknown_argument_message(name, known))
        try:
            text = value if isinstance(value, str) else str(value)
        except ValueError:  # e.g. an int with more digits than Python prints
            raise ArgumentError(name, f"unreadable value. Expected {param.help}") from None
        text = text.strip()
        if not text:
            raise ArgumentError(name, f"empty value. Expected {param.help}")
        try:
            values[name] = param.parse(text)
        except (ValueError, UnknownPlace) as exc:
            raise ArgumentError(name, str(exc)) from None
    return values


def _unknown_argument_message(name: str, known: Mapping[str, Param]) -> str:
    by_fold = {n.casefold(): n for n in known}
    guess = by_fold.get(name.casefold())
    if guess is None:
        guess = closest(name, known)
    hint = f" Did you mean -a {guess}=…?" if guess else ""
    return f"unknown argument.{hint} Valid arguments: {', '.join(known)}"


def closest(word: str, candidates: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The candidate spelt most like ``word`` (a likely typo of it), or None."""
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=cutoff)
    return close[0] if close else None


# ---------------------------------------------------------------- parsers


def choice(
    values: Mapping[str, str], suggest: bool = False, valid: str | None = None
) -> Callable[[str], str]:
    """Parser accepting the given spellings (matched without case or accents).

    ``values`` maps accepted spellings to the canonical value. With ``suggest``,
    an unknown value close to an accepted spelling is answered with
    "Did you mean <canonical value>?". ``valid`` replaces the list of canonical values
    after "Valid values:" (for a list too long for a one-line error).
    """
    folded = {fold(k): v for k, v in values.items()}
    listing = valid or ", ".join(dict.fromkeys(values.values()))

    def parse(text: str) -> str:
        key = fold(text)
        if key in folded:
            return folded[key]
        guess = closest(key, folded) if suggest and len(key) <= 100 else None
        hint = f" Did you mean {folded[guess]}?" if guess else ""
        raise ValueError(f"unknown value {shown(text)}.{hint} Valid values: {listing}")

    return parse


def integer(minimum: int, maximum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            number = int(text.replace("_", ""), 10)
        except ValueError:
            raise ValueError(
                f"{shown(text)} is not a whole number. Expected an integer from "
                f"{minimum} to {maximum}"
            ) from None
        if not minimum <= number <= maximum:
            given = number if len(text) <= 60 else shown(text)  # huge values shortened
            raise ValueError(f"{given} is out of range. Expected {minimum} to {maximum}")
        return number

    return parse


#: Control characters (C0, DEL, C1), undecodable bytes (surrogates), line/paragraph separators.
UNPRINTABLE = frozenset({"Cc", "Cs", "Zl", "Zp"})


def text(max_length: int) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if len(value) > max_length:
            raise ValueError(f"too long ({len(value)} characters). At most {max_length}")
        bad = next((c for c in value if unicodedata.category(c) in UNPRINTABLE), None)
        if bad is not None and unicodedata.category(bad) == "Cs":
            # A byte that is not UTF-8 (from the command line or a badly saved file).
            raise ValueError("contains bytes that are not valid UTF-8. Use UTF-8 text")
        if bad is not None:
            raise ValueError(f"contains the control character {bad!r}. Use plain text")
        return value

    return parse


def listing(item: Callable[[str], str], max_items: int) -> Callable[[str], tuple[str, ...]]:
    """Parser for a comma-separated list whose items are parsed by ``item``."""

    def parse(value: str) -> tuple[str, ...]:
        parts = [p.strip() for p in value.split(",")]
        if any(not p for p in parts):
            raise ValueError(f"empty item in {shown(value)}. Separate values with single commas")
        parsed = tuple(dict.fromkeys(item(p) for p in parts))
        if len(parsed) > max_items:
            raise ValueError(f"{len(parsed)} values given. At most {max_items}")
        return parsed

    return parse


def single(item: Callable[[str], str], noun: str, instead: str) -> Callable[[str], str]:
    """Parser for exactly one value: a comma-separated list is refused as such.

    ``instead`` says what to do for several values (one line, no final period).
    """

    def parse(value: str) -> str:
        if "," in value:
            raise ValueError(f"one {noun} only, not a list ({shown(value)}). {instead}")
        return item(value)

    return parse
