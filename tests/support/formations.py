"""The Opendatasoft emulator's truth, and what a ``scrapy crawl cpf`` run wrote."""

from __future__ import annotations

from tests.fakeapi.cpfdata import INDEX


def truth(emulator, keep=lambda row: True):
    """(numero_formation, code_departement) of every row a complete run must write."""
    i, j = INDEX["numero_formation"], INDEX["code_departement"]
    return {(r[i], r[j] or "") for r in emulator.dataset.rows if r[i] and keep(r)}


def keys(result):
    """(numero_formation, code_departement) written by a run; checks none was written twice."""
    rows = result.dicts()
    found = [(r["numero_formation"], r["code_departement"]) for r in rows]
    assert len(found) == len(set(found)), "duplicate rows in the CSV"
    return set(found)
