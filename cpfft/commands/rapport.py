"""``scrapy rapport cpfft.duckdb [-O rapport.html] [--region …] [--departement …] [--theme …]
[--rome …]``: the warehouse as one self-contained French HTML report.

Reads the warehouse ``scrapy entrepot`` wrote (read-only), computes the figures
(:mod:`cpfft.rapport.figures`) and writes the page (:mod:`cpfft.rapport.html`)
to a temporary file beside the output, then renames it over the output: a
failure leaves an existing report untouched. A missing file, a file that is not
a warehouse, a bad filter or a missing analysis extra → one line on stderr,
exit 2, nothing written.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy.commands import ScrapyCommand

from cpfft.commands import quiet_unless_asked
from cpfft.config import check_schema
from cpfft.cpf.plan import themes_from
from cpfft.cpf.themes import THEMES_BY_ID, theme_parser
from cpfft.entrepot import postgresql
from cpfft.errors import ConfigurationError, analysis_module, first_line, shown
from cpfft.geo import (
    DEPARTEMENTS_BY_CODE,
    REGIONS_BY_CODE,
    UnknownPlace,
    find_departement,
    find_region,
)
from cpfft.params import integer
from cpfft.run.output import write_atomically

if TYPE_CHECKING:
    import argparse

    from cpfft.rapport.figures import Filtres

EXIT_USAGE = 2
ROME_CODE = re.compile(r"[A-N]\d{4}")


def parse_filters(opts: argparse.Namespace, settings: Any) -> Filtres:
    """The options as checked :class:`~cpfft.rapport.figures.Filtres` (ConfigurationError)."""
    from cpfft.rapport.figures import Filtres

    region = departement = theme = rome = None
    try:
        if opts.region is not None:
            region = find_region(opts.region)
    except UnknownPlace as exc:
        raise ConfigurationError(f"--region: {exc}") from None
    try:
        if opts.departement is not None:
            departement = find_departement(opts.departement)
    except UnknownPlace as exc:
        raise ConfigurationError(f"--departement: {exc}") from None
    if region and departement and DEPARTEMENTS_BY_CODE[departement].region != region:
        dep = DEPARTEMENTS_BY_CODE[departement]
        raise ConfigurationError(
            f"--departement {departement} ({dep.name}) is not in region {region} "
            f"({REGIONS_BY_CODE[region].name}); give one of them, or a département of that region"
        )
    themes = themes_from(settings)
    if opts.theme is not None:
        try:
            theme = theme_parser(themes)(opts.theme.strip())
        except ValueError as exc:
            raise ConfigurationError(f"--theme: {exc}") from None
    if opts.rome is not None:
        rome = opts.rome.strip().upper()
        if not ROME_CODE.fullmatch(rome):
            raise ConfigurationError(
                f"--rome: {shown(opts.rome)} is not a ROME code. Expected a letter A-N and four "
                "digits, e.g. M1805"
            )
    try:
        min_offres = integer(1, 10**9)(str(opts.min_offres).strip())
    except ValueError as exc:
        raise ConfigurationError(f"--min-offres: {exc}") from None
    builtin = THEMES_BY_ID.get(theme) if theme else None
    return Filtres(
        region=region,
        departement=departement,
        theme=theme,
        theme_label=builtin.label if builtin else theme,
        nsf=tuple(themes[theme]) if theme else (),
        rome=rome,
        min_offres=min_offres,
    )


def build(warehouse: Path, filters: Filtres) -> str:
    """The page's HTML, or ConfigurationError naming what is wrong with the warehouse."""
    from cpfft.rapport import figures, html

    duckdb = analysis_module("duckdb", "scrapy rapport")  # the optional analysis extra
    if not warehouse.is_file():
        raise ConfigurationError(
            f"{warehouse}: no such file; build the warehouse first: scrapy entrepot {warehouse}"
        )
    rebuild = f"rebuild it with scrapy entrepot {warehouse}"
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error as exc:
        reason = first_line(exc)
        if "lock" in reason.lower():
            raise ConfigurationError(
                f"{warehouse} is open for writing in another program ({reason}); close it, "
                "then run scrapy rapport again"
            ) from None
        raise ConfigurationError(
            f"{warehouse} is not a DuckDB warehouse ({reason}); {rebuild}"
        ) from None
    try:
        figures.check_warehouse(con)
        missing = {"formations", "offres"} - set(figures.extractions(con))
        if missing:
            raise figures.NotAWarehouse(f"its sources table has no row for {', '.join(missing)}")
        if filters.rome and not figures.rome_known(con, filters.rome):
            raise ConfigurationError(
                f"--rome {filters.rome}: no offer and no training of {warehouse} has this ROME "
                "code; check the code (the bridge table metiers lists them)"
            )
        return html.render(figures.rapport(con, filters))
    except figures.NotAWarehouse as exc:
        raise ConfigurationError(
            f"{warehouse} is not a cpfft warehouse: {exc}; {rebuild}"
        ) from None
    except duckdb.Error as exc:
        reason = first_line(exc)
        raise ConfigurationError(f"{warehouse}: could not read it ({reason}); {rebuild}") from None
    finally:
        con.close()


