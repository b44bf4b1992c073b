"""SQL text the warehouse's modules share: column types, quoting, and an attached
catalog's columns (pure; DuckDB and PostgreSQL quote names and strings alike).

SQL is built from the items' field names and the warehouse's own table and column
names, quoted by :func:`ident`, and from file paths quoted by :func:`literal`; values a
user or a file gives are bound parameters.
"""

from __future__ import annotations

from typing import Any

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
