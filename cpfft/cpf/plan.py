"""Opendatasoft Explore v2.1 for the CPF catalogue: the spider's arguments and the
user's filters in ODSQL, schema aliases, the counts and the partition plan that
fetches the whole catalogue in few calls, and the grouped ``limit`` the portal accepts.

Why partitions: paged ``/records`` stops at 10 000 rows and costs one call per
100 rows; ``/exports`` is uncapped and streams a whole result set in one call,
but one export of the entire catalogue would be hundreds of MB held in memory
(Scrapy buffers response bodies) and, if cut, all lost. So one ``group_by``
call counts the rows of every département; départements are packed into
partitions of at most ``CPF_PARTITION_ROWS`` rows (a département bigger than
that is counted again by ``code_nsf_1``, and a (département, NSF code) pair
still bigger by ``code_formacode_1``: one more count call per level, see
:data:`LEVELS`); each partition is one streamed JSONL export whose row count is
known in advance, which makes a cut export detectable.
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


#: The fields the rows are counted by, coarsest first, and how a log line names them. A
#: group bigger than a partition is counted again by the next field, within itself: the
#: rows without a place (nearly half of the real catalogue) form one group per NSF code,
#: and the biggest of those (326, informatique) outgrows a partition on its own, so a
#: third level, the main Formacode (thousands of codes), is needed to split it.
LEVELS = ("code_departement", "code_nsf_1", "code_formacode_1")
LEVEL_NAMES = ("département", "NSF code", "Formacode")

Key = tuple[str | None, ...]


@dataclass(frozen=True)
class Group:
    """The rows whose first ``len(key)`` :data:`LEVELS` fields hold ``key`` (None: the
    field is null): a département ``("75",)``, a pair ``("75", "326")``, a triple…"""

    key: Key
    count: int

    @property
    def departement(self) -> str | None:
        return self.key[0]

    def describe(self) -> str:
        """``75``, ``sans département``, ``75 · NSF code 326``, ``sans département · NSF
        code 326 · Formacode 31026``: the group as a log line names it."""
        parts = [self.key[0] or "sans département"]
        for name, value in zip(LEVEL_NAMES[1:], self.key[1:], strict=False):
            parts.append(f"{name} {value or 'null'}")
        return " · ".join(parts)


def condition(keys: Iterable[Key], fields: tuple[str, ...], depth: int = 0) -> str:
    """One ODSQL condition selecting the rows of every key (keys of any length, none a
    prefix of another): keys ending at this level share one ``in (…)`` list, longer
    ones are grouped by their value here and conditioned further."""
    ends: list[str | None] = []
    deeper: dict[str | None, list[Key]] = {}
    for key in keys:
        if len(key) == depth + 1:
            ends.append(key[depth])
        else:
            deeper.setdefault(key[depth], []).append(key)
    name = fields[depth]
    clauses = []
    known = sorted(v for v in ends if v is not None)
    if known:
        clauses.append(in_list(name, known))
    if None in ends:
        clauses.append(f"{name} is null")
    for value, longer in sorted(deeper.items(), key=lambda kv: kv[0] or ""):
        head = f"{name} is null" if value is None else f"{name} = {quote(value)}"
        clauses.append(f"{head} and {condition(longer, fields, depth + 1)}")
    return any_of(clauses)


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

    def where(self, fields: tuple[str, ...]) -> str:
        """The partition's rows as one ODSQL condition (``fields``: the :data:`LEVELS`
        as the dataset names them)."""
        return condition((g.key for g in self.groups), fields)

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


def levels_named(depth: int) -> str:
    """The first ``depth`` levels as a log line names them: ``département, NSF code and
    Formacode``."""
    names = LEVEL_NAMES[:depth]
    return names[0] if depth == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def counted_by(depth: int) -> str:
    """How the count by the first ``depth`` levels is named: ``row count per département
    and NSF code``."""
    return f"row count per {levels_named(depth)}"


def groups_named(depth: int) -> str:
    """What groups of ``depth`` levels are called in a warning: départements, or groups."""
    return "départements" if depth == 1 else "groups"


def finer_count(
    groups: list[Group], depth: int, partition_rows: int, schema: Schema, where: str
) -> dict[str, str] | None:
    """The count by one more level of the groups of ``depth`` levels bigger than a
    partition, within those groups only; None when there is none or no level is left
    (the groups are packed as they are). SchemaError if the next level's field is gone."""
    big = [g for g in groups if len(g.key) == depth and g.count > partition_rows]
    if not big or depth >= len(LEVELS):
        return None
    fields = tuple(schema.field(name) for name in LEVELS[: depth + 1])
    keys = ", ".join(fields)
    return {
        "select": f"{keys}, count(*) as n",
        "group_by": keys,
        "where": all_of([where, condition((g.key for g in big), fields)]),
    }


def refine(
    groups: list[Group],
    counts: list[tuple[Key, int]],
    partition_rows: int,
    limit: int,
) -> tuple[list[Group], str | None]:
    """The groups to pack once the count by one more level answered ``counts`` (sent
    with ``limit``): each big group it counted replaced by its finer groups.

    With as many groups as the limit allows, the count may be cut and a group left out
    would never be exported. The coarser counts are whole, so the big groups are
    exported whole instead (bigger exports, no row lost): the groups come back
    unchanged, with the warning that says so.
    """
    depth = len(counts[0][0]) if counts else 0
    if len(counts) >= limit:
        big = sorted(
            g.describe() for g in groups if len(g.key) == depth - 1 and g.count > partition_rows
        )
        warning = (
            f"the count per {levels_named(depth)} gave {len(counts)} groups, as many as "
            f"limit={limit} allows, so it may be cut: {groups_named(depth - 1)} "
            f"{', '.join(big)} are exported whole, not split by {LEVEL_NAMES[depth - 1]}"
        )
        return groups, warning
    split = {key[:-1] for key, _ in counts}
    finer = [Group(key, n) for key, n in counts]
    kept = [g for g in groups if g.count <= partition_rows or g.key not in split]
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
        key=lambda g: (-g.count, tuple(v or "" for v in g.key)),
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
