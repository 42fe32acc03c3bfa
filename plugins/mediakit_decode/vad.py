"""Voice activity detection with Silero VAD (the silero-vad package ships its model)."""

from __future__ import annotations

import functools
import inspect
import logging
import sys
import threading

import numpy as np

from mediakit.config import VadOptions
from mediakit.errors import StageError

log = logging.getLogger(__name__)

VAD_SAMPLE_RATE = 16000


_per_thread = threading.local()


def _silero():
    """Silero's model and its ``get_speech_timestamps``, one model per thread: the model keeps its
    recurrent state between calls (``get_speech_timestamps`` resets it and then feeds it 32 ms at a
    time), so two threads sharing one (a server's workers) would each corrupt the other's regions."""
    loaded = getattr(_per_thread, "silero", None)
    if loaded is None:
        loaded = _per_thread.silero = _load_silero()
    return loaded


_IMPORT_LOCK = threading.Lock()


def _import_silero():
    """The silero_vad package. Importing it calls ``torch.set_num_threads(1)`` (silero_vad/model.py),
    which would leave every later encoder and decoder step on one thread: the setting is put back.
    Every import of silero_vad in this module goes through here, one thread at a time (the setting is
    process-wide: two first imports at once could each put back the other's 1)."""
    import torch

    with _IMPORT_LOCK:
        threads = torch.get_num_threads()
        try:
            import silero_vad
            import silero_vad.utils_vad  # noqa: F401 (get_speech_timestamps_from_probs: silero-vad 6 and later)
        except ImportError as err:
            if "silero_vad" in sys.modules:  # the package is there, without utils_vad: an older silero-vad
                return sys.modules["silero_vad"]
            raise StageError("vad needs the silero-vad package: pip install silero-vad") from err
        finally:
            torch.set_num_threads(threads)
        return silero_vad


def _load_silero():
    """Silero's model and its ``get_speech_timestamps``. The model runs through ONNX Runtime when it is
    installed (twice as fast: the model runs once per 32 ms of audio, and onnxruntime's call costs half
    of TorchScript's), else TorchScript; the regions are the same."""
    silero = _import_silero()
    get_speech_timestamps, load_silero_vad = silero.get_speech_timestamps, silero.load_silero_vad
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return load_silero_vad(), get_speech_timestamps
    return load_silero_vad(onnx=True), get_speech_timestamps


def speech_regions(
    samples: np.ndarray, sample_rate: int, options: VadOptions, max_speech_s: float = float("inf")
) -> list[tuple[float, float]]:
    """Speech regions (start, end) in seconds of mono ``samples``; empty when nothing is speech.

    Regions longer than ``max_speech_s`` are split at their longest inner silence (Silero's rule).
    """
    if len(samples) == 0:
        return []
    import torch

    if sample_rate != VAD_SAMPLE_RATE:
        raise StageError(f"vad needs {VAD_SAMPLE_RATE} Hz audio, got {sample_rate} Hz")
    model, get_speech_timestamps = _silero()
    audio = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32))
    spans = get_speech_timestamps(
        audio,
        model,
        threshold=options.threshold,
        sampling_rate=sample_rate,
        min_speech_duration_ms=options.min_speech_duration_ms,
        min_silence_duration_ms=options.min_silence_duration_ms,
        speech_pad_ms=options.speech_pad_ms,
        max_speech_duration_s=max_speech_s,
    )
    regions = [(s["start"] / sample_rate, s["end"] / sample_rate) for s in spans]
    log.debug("vad: %d speech region(s), %.1f s of %.1f s", len(regions), sum(e - s for s, e in regions), len(samples) / sample_rate)
    return regions


def merge_regions(
    regions: list[tuple[float, float]], max_length: float = 30.0, split: bool = True
) -> list[tuple[float, float]]:
    """Join neighbouring regions while the joined span fits ``max_length``; cut longer regions into
    pieces unless ``split`` is False (the seek loop walks through long regions itself)."""
    pieces: list[tuple[float, float]] = []
    for start, end in regions:
        while split and end - start > max_length:
            pieces.append((start, start + max_length))
            start += max_length
        if end > start:
            pieces.append((start, end))
    merged: list[tuple[float, float]] = []
    for start, end in pieces:
        if merged and end - merged[-1][0] <= max_length:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


