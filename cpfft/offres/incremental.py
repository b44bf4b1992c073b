"""What a scheduled offers run remembers: the last complete run of each query, and its offers.

France Travail's reuse licence asks re-users to refresh at least daily and to
mirror withdrawals, and the API has no "changes since" call. So each offers
query run under ``CPFFT_OUTPUT_DIR`` keeps a **state** file,
``<CPFFT_OUTPUT_DIR>/offres/.state/<query key>.sqlite`` (the key hashes the
API address and the search parameters), holding:

- the creation-date bound ``t0`` of the last complete run, so that
  ``-a depuis=dernier`` fetches only offers created since then;
- the **snapshot**: id, creation and update date of every offer known.

When a run is complete, it compares what it wrote with the snapshot and writes
``<timestamp>.changes.csv`` beside its CSV: one line per offer ``ajoutée``
(new id), ``modifiée`` (``dateActualisation`` changed) or ``retirée`` (in the
snapshot, no longer returned). Withdrawals can only be seen by a full run: an
incremental run does not look at older offers, so it reports additions (and
updates inside its overlap) only; the next full run reports the rest.

The state changes in one SQLite transaction, held from the start of the run
(another run of the same query is refused meanwhile) and committed only
after the changes file is written: a failed, stopped or killed run leaves the
state as it was, and the next run compares with the same snapshot.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from cpfft.exporters import neutralise_formula
from cpfft.items import OFFRE_HEADERS
from cpfft.offres.search import DETAIL_URL, api_query
from cpfft.run.output import OutputError, changes_file
from cpfft.run.resume import existing_rows, unguard
from cpfft.run.rows import rows_of

if TYPE_CHECKING:
    from collections.abc import Iterator

logger = logging.getLogger(__name__)

STATE_DIR = ".state"
CHANGES_HEADERS = [
    "changement",
    "id",
    OFFRE_HEADERS["date_publication"],
    "date_actualisation",
    "date_actualisation_precedente",
    OFFRE_HEADERS["url"],
]
ADDED, UPDATED, WITHDRAWN = "ajoutée", "modifiée", "retirée"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS snapshot (id TEXT PRIMARY KEY, created TEXT, updated TEXT);
"""


class StateError(OutputError):
    """The state of a query cannot be used (locked, unreadable); ``str()`` is one line."""


