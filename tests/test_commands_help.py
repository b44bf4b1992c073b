"""The help of cpfft's own commands (``scrapy <command> -h``), at every terminal width.

Scrapy's help formatter takes any help line that ends with ``:`` for a heading:
it title-cases and underlines it (``--changements`` once printed
``The Offres Run'S Changes File (….Changes.Csv)`` over a row of ``=``). Which line
ends where depends on the terminal's width, hence the range of widths.
"""

from __future__ import annotations

import argparse
import re

import pytest
from scrapy.commands import ScrapyHelpFormatter
from scrapy.utils.misc import load_object
from scrapy.utils.project import get_project_settings

COMMANDS = ("crawl", "entrepot", "etat", "rapport", "sonde")
#: The headings Scrapy itself writes; any other underlined line is a help line misread.
HEADINGS = {"Usage", "Options", "Global Options"}


def help_text(name: str, width: int, path: str = "cpfft.commands") -> str:
    command = load_object(f"{path}.{name}.Command")()
    settings = get_project_settings()
    settings.setdict(command.default_settings, priority="command")
    command.settings = settings
    parser = argparse.ArgumentParser(
        formatter_class=lambda prog: ScrapyHelpFormatter(prog, width=width),
        usage=f"scrapy {name} {command.syntax()}",
        conflict_handler="resolve",
        description=command.long_desc(),
    )
    command.add_options(parser)
    return parser.format_help()


def headings(text: str) -> set[str]:
    lines = text.splitlines()
    return {
        lines[i - 1].strip()
        for i, line in enumerate(lines)
        if i and re.fullmatch(r"[=-]{3,}", line.strip())
    }


@pytest.mark.parametrize("name", COMMANDS)
def test_no_help_line_is_read_as_a_heading(name):
    # Scrapy's own options (global ones, and crawl's) are as Scrapy writes them, misread
    # headings included (``log level (default:`` at some widths): only cpfft's lines count.
    scrapys = "crawl" if name == "crawl" else "version"
    for width in range(50, 161, 2):
        text = help_text(name, width)
        found = headings(text)
        assert "Options" in found  # the check reads headings where Scrapy puts them
        misread = found - HEADINGS - headings(help_text(scrapys, width, "scrapy.commands"))
        assert not misread, (width, misread, text)
