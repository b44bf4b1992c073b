"""Loopback emulators of the APIs cpfft talks to (see README, « Émulateurs »).

- :mod:`tests.fakeapi.ods`: the Caisse des Dépôts Opendatasoft portal (CPF catalogue).

Run one standalone with ``python -m tests.fakeapi ods --help``.
"""

from tests.fakeapi.ods import OdsConfig, OdsEmulator
from tests.fakeapi.server import ServerThread

__all__ = ["OdsConfig", "OdsEmulator", "ServerThread"]