#: Seconds of audio kept before each speech region: Silero's onset can clip a quiet first word,
#: and Whisper tends to drop a phrase that starts right at the window's first frame.
LEAD_IN = 1.0


def widen(
    regions: list[tuple[float, float]], before: float = LEAD_IN, max_length: float | None = None
) -> list[tuple[float, float]]:
    """Start each region up to ``before`` seconds earlier, never before the previous region's end
    nor beyond ``max_length`` for the whole region."""
    out: list[tuple[float, float]] = []
    previous_end = 0.0
    for start, end in regions:
        new_start = max(previous_end, start - before, 0.0)
        if max_length is not None:
            new_start = max(new_start, end - max_length)
        out.append((min(new_start, start), end))
        previous_end = end
    return out


#: Samples read from a feature source at a time for VAD: a whole number of Silero's 512-sample windows.
_VAD_READ = 512 * 1024


def speech_regions_of(
    source, options: VadOptions, max_speech_s: float = float("inf"), probabilities=None
) -> list[tuple[float, float]]:
    """:func:`speech_regions` of a feature source's samples (:mod:`.source`), read a piece at a time.

    Silero's model is called on the same 512-sample windows in the same order as ``get_speech_timestamps``
    calls it, and its probabilities go through the same rule (``get_speech_timestamps_from_probs``), so
    the regions are the same as for the whole samples; memory holds one piece and one float per 32 ms.
    ``probabilities``: those of :func:`speech_probabilities_of` for this source, when already computed.
    """
    total = source.n_samples
    if total == 0:
        return []
    if source.spec.sample_rate != VAD_SAMPLE_RATE:
        raise StageError(f"vad needs {VAD_SAMPLE_RATE} Hz audio, got {source.spec.sample_rate} Hz")
    import array

    get_speech_timestamps_from_probs = getattr(getattr(_import_silero(), "utils_vad", None), "get_speech_timestamps_from_probs", None)
    if get_speech_timestamps_from_probs is None:  # silero-vad before 6: only the whole samples
        log.debug("vad: this silero-vad has no get_speech_timestamps_from_probs; reading the whole input")
        return speech_regions(source.samples(0, total), VAD_SAMPLE_RATE, options, max_speech_s)
    probs = array.array("d", iter_speech_probabilities(source) if probabilities is None else probabilities.tolist())
    spans = get_speech_timestamps_from_probs(
        probs,
        sampling_rate=VAD_SAMPLE_RATE,
        threshold=options.threshold,
        min_speech_duration_ms=options.min_speech_duration_ms,
        min_silence_duration_ms=options.min_silence_duration_ms,
        speech_pad_ms=options.speech_pad_ms,
        max_speech_duration_s=max_speech_s,
        audio_length_samples=total,
    )
    regions = [(s["start"] / VAD_SAMPLE_RATE, s["end"] / VAD_SAMPLE_RATE) for s in spans]
    log.debug("vad: %d speech region(s), %.1f s of %.1f s", len(regions), sum(e - s for s, e in regions), total / VAD_SAMPLE_RATE)
    return regions


#: Samples per Silero probability at 16 kHz (32 ms).
VAD_FRAME = 512


def iter_speech_probabilities(source):
    """Silero's probability of each 512-sample window of a feature source's samples, as Python floats, read
    a piece at a time: the same windows in the same order as over the whole samples."""
    import torch

    rate = source.spec.sample_rate
    if rate != VAD_SAMPLE_RATE:
        raise StageError(f"vad needs {VAD_SAMPLE_RATE} Hz audio, got {rate} Hz")
    total = source.n_samples
    sequence = _sequence_session()
    if sequence is not None:
        yield from _sequence_probabilities(sequence, source, total)
        return
    model, _ = _silero()
    session = getattr(model, "session", None)
    if session is not None and hasattr(model, "_context"):
        yield from _onnx_probabilities(session, source, total)
        return
    model.reset_states()
    try:
        for first in range(0, total, _VAD_READ):
            piece = torch.from_numpy(np.array(source.samples(first, min(total, first + _VAD_READ)), dtype=np.float32))
            for offset in range(0, len(piece), VAD_FRAME):
                chunk = piece[offset : offset + VAD_FRAME]
                if len(chunk) < VAD_FRAME:
                    chunk = torch.nn.functional.pad(chunk, (0, VAD_FRAME - len(chunk)))
                yield model(chunk, rate).item()
    finally:
        model.reset_states()