def from_postgresql(url: str, schema: str, filters: Filtres) -> str:
    """The page of a warehouse held in a PostgreSQL schema: its tables are copied into a
    temporary DuckDB file, read as a warehouse file is."""
    psycopg = postgresql.psycopg_module()
    where = f"{postgresql.shown(url)} (schéma {schema})"
    with tempfile.TemporaryDirectory(prefix="cpfft-rapport-") as folder:
        local = Path(folder) / "entrepot.duckdb"
        try:
            with postgresql.connect(url, schema, lock=False) as conn:
                found = postgresql.download(conn, schema, local)
        except psycopg.Error as exc:
            raise ConfigurationError(
                f"{where}: could not read it ({first_line(exc)[:200]})"
            ) from None
        if not found:
            raise ConfigurationError(
                f"{where} has no warehouse yet; build it first: scrapy entrepot {postgresql.shown(url)}"
            )
        try:
            return build(local, filters)
        except ConfigurationError as exc:
            raise ConfigurationError(str(exc).replace(str(local), where)) from None


class Command(ScrapyCommand):
    requires_project = True

    def syntax(self) -> str:
        return (
            "WAREHOUSE.duckdb|postgresql://… [-O rapport.html] [--region R] [--departement D] "
            "[--theme T] [--rome CODE]"
        )

    def short_desc(self) -> str:
        return "Write a self-contained French HTML report from the warehouse (scrapy entrepot)"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument(
            "-O", "--output", default="rapport.html", help="HTML file (default rapport.html)"
        )
        parser.add_argument("--region", help="region code or name, e.g. 11 or Bretagne")
        parser.add_argument("--departement", help="département code or name, e.g. 75 or Gironde")
        parser.add_argument("--theme", help="a catalogue theme of -a theme, e.g. numerique")
        parser.add_argument("--rome", help="a ROME code, e.g. M1805")
        parser.add_argument(
            "--min-offres",
            default="10",
            help="offers a job needs to appear among « many offers, few trainings » (default 10)",
        )

    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        super().process_options(args, opts)
        assert self.settings is not None
        quiet_unless_asked(self.settings)

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        output = Path(opts.output)
        try:
            if len(args) != 1:
                raise ConfigurationError(
                    "give one warehouse file (built by scrapy entrepot), e.g. "
                    "scrapy rapport cpfft.duckdb -O rapport.html"
                )
            filters = parse_filters(opts, self.settings)
            if not output.parent.is_dir():
                raise ConfigurationError(
                    f"-O {output}: the folder {output.parent} does not exist; create it or "
                    "choose another path"
                )
            if postgresql.is_url(args[0]):
                assert self.settings is not None
                schema = check_schema(self.settings, "CPFFT_POSTGRESQL_SCHEMA")
                page = from_postgresql(args[0], schema, filters)
            else:
                warehouse = Path(args[0])
                if warehouse.exists() and output.exists() and output.samefile(warehouse):
                    raise ConfigurationError(
                        f"-O {output} is the warehouse itself: it would be replaced by the "
                        "report; give another file, e.g. -O rapport.html"
                    )
                page = build(warehouse, filters)
            write_atomically(output, page)
        except (ConfigurationError, OSError) as exc:
            message = str(exc) if isinstance(exc, ConfigurationError) else f"-O {output}: {exc}"
            print(f"cpfft: error: {message}", file=sys.stderr)
            sys.exit(EXIT_USAGE)
        print(f"cpfft: rapport écrit : {output} ({len(page.encode('utf-8')) // 1024} Ko)")
