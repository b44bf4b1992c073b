"""Opendatasoft Explore v2.1 for the CPF catalogue: ODSQL literals, schema aliases,
and the partition plan that fetches the whole catalogue in few calls.

Why partitions: paged ``/records`` stops at 10 000 rows and costs one call per
100 rows; ``/exports`` is uncapped and streams a whole result set in one call,
but one export of the entire catalogue would be hundreds of MB held in memory
(Scrapy buffers response bodies) and, if cut, all lost. So one ``group_by``
call counts the rows of every département; départements are packed into
partitions of at most ``CPF_PARTITION_ROWS`` rows (a département bigger than
that is split by ``code_nsf_1`` with one more count call); each partition is
one streamed JSONL export whose row count is known in advance, which makes a
cut export detectable.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cpfft.cleaning import clean_code
from cpfft.items import FORMATION_FIELDS

#: Names a column has had in other schema versions or copies of the dataset; the metadata
#: is read first and an alias found is mapped back to the usual name, so that the CSV
#: columns never change (docs/api-opendatasoft.md, « Noms de colonnes et alias »).
ALIASES: dict[str, tuple[str, ...]] = {
    "date_extract": ("date_chargement",),
    "code_inventaire": ("code_rs",),
    "siret": ("siret_of",),
    "type_referentiel": ("rsrncp",),
}


def quote(value: str) -> str:
    """An ODSQL string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def in_list(field_name: str, values: Iterable[str]) -> str:
    return f"{field_name} in ({', '.join(quote(v) for v in values)})"


def any_of(clauses: Iterable[str]) -> str:
    parts = list(clauses)
    return parts[0] if len(parts) == 1 else "(" + " or ".join(parts) + ")"


def all_of(clauses: Iterable[str | None]) -> str:
    parts = [c for c in clauses if c]
    if not parts:
        return ""
    return parts[0] if len(parts) == 1 else " and ".join(f"({c})" for c in parts)


class SchemaError(ValueError):
    pass


@dataclass
class Schema:
    """Where each output column is found in the dataset as published today."""

    actual: dict[str, str]  # output column -> dataset field name
    missing: list[str]
    extra: list[str]
    records_count: int | None = None

    @property
    def rename(self) -> dict[str, str]:
        """Dataset field name -> output column, for every exported field."""
        return {actual: canonical for canonical, actual in self.actual.items()}

    def field(self, canonical: str) -> str:
        try:
            return self.actual[canonical]
        except KeyError:
            raise SchemaError(
                f"the dataset has no {canonical!r} field any more (aliases tried: "
                f"{', '.join(ALIASES.get(canonical, ())) or 'none'})"
            ) from None


def parse_metadata(payload: Any) -> Schema:
    """Build a :class:`Schema` from ``GET /catalog/datasets/{id}`` (v2.1, or v1 lookup)."""
    if not isinstance(payload, dict):
        raise SchemaError("the dataset metadata is not a JSON object")
    raw_fields = payload.get("fields")
    if not isinstance(raw_fields, list) or not raw_fields:
        raise SchemaError("the dataset metadata lists no fields")
    names = [f.get("name") for f in raw_fields if isinstance(f, dict)]
    present = {n for n in names if isinstance(n, str)}
    actual: dict[str, str] = {}
    missing: list[str] = []
    for canonical in FORMATION_FIELDS:
        for candidate in (canonical, *ALIASES.get(canonical, ())):
            if candidate in present:
                actual[canonical] = candidate
                break
        else:
            missing.append(canonical)
    used = set(actual.values())
    extra = [n for n in names if isinstance(n, str) and n not in used]
    metas = payload.get("metas")
    count = None
    if isinstance(metas, dict):
        default = metas.get("default", metas)
        if isinstance(default, dict) and isinstance(default.get("records_count"), int):
            count = default["records_count"]
    return Schema(actual, missing, extra, count)


# ------------------------------------------------------------------ partitions


@dataclass(frozen=True)
class Group:
    """Rows of one département (``nsf`` unset), or of one (département, NSF code) pair."""

    departement: str | None
    count: int
    nsf: str | None = None
    by_nsf: bool = False


