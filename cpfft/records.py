"""List fields (an offer's skills, qualities, trainings, languages, licences): each value
is a list of records, one dict per record with the parts its :class:`~cpfft.items.Records`
declares. This module cleans them, writes them in one readable cell, and reads them back.

The cell (CSV and xlsx) is what an analyst reads in a spreadsheet::

    Concevoir une application web · 124137 (souhaitée) ; Anglais technique · 108712 (exigée)

- records are separated by `` ; ``; a record's parts follow one another in the order
  declared, separated by `` · ``, the empty ones at the end left out (an empty part
  before a given one stays, as an empty text: ``Bac+2 ou équivalents ·  · 31054``);
- a record that says whether it is required ends with ``(exigée)`` or
  ``(souhaitée)`` (``(exigé)``/``(souhaité)`` for a licence), ``(non précisée)``
  when the API does not say: the group is always there, so that it is always
  the last thing of the record.

Cleaning (:func:`clean_records`) makes that cell read back exactly
(:func:`parse_cell`, and the warehouse's SQL twin in
:mod:`cpfft.entrepot.children`): every part is one line of clean text
(:func:`cpfft.cleaning.clean_text`, or ``clean_code``) in which a `` ; `` becomes
``; `` and a `` · `` becomes `` - `` (and one at its start or end, as in ``… continue ;``,
is taken off); an exigence is ``E``, ``S`` or nothing (a code
the API has never sent is read as nothing); a record without any text is dropped,
and an empty list is no value.
"""

from __future__ import annotations

import re
from typing import Any

from cpfft.cleaning import clean_code, clean_text
from cpfft.items import Records

RECORD_SEPARATOR = " ; "
PART_SEPARATOR = " · "
#: The exigence codes the API sends, and the words a cell shows for each gender.
WORDS = {
    "f": {"E": "exigée", "S": "souhaitée", None: "non précisée"},
    "m": {"E": "exigé", "S": "souhaité", None: "non précisé"},
}
#: Word (either gender) → exigence code.
CODES: dict[str, str | None] = {w: c for words in WORDS.values() for c, w in words.items()}
#: A record's last group, when its records have an exigence (RE2 syntax too: DuckDB's).
EXIGENCE_GROUP = r" \((exigée?|souhaitée?|non précisée?)\)$"
_EXIGENCE = re.compile(EXIGENCE_GROUP)


def _sanitised(text: str | None) -> str | None:
    """A part that cannot break its cell: no separator inside it or made at its edges."""
    if text is None:
        return None
    while " ; " in text:  # again: " ; ; " leaves one
        text = text.replace(" ; ", "; ")
    while " · " in text:
        text = text.replace(" · ", " - ")
    # A separator's sign alone at an edge ("… continue ;") would make one with its
    # neighbour's space.
    while text[:1] in ("·", ";") and text[1:2] in ("", " "):
        text = text[1:].lstrip(" ")
    while text[-1:] in ("·", ";") and text[-2:-1] in ("", " "):
        text = text[:-1].rstrip(" ")
    return text or None


def clean_records(spec: Records, value: Any) -> list[dict[str, Any]] | None:
    """The records of one cell, cleaned (see the module doc); None when none is left."""
    if not isinstance(value, list):
        value = [value] if isinstance(value, dict) else []
    kept = []
    for raw in value:
        if not isinstance(raw, dict):
            continue
        record: dict[str, Any] = {}
        for part in spec.parts:
            clean = clean_code if part.kind == "code" else clean_text
            record[part.name] = _sanitised(clean(raw.get(part.name)))
        if not any(record.values()):
            continue
        if spec.exigence:
            code = raw.get("exigence")
            code = code.strip().upper() if isinstance(code, str) else None
            record["exigence"] = code if code in ("E", "S") else None
        kept.append(record)
    return kept or None


def render_cell(spec: Records, records: list[dict[str, Any]] | None) -> str | None:
    """The records as one readable cell (see the module doc)."""
    if not records:
        return None
    items = []
    for record in records:
        parts = [record.get(p.name) or "" for p in spec.parts]
        while parts and not parts[-1]:
            parts.pop()
        item = PART_SEPARATOR.join(parts)
        if spec.exigence:
            item += f" ({WORDS[spec.exigence][record.get('exigence')]})"
        items.append(item)
    return RECORD_SEPARATOR.join(items)


def parse_cell(spec: Records, cell: str | None) -> list[dict[str, Any]]:
    """A cell :func:`render_cell` wrote → its records (every part, None when empty)."""
    if not cell:
        return []
    out = []
    for item in cell.split(RECORD_SEPARATOR):
        record: dict[str, Any] = {}
        if spec.exigence:
            match = _EXIGENCE.search(item)
            record_exigence = CODES[match.group(1)] if match else None
            if match:
                item = item[: match.start()]
        parts = item.split(PART_SEPARATOR)
        for index, part in enumerate(spec.parts):
            record[part.name] = (parts[index] or None) if index < len(parts) else None
        if spec.exigence:
            record["exigence"] = record_exigence
        out.append(record)
    return out


def from_api(spec: Records, value: Any) -> list[dict[str, Any]] | None:
    """The API's list (its own keys) → records under the parts' names, not cleaned yet."""
    if not isinstance(value, list):
        return None
    out = []
    for raw in value:
        if not isinstance(raw, dict):
            continue
        record = {part.name: raw.get(part.api) for part in spec.parts}
        if spec.exigence:
            record["exigence"] = raw.get("exigence")
        out.append(record)
    return out or None
