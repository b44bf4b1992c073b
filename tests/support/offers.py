"""The France Travail emulator's truth, and what a ``scrapy crawl offres`` run wrote."""

from __future__ import annotations

from datetime import UTC, datetime


def truth(emulator, keep=lambda offer: True, before=None):
    """Ids of the offers a complete run must write (created up to ``before``, default now)."""
    before = before or datetime.now(UTC)
    return {o.data["id"] for o in emulator.dataset.offers if keep(o) and o.created <= before}


def ids(result):
    """Ids written by a run; checks none was written twice."""
    found = [row["id"] for row in result.dicts()]
    assert len(found) == len(set(found)), "an offer was written twice"
    return set(found)


def search_calls(emulator):
    return [c for c in emulator.calls if c["path"].endswith("/offres/search")]
