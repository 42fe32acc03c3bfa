"""The loaded model stage: a Whisper module plus what a decoder needs around it.

``WhisperRuntime`` is what the model factories return. A decoder encodes 30 s windows, opens a
:class:`DecoderState` per window (cross-attention keys/values computed once, self-attention cache
preallocated), then feeds it the prompt and one token per row at a time.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from mediakit.records import FeatureSpec

from .heap import heap_temporaries
from .model import ModelDims, Whisper
from .tokenizer import Tokenizer, build_encoding, num_languages_for


class DecoderState:
    """Per-window decoder caches for ``N = windows x group`` rows (row ``i * group + j``: beam ``j`` of window ``i``).

    cross_k, cross_v: (L, windows, H, A, D) cross-attention keys/values, one copy per audio window shared by
        the rows of its group, never recomputed.
    self_k, self_v: (L, N, H, S, D) self-attention cache; positions ``[0, offset)`` are filled.
    """

    def __init__(self, cross_k: Tensor, cross_v: Tensor, self_k: Tensor, self_v: Tensor, group: int = 1):
        if self_k.shape[1] != cross_k.shape[1] * group:
            raise ValueError(f"{self_k.shape[1]} cache rows do not make groups of {group} over {cross_k.shape[1]} windows")
        self.cross_k = cross_k
        self.cross_v = cross_v
        self.self_k = self_k
        self.self_v = self_v
        self.group = group
        self.offset = 0
        self._scratch: tuple[Tensor, Tensor] | None = None
        # positions below this are the same for every row of a group (the prompt the beams started
        # from) and are kept in the group's first row only: the decoder reads them from there once
        # per group, and moving beams need not copy them
        self.shared = 0
        # the windows of cross_k/cross_v that the groups of rows use, in order (None: all of them)
        self.windows: list[int] | None = None

    def scratch(self) -> tuple[Tensor, Tensor] | None:
        """Buffers one window's cross keys/values of one layer are widened into when they are stored
        narrower than the activations (made once, reused by every layer and window; None when not narrower)."""
        if self.cross_k.dtype == self.self_k.dtype:
            return None
        if self._scratch is None:  # one window's worth: windows are widened one at a time
            shape, like = (1, *self.cross_k.shape[2:]), dict(dtype=self.self_k.dtype, device=self.self_k.device)
            self._scratch = (torch.empty(shape, **like), torch.empty(shape, **like))
        return self._scratch

    @property
    def batch_size(self) -> int:
        return self.self_k.shape[1]

    @property
    def max_tokens(self) -> int:
        return self.self_k.shape[3]

    @torch.inference_mode()
    def reorder(self, index: Tensor) -> None:
        """Row ``i`` continues from row ``index[i]`` (beam search). Rows must stay within their audio
        window's group: the cross-attention keys/values are not reordered."""
        index = index.to(self.self_k.device)
        start, end = min(self.shared, self.offset), self.offset  # the rows of a group agree before `shared`
        self.self_k[:, :, :, start:end] = self.self_k[:, index, :, start:end]
        self.self_v[:, :, :, start:end] = self.self_v[:, index, :, start:end]

    @torch.inference_mode()
    def copy_rows(self, destinations: list[int], sources: list[int]) -> None:
        """Row ``destinations[i]`` continues from row ``sources[i]`` (beam search; no destination may be a
        source). Rows must stay within their audio window's group, as for :meth:`reorder`."""
        dst = torch.tensor(destinations, device=self.self_k.device)
        src = torch.tensor(sources, device=self.self_k.device)
        start, end = min(self.shared, self.offset), self.offset
        self.self_k[:, dst, :, start:end] = self.self_k[:, src, :, start:end]
        self.self_v[:, dst, :, start:end] = self.self_v[:, src, :, start:end]

    @torch.inference_mode()
    def select(self, rows: Tensor) -> "DecoderState":
        """A new state with only ``rows`` (any rows, e.g. ``arange(B).repeat_interleave(5)`` for beams, or to
        drop finished windows). Runs of equal-length rows from one window share its cross-attention copy."""
        rows = rows.to(self.self_k.device)
        windows = [r // self.group for r in rows.tolist()]
        runs: list[list[int]] = []
        for w in windows:
            if runs and runs[-1][0] == w:
                runs[-1].append(w)
            else:
                runs.append([w])
        group = len(runs[0]) if runs and all(len(run) == len(runs[0]) for run in runs) else 1
        keep = [run[0] for run in runs] if group > 1 else windows
        if self.windows is not None:
            keep = [self.windows[w] for w in keep]
        if keep == list(range(self.cross_k.shape[1])):  # every window once, in order: share, do not copy
            cross_k, cross_v = self.cross_k, self.cross_v
        else:
            index = torch.tensor(keep, device=rows.device)
            cross_k, cross_v = self.cross_k.index_select(1, index), self.cross_v.index_select(1, index)
        # only the filled positions are copied; the rest of the new cache stays untouched (unallocated pages)
        size = (self.self_k.shape[0], len(rows), *self.self_k.shape[2:])
        self_k = torch.empty(size, dtype=self.self_k.dtype, device=self.self_k.device)
        self_v = torch.empty(size, dtype=self.self_v.dtype, device=self.self_v.device)
        end = self.offset
        self._spread_shared()  # every row of this state complete, whatever is selected
        one_row_per_group = group > 1 and all(len(set(run)) == 1 for run in _runs(rows.tolist(), group))
        if one_row_per_group:  # the filled positions become the shared prefix: copy them to first rows only
            self_k[:, ::group, :, :end] = self.self_k[:, rows[::group], :, :end]
            self_v[:, ::group, :, :end] = self.self_v[:, rows[::group], :, :end]
        else:
            self_k[:, :, :, :end] = self.self_k[:, rows, :, :end]
            self_v[:, :, :, :end] = self.self_v[:, rows, :, :end]
        state = DecoderState(cross_k, cross_v, self_k, self_v, group=group)
        state.offset = end
        state._scratch = self._scratch  # one window's worth; states of a window batch are used one at a time
        if one_row_per_group:
            state.shared = end
        return state

    @torch.inference_mode()
    def keep_windows(self, windows: list[int]) -> None:
        """Keep only the audio windows at positions ``windows`` (ascending) with all their rows, renumbered
        in that order: row ``w * group + j`` becomes row ``i * group + j`` where ``windows[i] == w``.
        Decoding drops finished windows with it so that they stop costing work.

        The rows move in place, window by window (no new memory). The cross-attention keys/values stay
        where they are, possibly shared with other states: :attr:`windows` maps to their rows."""
        n = self.self_k.shape[1] // self.group
        if windows != sorted(set(windows)) or (windows and not 0 <= windows[0] <= windows[-1] < n):
            raise ValueError(f"windows {windows} are not ascending positions of {n} windows")
        g, end = self.group, self.offset
        for new, old in enumerate(windows):
            if new != old:  # old > new: the source rows lie above the destination rows
                self.self_k[:, new * g : (new + 1) * g, :, :end] = self.self_k[:, old * g : (old + 1) * g, :, :end]
                self.self_v[:, new * g : (new + 1) * g, :, :end] = self.self_v[:, old * g : (old + 1) * g, :, :end]
        self.self_k = self.self_k[:, : len(windows) * g]
        self.self_v = self.self_v[:, : len(windows) * g]
        current = self.windows if self.windows is not None else list(range(n))
        self.windows = [current[w] for w in windows]

    def _spread_shared(self) -> None:
        """Copy the shared prefix from each group's first row into its other rows (then no row is special)."""
        if self.group > 1 and self.shared > 0:
            n = self.self_k.shape[1]
            for j in range(1, self.group):
                self.self_k[:, j:n:self.group, :, : self.shared] = self.self_k[:, 0:n:self.group, :, : self.shared]
                self.self_v[:, j:n:self.group, :, : self.shared] = self.self_v[:, 0:n:self.group, :, : self.shared]
            self.shared = 0

    def rewind(self, offset: int = 0) -> None:
        """Forget the tokens from ``offset`` on; the next :meth:`WhisperRuntime.logits` writes there."""
        if not 0 <= offset <= self.offset:
            raise ValueError(f"cannot rewind to {offset}: the cache holds {self.offset} tokens")
        self.offset = offset
        self.shared = min(self.shared, offset)

    def reset(self) -> None:
        """Start a new decoding of the same audio (temperature fallback); cross keys/values are kept."""
        self.offset = 0
        self.shared = 0


def _runs(rows: list[int], group: int) -> list[list[int]]:
    return [rows[i : i + group] for i in range(0, len(rows), group)]


class WhisperRuntime:
    """A loaded Whisper model: encode audio windows, decode tokens with caches, tokenizers, alignment heads."""

    def __init__(
        self,
        name: str,
        module: Whisper,
        dims: ModelDims,
        *,
        vocab_file: Path,
        alignment_heads: tuple[tuple[int, int], ...],
        device: torch.device,
        dtype: torch.dtype,
        source: str = "",
        format: str = "",
        quantized: bool = False,
        cross_dtype: torch.dtype | None = None,
    ):
        self.name = name
        self.module = module
        self.dims = dims
        self.feature_spec = FeatureSpec(n_mels=dims.n_mels)
        self.is_multilingual = dims.n_vocab >= 51865
        self.num_languages = num_languages_for(dims.n_vocab)
        self.device = device
        self.dtype = dtype
        self.alignment_heads = alignment_heads
        self.source = source  # where the weights came from
        self.format = format  # ct2, openai or huggingface
        self.quantized = quantized  # int8 dynamic quantization of Linear layers (activations stay float32)
        # storage dtype of the cross-attention keys/values (None: the activations'); float16 halves the
        # bytes a decoding step reads; they are widened one layer and one window at a time (state.scratch)
        self.cross_dtype = cross_dtype
        self.vocab_file = vocab_file
        self._encoding = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"WhisperRuntime({self.name!r}, {self.format}, device={self.device}, dtype={self.dtype})"

    # -- tokenizer ------------------------------------------------------------------------------------
    def get_tokenizer(self, task: str = "transcribe", language: str | None = None) -> Tokenizer:
        """The model's tokenizer for ``task`` and ``language`` (code or name; None = not set)."""
        with self._lock:
            if self._encoding is None:
                self._encoding = build_encoding(str(self.vocab_file), self.dims.n_vocab)
        return Tokenizer(
            encoding=self._encoding,
            num_languages=self.num_languages,
            is_multilingual=self.is_multilingual,
            language=language if self.is_multilingual else None,
            task=task,
        )

    # -- encoder --------------------------------------------------------------------------------------
    @torch.inference_mode()
    def encode(self, mel: Tensor | np.ndarray) -> Tensor:
        """Log-mel windows (B, n_mels, 3000) (or one, (n_mels, 3000)) -> audio features (B, A, C)."""
        if isinstance(mel, np.ndarray):
            mel = torch.from_numpy(mel)
        if mel.ndim == 2:
            mel = mel.unsqueeze(0)
        mel = mel.to(device=self.device, dtype=self.dtype if not self.quantized else torch.float32)
        if self.device.type != "cpu":
            return self.module.encoder(mel)
        # on the CPU one window at a time, each layer's temporaries reused from the heap (handed back
        # after each window) instead of arriving as fresh pages: 12-15% faster for one window, 20-25%
        # for a batch against one pass over all of them
        if mel.shape[0] == 1:
            return self._encode_on_heap(mel)
        return torch.cat([self._encode_on_heap(mel[i : i + 1]) for i in range(mel.shape[0])])

    def _encode_on_heap(self, mel: Tensor) -> Tensor:
        with heap_temporaries():
            return self.module.encoder(mel)

    # -- decoder --------------------------------------------------------------------------------------
    @torch.inference_mode()
    def new_state(self, audio_features: Tensor, repeat: int = 1, max_tokens: int | None = None) -> DecoderState:
        """Caches for decoding ``audio_features`` (B, A, C), each row repeated ``repeat`` times (beams):
        row ``i * repeat + j`` is beam ``j`` of window ``i``. The beams of a window share one copy of its
        cross-attention keys/values (folded into the query length), so they are neither copied nor re-read."""
        xa = audio_features.to(device=self.device, dtype=self._activation_dtype)
        # (L, B, H, A, D), shared by each group
        cross_k, cross_v = self.module.decoder.cross_keys_values(xa, self.cross_dtype)
        n_layer, n, n_head, _, head_dim = cross_k.shape
        size = (n_layer, n * repeat, n_head, max_tokens or self.dims.n_text_ctx, head_dim)
        if size[3] > self.dims.n_text_ctx:
            raise ValueError(f"max_tokens {size[3]} exceeds the model's {self.dims.n_text_ctx} positions")
        empty = dict(device=self.device, dtype=xa.dtype)
        return DecoderState(cross_k, cross_v, torch.empty(size, **empty), torch.empty(size, **empty), group=repeat)

    @torch.inference_mode()
    def logits(
        self, tokens: Tensor, state: DecoderState, last_only: bool = False, order: Tensor | None = None
    ) -> Tensor:
        """Logits (N, T, V) float32 of ``tokens`` (N, T) placed at ``state.offset ...``; advances the offset.

        ``last_only`` returns only the last position's logits (N, 1, V), sparing the output projection
        of a long prompt. ``order`` (N,): output row ``i`` is cache row ``order[i]`` (a beam search whose
        beams are not in cache order), applied before the output projection, where rows are narrow.
        """
        n, t = tokens.shape
        if n != state.batch_size:
            raise ValueError(f"tokens have {n} rows, the decoder state {state.batch_size}")
        if state.offset + t > state.max_tokens:
            raise ValueError(f"{state.offset} + {t} tokens exceed the cache of {state.max_tokens}")
        tokens = tokens.to(self.device)
        if t > 1:  # several tokens per row take the ordinary path, which reads every row's own prefix
            state._spread_shared()
        logits = self.module.decoder.forward_cached(
            tokens, state.self_k, state.self_v, state.cross_k, state.cross_v, state.offset,
            last_only=last_only, group=state.group, scratch=state.scratch(),
            shared=state.shared, windows=state.windows, order=order,
        )  # fmt: skip
        state.offset += t
        return logits

    @torch.inference_mode()
    def logits_full(self, tokens: Tensor, audio_features: Tensor) -> Tensor:
        """Reference logits (N, T, V) without any cache, tokens from position 0."""
        xa = audio_features.to(device=self.device, dtype=self._activation_dtype)
        return self.module.decoder(tokens.to(self.device), xa)

    @torch.inference_mode()
    def alignment_attention(
        self, tokens: Tensor, audio_features: Tensor, audio_positions: int | None = None, cross: DecoderState | None = None
    ) -> Tensor:
        """Cross-attention weights (H_align, T, A) of the alignment heads, float32, for word timestamps.

        Each row is a softmax over the audio positions. ``audio_positions`` keeps only the first positions
        (the real audio) and renormalises the rows, which equals a softmax over those positions alone.
        ``cross``: a decoder state of these audio features (one window), whose cross-attention keys and
        values are read instead of computed again where they are stored in the activations' dtype (the same
        numbers then).
        """
        xa = audio_features.to(device=self.device, dtype=self._activation_dtype)
        layers = {layer for layer, _ in self.alignment_heads}
        kv = None
        if cross is not None and cross.cross_k.dtype == xa.dtype and cross.cross_k.shape[1] == 1:
            kv = (cross.cross_k, cross.cross_v)
        found = self.module.decoder.cross_attention_weights(tokens.to(self.device), xa, layers, kv)
        weights = torch.stack([found[layer][0, head] for layer, head in self.alignment_heads])  # (H, T, A)
        if audio_positions is not None:
            weights = weights[:, :, :audio_positions]
            weights = weights / weights.sum(dim=-1, keepdim=True)
        return weights

    @property
    def _activation_dtype(self) -> torch.dtype:
        return torch.float32 if self.quantized else self.dtype
