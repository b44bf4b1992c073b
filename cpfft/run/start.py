"""What a run decides once, as its spider is made: its output file, and whether it resumes.

- Without ``-O``/``-o`` (a scheduled run), the run writes a timestamped file in
  its query's folder under ``CPFFT_OUTPUT_DIR`` (:mod:`cpfft.run.output`).
- With ``-s JOBDIR=…``, the run is recorded in the job directory's journal; a
  run of the same command that was interrupted there is resumed: it goes on
  appending to the same file, cut back to its last whole row first
  (:mod:`cpfft.run.resume`).

:func:`prepare` is called from :meth:`cpfft.run.contract.ApiSpider.from_crawler`,
where Scrapy still lets a spider change its crawler's settings: so ``scrapy
crawl``, a scrapyd job and a script's ``CrawlerProcess`` get the same files. The
crawl command calls it first with ``create=False``, to refuse a mistake in one
line before Scrapy starts (nothing created, nothing touched).

It tells the components through settings only they read (declared in
``cpfft/settings.py``): ``FEEDS``, ``CPFFT_RUN_OUTPUT`` (the timestamped file),
``CPFFT_RESUME_FROM`` and ``CPFFT_RESUME_REPAIRED`` (the file resumed, and the
bytes of a torn last row cut from it).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from cpfft.errors import ConfigurationError
from cpfft.run.output import query_folder, set_aside_name, timestamped_output, working_file
from cpfft.run.resume import RUNNING, Journal, header_of, repair_tail

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

#: Priority of what :func:`prepare` sets: that of ``-O``, which it stands in for.
PRIORITY = "cmdline"


def prepare(
    settings: BaseSettings,
    name: str,
    arguments: dict[str, Any],
    parsed: dict[str, Any],
    label: str | None,
    *,
    create: bool,
) -> Path | None:
    """Set this run's output (and resumption) in ``settings``; return the timestamped
    file of a scheduled run, else None.

    ``arguments``: the spider arguments as given (scrapyd's ``_job`` included);
    ``parsed``: as the spider's checks parsed them; ``label``: a word for the file name
    (:meth:`~cpfft.run.contract.ApiSpider.output_label`). With ``create`` false, checks
    only: no folder made, no journal written, no file repaired. Raises
    :class:`~cpfft.errors.ConfigurationError` (one line).
    """
    journal = Journal.of(settings)
    path = None
    if not settings.getdict("FEEDS"):
        # A scheduled run, unless it resumes an interrupted one, which goes on writing its file.
        path = resumed_output(journal, name) or timestamped_output(
            settings, name, arguments.get("_job"), label, query=query_folder(parsed), create=create
        )
        settings.set("FEEDS", {str(path): {"format": "csv", "overwrite": True}}, PRIORITY)
        settings.set("CPFFT_RUN_OUTPUT", str(path), PRIORITY)
    if journal is not None:
        resume(journal, settings, name, arguments, create=create)
    return path


def resumed_output(journal: Journal | None, name: str) -> Path | None:
    """The file an interrupted run of ``name`` recorded in the journal, if any."""
    if journal is None or journal.get("status") != RUNNING or journal.get("spider") != name:
        return None
    return Path(journal.get("output"))


def resume(
    journal: Journal,
    settings: BaseSettings,
    name: str,
    arguments: dict[str, Any],
    *,
    create: bool,
) -> None:
    """Record this run in JOBDIR, or set up the resumption of the one recorded there."""
    feeds = settings.getdict("FEEDS")
    uri, options = next(iter(feeds.items())) if len(feeds) == 1 else ("", {})
    local = uri.removeprefix("file://")
    if not local or "://" in local or local == "-":
        raise ConfigurationError(
            "-s JOBDIR: resuming needs exactly one local output file (-O file.csv)"
        )
    if str(options.get("format", "csv")).lower() != "csv":
        # A resumed run appends whole rows to the file it finds; only a CSV file can be
        # checked and cut back to its last whole row, then appended to.
        raise ConfigurationError(
            f"-s JOBDIR: resuming works with a CSV output only, not {options.get('format')} "
            "(-O file.csv); run without JOBDIR for this format"
        )
    path = Path(local).absolute()
    own = {k: v for k, v in arguments.items() if not k.startswith("_")}
    if not create:
        journal.resumes(name, own, str(path))  # refuses another command's JOBDIR
        return
    if not journal.begin(name, own, str(path)):
        return
    run_output = settings.get("CPFFT_RUN_OUTPUT")
    working = working_file(path, run_output)
    if working is None:  # the scheduled run's file, written in place
        aside = set_aside_name(path)
        if not path.exists() and aside.exists():
            aside.replace(path)  # a stopped scheduled run had set its file aside
        working = path
    if not working.exists():
        return
    removed = repair_tail(working)
    if not header_of(working, settings.get("CPFFT_CSV_DELIMITER", ",")):
        return  # not even a header: start the file again
    options = {**options, "overwrite": False,
               "item_export_kwargs": {"include_headers_line": False}}  # fmt: skip
    settings.set("FEEDS", {uri: options}, PRIORITY)
    settings.set("CPFFT_RESUME_FROM", str(working), PRIORITY)
    settings.set("CPFFT_RESUME_REPAIRED", removed, PRIORITY)
