"""The warehouse in a PostgreSQL schema, for a team's dashboards (psycopg 3, ``COPY``).

The warehouse is built by DuckDB as always (one logic, one set of tests); PostgreSQL
holds it. A load, under a lock that keeps a second load of the same schema out:

1. :func:`download` copies the schema's tables into a local DuckDB file: the previous
   warehouse the build reads its history from;
2. the build makes the new warehouse beside it (:func:`cpfft.entrepot.load.build`);
3. :func:`upload`, in **one transaction**, creates a new schema, copies every table
   into it with ``COPY … FROM STDIN``, gives it the read rights the old one had
   (schema ``USAGE``, table ``SELECT``), drops the old schema and renames the new
   one: a reader sees the old load or the new one, never half of one, and a failure
   anywhere leaves the old schema as it was.

The address is a libpq URL, ``postgresql://user@host:5432/base``; the password comes
from ``PGPASSWORD`` or ``~/.pgpass`` as for every libpq program (one in the URL is used
but never shown). A refused connection or a bad password is one line
(:class:`~cpfft.entrepot.inputs.InputError`).
"""

# ruff: noqa: S608 - SQL from table and column names (quoted by ident()), never from values
from __future__ import annotations

import hashlib
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cpfft.entrepot.inputs import InputError
from cpfft.entrepot.sql import bound, ident, literal, spill_folder
from cpfft.errors import analysis_module, first_line

if TYPE_CHECKING:
    from collections.abc import Iterator

SCHEMES = ("postgresql://", "postgres://")
#: DuckDB type → PostgreSQL type, and back (the warehouse's columns use only these).
TO_POSTGRESQL = {
    "VARCHAR": "text",
    "BIGINT": "bigint",
    "INTEGER": "integer",
    "DOUBLE": "double precision",
    "BOOLEAN": "boolean",
    "DATE": "date",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
}
TO_DUCKDB = {
    "text": "VARCHAR",
    "character varying": "VARCHAR",
    "bigint": "BIGINT",
    "integer": "INTEGER",
    "double precision": "DOUBLE",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp with time zone": "TIMESTAMPTZ",
}
#: Indexes a dashboard's usual filters need (table: columns).
INDEXES = {
    "offres": ("id", "code_rome", "departement"),
    "offres_historique": ("id", "jour_debut", "code_rome"),
    "formations": ("numero_formation", "code_departement"),
    "formations_historique": ("numero_formation",),
    "metiers": ("code_rome", "territoire"),
}
CHUNK = 1 << 20


def is_url(target: str) -> bool:
    return target.startswith(SCHEMES)


def psycopg_module() -> Any:
    """psycopg (the ``postgresql`` extra), or the one-line error that says how to install it."""
    return analysis_module("psycopg", "scrapy entrepot postgresql://…", extra="postgresql")


def parts(url: str) -> dict[str, Any]:
    """The address's parts (libpq's parsing); InputError (one line) when it is not one."""
    psycopg = psycopg_module()
    try:
        return psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        raise InputError(
            "the PostgreSQL address is not a libpq URL; give postgresql://user@host:5432/base "
            "(the password in PGPASSWORD or ~/.pgpass)"
        ) from None


def shown(url: str) -> str:
    """The address without its password, as messages show it."""
    found = parts(url)
    user = f"{found['user']}@" if found.get("user") else ""
    port = f":{found['port']}" if found.get("port") else ""
    return f"postgresql://{user}{found.get('host', '')}{port}/{found.get('dbname', '')}"


@contextmanager
def connect(url: str, schema: str, lock: bool = True) -> Iterator[Any]:
    """A connection holding the schema's load lock (``lock``: a load; a report only reads);
    InputError (one line) if it cannot."""
    psycopg = psycopg_module()
    where = shown(url)
    try:
        conn = psycopg.connect(url, connect_timeout=10, autocommit=True)
    except psycopg.ProgrammingError as exc:
        raise InputError(
            f"{where}: not a PostgreSQL address ({first_line(exc)}); give "
            "postgresql://user@host:5432/base"
        ) from None
    except psycopg.OperationalError as exc:
        raise InputError(
            f"cannot connect to PostgreSQL at {where} ({_reason(exc)}); check that the server "
            "runs and listens there, the user and base, and the password (PGPASSWORD or "
            "~/.pgpass); nothing was changed"
        ) from None
    try:
        conn.execute("SET TimeZone = 'UTC'")
        key = int.from_bytes(
            hashlib.sha256(f"cpfft:{schema}".encode()).digest()[:8], "big", signed=True
        )
        if lock and not conn.execute("SELECT pg_try_advisory_lock(%s)", [key]).fetchone()[0]:
            raise InputError(
                f"another scrapy entrepot is loading the schema {schema} of {where}; wait for "
                "it to end and run again"
            )
        yield conn
    finally:
        conn.close()


def _reason(exc: BaseException) -> str:
    """The server's or libpq's own words, on one line, without the connection string."""
    text = first_line(exc)
    return text.removeprefix("connection failed: ")[:200]