@dataclass
class Partition:
    number: int
    groups: list[Group]
    limit: int | None = None  # export only the first `limit` rows (max_records)
    expected: int = field(init=False)

    def __post_init__(self) -> None:
        self.recount(sum(g.count for g in self.groups))

    def recount(self, rows: int) -> None:
        """Set the rows this partition's export must hold, from a (fresh) count."""
        self.expected = rows if self.limit is None else min(rows, self.limit)

    def where(self, departement_field: str, nsf_field: str) -> str:
        whole = [g for g in self.groups if not g.by_nsf]
        codes = sorted(g.departement for g in whole if g.departement is not None)
        clauses = []
        if codes:
            clauses.append(in_list(departement_field, codes))
        if any(g.departement is None for g in whole):
            clauses.append(f"{departement_field} is null")
        split: dict[str | None, list[str | None]] = {}
        for g in self.groups:
            if g.by_nsf:
                split.setdefault(g.departement, []).append(g.nsf)
        for dep, nsfs in sorted(split.items(), key=lambda kv: kv[0] or ""):
            dep_clause = (
                f"{departement_field} is null"
                if dep is None
                else f"{departement_field} = {quote(dep)}"
            )
            known = sorted(n for n in nsfs if n is not None)
            nsf_clauses = [in_list(nsf_field, known)] if known else []
            if None in nsfs:
                nsf_clauses.append(f"{nsf_field} is null")
            clauses.append(f"{dep_clause} and {any_of(nsf_clauses)}")
        return any_of(clauses)

    def label(self) -> str:
        """``partition 3 (départements 75)``: which partition, without its row count."""
        deps = sorted({g.departement or "sans département" for g in self.groups})
        shown = ", ".join(deps[:6]) + (f" and {len(deps) - 6} more" if len(deps) > 6 else "")
        return f"partition {self.number} (départements {shown})"

    def describe(self) -> str:
        """The label and the rows counted; in a ``missing:`` line, those rows are not written."""
        return f"{self.label()[:-1]}; {self.expected} rows)"


def parse_groups(payload: Any, keys: tuple[str, ...]) -> list[tuple[tuple[str | None, ...], int]]:
    """Read a ``group_by`` answer: ``[((key values…), count), …]``."""
    if not isinstance(payload, dict) or not isinstance(payload.get("results"), list):
        raise SchemaError("the count answer has no 'results' list")
    groups = []
    for row in payload["results"]:
        if not isinstance(row, Mapping):
            raise SchemaError("a count result is not an object")
        n = row.get("n", row.get("count(*)", row.get("count")))
        if not isinstance(n, int) or n < 0:
            raise SchemaError(f"a count result has no row count: {dict(row)!r}")
        groups.append((tuple(clean_code(row.get(k)) for k in keys), n))
    return groups


def plan_partitions(
    groups: Iterable[Group], target: int, max_records: int | None = None
) -> list[Partition]:
    """Pack groups into partitions of at most ``target`` rows (first-fit decreasing).

    A group bigger than ``target`` gets a partition of its own. With
    ``max_records``, only as many partitions as needed are kept and the last one
    is limited.
    """
    bins: list[list[Group]] = []
    loads: list[int] = []
    ordered = sorted(
        (g for g in groups if g.count > 0),
        key=lambda g: (-g.count, g.departement or "", g.nsf or ""),
    )
    for group in ordered:
        for i, load in enumerate(loads):
            if load + group.count <= target:
                bins[i].append(group)
                loads[i] += group.count
                break
        else:
            bins.append([group])
            loads.append(group.count)
    partitions = []
    remaining = max_records
    for number, members in enumerate(bins, 1):
        load = sum(g.count for g in members)
        limit = None
        if remaining is not None:
            if remaining <= 0:
                break
            if load > remaining:
                limit = remaining
            remaining -= load
        partitions.append(Partition(number, members, limit))
    return partitions


# ------------------------------------------------------------------ grouped limit

#: Smaller ``limit`` values tried, in order, when a grouped call is refused for its
#: limit and the refusal does not say the bound.
GROUP_LIMIT_STEPS = (19_999, 10_000, 1_000)
_BOUND = re.compile(r"(<=|≤|<)\s*(\d+)")


def limit_rule(message: str) -> tuple[str, int] | None:
    """The upper bound a refusal such as ``… -1 <= limit < 20000 is expected.`` states,
    as (operator, number): ``("<", 20000)``; None if it states none. The last
    comparison with a number is the upper bound (``-1 <= limit`` has no number after
    its ``<=``); a refusal of the sum ``offset + limit`` (``… <= 20000 is expected``)
    bounds the limit the same way at offset 0."""
    found = _BOUND.findall(message)
    if not found:
        return None
    operator, number = found[-1]
    return ("<" if operator == "<" else "<="), int(number)


def parse_limit_bound(message: str) -> int | None:
    """The greatest ``limit`` a refusal allows: the bound minus one after ``<``, the
    bound itself after ``<=`` (see :func:`limit_rule`). None if it states no bound."""
    rule = limit_rule(message)
    if rule is None:
        return None
    operator, number = rule
    return number - 1 if operator == "<" else number


def next_group_limit(current: int, message: str) -> int | None:
    """The ``limit`` to try after ``current`` was refused with ``message``, or None.

    The bound stated by the message when it is below ``current``; else the next
    of :data:`GROUP_LIMIT_STEPS` below ``current``.
    """
    bound = parse_limit_bound(message)
    if bound is not None and 0 < bound < current:
        return bound
    return next((step for step in GROUP_LIMIT_STEPS if step < current), None)


def is_limit_refusal(status: int, message: str) -> bool:
    """A 400 about the ``limit`` parameter (or the sum ``offset + limit``), not the query."""
    return status == 400 and re.search(r"\blimit\b", message, re.IGNORECASE) is not None
