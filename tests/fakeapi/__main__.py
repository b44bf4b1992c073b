"""Run an emulator standalone: ``python -m tests.fakeapi ods --port 8001 --rows 60000``.

Every knob of the emulator's config is a ``--option`` (``--latency-ms 30``,
``--fail-rate-5xx 0.1``, ``--schema alias``…); a boolean one alone means true
(``--compare-ms`` = ``--compare-ms true``). France Travail's open questions have
these too: ``--bound-zone Europe/Paris`` (or ``+02:00``), ``--max-exclusive``
(= ``--max-inclusive false``), ``--compare-ms``, ``--max-start 1000``, ``--rate 3``
(= ``--rate-per-second 3``) and ``--rate-burst 5`` (default: one second's worth of
the rate). ``--profile sonde.json`` starts from what ``scrapy sonde`` measured on the
live service (each flag given still overrides it). Point cpfft at it with ``CPF_API_URL=http://127.0.0.1:8001``. The
first line printed is the base URL.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
import types
import typing

from tests.fakeapi import profile
from tests.fakeapi.francetravail import FtConfig, FtEmulator
from tests.fakeapi.ods import OdsConfig, OdsEmulator
from tests.fakeapi.server import ServerThread

EMULATORS = {"ods": (OdsConfig, OdsEmulator), "francetravail": (FtConfig, FtEmulator)}
# Shorter spellings of some knobs' flags, kept alongside the knob's own --option.
ALIASES = {"rate_per_second": ["--rate"]}
# Flags that set a boolean knob to False: (flag, knob).
NEGATIONS = {FtConfig: [("--max-exclusive", "max_inclusive")]}
HELP = {
    "bound_zone": "how the creation-date bounds' wall time is read: UTC, an IANA zone such as "
    "Europe/Paris, or a fixed offset such as +02:00 (a negative one as --bound-zone=-05:00); "
    "default UTC",
    "max_inclusive": "maxCreationDate includes its bound (default true)",
    "compare_ms": "bounds compare with the creation time to the millisecond, not the second",
    "max_start": "the largest first index of a range window (default 3000)",
    "rate_per_second": "calls per second and per client before 429 (default 10)",
    "rate_burst": "token bucket capacity (default: the rate rounded up, at least 1)",
    "now": "the dataset's clock, yyyy-MM-ddTHH:mm:ssZ (default: the current time)",
}


def boolean(value: str) -> bool:
    if value.lower() in ("1", "true", "yes"):
        return True
    if value.lower() in ("0", "false", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, not {value!r}")


def knob_type(config_cls: type, field: dataclasses.Field) -> type:
    """The type a flag's value converts to; for ``int | None`` knobs, int."""
    if field.default is not None:
        return type(field.default)
    hint = typing.get_type_hints(config_cls)[field.name]
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return next(t for t in typing.get_args(hint) if t is not type(None))
    return hint


def build(api: str, argv: list[str]) -> tuple[argparse.Namespace, object]:
    """Parse the options of emulator ``api``: the options, and its emulator configured."""
    config_cls, emulator_cls = EMULATORS[api]
    parser = argparse.ArgumentParser(prog=f"python -m tests.fakeapi {api}")
    parser.add_argument("--host", default="127.0.0.1", help="loopback address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="0 = any free port")
    parser.add_argument("--profile", help="a JSON profile written by `scrapy sonde`: its "
                        "measured knobs become the defaults (flags still override them)")  # fmt: skip
    knobs = [f.name for f in dataclasses.fields(config_cls) if f.default is not dataclasses.MISSING]
    for field in dataclasses.fields(config_cls):
        if field.default is dataclasses.MISSING:
            continue  # e.g. the credentials table: fixed defaults, see the module
        kind = knob_type(config_cls, field)
        flags = ["--" + field.name.replace("_", "-"), *ALIASES.get(field.name, [])]
        text = HELP.get(field.name, f"default {field.default}")
        if kind is bool:
            parser.add_argument(*flags, dest=field.name, type=boolean, nargs="?", const=True,
                                default=field.default, help=text)  # fmt: skip
        else:
            parser.add_argument(*flags, dest=field.name, type=kind, default=field.default,
                                help=text)  # fmt: skip
    for flag, knob in NEGATIONS.get(config_cls, []):
        parser.add_argument(flag, dest=knob, action="store_false", default=argparse.SUPPRESS,
                            help=f"same as --{knob.replace('_', '-')} false")  # fmt: skip
    first, _ = parser.parse_known_args(argv)
    if first.profile:
        try:
            parser.set_defaults(**profile.knobs(profile.load(first.profile), api))
        except ValueError as exc:
            parser.error(str(exc))
    options = parser.parse_args(argv)
    config = config_cls(**{k: getattr(options, k) for k in knobs})
    try:
        return options, emulator_cls(config)
    except (ValueError, KeyError) as exc:  # e.g. an unknown --bound-zone
        parser.error(str(exc))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in EMULATORS:
        print(f"usage: python -m tests.fakeapi {{{','.join(EMULATORS)}}} [--help] [options]",
              file=sys.stderr)  # fmt: skip
        return 2
    api = argv[0]
    options, emulator = build(api, argv[1:])
    _ = emulator.dataset  # build the data before announcing the URL
    server = ServerThread(emulator.app(), options.host, options.port).start()
    print(server.url, flush=True)
    print(f"{api} emulator ready; Ctrl-C to stop",
          file=sys.stderr, flush=True)  # fmt: skip
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
