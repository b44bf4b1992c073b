"""Fixtures of the report's tests (the warehouse itself is built in warehouse.py)."""

from __future__ import annotations

import duckdb
import pytest

from tests.rapport.warehouse import build


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    """A read-only connection to the hand-built warehouse, one per test module."""
    path = build(tmp_path_factory.mktemp("entrepot") / "cpfft.duckdb")
    connection = duckdb.connect(str(path), read_only=True)
    yield connection
    connection.close()
