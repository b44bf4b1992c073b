"""SQL the warehouse's modules share: column types, quoting, an attached catalog's
columns and the bounds of a DuckDB session (DuckDB and PostgreSQL quote names and strings
alike).

SQL is built from the items' field names and the warehouse's own table and column
names, quoted by :func:`ident`, and from file paths quoted by :func:`literal`; values a
user or a file gives are bound parameters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

#: SQL type of each declared field type (see cpfft.items); a list field's records go to a
#: child table (cpfft.entrepot.children), not to a column.
SQL_TYPES = {
    "text": "VARCHAR",
    "code": "VARCHAR",
    "int": "BIGINT",
    "float": "DOUBLE",
    "bool": "BOOLEAN",
    "date": "DATE",
    "datetime": "TIMESTAMPTZ",
}

#: DuckDB's memory budget (its default is 80 % of the machine's memory): a national load,
#: and the copies to and from PostgreSQL, stay within it, spilling to a folder if they must.
MEMORY_LIMIT = "1GB"


def ident(name: str) -> str:
    """A quoted table or column name."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    """A quoted string (a path, a separator)."""
    return "'" + value.replace("'", "''") + "'"


def catalog_columns(con: Any, catalog: str) -> set[tuple[str, str]]:
    """(table, column) of every column of the attached DuckDB catalog ``catalog``."""
    rows = con.execute(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_catalog = ?",
        [catalog],
    ).fetchall()
    return {(table, column) for table, column in rows}


def spill_folder(database: Path) -> Path:
    """The folder beside the DuckDB file ``database`` where its session spills."""
    return database.with_name(database.name + ".spill")


def bound(con: Any, spill: Path) -> None:
    """Hold the DuckDB connection ``con`` to :data:`MEMORY_LIMIT`, spilling to the folder
    ``spill`` beyond it, and read every time in UTC (a Parquet TIMESTAMP without zone is
    UTC)."""
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SET memory_limit = {literal(MEMORY_LIMIT)}")
    con.execute(f"SET temp_directory = {literal(str(spill))}")
