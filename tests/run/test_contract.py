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
    for module in ("run/report.py", "run/feeds.py"):
        text = (CODE / module).read_text("utf-8")
        guessed = re.findall(r'getattr\(spider, "(\w+)"', text)
        assert guessed in ([], ["item_class"]), (module, guessed)


def code_map() -> set[str]:
    """The files the README's « Organisation du code » block names."""
    readme = (CODE.parent / "README.md").read_text("utf-8")
    block = readme.split("## Organisation du code", 1)[1].split("```", 2)[1]
    named, folder = set(), ""
    for line in block.splitlines():
        if not line.strip():
            continue
        first = line.split()[0]
        if line.startswith("  ") and folder:
            named.add(folder + first)
        elif first.endswith("/"):
            folder = first
        else:
            folder = ""
            named.add(first)
    return named


def test_the_readme_code_map_names_every_module_and_only_existing_files():
    named = code_map()
    root = CODE.parent
    modules = {
        str(p.relative_to(root))
        for p in CODE.rglob("*.py")
        if p.name != "__init__.py" and "__pycache__" not in p.parts
    }
    assert modules - named == set(), "modules missing from the README's code map"
    missing = {n for n in named if n.endswith(".py") and not (root / n).exists()}
    assert missing == set(), "the README's code map names files that do not exist"
