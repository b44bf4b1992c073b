"""Before any export, the counts: from the dataset's metadata to the partitions (pure,
no Scrapy: answers in, the next count or the groups to pack out).

1. The metadata (``GET /catalog/datasets/{id}``) gives the fields as published today
   (:func:`cpfft.cpf.plan.parse_metadata`) and, with the user's arguments, the filters
   every later call carries.
2. One grouped count of the rows per département (the null département included).
3. Only if a département holds more than a partition's rows: one more count by
   (département, ``code_nsf_1``) for those départements; and if a pair still holds
   more, one more by (département, NSF code, ``code_formacode_1``) for those pairs
   (:data:`cpfft.cpf.plan.LEVELS`).

Every grouped count is sent with the grouped ``limit`` accepted so far
(:class:`cpfft.cpf.plan.GroupLimit`): the portal's bound is not settled, so a count
refused for its limit is sent again with a smaller one, and an answer holding as many
groups as its limit is treated as possibly cut.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cpfft.cpf.plan import (
    LEVEL_NAMES,
    LEVELS,
    Group,
    GroupLimit,
    Partition,
    Schema,
    SchemaError,
    all_of,
    counted_by,
    cut_departements,
    departement_count,
    filters,
    finer_count,
    groups_named,
    parse_groups,
    parse_metadata,
    plan_partitions,
    refine,
    schema_notes,
)
from cpfft.errors import sentence


class Unusable(Exception):
    """The counts cannot be used: nothing is fetched. ``reason`` goes to the run's
    ``missing:`` lines, ``line`` (the reason as a sentence unless given) to the log."""

    def __init__(self, reason: str, line: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = sentence(reason) if line is None else line


@dataclass(frozen=True)
class Count:
    """A grouped count to send: its parameters (the limit aside), its name in logs, the
    levels it counts by (1: per département), and for a finer count, the groups it
    refines."""

    params: dict[str, str]
    step: str
    groups: list[Group] | None = None
    depth: int = 1


class Counts:
    """The counting stage of a run: the schema, the user's filters as one ODSQL
    condition, the grouped limit, and the log lines each answer calls for
    (:attr:`notes`, as (logging level, line), to be logged in order)."""

    def __init__(
        self,
        args: Mapping[str, Any],
        themes: Mapping[str, tuple[str, ...]],
        partition_rows: int,
        warnings: list[str],
    ) -> None:
        self.args = args
        self.themes = themes
        self.partition_rows = partition_rows
        self.warnings = warnings  # the run summary's warnings: a count that cost no row
        self.schema: Schema | None = None
        self.where = ""
        self.limits = GroupLimit()
        self.notes: list[tuple[int, str]] = []

    def metadata(self, load: Callable[[], Any]) -> Count:
        """The dataset metadata answered (``load`` reads its JSON): the first count."""
        try:
            schema = parse_metadata(load())
            self.schema = schema
            departement = schema.field("code_departement")
            schema.field("numero_formation")
            self.where = filters(schema, self.args, self.themes)
        except (SchemaError, ValueError) as exc:
            raise Unusable(f"cannot use the dataset metadata: {exc}") from None
        self.notes.extend(schema_notes(schema))
        return Count(departement_count(departement, self.where), counted_by(1))

    def params(self, count: Count) -> dict[str, str | int]:
        """A count's query parameters, with the grouped limit accepted so far."""
        return {**count.params, "limit": self.limits.current}

    def answered(self, count: Count, limit: int, load: Callable[[], Any]) -> Count | list[Group]:
        """``count``, sent with ``limit``, answered: the next count, or the groups to pack."""
        assert self.schema is not None
        accepted = self.limits.accepted(limit)
        if accepted:
            self.notes.append((logging.INFO, accepted))
        keys = tuple(self.schema.field(name) for name in LEVELS[: count.depth])
        try:
            counts = parse_groups(load(), keys)
        except (SchemaError, ValueError) as exc:
            raise Unusable(f"cannot read the row counts: {exc}") from None
        if count.groups is not None:
            groups, warning = refine(count.groups, counts, self.partition_rows, limit)
            if warning:
                self.note(warning)
                return groups
            return self.finer(groups, count.depth)
        problem = cut_departements(len(counts), limit)
        if problem:
            raise Unusable(problem, f"Cannot plan the partitions: {problem}")
        return self.finer([Group(key, n) for key, n in counts], 1)

    def finer(self, groups: list[Group], depth: int) -> Count | list[Group]:
        """The count by one more level of the groups of ``depth`` levels that are bigger
        than a partition, or the groups to pack when none is (or no level is left)."""
        assert self.schema is not None
        try:
            params = finer_count(groups, depth, self.partition_rows, self.schema, self.where)
        except SchemaError as exc:  # no field to split by: bigger exports, no row lost
            self.note(
                f"{exc}: {groups_named(depth)} bigger than CPF_PARTITION_ROWS are exported "
                f"whole, not split by {LEVEL_NAMES[depth]}"
            )
            return groups
        if params is None:
            return groups
        return Count(params, counted_by(depth + 1), groups, depth + 1)

    def note(self, warning: str) -> None:
        """A warning for the log and the run summary: a count that cost no row."""
        self.notes.append((logging.WARNING, sentence(warning)))
        self.warnings.append(warning)

    def refused(self, sent: int, status: int, body: bytes) -> str | None:
        """A count sent with ``limit=sent`` failed with HTTP ``status``: if the portal
        refused that limit and a smaller one is left, the debug line that says so (the
        count is sent again, see :meth:`params`); else None."""
        smaller = self.limits.smaller(sent, status, body)
        if smaller is None:
            return None
        limit, message = smaller
        return f"Grouped limit={sent} refused ({message}); trying limit={limit}"

    def failed(self, reason: str, status: int | None) -> str:
        """A count failed for good: its reason, with the limits refused after a 400."""
        if status == 400 and self.limits.refused:
            return f"{reason} (group_by limits refused: {self.limits.tried()})"
        return reason

    def partitions(self, groups: list[Group]) -> tuple[list[Partition], dict[int, str]]:
        """The partitions the groups pack into, and each one's full ODSQL condition."""
        assert self.schema is not None
        partitions = plan_partitions(groups, self.partition_rows, self.args["max_records"])
        # A level's field is needed only by the groups split by it, found when splitting.
        fields = tuple(self.schema.actual.get(name, name) for name in LEVELS)
        queries = {p.number: all_of([self.where, p.where(fields)]) for p in partitions}
        return partitions, queries
