"""Shared fixtures: the project's own speech clip, the shared speech set (skipped when absent)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
SHARED_SPEECH = Path(__file__).resolve().parents[2] / "shared" / "data" / "speech"

JFK_REFERENCE = "and so my fellow americans ask not what your country can do for you ask what you can do for your country"


def normalize(text: str) -> str:
    """Lower-case, drop punctuation, collapse spaces: how the issue compares transcripts."""
    return " ".join(re.sub(r"[^\w\s']", " ", text.lower()).replace("'", "").split())


@pytest.fixture
def jfk_path() -> Path:
    """11 s of JFK's 1961 inaugural address (public domain), 44.1 kHz stereo FLAC."""
    return DATA / "jfk.flac"


@pytest.fixture
def shared_speech() -> Path:
    """The shared speech set next to the checkout; skipped with the reason when a clone has none."""
    if not (SHARED_SPEECH / "manifest.tsv").exists():
        pytest.skip(f"shared speech set not found at {SHARED_SPEECH} (only present beside the project's checkout)")
    return SHARED_SPEECH
