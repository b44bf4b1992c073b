"""Opendatasoft Explore v2.1 for the CPF catalogue: the spider's arguments and the
user's filters in ODSQL, schema aliases, the counts and the partition plan that
fetches the whole catalogue in few calls, and the grouped ``limit`` the portal accepts.

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

import json
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cpfft.cleaning import clean_code
from cpfft.cpf.themes import catalogue, theme_parser
from cpfft.errors import ConfigurationError
from cpfft.geo import DEPARTEMENTS_BY_CODE, REGIONS_BY_CODE, find_departement, find_region
from cpfft.items import FORMATION_FIELDS
from cpfft.params import Param, choice, integer, listing, text

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

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


def schema_notes(schema: Schema) -> list[tuple[int, str]]:
    """What to log about the dataset's fields, as (logging level, line): columns that stay
    empty, fields mapped back to their usual names, new fields not exported."""
    notes = [
        (
            logging.WARNING,
            f"The dataset has no {name!r} field (nor an alias): that column stays empty",
        )
        for name in schema.missing
    ]
    renamed = {a: c for c, a in schema.actual.items() if a != c}
    if renamed:
        notes.append(
            (logging.INFO, f"Dataset fields mapped back to stable column names: {renamed}")
        )
    if schema.extra:
        notes.append(
            (
                logging.WARNING,
                f"New dataset fields not exported (the columns stay stable): {schema.extra}",
            )
        )
    return notes


# ------------------------------------------------------------------ arguments and filters

TYPES_REFERENTIEL = {"RS": "RS", "RNCP": "RNCP"}


def themes_from(settings: BaseSettings) -> dict[str, tuple[str, ...]]:
    """Theme id → NSF codes: the built-in themes (:mod:`cpfft.cpf.themes`) and CPF_THEMES'."""
    try:
        extra = settings.getdict("CPF_THEMES")
    except (ValueError, TypeError, RecursionError):  # not JSON, or JSON but not an object
        raise ConfigurationError(
            'setting CPF_THEMES is not a JSON object. Example: {"boulangerie": ["221"]}'
        ) from None
    return catalogue(extra)


def cpf_params(settings: BaseSettings) -> tuple[Param, ...]:
    """The cpf spider's arguments (``-a name=value``)."""
    themes = themes_from(settings)
    return (
        Param("q", text(200), "full-text search words, e.g. -a q=python"),
        Param(
            "theme",
            listing(theme_parser(themes), 10),
            "one or more themes, e.g. numerique,btp (the README lists them all)",
        ),
        Param("region", listing(find_region, 18), "region codes or names, e.g. 11 or Bretagne"),
        Param(
            "departement",
            listing(find_departement, 101),
            "département codes or names, e.g. 75,2A or Gironde",
        ),
        Param("type_referentiel", choice(TYPES_REFERENTIEL), "RS or RNCP"),
        Param("max_records", integer(1, 100_000_000), "a maximum number of rows, e.g. 500"),
    )


def check_places(args: Mapping[str, Any]) -> None:
    """Refuse départements outside the regions asked for: nothing could match."""
    if not (args["region"] and args["departement"]):
        return
    outside = [
        d for d in args["departement"] if DEPARTEMENTS_BY_CODE[d].region not in args["region"]
    ]
    if outside:
        regions = ", ".join(f"{r} ({REGIONS_BY_CODE[r].name})" for r in args["region"])
        raise ConfigurationError(
            f"argument -a departement: {', '.join(outside)} is not in region "
            f"{regions}, so nothing could match. Drop -a region or fix -a departement"
        )


def filters(schema: Schema, args: Mapping[str, Any], themes: Mapping[str, Iterable[str]]) -> str:
    """The user's filters (``q``, ``theme``, ``region``, ``departement``,
    ``type_referentiel``) as one ODSQL condition ('' when none); ``themes``: theme id →
    NSF codes. Raises :class:`SchemaError` when the dataset lacks a field a filter needs."""
    field = schema.field
    clauses: list[str | None] = []
    if args["q"]:
        clauses.append(f"search({quote(args['q'])})")
    if args["theme"]:
        codes = sorted({c for t in args["theme"] for c in themes[t]})
        clauses.append(any_of(in_list(field(f"code_nsf_{i}"), codes) for i in (1, 2, 3)))
    if args["region"]:
        clauses.append(in_list(field("code_region"), args["region"]))
    if args["departement"]:
        clauses.append(in_list(field("code_departement"), args["departement"]))
    if args["type_referentiel"]:
        clauses.append(f"{field('type_referentiel')} = {quote(args['type_referentiel'])}")
    return all_of(clauses)


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


def one_count(payload: Any) -> int:
    """The row count of an ungrouped ``count(*)`` answer (a single result)."""
    ((_, n),) = parse_groups(payload, ())
    return n


