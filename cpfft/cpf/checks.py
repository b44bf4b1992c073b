"""What a cpf run refuses before it starts, each with a one-line message that names the
fix: the portal's address and dataset, the partition settings, the arguments (places
given by code or name, themes, search text)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cpfft.config import SETTINGS_BY_NAME
from cpfft.cpf.plan import check_places, cpf_params
from cpfft.params import parse_arguments

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings


def check_run(settings: BaseSettings, arguments: dict[str, Any]) -> dict[str, Any]:
    """Everything a cpf run needs checked before it starts: the settings (the settings
    table's own checks) and the arguments. Returns the parsed arguments."""
    for name in ("CPF_API_URL", "CPF_DATASET", "CPF_PARTITION_ROWS", "CPF_PARTITION_ATTEMPTS"):
        SETTINGS_BY_NAME[name].check(settings, name)
    args = parse_arguments(cpf_params(settings), arguments)
    check_places(args)
    return args
