"""faster-whisper's ``decode_audio``: any media file (or file object) to 16 kHz mono float32 samples,
read by mediakit's demux stage (the ffmpeg plugin)."""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import BinaryIO, Union

import numpy as np

from mediakit.api import load_audio


def decode_audio(input_file: Union[str, "os.PathLike[str]", BinaryIO], sampling_rate: int = 16000, split_stereo: bool = False) -> np.ndarray:
    """(n,) float32 samples in [-1, 1] at ``sampling_rate`` Hz. A file object is copied to a temporary
    file first (containers such as MP4 need seeking). Raises mediakit's error naming the input."""
    if split_stereo:
        raise ValueError("split_stereo is not supported: mediakit's demuxer mixes the channels down (pick one with audio_stream)")
    if hasattr(input_file, "read"):
        name = getattr(input_file, "name", None)
        suffix = os.path.splitext(name)[1] if isinstance(name, str) else ""
        with tempfile.NamedTemporaryFile(prefix="mediakit-", suffix=suffix) as copy:
            shutil.copyfileobj(input_file, copy)
            copy.flush()
            return load_audio(copy.name, sampling_rate)
    return load_audio(input_file, sampling_rate)
