"""``scrapy entrepot cpfft.duckdb [--formations FILE] [--offres FILE] [--changements FILE]``.

Loads both sources into one DuckDB file (see :mod:`cpfft.entrepot.load`), with their
history (:mod:`cpfft.entrepot.history`), and computes the ``metiers`` bridge
(:mod:`cpfft.entrepot.metiers`), optionally also written as CSV (``--metiers-csv``) or
Parquet (``--metiers-parquet``). Without the file options, every run kept under
``CPFFT_OUTPUT_DIR`` that the warehouse does not hold yet, in order
(:func:`cpfft.entrepot.runs.scheduled`); ``--reconstruire`` replays them all. Prints a
short French summary. A bad input or setting: one line ``cpfft: error: …`` on stderr,
exit 2, the previous warehouse untouched; the same, exit 1, when the build itself
fails (out of memory, disk full).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from scrapy.commands import ScrapyCommand

from cpfft.config import check_common_settings, check_delimiter, check_schema
from cpfft.entrepot import postgresql
from cpfft.errors import ConfigurationError, first_line
from cpfft.rapport.fr import accord, date
from cpfft.run.output import output_dir

if TYPE_CHECKING:
    import argparse

    from cpfft.entrepot.load import LoadSummary, RunSummary

EXIT_FAILED = 1
EXIT_USAGE = 2


def number(value: int) -> str:
    """1234567 → « 1 234 567 » (French thousands separator)."""
    return f"{value:,}".replace(",", "\u202f")


class Command(ScrapyCommand):
    requires_project = True
    default_settings = {"LOG_ENABLED": False}  # noqa: RUF012 - Scrapy's own attribute

    def syntax(self) -> str:
        return (
            "WAREHOUSE.duckdb [--formations FILE] [--offres FILE [--changements FILE]] "
            "[--reconstruire]"
        )

    def short_desc(self) -> str:
        return "Load the latest outputs into a DuckDB warehouse, with the jobs ↔ trainings bridge"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument("--formations", metavar="FILE",
                            help="catalogue output (CSV or Parquet) of scrapy crawl cpf")  # fmt: skip
        parser.add_argument("--offres", metavar="FILE",
                            help="offers output (CSV or Parquet) of scrapy crawl offres")  # fmt: skip
        parser.add_argument(
            "--changements",
            metavar="FILE",
            help="the offres run's changes file (….changes.csv), whose withdrawn offers are removed",
        )
        parser.add_argument(
            "--reconstruire",
            action="store_true",
            help="rebuild the history from every run kept under CPFFT_OUTPUT_DIR (a lost or "
            "damaged warehouse)",
        )
        parser.add_argument("--metiers-csv", metavar="FILE", help="also write the bridge as CSV")
        parser.add_argument("--metiers-parquet", metavar="FILE",
                            help="also write the bridge as Parquet")  # fmt: skip

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        from cpfft.entrepot.load import BuildError

        #: Inputs loaded without a descriptor: their row count was not checked (said at the end).
        self.unchecked: list[str] = []
        try:
            summary = self.load(args, opts)
        except ConfigurationError as exc:
            print(f"cpfft: error: {exc}", file=sys.stderr)
            sys.exit(EXIT_USAGE)
        except BuildError as exc:
            print(f"cpfft: error: {exc}", file=sys.stderr)
            sys.exit(EXIT_FAILED)
        for line in report(summary):
            print(line)
        for line in self.unchecked:
            print(line, file=sys.stderr)

    def load_postgresql(self, url: str, candidates: dict, exports: dict, delimiter: str,
                        opts: argparse.Namespace) -> LoadSummary:  # fmt: skip
        """Build the warehouse from the schema's copy, then put it in the schema (see
        :mod:`cpfft.entrepot.postgresql`)."""
        from cpfft.entrepot.load import BuildError, build

        assert self.settings is not None
        schema = check_schema(self.settings, "CPFFT_POSTGRESQL_SCHEMA")
        psycopg = postgresql.psycopg_module()
        where = f"{postgresql.shown(url)} (schéma {schema})"
        with tempfile.TemporaryDirectory(prefix="cpfft-entrepot-") as folder:
            local = Path(folder) / "entrepot.duckdb"
            with postgresql.connect(url, schema) as conn:
                try:
                    if not opts.reconstruire:
                        postgresql.download(conn, schema, local)
                    summary = build(local, candidates["formations"], candidates["offres"],
                                    exports, delimiter, rebuild=opts.reconstruire,
                                    shown_as=where)  # fmt: skip
                    if not summary.unchanged:
                        postgresql.upload(conn, schema, local)
                except psycopg.Error as exc:
                    raise BuildError(
                        f"the warehouse could not be loaded into {where} "
                        f"({first_line(exc)[:200]}); the schema is left as it was: check the "
                        "server, the user's rights (CREATE on the base) and its free space, "
                        "and run again"
                    ) from None
        summary.target = where
        return summary

    def load(self, args: list[str], opts: argparse.Namespace) -> LoadSummary:
        from cpfft.datapackage import descriptor_name
        from cpfft.entrepot.inputs import check_input, read_changes
        from cpfft.entrepot.load import build, duckdb_module
        from cpfft.entrepot.runs import Candidates, Run, scheduled

        if len(args) != 1:
            raise ConfigurationError(
                "give the warehouse file, once: scrapy entrepot cpfft.duckdb [--formations FILE] "
                "[--offres FILE] [--changements FILE]"
            )
        assert self.settings is not None
        check_common_settings(self.settings)
        delimiter = check_delimiter(self.settings, "CPFFT_CSV_DELIMITER")
        if opts.reconstruire and (opts.formations or opts.offres or opts.changements):
            raise ConfigurationError(
                "--reconstruire rebuilds the history from every run kept under "
                "CPFFT_OUTPUT_DIR: give it without --formations, --offres and --changements"
            )
        if opts.changements and not opts.offres:
            raise ConfigurationError(
                "--changements is the changes file of the --offres file: give both, or "
                "neither (the runs kept under CPFFT_OUTPUT_DIR bring their own)"
            )
        duckdb_module()  # the extra is there, before any file is looked at
        if postgresql.is_url(args[0]):
            postgresql.psycopg_module()
            postgresql.parts(args[0])  # a malformed address: one line, before any file
        candidates: dict[str, Candidates] = {}
        for source in ("formations", "offres"):
            given = getattr(opts, source)
            if given:
                found = check_input(Path(given), source)
                changes = read_changes(Path(opts.changements)) if source == "offres" and (
                    opts.changements) else None  # fmt: skip
                candidates[source] = Candidates([Run(found, changes)], given=True)
                continue
            base = output_dir(self.settings)
            if base is None:
                raise ConfigurationError(
                    f"no --{source} file, and CPFFT_OUTPUT_DIR is not set: give --formations "
                    "FILE --offres FILE, or set CPFFT_OUTPUT_DIR to the scheduled runs' folder"
                )
            candidates[source] = scheduled(base, source)
        exports = {}
        if opts.metiers_csv:
            exports["csv"] = Path(opts.metiers_csv)
        if opts.metiers_parquet:
            exports["parquet"] = Path(opts.metiers_parquet)
        for kind, path in exports.items():
            if not path.parent.is_dir():
                raise ConfigurationError(
                    f"--metiers-{kind} {path}: the folder {path.parent} does not exist; create "
                    "it or choose another path"
                )
        if postgresql.is_url(args[0]):
            summary = self.load_postgresql(args[0], candidates, exports, delimiter, opts)
        else:
            summary = build(Path(args[0]), candidates["formations"], candidates["offres"],
                            exports, delimiter, rebuild=opts.reconstruire)  # fmt: skip
        # Said once the load is done (an error stays one line): no row count to check.
        self.unchecked = [
            f"attention : {done.input.path} n'a pas de descripteur "
            f"({descriptor_name(done.input.path.name)}) : son nombre de lignes n'a pas pu être "
            "vérifié ; chargez de préférence la sortie d'une exécution complète, qui en a un"
            for done in summary.runs
            if done.input.descriptor is None
        ]
        for line in summary.notes:
            print(line, file=sys.stderr)
        return summary


def run_lines(done: RunSummary) -> list[str]:
    """What loading one run did, in French."""
    step = done.step
    lines = []
    if step is not None:
        what = "formations" if done.input.source == "formations" else "offres"
        kind = "partielle (depuis=dernier)" if done.partial else "complète"
        counts = (
            "début de l'historique"
            if step.first
            else f"{number(step.added)} {accord(step.added, 'ajoutée')}, {number(step.updated)} "
            f"{accord(step.updated, 'modifiée')}, {number(step.withdrawn)} "
            f"{accord(step.withdrawn, 'retirée')}"
        )
        lines.append(
            f"Chargé : {what}, exécution {kind} extraite le {date(done.input.extracted_at)} "
            f"({done.input.path.name}) : {number(step.online)} en ligne ; {counts}."
        )
    if done.partial:
        lines.append(
            f"Offres (exécution partielle depuis=dernier) : {number(done.upserted)} lignes du "
            f"fichier ajoutées ou remplacées, {number(done.kept)} conservées de l'entrepôt "
            f"précédent, {number(done.removed)} retirées supprimées."
        )
    if done.withdrawn_listed or done.changed_listed:
        lines.append(
            f"Fichier des changements : {number(done.changed_listed)} ajoutées ou modifiées "
            f"({number(done.changed_found)} présentes dans le fichier des offres), "
            f"{number(done.withdrawn_listed)} retirées (absentes de l'entrepôt)."
        )
    return lines


def history_lines(summary: LoadSummary) -> list[str]:
    """Where the history stands."""
    lines = []
    if not summary.history_kept:
        lines.append(
            "Historique : commence avec ce chargement (tables chargements, offres_historique, "
            "formations_historique, jours)."
        )
    for source, count in summary.already.items():
        if count and not any(d.input.source == source for d in summary.runs):
            lines.append(f"{source.capitalize()} : rien de nouveau (dernière exécution déjà "
                         "chargée), table reprise de l'entrepôt précédent.")  # fmt: skip
    return lines


def report(summary: LoadSummary) -> list[str]:
    """The French summary printed after a load."""
    if summary.unchanged:
        lines = [
            (
                f"Entrepôt {summary.target} déjà à jour : aucune exécution nouvelle depuis le "
                "dernier chargement ; rien n'a changé."
            )
        ]
        lines += [f"Table metiers écrite dans {path}." for path in summary.exports]
        return lines
    rows = summary.rows
    lines = [
        (
            f"Entrepôt {summary.target} : {number(rows['formations'])} lignes de formations, "
            f"{number(rows['offres'])} offres."
        )
    ]
    for done in summary.runs:
        lines.extend(run_lines(done))
    lines.extend(history_lines(summary))
    bridge = summary.bridge
    if bridge is not None:
        lines.append(
            f"Métiers (codes ROME) : {number(bridge.codes_both)} présents des deux côtés, "
            f"{number(bridge.codes_offers_only)} dans les offres seulement, "
            f"{number(bridge.codes_trainings_only)} dans les formations seulement (les versions "
            f"du ROME diffèrent d'une source à l'autre) ; {number(bridge.rows)} lignes."
        )
        lines.append(
            f"Salaires : {number(bridge.salaries_read)} offres au salaire lisible (dont "
            f"{number(bridge.salaries_from_comment)} {accord(bridge.salaries_from_comment, 'lue')} "
            f"dans le seul commentaire), {number(bridge.salaries_unreadable)} "
            f"{accord(bridge.salaries_unreadable, 'illisible')} (non "
            f"{accord(bridge.salaries_unreadable, 'comptée')} dans la médiane), "
            f"{number(bridge.salaries_missing)} sans salaire."
        )
        if bridge.rows_without_hours or bridge.rows_without_price:
            lines.append(
                f"Formations : {number(bridge.rows_without_hours)} lignes sans durée et "
                f"{number(bridge.rows_without_price)} sans prix (0 ou vide : non donné), hors "
                "des médianes et quartiles."
            )
        if bridge.offers_without_code:
            lines.append(f"{number(bridge.offers_without_code)} offres sans code ROME "
                         "(hors de la table metiers).")  # fmt: skip
    for name, count in summary.rounded.items():
        lines.append(f"note : {name} : {number(count)} valeurs non entières arrondies.")
    for path in summary.exports:
        lines.append(f"Table metiers écrite dans {path}.")
    return lines
