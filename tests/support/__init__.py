"""Helpers shared by several test files (fixtures stay in ``tests/conftest.py``).

Test files import from here, never from ``conftest`` nor from another ``test_*.py``.
"""
