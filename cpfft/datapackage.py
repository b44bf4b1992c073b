"""Frictionless data-package descriptors of the outputs, and the README's data dictionary.

Pure: builds dictionaries and text from :mod:`cpfft.items` (column names, types,
French descriptions) and :mod:`cpfft.sources` (producer, licence); the run
writes them (:func:`cpfft.run.feeds.write_descriptors`).

A descriptor ``X.csv.datapackage.json`` describes the output ``X.csv`` beside it
(``X.parquet.datapackage.json`` the output ``X.parquet``…): one descriptor per
file, one resource, whose ``path`` is the file's name and whose Table Schema follows the
columns as written in that file. The offres CSV (and xlsx, JSON) shows its first
six columns under French headers (:data:`cpfft.items.OFFRE_HEADERS`): there the
schema's field ``name`` is the header (Frictionless checks header names against
it) and ``cpfft_name`` keeps the field name; Parquet columns are field names.

The package carries the source (``sources``), its licence (``licenses``), when
it was written (``created``) and a ``cpfft`` property: ``spider``, ``outcome``
(``complete``; ``incomplete`` beside an incomplete run's ``X.incomplete.csv``, which
the warehouse refuses), ``rows``,
``extracted_at`` (when the run started, UTC) and ``partial`` (a run that writes
part of an extraction on purpose, offres ``-a depuis=dernier``).

``python -m cpfft.datapackage --markdown`` prints the data dictionary of the
README (tests/test_datapackage.py checks that the README holds it).
"""

from __future__ import annotations

import argparse
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cpfft.items import (
    OFFRE_HEADERS,
    Formation,
    Offre,
    field_descriptions,
    field_types,
)
from cpfft.sources import BY_SPIDER, Source

#: Declared field type → Table Schema type.
TABLE_SCHEMA_TYPES = {
    "text": "string",
    "code": "string",
    "int": "integer",
    "float": "number",
    "bool": "boolean",
    "date": "date",
    "datetime": "datetime",
    "records": "string",  # one readable cell (CSV, xlsx); LIST_FORMATS hold arrays
}
#: Formats whose files hold a list field as a real list (of objects), not as one cell,
#: and the Table Schema type such a column gets. JSON's lists are "array"s. Parquet's are
#: typed by the file's own schema (list of structs); its column is "any", because
#: Frictionless reads them as arrays of another kind that its "array" type refuses.
LIST_FORMATS: dict[str, str] = {
    "parquet": "any",
    "json": "array",
    "jsonl": "array",
    "jsonlines": "array",
}
#: Declared field type → how the README's dictionary names it.
FRENCH_TYPES = {
    "text": "texte",
    "code": "code (texte)",
    "int": "entier",
    "float": "décimal",
    "bool": "booléen (`true`/`false`)",
    "date": "date",
    "datetime": "date-heure UTC",
    "records": "liste",
}
#: Formats whose files show the CSV's headers (the others show field names).
HEADER_FORMATS = frozenset({"csv", "xlsx", "json", "jsonl", "jsonlines"})
#: Output formats that get a descriptor, and their Frictionless format and media type.
FORMATS: dict[str, tuple[str, str]] = {
    "csv": ("csv", "text/csv"),
    "parquet": ("parquet", "application/vnd.apache.parquet"),
    "xlsx": ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "json": ("json", "application/json"),
    "jsonl": ("jsonl", "application/jsonl"),
    "jsonlines": ("jsonl", "application/jsonl"),
}
SUFFIX = ".datapackage.json"
#: Item class and CSV headers of each spider's output.
OUTPUTS: dict[str, tuple[type, Mapping[str, str] | None]] = {
    "cpf": (Formation, None),
    "offres": (Offre, OFFRE_HEADERS),
}


@dataclass(frozen=True)
class Output:
    """One output file of a complete run, as the descriptor describes it."""

    file_name: str
    format: str  # the feed's format: csv, parquet, xlsx…
    rows: int
    delimiter: str = ","
    encoding: str = "utf-8"


def descriptor_name(file_name: str) -> str:
    """``formations.csv`` → ``formations.csv.datapackage.json``: one descriptor per output
    file, so that ``-O formations.parquet`` after ``-O formations.csv`` (separate runs)
    does not remove the description of the CSV."""
    return file_name + SUFFIX


def legacy_descriptor_name(file_name: str) -> str:
    """``formations.csv`` → ``formations.datapackage.json``: the name earlier versions
    gave a descriptor (the last suffix replaced), shared by a run's outputs of one name.
    Read by the warehouse when the file has no descriptor of its own."""
    stem, dot, _ = file_name.rpartition(".")
    return (stem if dot and stem else file_name) + SUFFIX


