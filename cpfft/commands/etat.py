"""``scrapy etat [--max-age 26h] [-o etat.json] [--dossier DIR] [--dernieres N]
[--seulement-alertes]``: the
last runs of every query under ``CPFFT_OUTPUT_DIR``, and an exit code for monitoring.

Reads the status records the runs left (:mod:`cpfft.run.status`), prints per query its
last runs (start, status, rows, age, log or cause), in French. With ``--max-age``,
exits 1 when a query needs someone (its newest finished run not COMPLETE, or its newest
complete run older than that, or a run still going after that long), with one
``alerte :`` line per query: a cron ``MAILTO``, a systemd ``OnFailure=`` or any
monitoring check can act on it (``--seulement-alertes``: nothing else, so that cron
mails only then). ``-o FILE`` writes the same as JSON. Bad options: one
line, exit 2.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy.commands import ScrapyCommand

from cpfft.commands import quiet_unless_asked
from cpfft.errors import ConfigurationError, shown
from cpfft.rapport.fr import compte
from cpfft.run.output import output_dir, write_atomically
from cpfft.run.status import COMPLETE, age_text, alert, parse_duration, read_records, when

if TYPE_CHECKING:
    import argparse
    from datetime import timedelta

    from cpfft.run.status import RunRecord

EXIT_ALERT = 1
EXIT_USAGE = 2


def run_line(record: RunRecord, now: datetime) -> str:
    rows = "" if record.rows is None else compte(record.rows, "ligne")
    line = f"  {when(record.started_at)}  {record.status:<10}  {rows:>15}  il y a "
    line += age_text(now - record.started_at)
    if record.status != COMPLETE and record.cause:
        line += f"  cause : {record.cause}"
    if record.log:
        line += f"  journal : {record.log}"
    return line


def report(
    base: Path, now: datetime, max_age: timedelta | None, last: int, shown: str | None = None
) -> tuple[list[str], dict[str, Any], bool]:
    """The lines to print, the JSON document, and whether a query needs someone (``shown``:
    the maximum age as the user wrote it)."""
    limit = shown or (age_text(max_age) if max_age else "")
    queries, unreadable = read_records(base)
    lines = [f"Exécutions sous {base} ({when(now)})"]
    document: dict[str, Any] = {
        "genere": now.isoformat(timespec="seconds"),
        "dossier": str(base),
        "max_age_secondes": max_age.total_seconds() if max_age else None,
        "requetes": [],
        "illisibles": unreadable,
    }
    alerts = [f"alerte : fichier d'état illisible {name}" for name in unreadable]
    if not queries:
        lines.append("  aucune exécution enregistrée (une exécution sans -O en laisse une)")
        if max_age is not None:
            alerts.append(f"alerte : aucune exécution enregistrée sous {base}")
    for query, runs in sorted(queries.items()):
        problem = alert(runs, now, max_age, limit) if max_age is not None else None
        lines.append(f"{query} ({compte(len(runs), 'exécution')})")
        lines += [run_line(r, now) for r in reversed(runs[-last:])]
        if problem:
            alerts.append(f"alerte : {query} : {problem}")
        document["requetes"].append(
            {"requete": query, "alerte": problem, "executions": [r.as_json() for r in runs[-last:]]}
        )
    lines += alerts
    if max_age is not None and not alerts:
        lines.append(
            f"tout va bien : {compte(len(queries), 'requête')}, chacune "
            f"complète il y a moins de {limit}"
        )
    document["alertes"] = alerts
    return lines, document, bool(alerts)


class Command(ScrapyCommand):
    requires_project = True

    def syntax(self) -> str:
        return (
            "[--max-age 26h] [-o etat.json] [--dossier DIR] [--dernieres N] [--seulement-alertes]"
        )

    def short_desc(self) -> str:
        return "État des exécutions planifiées sous CPFFT_OUTPUT_DIR (code 1 si une requête alerte)"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument(
            "--max-age",
            help="alerte (code 1) si la dernière exécution d'une requête n'est pas complète "
            "ou plus vieille que cela, p. ex. 26h, 90min, 2j",
        )
        parser.add_argument("-o", "--output", help="écrit aussi l'état en JSON dans ce fichier")
        parser.add_argument("--dossier", help="dossier des exécutions (défaut CPFFT_OUTPUT_DIR)")
        parser.add_argument(
            "--dernieres", default="3", help="exécutions montrées par requête (défaut 3)"
        )
        parser.add_argument(
            "--seulement-alertes",
            action="store_true",
            help="n'écrit que les alertes, rien quand tout va bien (cron n'envoie alors aucun "
            "courriel)",
        )

    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        super().process_options(args, opts)
        assert self.settings is not None
        quiet_unless_asked(self.settings)

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        try:
            base, max_age, last = self.options(args, opts)
            shown = opts.max_age.strip() if opts.max_age else None
            lines, document, alerting = report(base, datetime.now(UTC), max_age, last, shown)
            if opts.output:
                write_atomically(
                    Path(opts.output), json.dumps(document, ensure_ascii=False, indent=1) + "\n"
                )
        except (ConfigurationError, OSError) as exc:
            message = (
                str(exc) if isinstance(exc, ConfigurationError) else f"-o {opts.output}: {exc}"
            )
            print(f"cpfft: error: {message}", file=sys.stderr)
            sys.exit(EXIT_USAGE)
        if opts.seulement_alertes:
            lines = [line for line in lines if line.startswith("alerte :")]
        if lines:
            print("\n".join(lines))
        if alerting:
            sys.exit(EXIT_ALERT)

    def options(self, args: list[str], opts: argparse.Namespace) -> tuple[Path, Any, int]:
        assert self.settings is not None
        if args:
            raise ConfigurationError(
                f"scrapy etat takes no argument ({shown(' '.join(args))}); the folder is "
                "--dossier DIR or CPFFT_OUTPUT_DIR"
            )
        if opts.dossier:
            base = Path(opts.dossier)
        else:
            found = output_dir(self.settings)
            if found is None:
                raise ConfigurationError(
                    "no folder: set CPFFT_OUTPUT_DIR (where scheduled runs write) or give "
                    "--dossier DIR"
                )
            base = found
        if not base.is_dir():
            raise ConfigurationError(f"{base}: no such folder; check CPFFT_OUTPUT_DIR or --dossier")
        max_age = None
        if opts.max_age is not None:
            try:
                max_age = parse_duration(opts.max_age)
            except ValueError:
                raise ConfigurationError(
                    f"--max-age {shown(opts.max_age)}: not a duration; e.g. 26h, 90min, 2j, 1h30m"
                ) from None
        try:
            last = int(opts.dernieres)
            if last < 1:
                raise ValueError
        except ValueError:
            raise ConfigurationError(
                f"--dernieres {shown(opts.dernieres)}: give a whole number, 1 or more"
            ) from None
        return base, max_age, last