def query_key(api_url: str, query: dict[str, str]) -> str:
    canonical = json.dumps({"api": api_url, "query": query}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


@dataclass
class Changes:
    added: int = 0
    updated: int = 0
    withdrawn: int | None = 0  # None: not checked (incremental run)

    def describe(self) -> str:
        withdrawn = "not checked (incremental run)" if self.withdrawn is None else self.withdrawn
        return f"{self.added} added, {self.updated} updated, withdrawn: {withdrawn}"


class QueryState:
    """The state of one query; :meth:`open` at the start of a run, :meth:`commit` or
    :meth:`close` at its end."""

    def __init__(self, folder: Path, api_url: str, query: dict[str, str]):
        self.query = {"api": api_url, "query": query}
        self.path = folder / STATE_DIR / f"{query_key(api_url, query)}.sqlite"
        self.db: sqlite3.Connection | None = None
        self.last: dict[str, Any] = {}

    @classmethod
    def of_run(
        cls, run_output: str | None, api_url: str, args: dict[str, Any]
    ) -> QueryState | None:
        """The state of a run's query, kept beside its output under ``CPFFT_OUTPUT_DIR``
        (``run_output``); None without one, or for a run cut short on purpose (a sample,
        ``publieeDepuis``), whose offers say nothing of the whole query."""
        if not run_output or args["max_offers"] is not None or args["publieeDepuis"]:
            return None
        return cls(Path(run_output).parent, api_url, dict(api_query(args)))

    # ------------------------------------------------------------ run start

    def open(self) -> None:
        """Take the query's lock and read its last complete run (raises StateError)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=0, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StateError(f"cannot open the query state {self.path}: {exc}") from None
        try:
            db.executescript(SCHEMA)
            # Held until commit(): a second run of the same query fails here at once.
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            db.close()
            if "locked" in str(exc):
                raise StateError(
                    f"another run of the same query is using {self.path}; wait for it to end"
                ) from None
            raise StateError(f"the query state {self.path} is unusable ({exc})") from None
        except sqlite3.DatabaseError as exc:
            db.close()
            raise StateError(
                f"the query state {self.path} is damaged ({exc}); delete it to start afresh "
                "(the next run is then a full one)"
            ) from None
        self.db = db
        self.last = {name: json.loads(value) for name, value in db.execute("SELECT * FROM meta")}
        db.execute("CREATE TEMP TABLE run (id TEXT PRIMARY KEY, created TEXT, updated TEXT)")

    def has_complete_run(self) -> bool:
        """Whether a complete run of this query left its bound, read before the run starts:
        no lock taken, nothing created. An unreadable state counts as one: :meth:`open`
        then says what is wrong with it."""
        if not self.path.is_file():
            return False
        try:
            db = sqlite3.connect(f"{self.path.as_uri()}?mode=ro", uri=True, timeout=5)
            try:
                row = db.execute("SELECT value FROM meta WHERE name = 't0'").fetchone()
            finally:
                db.close()
        except sqlite3.OperationalError as exc:
            # A state made but never committed has no table yet: no complete run either.
            return "no such table" not in str(exc)
        except sqlite3.Error:
            return True
        return row is not None

    @property
    def last_t0(self) -> str | None:
        """Creation-date bound of the last complete run of this query, if any."""
        return self.last.get("t0")

    def unchanged(self, offer_id: str, updated: str | None) -> bool:
        """Whether the snapshot already holds this offer with this ``dateActualisation``."""
        assert self.db is not None
        row = self.db.execute("SELECT updated FROM snapshot WHERE id = ?", (offer_id,)).fetchone()
        return row is not None and row[0] == updated

    def record(self, item: Any) -> None:
        """Remember the offers written to this run's CSV (an ``item_scraped`` handler: an
        offer, or a batch of them)."""
        if self.db is None:
            return
        self.db.executemany(
            "INSERT OR REPLACE INTO temp.run VALUES (?, ?, ?)",
            [
                (row.id, row.date_publication, row.date_actualisation)
                for row in rows_of(item)
                if getattr(row, "id", None)
            ],
        )

    def record_file(self, path: Path, delimiter: str) -> None:
        """Remember the offers of a CSV this run goes on writing (a resumed run)."""
        columns = ("id", OFFRE_HEADERS["date_publication"], "date_actualisation")
        for row in existing_rows(path, delimiter):
            offer_id, created, updated = (unguard(row.get(c) or "") or None for c in columns)
            self.record(SimpleNamespace(id=offer_id, date_publication=created,
                                        date_actualisation=updated))  # fmt: skip

    # ------------------------------------------------------------ run end

    def commit(self, csv_path: Path, t0: str, incremental: bool, delimiter: str) -> Changes:
        """Write ``<csv>.changes.csv`` and make this run the query's last complete one."""
        assert self.db is not None
        db = self.db
        changes_path = changes_file(csv_path)
        changes = Changes(withdrawn=None if incremental else 0)
        try:
            with changes_path.open("w", encoding="utf-8-sig", newline="") as out:
                writer = csv.writer(out, delimiter=delimiter)
                writer.writerow(CHANGES_HEADERS)
                for kind, offer_id, created, updated, before in self.differences(incremental):
                    cells = [offer_id, created, updated, before, DETAIL_URL.format(id=offer_id)]
                    writer.writerow([kind, *(neutralise_formula(c or "") for c in cells)])
                    setattr(changes, _COUNTERS[kind], getattr(changes, _COUNTERS[kind]) + 1)
            if incremental:
                db.execute("INSERT OR REPLACE INTO snapshot SELECT * FROM temp.run")
            else:
                db.execute("DELETE FROM snapshot")
                db.execute("INSERT INTO snapshot SELECT * FROM temp.run")
            offers = db.execute("SELECT count(*) FROM snapshot").fetchone()[0]
            meta = {**self.query, "t0": t0, "file": csv_path.name, "offers": offers}
            meta["mode"] = "incremental" if incremental else "full"
            if not incremental:
                meta["last_full_file"] = csv_path.name
            else:
                meta["last_full_file"] = self.last.get("last_full_file")
            db.executemany(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                [(k, json.dumps(v, ensure_ascii=False)) for k, v in meta.items()],
            )
            db.execute("COMMIT")
        except (OSError, sqlite3.Error) as exc:
            changes_path.unlink(missing_ok=True)
            self.close()
            raise StateError(f"cannot update the query state {self.path}: {exc}") from None
        self.close()
        self.changes_path = changes_path
        return changes

    def differences(self, incremental: bool) -> Iterator[tuple[str, str, str, str, str]]:
        """(change, id, created, updated, previous update) for each offer that changed."""
        assert self.db is not None
        yield from self.db.execute(
            f"SELECT CASE WHEN s.id IS NULL THEN '{ADDED}' ELSE '{UPDATED}' END, "  # noqa: S608
            "r.id, r.created, r.updated, s.updated FROM temp.run r LEFT JOIN snapshot s "
            "ON s.id = r.id WHERE s.id IS NULL OR s.updated IS NOT r.updated "
            "ORDER BY r.created, r.id"
        )
        if not incremental:
            yield from self.db.execute(
                f"SELECT '{WITHDRAWN}', s.id, s.created, NULL, s.updated FROM snapshot s "  # noqa: S608
                "LEFT JOIN temp.run r ON r.id = s.id WHERE r.id IS NULL ORDER BY s.created, s.id"
            )

    def close(self) -> None:
        """Release the query without changing its state (a rollback if not committed)."""
        if self.db is not None:
            try:
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK")
            finally:
                self.db.close()
                self.db = None


_COUNTERS = {ADDED: "added", UPDATED: "updated", WITHDRAWN: "withdrawn"}
