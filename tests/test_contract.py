"""The run contract is explicit: every setting the code reads is declared in cpfft/settings.py
(with its default), and no component guesses a spider's hooks with getattr."""

from __future__ import annotations

import re
from pathlib import Path

from scrapy.settings import default_settings

import cpfft.settings

CODE = Path(cpfft.settings.__file__).parent
READ = re.compile(r'settings(?:\.get\w*\(|\[)\s*"([A-Z][A-Z0-9_]+)"')


def test_every_setting_the_code_reads_is_declared():
    sources = [p for p in CODE.rglob("*.py") if p.name != "settings.py"]
    read = {name for p in sources for name in READ.findall(p.read_text("utf-8"))}
    assert len(read) > 30  # the pattern finds the reads
    declared = {n for n in vars(cpfft.settings) if n.isupper()}
    scrapy_own = {n for n in vars(default_settings) if n.isupper()}
    assert read - declared - scrapy_own == set()


def test_components_read_spider_hooks_through_the_contract():
    for module in ("extensions/report.py", "extensions/feeds.py"):
        text = (CODE / module).read_text("utf-8")
        guessed = re.findall(r'getattr\(spider, "(\w+)"', text)
        assert guessed in ([], ["item_class"]), (module, guessed)