def departement_count(departement: str, where: str) -> dict[str, str]:
    """The first count: rows per département (the null département included)."""
    return {"select": f"{departement}, count(*) as n", "group_by": departement, "where": where}


def cut_departements(found: int, limit: int) -> str | None:
    """Why the count per département cannot be used when it holds ``found`` groups for
    ``limit``; None if it can. As many groups as the limit allows: more may exist, and
    a département missing from the counts would be missing from the output, unnoticed."""
    if found < limit:
        return None
    return (
        f"row count per département: {found} groups came back, as many as "
        f"limit={limit} allows, so some may be missing; nothing was fetched"
    )


def split_count(
    groups: list[Group], partition_rows: int, schema: Schema, where: str
) -> dict[str, str] | None:
    """The count by (département, NSF code) of the départements bigger than a
    partition, or None when none is (the groups are packed as they are)."""
    big = [g for g in groups if g.count > partition_rows]
    if not big:
        return None
    departement = schema.field("code_departement")
    nsf = schema.field("code_nsf_1")
    codes = [g.departement for g in big if g.departement is not None]
    scope = [in_list(departement, codes)] if codes else []
    if any(g.departement is None for g in big):
        scope.append(f"{departement} is null")
    return {
        "select": f"{departement}, {nsf}, count(*) as n",
        "group_by": f"{departement}, {nsf}",
        "where": all_of([where, any_of(scope)]),
    }


def refine(
    groups: list[Group],
    counts: list[tuple[tuple[str | None, ...], int]],
    partition_rows: int,
    limit: int,
) -> tuple[list[Group], str | None]:
    """The groups to pack once the count by (département, NSF code) answered
    ``counts`` (sent with ``limit``): each big département replaced by its pairs.

    With as many pairs as the limit allows, the count may be cut and a pair left out
    would never be exported. The département counts are whole, so the big
    départements are exported whole instead (bigger exports, no row lost): the
    groups come back unchanged, with the warning that says so.
    """
    if len(counts) >= limit:
        big = sorted(
            g.departement or "sans département" for g in groups if g.count > partition_rows
        )
        warning = (
            f"the count per département and NSF code gave {len(counts)} groups, as many "
            f"as limit={limit} allows, so it may be cut: départements {', '.join(big)} "
            "are exported whole, not split by NSF code"
        )
        return groups, warning
    split = {key[0] for key, _ in counts}
    finer = [Group(key[0], n, nsf=key[1], by_nsf=True) for key, n in counts]
    kept = [g for g in groups if g.count <= partition_rows or g.departement not in split]
    return kept + finer, None


def quota_warning(remaining: int | None, exports: int) -> str | None:
    """The warning when today's quota has fewer calls left than the plan's exports."""
    if remaining is None or remaining >= exports:
        return None
    return (
        f"Only {remaining} API calls left in today's quota for {exports} exports: "
        "the run may stop early"
    )


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

#: The grouped ``limit`` tried first: enough for every département, and for the
#: (département, NSF code) pairs of the big ones.
GROUP_LIMIT = 20_000

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


def api_message(body: bytes) -> tuple[str, str]:
    """(error code, message) of an Opendatasoft error body; ('', '') if it is not one."""
    try:
        payload = json.loads(body)
    except ValueError:
        return "", ""
    if not isinstance(payload, dict):
        return "", ""
    code = payload.get("error_code") or payload.get("errorcode") or ""
    return str(code), str(payload.get("message") or payload.get("error") or "")


class GroupLimit:
    """The grouped ``limit`` counts are sent with, made smaller by each refusal of it."""

    def __init__(self, first: int = GROUP_LIMIT) -> None:
        self.current = first
        self.refused: list[tuple[int, str]] = []  # (limit refused, the portal's message)
        self.told = False

    def smaller(self, refused: int, status: int, body: bytes) -> tuple[int, str] | None:
        """A count sent with ``limit=refused`` failed with HTTP ``status`` and ``body``: if
        the portal refused that limit (not the query), (the smaller limit to send the
        count with from now on, the portal's message); else, or when no smaller limit
        is left, None."""
        code, message = api_message(body)
        if code == "ODSQLError" or not is_limit_refusal(status, message):
            return None
        self.refused.append((refused, message))
        smaller = next_group_limit(min(refused, self.current), message)
        if smaller is None:
            return None
        self.current = smaller
        return smaller, message

    def accepted(self, limit: int) -> str | None:
        """A count answered with ``limit``: after refusals, the line that says which limit
        the portal accepts (once per run); else None."""
        if not self.refused or self.told:
            return None
        self.told = True
        first, message = self.refused[0]
        return (
            f"The portal refused group_by limit={first} ({message or 'HTTP 400'}); "
            f"limit={limit} accepted and used for every count by group"
        )

    def tried(self) -> str:
        """The limits refused so far, for a failed count's message ('' when none)."""
        return ", ".join(str(limit) for limit, _ in self.refused)