def download(conn: Any, schema: str, target: Path) -> bool:
    """Copy the tables of ``schema`` into a new DuckDB file ``target``; False (nothing
    written) when the schema does not exist yet. The tables are read in one transaction
    that locks them first, so a load that swaps the schema meanwhile waits for the copy:
    it is one load's warehouse, whole."""
    duckdb = analysis_module("duckdb", "scrapy entrepot")
    with conn.transaction():
        columns: dict[str, list[tuple[str, str]]] = {}
        for table, column, kind in conn.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = %s ORDER BY table_name, ordinal_position",
            [schema],
        ).fetchall():
            columns.setdefault(table, []).append((column, TO_DUCKDB.get(kind, "VARCHAR")))
        if not columns:
            return False
        names = ", ".join(f"{ident(schema)}.{ident(t)}" for t in columns)
        conn.execute(f"LOCK TABLE {names} IN ACCESS SHARE MODE")
        staging = target.with_name(target.name + ".csv")
        spill = spill_folder(target)
        con = duckdb.connect(str(target))
        try:
            bound(con, spill)
            for table, cols in columns.items():
                with (
                    staging.open("wb") as file,
                    conn.cursor().copy(
                        f"COPY {ident(schema)}.{ident(table)} TO STDOUT (FORMAT csv)"
                    ) as copy,
                ):
                    for data in copy:
                        file.write(data)
                typed = ", ".join(f"{literal(n)}: {literal(t)}" for n, t in cols)
                con.execute(
                    f"CREATE TABLE {ident(table)} AS SELECT * FROM read_csv("
                    f"{literal(str(staging))}, header = false, auto_detect = false, "
                    f"columns = {{{typed}}}, quote = '\"', escape = '\"', "
                    "allow_quoted_nulls = false, strict_mode = true)"
                )
            con.execute("CHECKPOINT")
        finally:
            con.close()
            staging.unlink(missing_ok=True)
            shutil.rmtree(spill, ignore_errors=True)
    return True


def upload(conn: Any, schema: str, source: Path) -> None:
    """Replace ``schema`` by the tables of the DuckDB file ``source``, in one transaction."""
    duckdb = analysis_module("duckdb", "scrapy entrepot")
    new = f"{schema}_chargement_{os.getpid()}"
    staging = source.with_name(source.name + ".csv")
    spill = spill_folder(source)
    con = duckdb.connect(str(source), read_only=True)
    try:
        bound(con, spill)
        tables = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
                "AND table_type = 'BASE TABLE' ORDER BY table_name"
            ).fetchall()
        ]
        with conn.transaction():
            readers = _readers(conn, schema)
            conn.execute(f"DROP SCHEMA IF EXISTS {ident(new)} CASCADE")
            conn.execute(f"CREATE SCHEMA {ident(new)}")
            for table in tables:
                described = con.execute(f"DESCRIBE {ident(table)}").fetchall()
                defined = ", ".join(
                    f"{ident(name)} {TO_POSTGRESQL.get(kind, 'text')}"
                    for name, kind, *_ in described
                )
                conn.execute(f"CREATE TABLE {ident(new)}.{ident(table)} ({defined})")
                con.execute(
                    f"COPY {ident(table)} TO {literal(str(staging))} (FORMAT csv, HEADER false)"
                )
                with (
                    staging.open("rb") as file,
                    conn.cursor().copy(
                        f"COPY {ident(new)}.{ident(table)} FROM STDIN (FORMAT csv)"
                    ) as copy,
                ):
                    while data := file.read(CHUNK):
                        copy.write(data)
                for column in INDEXES.get(table, ()):
                    conn.execute(f"CREATE INDEX ON {ident(new)}.{ident(table)} ({ident(column)})")
                conn.execute(f"ANALYZE {ident(new)}.{ident(table)}")
            conn.execute(f"DROP SCHEMA IF EXISTS {ident(schema)} CASCADE")
            conn.execute(f"ALTER SCHEMA {ident(new)} RENAME TO {ident(schema)}")
            for role in readers:
                conn.execute(f"GRANT USAGE ON SCHEMA {ident(schema)} TO {role}")
                conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA {ident(schema)} TO {role}")
    finally:
        con.close()
        staging.unlink(missing_ok=True)
        shutil.rmtree(spill, ignore_errors=True)


def _readers(conn: Any, schema: str) -> list[str]:
    """The roles (quoted, or PUBLIC) that may read the old schema: they keep that right."""
    rows = conn.execute(
        "SELECT DISTINCT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END "
        "FROM pg_namespace n CROSS JOIN LATERAL aclexplode(n.nspacl) a LEFT JOIN pg_roles r ON "
        "r.oid = a.grantee WHERE n.nspname = %s AND a.privilege_type = 'USAGE' AND "
        "a.grantee <> n.nspowner",
        [schema],
    ).fetchall()
    return sorted(r[0] for r in rows)
