"""Run an emulator standalone: ``python -m tests.fakeapi ods --port 8001 --rows 60000``.

Every knob of the emulator's config is a ``--option`` (``--latency-ms 30``,
``--fail-rate-5xx 0.1``, ``--schema alias``…). Point cpfft at it with
``CPF_API_URL=http://127.0.0.1:8001``. The first line printed is the base URL.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time

from tests.fakeapi.francetravail import FtConfig, FtEmulator
from tests.fakeapi.ods import OdsConfig, OdsEmulator
from tests.fakeapi.server import ServerThread

EMULATORS = {"ods": (OdsConfig, OdsEmulator), "francetravail": (FtConfig, FtEmulator)}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in EMULATORS:
        print(f"usage: python -m tests.fakeapi {{{','.join(EMULATORS)}}} [--help] [options]",
              file=sys.stderr)  # fmt: skip
        return 2
    api = argv[0]
    config_cls, emulator_cls = EMULATORS[api]
    parser = argparse.ArgumentParser(prog=f"python -m tests.fakeapi {api}")
    parser.add_argument("--host", default="127.0.0.1", help="loopback address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="0 = any free port")
    knobs = [f.name for f in dataclasses.fields(config_cls) if f.default is not dataclasses.MISSING]
    for field in dataclasses.fields(config_cls):
        if field.default is dataclasses.MISSING:
            continue  # e.g. the credentials table: fixed defaults, see the module
        kind = type(field.default)
        flag = "--" + field.name.replace("_", "-")
        if kind is bool:
            parser.add_argument(flag, type=lambda v: v.lower() in ("1", "true", "yes"),
                                default=field.default, help=f"default {field.default}")  # fmt: skip
        else:
            parser.add_argument(
                flag, type=kind, default=field.default, help=f"default {field.default}"
            )
    options = parser.parse_args(argv[1:])
    config = config_cls(**{k: getattr(options, k) for k in knobs})
    emulator = emulator_cls(config)
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
