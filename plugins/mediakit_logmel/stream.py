"""Whisper's log-mel of a stream of audio chunks, readable window by window in bounded memory.

The frames are cut into the same blocks of :data:`~.spectrogram.BLOCK_FRAMES` as
:func:`~.spectrogram.log_mel_spectrogram` cuts them, and each block is computed by the same function,
so every frame is bit-identical to the whole-input spectrogram's. What differs is the floor, 8 below
the maximum: the whole input's maximum is only known at its end.

* A finite input (a file, standard input, a URL that ends) is read to its end first. The raw frames
  (before the floor) and the samples go to temporary files (``spool``: 96 KB per second of audio at
  80 mel bins, 346 MB per hour, on disk), and the floor is the whole input's, as for the whole input:
  the decoder reads exactly the features it would have read from :class:`~mediakit.records.Features`.
  Memory holds one block of samples and frames, whatever the duration.
* A live input never ends: a thread reads it while the decoder works. Frames and samples stay in
  memory until the decoder releases them (a window and the lookahead of one block). Blocks are one
  second long there, so a window is ready a second after its end was heard. The floor of a window is
  8 below the maximum of the input up to the end of that window's block (so the result does not
  depend on timing); it equals the whole input's floor once the loudest frame has passed.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from collections import deque
from typing import Iterable

import numpy as np

from mediakit.errors import StageError
from mediakit.records import FeatureSpec

from .spectrogram import BLOCK_FRAMES, _PaddedSignal, block_log_mel, block_tools, normalise

log = logging.getLogger(__name__)

_VALUE = np.dtype(np.float32).itemsize

#: Frames per block of a live input (one second at Whisper's 100 frames per second).
LIVE_BLOCK_FRAMES = 100


class _SpoolStore:
    """Frames and samples in two temporary files, read back with ``pread`` (no pages kept mapped)."""

    def __init__(self, n_mels: int):
        self.n_mels = n_mels
        self._frames = tempfile.TemporaryFile(prefix="mediakit-mel-")
        self._samples = tempfile.TemporaryFile(prefix="mediakit-audio-")
        self.n_frames = 0
        self.n_samples = 0

    def add_frames(self, block: np.ndarray) -> None:  # block: (n_mels, count)
        self._frames.write(np.ascontiguousarray(block.T).tobytes())  # stored frame by frame: (count, n_mels)
        self.n_frames += block.shape[1]

    def add_samples(self, chunk: np.ndarray) -> None:
        self._samples.write(np.ascontiguousarray(chunk, dtype=np.float32).tobytes())
        self.n_samples += len(chunk)

    def finish(self) -> None:
        self._frames.flush()
        self._samples.flush()

    def frames(self, start: int, stop: int) -> np.ndarray:
        row = self.n_mels * _VALUE
        data = os.pread(self._frames.fileno(), (stop - start) * row, start * row)
        return np.frombuffer(data, dtype=np.float32).reshape(-1, self.n_mels).T  # (n_mels, stop - start)

    def samples(self, start: int, stop: int) -> np.ndarray:
        data = os.pread(self._samples.fileno(), (stop - start) * _VALUE, start * _VALUE)
        return np.frombuffer(data, dtype=np.float32)

    def release(self, frame: int, sample: int) -> None:
        pass  # the files stay until close: a finite input may be read in any order (batched mode)

    def close(self) -> None:
        self._frames.close()
        self._samples.close()


class _MemoryStore:
    """Frames and samples in memory, from the first one not yet released."""

    def __init__(self, n_mels: int):
        self.n_mels = n_mels
        self._frames: list[tuple[int, np.ndarray]] = []  # (first frame, (n_mels, count))
        self._samples: list[tuple[int, np.ndarray]] = []  # (first sample, (k,))
        self.n_frames = 0
        self.n_samples = 0

    def add_frames(self, block: np.ndarray) -> None:
        self._frames.append((self.n_frames, block))
        self.n_frames += block.shape[1]

    def add_samples(self, chunk: np.ndarray) -> None:
        self._samples.append((self.n_samples, chunk))
        self.n_samples += len(chunk)

    def finish(self) -> None:
        pass

    @staticmethod
    def _cut(pieces: list[tuple[int, np.ndarray]], start: int, stop: int, axis: int) -> list[np.ndarray]:
        out = []
        for first, piece in pieces:
            last = first + piece.shape[axis]
            if last <= start or first >= stop:
                continue
            lo, hi = max(start, first) - first, min(stop, last) - first
            out.append(piece[:, lo:hi] if axis else piece[lo:hi])
        return out

    def frames(self, start: int, stop: int) -> np.ndarray:
        parts = self._cut(self._frames, start, stop, 1)
        if not parts or sum(p.shape[1] for p in parts) != stop - start:
            raise StageError(f"frames {start}..{stop} were released or are not decoded yet")
        return np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]

    def samples(self, start: int, stop: int) -> np.ndarray:
        if stop <= start:
            return np.zeros(0, dtype=np.float32)
        parts = self._cut(self._samples, start, stop, 0)
        if sum(len(p) for p in parts) != stop - start:
            raise StageError(f"samples {start}..{stop} were released or are not decoded yet")
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    def release(self, frame: int, sample: int) -> None:
        while self._frames and self._frames[0][0] + self._frames[0][1].shape[1] <= frame:
            self._frames.pop(0)
        while self._samples and self._samples[0][0] + len(self._samples[0][1]) <= sample:
            self._samples.pop(0)

    def close(self) -> None:
        self._frames.clear()
        self._samples.clear()


class MelStream:
    """A :class:`mediakit.stages.FeatureSource` over audio chunks (see the module's docstring)."""

    def __init__(self, chunks: Iterable[np.ndarray], spec: FeatureSpec, source: str, live: bool = False):
        self.spec = spec
        self.source = source
        self.live = live
        self._chunks = chunks
        self._padding = spec.chunk_seconds * spec.sample_rate
        self._edge = spec.n_fft // 2
        # a finite input is cut into the whole spectrogram's blocks (bit-identical frames); a live one
        # into blocks of a second, so that a window can be decoded as soon as its last second arrived
        self._block = LIVE_BLOCK_FRAMES if live else BLOCK_FRAMES
        self._store = _MemoryStore(spec.n_mels) if live else _SpoolStore(spec.n_mels)
        self._tools = block_tools(spec)
        self._pending: list[np.ndarray] = []  # samples not yet in a finished block, from _pending_start on
        self._pending_start = 0
        self._pending_count = 0
        self._peaks: list[float] = []  # per block: the maximum up to and including it
        self._peaks_from = 0  # block index of self._peaks[0] (a live input drops released blocks')
        self._ended = False
        self._finishing = False  # the last blocks (into the padding) are being added: frames are not content
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._arrivals: deque[tuple[int, float]] = deque(maxlen=1 << 14)  # (samples read, when), live only
        if live:
            self._thread = threading.Thread(target=self._read_all, name="mediakit-live-features", daemon=True)
            self._thread.start()
        else:
            self._read_all()
            if self._error is not None:
                error, self._error = self._error, None
                self.close()
                raise error

    # --- what decoders read (mediakit.stages.FeatureSource) ---

    @property
    def ended(self) -> bool:
        return self._ended

    @property
    def content_frames(self) -> int:
        if self._ended:
            return self._store.n_samples // self.spec.hop_length
        return self._store.n_frames  # while reading, every finished frame is real audio

    @property
    def n_samples(self) -> int:
        return self._store.n_samples

    def wait(self, frame: int) -> int:
        with self._changed:
            while not self._ended and (self._store.n_frames < frame or self._finishing) and self._error is None:
                self._changed.wait(0.25)
            if self._error is not None:
                error, self._error = self._error, None
                raise error
        return min(frame, self.content_frames)

    def mel(self, start: int, stop: int) -> np.ndarray:
        with self._changed:
            raw = self._store.frames(start, stop)
            peak = self._peak_until(stop)
        return normalise(np.array(raw, dtype=np.float32), peak)

    def samples(self, start: int, stop: int) -> np.ndarray:
        with self._changed:
            return self._store.samples(start, stop)

    def release(self, frame: int) -> None:
        with self._changed:
            self._store.release(frame, frame * self.spec.hop_length - self._edge)
            if self.live:
                drop = min(frame // self._block - self._peaks_from, len(self._peaks) - 1)
                if drop > 0:
                    del self._peaks[:drop]
                    self._peaks_from += drop

    def heard_at(self, sample: int) -> float | None:
        """``time.monotonic()`` when sample ``sample`` of a live input was read (None: not live, or too long ago)."""
        with self._changed:
            for count, when in self._arrivals:
                if count >= sample:
                    return when
        return None

    def stop(self) -> None:
        """End a live input here: what was read is decoded, nothing more is read (any thread)."""
        self._stop.set()
        close = getattr(self._chunks, "close", None)
        if close is not None:
            try:
                close()
            except ValueError:  # a generator running in the reading thread cannot be closed from here
                pass

    def close(self) -> None:
        self.stop()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self._store.close()

    def __enter__(self) -> "MelStream":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- reading ---

    def _peak_until(self, stop: int) -> float:
        if not self.live and self._ended:
            return self._peaks[-1]  # the whole input's maximum, as Features uses
        block = min((max(stop, 1) - 1) // self._block - self._peaks_from, len(self._peaks) - 1)
        return self._peaks[max(block, 0)]

    def _read_all(self) -> None:
        try:
            for chunk in self._chunks:
                if self._stop.is_set():
                    break
                chunk = np.asarray(chunk, dtype=np.float32)
                if chunk.ndim != 1:
                    raise StageError(f"{self.source}: audio chunks must be mono (k,) arrays, got {chunk.shape}")
                with self._changed:
                    self._store.add_samples(chunk)
                    if self.live:
                        self._arrivals.append((self._store.n_samples, time.monotonic()))
                self._pending.append(chunk)
                self._pending_count += len(chunk)
                self._full_blocks()
            self._last_blocks()
        except BaseException as err:  # raised again where the decoder waits (or from the constructor)
            self._error = err
        finally:
            with self._changed:
                self._store.finish()
                self._ended = True
                self._changed.notify_all()

    def _buffer(self) -> np.ndarray:
        if len(self._pending) > 1:
            self._pending = [np.concatenate(self._pending)]
        return self._pending[0] if self._pending else np.zeros(0, dtype=np.float32)

    def _full_blocks(self) -> None:
        hop = self.spec.hop_length
        while True:
            first = self._store.n_frames
            needed = (first + self._block - 1) * hop + self._edge  # samples the block's last frame reaches
            if self._pending_start + self._pending_count < needed:
                return
            signal = _PaddedSignal(self._buffer(), self._padding, self._edge, offset=self._pending_start, total=10**18)
            self._add_block(signal, first, self._block)
            self._trim((first + self._block) * hop - self._edge)

    def _last_blocks(self) -> None:
        """At the end of the input: the blocks that reach into the padding after it."""
        with self._changed:
            self._finishing = True
        total = self._pending_start + self._pending_count
        n_frames = (total + self._padding) // self.spec.hop_length
        signal = _PaddedSignal(self._buffer(), self._padding, self._edge, offset=self._pending_start, total=total)
        for first in range(self._store.n_frames, n_frames, self._block):
            self._add_block(signal, first, min(self._block, n_frames - first))
        self._pending, self._pending_count, self._pending_start = [], 0, total

    def _add_block(self, signal: _PaddedSignal, first: int, count: int) -> None:
        window, filters = self._tools
        block = block_log_mel(signal, first, count, self.spec, window, filters)  # (n_mels, count)
        peak = max(float(block.max()), self._peaks[-1] if self._peaks else -np.inf)
        with self._changed:
            self._store.add_frames(block)
            self._peaks.append(peak)
            self._changed.notify_all()

    def _trim(self, keep_from: int) -> None:
        """Drop pending samples before ``keep_from`` (the next block's first sample)."""
        drop = keep_from - self._pending_start
        if drop <= 0:
            return
        buffer = self._buffer()
        self._pending = [buffer[drop:].copy()]
        self._pending_start += drop
        self._pending_count -= drop
