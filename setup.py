"""Only for scrapyd-deploy, which builds eggs with ``python setup.py bdist_egg``;
all the metadata lives in pyproject.toml (packages: cpfft only, never tests)."""

from setuptools import setup

setup()
