"""What every decoding mode shares for one input: the model, tokenizer, filters and window geometry."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from mediakit.config import DecodeOptions

from .filters import LogitFilter, build_filters


@dataclass
class Job:
    runtime: object
    tokenizer: object
    options: DecodeOptions
    filters: list[LogitFilter]
    n_frames: int  # mel frames per window (3000)
    input_stride: int  # mel frames per encoder position (2)
    time_precision: float  # seconds per timestamp step (0.02)
    frames_per_second: int  # mel frames per second (100)
    generator: torch.Generator | None
    #: Encoder outputs already computed (for language detection), by (start, size) in mel frames;
    #: each is used once, by the first window with the same frames.
    primed: dict[tuple[int, int], torch.Tensor] = field(default_factory=dict)

    @classmethod
    def create(cls, runtime, tokenizer, options: DecodeOptions, primed=None) -> "Job":
        spec = runtime.feature_spec
        n_frames = spec.chunk_frames
        stride = n_frames // runtime.dims.n_audio_ctx
        precision = stride * spec.hop_length / spec.sample_rate
        filters = build_filters(tokenizer, options, without_timestamps=options.without_timestamps, precision=precision)
        generator = torch.Generator(device=runtime.device)
        generator.manual_seed(0)
        return cls(
            runtime, tokenizer, options, filters, n_frames, stride, precision, spec.frames_per_second, generator,
            dict(primed or {}),
        )

    def window_mel(self, source, start: int, size: int) -> np.ndarray:
        """Frames ``[start, start + size)`` of a feature source (:mod:`.source`) zero-padded (in the
        log-mel domain) to one window: (n_mels, n_frames)."""
        window = np.zeros((self.runtime.feature_spec.n_mels, self.n_frames), dtype=np.float32)
        size = max(0, min(size, self.n_frames))
        size = max(0, min(size, source.wait(start + size) - start))
        if size:
            window[:, :size] = source.mel(start, start + size)
        return window

    def encode_ranges(self, source, ranges: list[tuple[int, int]]) -> torch.Tensor:
        """Encoder output of the windows ``(start, size)`` of a feature source: (B, n_audio_ctx, n_audio_state).
        A window encoded before (see ``primed``) is not encoded again. How many windows go through the
        encoder at once is the runtime's choice (on the CPU, one at a time)."""
        known = [self.primed.pop(r, None) for r in ranges]
        missing = [r for r, k in zip(ranges, known) if k is None]
        fresh = None
        if missing:
            windows = np.stack([self.window_mel(source, start, size) for start, size in missing])
            with torch.no_grad():
                fresh = self.runtime.encode(torch.from_numpy(windows))  # (B, n_mels, n_frames) in
            if len(missing) == len(ranges):
                return fresh
        rows = iter(fresh if fresh is not None else ())
        return torch.stack([k if k is not None else next(rows) for k in known])
