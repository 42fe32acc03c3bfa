"""Hook implementations of the built-in ``whisper-decode`` plugin."""

from __future__ import annotations

from typing import Callable

from mediakit import hookimpl
from mediakit.config import DecodeOptions


def make_whisper_decoder(options: DecodeOptions):
    """Factory for the ``whisper`` decoder (imports torch only when a decoder is made)."""
    from .decoder import WhisperDecoder

    return WhisperDecoder(options)


@hookimpl(trylast=True)
def mediakit_register_decoders(register: Callable[..., None]) -> None:
    register("whisper", make_whisper_decoder)
