"""Project commands; ``crawl`` replaces Scrapy's to validate first and set the exit code."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.settings import SETTINGS_PRIORITIES

if TYPE_CHECKING:
    from scrapy.settings import Settings


def quiet_unless_asked(settings: Settings) -> None:
    """For a command whose printed lines are its output (``sonde``, ``rapport``): Scrapy's
    log only at WARNING, unless the user chose a level (``-L INFO``, ``-s LOG_LEVEL=…``)."""
    if settings.getpriority("LOG_LEVEL") < SETTINGS_PRIORITIES["cmdline"]:
        settings.set("LOG_LEVEL", "WARNING", priority="cmdline")
