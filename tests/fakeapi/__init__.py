"""Loopback emulators of the APIs cpfft talks to (see README, « Émulateurs »).

- :mod:`tests.fakeapi.ods`: the Caisse des Dépôts Opendatasoft portal (CPF catalogue);
- :mod:`tests.fakeapi.francetravail`: France Travail's OAuth2 token endpoint and
  « Offres d'emploi v2 » API.

Run one standalone with ``python -m tests.fakeapi ods --help``.
"""

from tests.fakeapi.francetravail import FtConfig, FtEmulator
from tests.fakeapi.ods import OdsConfig, OdsEmulator
from tests.fakeapi.server import ServerThread

__all__ = ["FtConfig", "FtEmulator", "OdsConfig", "OdsEmulator", "ServerThread"]
