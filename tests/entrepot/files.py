"""Writing small catalogue / offers outputs as the spiders do, and running ``scrapy entrepot``."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import fields
from pathlib import Path
from typing import Any

from cpfft.exporters import CsvExporter
from cpfft.items import OFFRE_HEADERS, Formation, Offre
from cpfft.offres.incremental import CHANGES_HEADERS
from tests.support.crawling import clean_env, scrapy_command


def write_csv(path: Path, items: Iterable[Any], delimiter: str = ",") -> Path:
    """``items`` (Formation or Offre) written by the project's CSV exporter, as a crawl does
    (offres: French headers for the first six columns)."""
    items = list(items)
    cls = type(items[0]) if items else Formation
    exported: Any = OFFRE_HEADERS if cls is Offre else [f.name for f in fields(cls)]
    with path.open("wb") as file:
        exporter = CsvExporter(file, fields_to_export=exported, delimiter=delimiter)
        exporter.start_exporting()
        for item in items:
            exporter.export_item(item)
        exporter.finish_exporting()
    return path


def write_changes(path: Path, changes: Iterable[tuple[str, str]], delimiter: str = ",") -> Path:
    """A changes file: (kind, id) lines with the real header."""
    with path.open("w", encoding="utf-8-sig", newline="") as file:
        writer = csv.writer(file, delimiter=delimiter)
        writer.writerow(CHANGES_HEADERS)
        for kind, offer_id in changes:
            writer.writerow([kind, offer_id, "", "", "", f"https://example.invalid/{offer_id}"])
    return path


def entrepot(cwd: Path, *args: str, env: dict[str, str | None] | None = None):
    """``scrapy entrepot …`` in ``cwd`` → CompletedProcess (text)."""
    return scrapy_command(cwd, "entrepot", *args, env=clean_env(env))


def offer(offer_id: str, **values: Any) -> Offre:
    defaults = {"intitule": f"Offre {offer_id}", "url": f"https://example.invalid/{offer_id}",
                "date_publication": "2026-11-30T08:00:00.000Z", "code_rome": "M1805"}  # fmt: skip
    return Offre(id=offer_id, **(defaults | values))


def formation(numero: str, departement: str | None, **values: Any) -> Formation:
    from cpfft.geo import DEPARTEMENTS_BY_CODE

    region = DEPARTEMENTS_BY_CODE[departement].region if departement else None
    defaults = {"intitule_formation": f"Formation {numero}", "siret": "12345678900011",
                "date_extract": "2026-11-28", "code_region": region}  # fmt: skip
    return Formation(numero_formation=numero, code_departement=departement,
                     **(defaults | values))  # fmt: skip
