"""The project stands alone: nothing points outside the repository, and the links and
section pointers of its documentation lead somewhere.

The API contracts the code relies on are summarised in ``docs/``; comments name the
contract point in words or cite ``docs/<file>.md, « <section> »``, never a note kept
outside the repository nor a numbered paragraph of one.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parents[1]
DOCS = ("docs/api-opendatasoft.md", "docs/api-francetravail.md")
SKIPPED_DIRS = {".git", ".venv", "venv", "__pycache__", ".pytest_cache", ".ruff_cache",
                ".hypothesis", "build", "dist"}  # fmt: skip

# The sibling folder of reference notes, by relative path or by its api/ subfolder. Written
# as patterns that do not match their own source text, so this file needs no exemption.
OUTSIDE = re.compile(r"\.\./shared\b|shared[/\\]api")
SECTION_SIGN = re.compile(r"\u00a7\s*\d")  # the section sign and a number
RFC_BEFORE = re.compile(r"RFC \d+ $")
POINTER = re.compile(r"docs/([\w.-]+\.md), « ([^»]+?) »")
FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


def repo_files() -> list[Path]:
    """Files of the repository: tracked, or new and not ignored (so that a file not yet
    committed is checked too). Without git, every file outside caches and environments."""
    try:
        listing = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout
        names = [n for n in listing.decode().split("\0") if n]
        files = [ROOT / n for n in names]
    except (OSError, subprocess.CalledProcessError):
        files = [
            p
            for p in ROOT.rglob("*")
            if not SKIPPED_DIRS.intersection(p.relative_to(ROOT).parts)
            and not p.relative_to(ROOT).parts[0].endswith(".egg-info")
        ]
    return sorted(p for p in set(files) if p.is_file())


def text_of(path: Path) -> str | None:
    data = path.read_bytes()
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def outside_code_blocks(text: str) -> list[tuple[int, str]]:
    """(line number, line) of a Markdown text, fenced code blocks left out."""
    lines, fenced = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append((number, line))
    return lines


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces → -."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for _, line in outside_code_blocks(path.read_text(encoding="utf-8")):
        m = HEADING.match(line)
        if not m:
            continue
        base = slug(m.group(2))
        n = seen.get(base, 0)
        seen[base] = n + 1
        found.add(base if n == 0 else f"{base}-{n}")
    return found


def headings(path: Path) -> set[str]:
    text = path.read_text(encoding="utf-8")
    return {
        m.group(2).strip() for _, line in outside_code_blocks(text) if (m := HEADING.match(line))
    }


def test_nothing_points_to_the_notes_outside_the_repository():
    hits = []
    for path in repo_files():
        text = text_of(path)
        if text is None:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if OUTSIDE.search(line):
                hits.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not hits, (
        "these lines point outside the repository; say the contract point in words, or "
        "link docs/api-*.md:\n" + "\n".join(hits)
    )


def test_python_comments_cite_no_numbered_paragraph():
    """A section sign and a number in code refer to a numbered paragraph of some document:
    only a public RFC's is allowed (``RFC 6749`` then the sign and ``3.3``); the project's
    own contracts are cited as ``docs/<file>.md, « <section> »``."""
    hits = []
    for path in repo_files():
        if path.suffix != ".py":
            continue
        text = text_of(path) or ""
        for number, line in enumerate(text.splitlines(), 1):
            if any(not RFC_BEFORE.search(line[: m.start()]) for m in SECTION_SIGN.finditer(line)):
                hits.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    message = "cite a docs/ section by its title, not a numbered paragraph:\n"
    assert not hits, message + "\n".join(hits)


def test_docs_section_pointers_lead_to_a_section():
    pointers = []
    for path in repo_files():
        if path.suffix != ".py":
            continue
        for number, line in enumerate((text_of(path) or "").splitlines(), 1):
            for m in POINTER.finditer(line):
                pointers.append((f"{path.relative_to(ROOT)}:{number}", m.group(1), m.group(2)))
    # The emulators and the ODS module cite the docs: the check is not vacuous.
    assert len(pointers) >= 5
    broken = []
    for where, name, section in pointers:
        doc = ROOT / "docs" / name
        if not doc.is_file():
            broken.append(f"{where}: docs/{name} does not exist")
        elif section not in headings(doc):
            broken.append(f"{where}: docs/{name} has no section « {section} »")
    assert not broken, "\n".join(broken)


def test_documentation_links_lead_to_files_of_the_repository():
    documents = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    assert {f"docs/{p.name}" for p in documents[1:]} >= set(DOCS)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for doc in DOCS:
        assert f"]({doc})" in readme, f"README.md does not link {doc}"
    broken = []
    for document in documents:
        text = document.read_text(encoding="utf-8")
        for number, line in outside_code_blocks(text):
            for m in LINK.finditer(line):
                target = m.group(1)
                if SCHEME.match(target):
                    continue  # https:, mailto: …
                where = f"{document.relative_to(ROOT)}:{number}: {target}"
                path_part, _, anchor = unquote(target).partition("#")
                resolved = (document.parent / path_part).resolve() if path_part else document
                if not resolved.is_relative_to(ROOT):
                    broken.append(f"{where} (outside the repository)")
                elif not resolved.exists():
                    broken.append(f"{where} (no such file)")
                elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
                    broken.append(f"{where} (no such heading in {resolved.name})")
    assert not broken, "broken links:\n" + "\n".join(broken)