#: Samples of the previous window Silero's ONNX model reads before each 512-sample window (its wrapper's context).
_CONTEXT = 64


def _windows_with_context(source, total: int):
    """The source's samples a piece at a time, as (windows, 64 + 512) float32 rows: each 512-sample window
    (the last zero-padded) with the previous window's last 64 samples before it (zeros before the first),
    carried across pieces. These are the inputs of silero-vad's ONNX models, streaming and sequence alike."""
    context = np.zeros(_CONTEXT, dtype=np.float32)
    for first in range(0, total, _VAD_READ):
        piece = np.asarray(source.samples(first, min(total, first + _VAD_READ)), dtype=np.float32)
        windows = -(-len(piece) // VAD_FRAME)
        buffer = np.zeros(_CONTEXT + windows * VAD_FRAME, dtype=np.float32)
        buffer[:_CONTEXT] = context
        buffer[_CONTEXT : _CONTEXT + len(piece)] = piece
        context = buffer[-_CONTEXT:].copy()
        yield np.lib.stride_tricks.sliding_window_view(buffer, _CONTEXT + VAD_FRAME)[::VAD_FRAME]


def _onnx_probabilities(session, source, total: int):
    """What silero-vad's ONNX wrapper computes, with its session called directly: a window a call, the state
    carried over. The wrapper's per-call torch conversions cost a third of the time; the inputs and outputs
    are the same."""
    state = np.zeros((2, 1, 128), dtype=np.float32)
    rate = np.array(VAD_SAMPLE_RATE, dtype=np.int64)
    run = session.run
    for rows in _windows_with_context(source, total):
        for row in rows:
            out, state = run(None, {"input": row[None], "state": state, "sr": rate})
            yield float(out[0, 0])


#: Windows per call of silero-vad's sequence model (4.1 s): about as fast as 512 (0.8 s for 280 s of audio
#: either way, against 2.4 s a window at a time) and 15 MB less memory.
_SEQUENCE_BLOCK = 128


@functools.lru_cache(maxsize=1)
def _sequence_session():
    """The ONNX Runtime session of silero-vad's sequence model (``load_silero_vad(sequence=True)``, silero-vad
    6.2 and later: the streaming model's computation over a block of windows in one call, the recurrent state
    passed in and out, its probabilities to the bit), or None where this silero-vad or onnxruntime lacks it
    (then the streaming model runs a window at a time). ``run`` is safe from several threads at once."""
    load = _import_silero().load_silero_vad
    if "sequence" not in inspect.signature(load).parameters:
        return None
    try:
        return load(sequence=True).session
    except ImportError:  # onnxruntime
        return None


def _sequence_probabilities(session, source, total: int):
    """The streaming model's probabilities from the sequence model, :data:`_SEQUENCE_BLOCK` windows a call,
    the recurrent state (``h``, ``c``) carried from call to call."""
    hidden = np.zeros((1, 1, 128), dtype=np.float32)
    cell = np.zeros((1, 1, 128), dtype=np.float32)
    for rows in _windows_with_context(source, total):
        for start in range(0, len(rows), _SEQUENCE_BLOCK):
            block = np.ascontiguousarray(rows[start : start + _SEQUENCE_BLOCK])
            probs, hidden, cell = session.run(["speech_probs", "hn", "cn"], {"input": block, "h": hidden, "c": cell})
            yield from probs.reshape(-1).tolist()


def speech_probabilities_of(source) -> np.ndarray:
    """:func:`iter_speech_probabilities` as one array, (ceil(n / 512),) float32: one per 32 ms."""
    return np.asarray(list(iter_speech_probabilities(source)), dtype=np.float32)