def slug(text: str) -> str:
    """A Frictionless name: lower-case letters, digits, ``-``, ``.`` and ``_`` only."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    name = re.sub(r"[^a-z0-9._-]+", "-", ascii_text.lower()).strip("-")
    return name or "cpfft"


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def table_schema(
    item_class: type, headers: Mapping[str, str] | None = None, lists: str | None = None
) -> dict[str, Any]:
    """The Table Schema of an output: one field per column, named as in the file.
    ``lists``: the type of list fields when the file holds them as lists (Parquet,
    JSON), not as one cell (see LIST_FORMATS)."""
    types = field_types(item_class)
    descriptions = field_descriptions(item_class)
    schema_fields = []
    for name, type_ in types.items():
        shown = (headers or {}).get(name, name)
        entry: dict[str, Any] = {
            "name": shown,
            "type": lists if lists and type_ == "records" else TABLE_SCHEMA_TYPES[type_],
            "description": descriptions[name],
        }
        if shown != name:
            entry["cpfft_name"] = name
        schema_fields.append(entry)
    schema: dict[str, Any] = {"fields": schema_fields, "missingValues": [""]}
    key = getattr(item_class, "KEY", ())
    if len(key) == 1:  # a key with a part that may be empty (code_departement) is no primaryKey
        schema["primaryKey"] = [(headers or {}).get(k, k) for k in key]
    return schema


def licence_entry(source: Source) -> dict[str, str]:
    return {"name": slug(source.licence), "path": source.licence_url, "title": source.licence}


def source_entry(source: Source) -> dict[str, str]:
    return {"title": f"{source.producer} — {source.title}", "path": source.url}


def resource(
    output: Output, item_class: type, headers: Mapping[str, str] | None, source: Source
) -> dict[str, Any]:
    fmt, mediatype = FORMATS[output.format]
    shown = headers if output.format in HEADER_FORMATS else None
    entry: dict[str, Any] = {
        "name": slug(output.file_name),
        "path": output.file_name,
        "profile": "tabular-data-resource",
        "title": source.title,
        "format": fmt,
        "mediatype": mediatype,
    }
    if output.format == "csv":
        entry["encoding"] = output.encoding
        entry["dialect"] = {
            "delimiter": output.delimiter,
            "doubleQuote": True,
            "quoteChar": '"',
            "lineTerminator": "\r\n",
            "header": True,
        }
    elif output.format in ("json", "jsonl", "jsonlines"):
        entry["encoding"] = output.encoding
    entry["schema"] = table_schema(item_class, shown, lists=LIST_FORMATS.get(output.format))
    return entry


def descriptor(
    spider: str,
    outputs: Sequence[Output],
    *,
    extracted_at: datetime,
    partial: bool = False,
    created: datetime | None = None,
    outcome: str = "complete",
) -> dict[str, Any]:
    """The data package of a complete run's output (one resource per output given: a
    run writes one descriptor per file, :func:`descriptor_name`)."""
    item_class, headers = OUTPUTS[spider]
    source = BY_SPIDER[spider]
    first = outputs[0].file_name
    extracted = _utc(extracted_at)
    description = (
        f"Extraction cpfft de la source « {source.title} » ({source.producer}, {source.url}), "
        f"dernière mise à jour le {extracted} (UTC)"
        + (
            ", partielle : seulement les lignes nouvelles depuis l'exécution précédente"
            if partial
            else ""
        )
        + f". Licence : {source.licence} ({source.licence_url}). {source.obligations}"
    )
    return {
        "profile": "tabular-data-package",
        "name": slug(legacy_descriptor_name(first).removesuffix(SUFFIX)),
        "title": source.title,
        "description": description,
        "created": _utc(created or datetime.now(UTC)),
        "sources": [source_entry(source)],
        "licenses": [licence_entry(source)],
        "cpfft": {
            "spider": spider,
            "outcome": outcome,
            "rows": outputs[0].rows,
            "extracted_at": extracted,
            "partial": partial,
        },
        "resources": [resource(o, item_class, headers, source) for o in outputs],
    }


# ------------------------------------------------------------------ README


def dictionary_table(item_class: type, headers: Mapping[str, str] | None = None) -> str:
    types = field_types(item_class)
    descriptions = field_descriptions(item_class)
    lines = ["| Colonne | Type | Description |", "|---|---|---|"]
    for name, type_ in types.items():
        column = f"`{name}`"
        header = (headers or {}).get(name, name)
        if header != name:
            column += f" (CSV : `{header}`)"
        lines.append(f"| {column} | {FRENCH_TYPES[type_]} | {descriptions[name]} |")
    return "\n".join(lines) + "\n"


def markdown() -> str:
    """The README's data dictionary: every column of both outputs, type and description."""
    formations = field_types(Formation)
    offres = field_types(Offre)
    return (
        f"**Catalogue (`scrapy crawl cpf`)**, {len(formations)} colonnes :\n\n"
        + dictionary_table(Formation)
        + f"\n**Offres (`scrapy crawl offres`)**, {len(offres)} colonnes :\n\n"
        + dictionary_table(Offre, OFFRE_HEADERS)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cpfft.datapackage",
        description="Print the README's data dictionary, generated from cpfft/items.py.",
    )
    parser.add_argument("--markdown", action="store_true", help="the dictionary in Markdown")
    parser.parse_args(argv)
    print(markdown(), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
