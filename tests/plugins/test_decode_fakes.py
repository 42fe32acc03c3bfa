"""Fakes for the decode tests: a tiny Whisper-like tokenizer and a scripted model runtime.

The scripted runtime "speaks" a fixed token sequence per window: a window is recognised by its
seek, because the fake features carry the frame index as their value (``mel[:, f] = f``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest
import torch

from mediakit.records import Audio, Features, FeatureSpec

N_TEXT = 100  # text tokens 0..99 decode to " w0" .. " w99"; token 0 is " " (the blank)
EOT, SOT, EN, ZH, TRANSLATE, TRANSCRIBE, SOT_LM, SOT_PREV, NO_SPEECH, NO_TIMESTAMPS = range(100, 110)
TS = 110  # <|0.00|>; <|k * 0.02|> = TS + k
N_VOCAB = TS + 1501


def ts(seconds: float) -> int:
    return TS + round(seconds / 0.02)


class FakeTokenizer:
    eot, sot, transcribe, translate, sot_lm, sot_prev = EOT, SOT, TRANSCRIBE, TRANSLATE, SOT_LM, SOT_PREV
    no_speech, no_timestamps, timestamp_begin = NO_SPEECH, NO_TIMESTAMPS, TS
    all_language_tokens = (EN, ZH)
    all_language_codes = ("en", "zh")
    non_speech_tokens = (1, 2)
    is_multilingual = True

    def __init__(self, language: str | None = "en", task: str = "transcribe"):
        self.language, self.task = language, task
        seq = [SOT]
        if language is not None:
            seq.append(EN if language == "en" else ZH)
            seq.append(TRANSCRIBE if task == "transcribe" else TRANSLATE)
        self.sot_sequence = tuple(seq)
        self.sot_sequence_including_notimestamps = (*seq, NO_TIMESTAMPS)

    def encode(self, text: str) -> list[int]:
        if text == " ":
            return [0]
        return [int(w[1:]) for w in text.split()]

    def decode(self, tokens) -> str:
        return "".join(" " if t == 0 else f" w{t}" for t in tokens if t < N_TEXT)

    def split_to_word_tokens(self, tokens):
        words, groups = [], []
        for t in tokens:
            words.append(self.decode([t]) if t < EOT else "<|endoftext|>")
            groups.append([t])
        return words, groups


@dataclass
class Window:
    """What the fake model says in the window that starts at a seek."""

    tokens: list[int]
    no_speech: bool = False  # make <|nospeech|> the likeliest token at the start-of-transcript position
    confident: bool = True  # False: log probability of each token about -1.6 (forces fallback)
    then: tuple[int, ...] = ()  # its second choice after ``tokens`` (end-of-text first), token by token


class FakeState:
    def __init__(self, seeks: list[int], max_tokens: int):
        self.seeks = seeks  # per row
        self.rows: list[list[int]] = [[] for _ in seeks]
        self.offset = 0
        self.max_tokens = max_tokens
        self.n_windows = len(seeks)  # rows come in equal groups, one per audio window

    def reorder(self, index: torch.Tensor) -> None:
        self.rows = [list(self.rows[i]) for i in index.tolist()]
        self.seeks = [self.seeks[i] for i in index.tolist()]

    def copy_rows(self, destinations: list[int], sources: list[int]) -> None:
        for dst, src in zip(destinations, sources):
            self.rows[dst] = list(self.rows[src])
            self.seeks[dst] = self.seeks[src]

    def select(self, rows: torch.Tensor) -> "FakeState":
        state = FakeState([self.seeks[i] for i in rows.tolist()], self.max_tokens)
        state.rows = [list(self.rows[i]) for i in rows.tolist()]
        state.offset = self.offset
        picked = rows.tolist()
        state.n_windows = sum(1 for k, r in enumerate(picked) if k == 0 or r != picked[k - 1])  # runs of one row
        return state

    def keep_windows(self, windows: list[int]) -> None:
        group = len(self.rows) // self.n_windows
        rows = [w * group + j for w in windows for j in range(group)]
        self.seeks = [self.seeks[r] for r in rows]
        self.rows = [self.rows[r] for r in rows]
        self.n_windows = len(windows)

    def rewind(self, offset: int = 0) -> None:
        self.offset = offset
        self.rows = [r[:offset] for r in self.rows]

    def reset(self) -> None:
        self.rewind(0)


@dataclass
class FakeDims:
    n_text_ctx: int = 448
    n_audio_ctx: int = 1500


@dataclass
class FakeRuntime:
    """A model that says ``script[seek]`` in each window (and end-of-text elsewhere)."""

    script: dict[int, Window]
    multilingual: bool = True
    language_token: int = EN
    calls: dict[str, int] = field(default_factory=lambda: {"encode": 0, "new_state": 0, "logits": 0})
    prompts: list[list[int]] = field(default_factory=list)  # the tokens before <|startoftranscript|>, per prompt run
    rows_per_call: list[int] = field(default_factory=list)  # rows of each logits call

    name = "fake"
    feature_spec = FeatureSpec()
    dims = FakeDims()
    device = torch.device("cpu")
    dtype = torch.float32
    alignment_heads = ((0, 0),)
    num_languages = 2

    @property
    def is_multilingual(self) -> bool:
        return self.multilingual

    def get_tokenizer(self, task: str = "transcribe", language: str | None = None) -> FakeTokenizer:
        return FakeTokenizer(language, task)

    def encode(self, mel) -> torch.Tensor:
        self.calls["encode"] += 1
        mel = torch.as_tensor(mel)
        seeks = mel[:, 0, 0]  # (B,) the frame index of each window's first frame
        return seeks[:, None, None].expand(-1, 4, 2).clone()  # (B, 4, 2)

    def new_state(self, audio_features: torch.Tensor, repeat: int = 1, max_tokens: int | None = None) -> FakeState:
        self.calls["new_state"] += 1
        seeks = [int(round(float(s))) for s in audio_features[:, 0, 0] for _ in range(repeat)]
        return FakeState(seeks, max_tokens or self.dims.n_text_ctx)

    def logits(
        self, tokens: torch.Tensor, state: FakeState, last_only: bool = False, order: torch.Tensor | None = None
    ) -> torch.Tensor:
        self.calls["logits"] += 1
        n, t = tokens.shape
        self.rows_per_call.append(n)
        assert n == len(state.rows)
        assert state.offset + t <= state.max_tokens
        out = torch.full((n, t, N_VOCAB), -10.0)
        for r in range(n):
            row = state.rows[r]
            del row[state.offset :]
            for k, token in enumerate(tokens[r].tolist()):
                row.append(token)
                out[r, k] = self._next(row, state.seeks[r])
        if SOT in tokens[0].tolist():
            self.prompts.append(list(state.rows[0][: state.rows[0].index(SOT)]))
        state.offset += t
        out = out[:, -1:] if last_only else out
        return out if order is None else out[order]

    def _next(self, row: list[int], seek: int) -> torch.Tensor:
        window = self.script.get(seek, Window([]))
        if SOT not in row:
            return torch.zeros(N_VOCAB)  # inside the previous-text prompt
        start = len(row) - row[::-1].index(SOT)
        sampled = [x for x in row[start:] if x not in (EN, ZH, TRANSCRIBE, TRANSLATE, NO_TIMESTAMPS)]
        next_token = window.tokens[len(sampled)] if len(sampled) < len(window.tokens) else EOT
        logits = torch.full((N_VOCAB,), -10.0)
        if window.confident:
            logits[next_token] = 10.0
            extra = len(sampled) - len(window.tokens)
            if 0 <= extra < len(window.then):
                logits[window.then[extra]] = 5.0
        else:
            logits[:N_TEXT] = 0.0
            logits[next_token] = 1.0
        if row[-1] == SOT:
            logits[self.language_token] = 10.0
            logits[NO_SPEECH] = 12.0 if window.no_speech else -10.0
        return logits


class AligningRuntime(FakeRuntime):
    """A fake whose alignment heads attend token k of the aligned sequence to frames [25k, 25k + 25) (0.5 s each)."""

    def logits_full(self, tokens: torch.Tensor, audio_features: torch.Tensor) -> torch.Tensor:
        return torch.zeros(tokens.shape[0], tokens.shape[1], N_VOCAB)

    def alignment_attention(self, tokens: torch.Tensor, audio_features: torch.Tensor, audio_positions=None, cross=None):
        n_tokens, n_frames = tokens.shape[1], audio_positions or 1500
        weights = torch.full((1, n_tokens, n_frames), 1e-6)
        for k in range(n_tokens):
            weights[0, k, min(25 * k, n_frames - 1) : min(25 * k + 25, n_frames)] = 1.0
        return weights / weights.sum(dim=-1, keepdim=True)


def fake_features(seconds: float, spec: FeatureSpec = FeatureSpec()) -> Features:
    """Features whose value at frame f is f, plus 30 s of padding frames."""
    content = int(seconds * spec.frames_per_second)
    total = content + spec.chunk_frames
    mel = np.tile(np.arange(total, dtype=np.float32), (spec.n_mels, 1))
    # a faint tone, not digital silence (silent windows are skipped before the model sees them)
    n = int(seconds * spec.sample_rate)
    samples = (0.05 * np.sin(np.arange(n, dtype=np.float32) / 3)).astype(np.float32)
    audio = Audio(samples, spec.sample_rate, "fake.wav")
    return Features(mel=mel, content_frames=content, spec=spec, audio=audio)


@pytest.fixture
def one_thread():
    """The fake model's tensors are tiny: one thread avoids thread start-up costs on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
