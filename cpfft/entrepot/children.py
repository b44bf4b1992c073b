"""The offers' list fields as child tables, one row per record, keyed by the offer's ``id``.

``offres_competences``, ``offres_qualites``, ``offres_formations``, ``offres_langues``
and ``offres_permis`` (:data:`cpfft.items.Records.table`): ``id``, ``rang`` (the
record's place in the offer's list, from 1), then one ``VARCHAR`` column per part of
the record (:class:`cpfft.items.Part`), and ``exigence`` (``E`` required, ``S``
wished for, NULL when the offer does not say) for the lists that have one. So
"the skills most asked for in ROME M1805 in Bretagne" is one join::

    SELECT c.libelle, count(*) AS offres
    FROM offres_competences c JOIN offres o USING (id)
    WHERE o.code_rome = 'M1805' AND o.region = '53'
    GROUP BY c.libelle ORDER BY offres DESC

A CSV holds each list as one readable cell (:mod:`cpfft.records`): it is read back
here in SQL, by the same rules as :func:`cpfft.records.parse_cell` (the tests hold
the two to the same answers); a Parquet file holds real lists of structs.
"""

# ruff: noqa: S608 - SQL from the items' own field and part names only
from __future__ import annotations

from typing import Any

from cpfft.entrepot.sql import literal
from cpfft.items import Offre, Records, field_records
from cpfft.records import CODES, EXIGENCE_GROUP, PART_SEPARATOR, RECORD_SEPARATOR

#: Each list field of the offers and what its records hold, in column order.
LISTS: dict[str, Records] = field_records(Offre)
TABLES: tuple[str, ...] = tuple(spec.table for spec in LISTS.values())


def _exigence_case(word: str) -> str:
    cases = " ".join(
        f"WHEN {literal(w)} THEN {literal(c)}" for w, c in CODES.items() if c is not None
    )
    return f"CASE {word} {cases} END"


def columns(spec: Records) -> str:
    """The child table's column definitions."""
    return ", ".join(["id VARCHAR", "rang INTEGER", *(f'"{n}" VARCHAR' for n in spec.names)])


def records_sql(spec: Records, column: str, source: str, fmt: str) -> str:
    """SQL of the records of ``column`` in table ``source`` (rows: id, rang, parts…).

    ``fmt``: ``csv`` when the column holds the readable cell, ``parquet`` when it holds
    a list of structs.
    """
    listed = f'"{column}"'
    if fmt == "parquet":
        parts = ", ".join(f'r."{n}" AS "{n}"' for n in spec.names)
        return (
            f"SELECT id, rang, {parts} FROM (SELECT id, unnest(generate_series(1, len({listed}))) "
            f"AS rang, unnest({listed}) AS r FROM {source} WHERE len({listed}) > 0)"
        )
    items = (
        f"SELECT id, unnest(generate_series(1, len(s))) AS rang, unnest(s) AS item FROM "
        f"(SELECT id, string_split({listed}, {literal(RECORD_SEPARATOR)}) AS s "
        f"FROM {source} WHERE {listed} IS NOT NULL)"
    )
    if spec.exigence:
        group = literal(EXIGENCE_GROUP)
        main = f"regexp_replace(item, {group}, '')"
        exigence = _exigence_case(f"regexp_extract(item, {group}, 1)")
    else:
        main, exigence = "item", None
    split = f"string_split({main}, {literal(PART_SEPARATOR)})"
    parts = [f"NULLIF(p[{i}], '') AS \"{part.name}\"" for i, part in enumerate(spec.parts, 1)]
    if exigence is not None:
        parts.append("ex AS exigence")
    extra = f", {exigence} AS ex" if exigence is not None else ""
    return (
        f"SELECT id, rang, {', '.join(parts)} FROM "
        f"(SELECT id, rang, {split} AS p{extra} FROM ({items}))"
    )


def create_tables(con: Any) -> None:
    """The child tables, empty."""
    for spec in LISTS.values():
        con.execute(f"CREATE TABLE {spec.table} ({columns(spec)})")


def add_records(con: Any, source: str, fmt: str, present: list[str]) -> None:
    """Insert the records of the offers of table ``source`` (a file's rows) in every child
    table. ``present``: the file's columns (an older release's file has no list)."""
    for column, spec in LISTS.items():
        if column not in present:
            continue
        names = ", ".join(["id", "rang", *(f'"{n}"' for n in spec.names)])
        con.execute(
            f"INSERT INTO {spec.table} ({names}) SELECT {names} FROM "
            f"({records_sql(spec, column, source, fmt)}) ORDER BY id, rang"
        )


def keep_records(con: Any, previous: str, where: str) -> None:
    """Insert the records of a previous warehouse's offers (``previous`` is its catalog
    name) that meet ``where``: the offers a partial load keeps."""
    for spec in LISTS.values():
        con.execute(
            f"INSERT INTO {spec.table} SELECT * FROM {previous}.{spec.table} p WHERE {where} "
            "ORDER BY id, rang"
        )
