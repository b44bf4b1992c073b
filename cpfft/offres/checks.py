"""What an offres run refuses before it starts, each with a one-line message that names
the fix: ``FT_MAX_RPS``, ``FT_INCREMENTAL_OVERLAP``, the search arguments and their
combinations, ``-a depuis=dernier`` and what it cannot go with, the credentials."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cpfft.config import SETTINGS_BY_NAME, shown_setting
from cpfft.errors import ConfigurationError
from cpfft.offres.credentials import load_credentials
from cpfft.offres.search import SEARCH_PARAMS, check_combinations
from cpfft.params import integer, parse_arguments
from cpfft.run.output import output_dir

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings


def check_run(settings: BaseSettings, arguments: dict[str, Any]) -> dict[str, Any]:
    """Everything an offres run needs checked before it starts: the settings (the
    settings table's own checks), the search arguments and their combinations,
    ``-a depuis`` and the credentials. Returns the parsed arguments."""
    for name in ("FT_API_URL", "FT_TOKEN_URL", "FT_SCOPE", "FT_MAX_RPS", "FT_OLDEST_CREATION"):
        SETTINGS_BY_NAME[name].check(settings, name)
    args = parse_arguments(SEARCH_PARAMS, arguments)
    problem = check_combinations(args)
    if problem:
        raise ConfigurationError(problem)
    check_incremental(settings, args)
    load_credentials()
    return args


def check_rate(settings: BaseSettings) -> float:
    raw = settings.get("FT_MAX_RPS")
    try:
        rate = float(raw)
    except (TypeError, ValueError, OverflowError):
        rate = -1.0
    if not 0 < rate <= 100:
        raise ConfigurationError(
            f"setting FT_MAX_RPS={shown_setting(raw)} must be a number of requests per second, "
            "0 < x ≤ 100"
        )
    return rate


def check_overlap(settings: BaseSettings) -> int:
    raw = str(settings.get("FT_INCREMENTAL_OVERLAP", "3600"))
    try:
        return integer(0, 7 * 86_400)(raw.strip())
    except ValueError as exc:
        raise ConfigurationError(f"setting FT_INCREMENTAL_OVERLAP (seconds): {exc}") from None


#: Arguments that cannot go with -a depuis=dernier, and why.
NOT_WITH_DEPUIS = {
    "minCreationDate": "it sets the creation-date window itself",
    "maxCreationDate": "it sets the creation-date window itself",
    "publieeDepuis": "it sets the creation-date window itself",
    "max_offers": "a run cut short cannot be the reference of the next one",
}


def check_incremental(settings: BaseSettings, args: dict[str, Any]) -> None:
    check_overlap(settings)
    if not args["depuis"]:
        return
    for name, why in NOT_WITH_DEPUIS.items():
        if args[name] is not None:
            raise ConfigurationError(f"argument -a depuis: cannot go with -a {name}: {why}")
    if output_dir(settings) is None:
        raise ConfigurationError(
            "argument -a depuis: needs CPFFT_OUTPUT_DIR (an absolute directory), where the "
            "state of each query is kept between runs"
        )
    if settings.getdict("FEEDS") and not settings.get("CPFFT_RUN_OUTPUT"):
        raise ConfigurationError(
            "argument -a depuis: writes timestamped files under CPFFT_OUTPUT_DIR; drop -O/-o"
        )
