"""Start an emulator from a ``scrapy sonde`` profile: what a live service answered becomes
the emulator's knobs (``python -m tests.fakeapi francetravail --profile sonde.json``).

A profile's sections are named for the API (``opendatasoft``, ``francetravail``); each
has ``knobs`` named exactly as the emulator's config fields. Knobs the probe could not
measure are absent, so the emulator keeps its default for them.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from tests.fakeapi.francetravail import FtConfig
from tests.fakeapi.ods import OdsConfig

SECTIONS = {"ods": ("opendatasoft", OdsConfig), "francetravail": ("francetravail", FtConfig)}
VERSION = 1


def load(path: str | Path) -> dict[str, Any]:
    try:
        profile = json.loads(Path(path).read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read the profile {path}: {exc}") from None
    if not isinstance(profile, dict) or profile.get("cpfft_sonde") != VERSION:
        raise ValueError(f"{path} is not a profile written by scrapy sonde (version {VERSION})")
    return profile


def knobs(profile: dict[str, Any], api: str) -> dict[str, Any]:
    """The emulator knobs of ``api`` (``ods`` or ``francetravail``) the profile measured."""
    section_name, config_cls = SECTIONS[api]
    section = profile.get(section_name) or {}
    if "knobs" not in section:
        raise ValueError(f"the profile has no {section_name!r} section (probe it with --source)")
    fields = {f.name for f in dataclasses.fields(config_cls)}
    measured = dict(section.get("knobs") or {})
    unknown = sorted(set(measured) - fields)
    if unknown:
        raise ValueError(f"the profile sets knobs the {api} emulator lacks: {', '.join(unknown)}")
    return measured
