"""Decode a batch of 30-second windows at one temperature, and detect the spoken language.

The model contract (``mediakit_whisper.runtime.WhisperRuntime``) used here: ``new_state(features,
repeat, max_tokens)``, ``logits(tokens, state)``, ``state.copy_rows(destinations, sources)``, ``state.offset`` and
``state.rewind(offset)`` (or ``state.reset()``). Cross-attention keys/values are computed once per
window batch and group size; the prompt is run once and rewound to for every further temperature.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Sequence

import torch

from mediakit.config import DecodeOptions

from .filters import NEG_INF, LogitFilter
from .quality import compression_ratio
from .rows import RowLayout
from .search import BeamSearch, GreedySearch, rank

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WindowResult:
    """The chosen candidate of one window at one temperature (openai-whisper's DecodingResult)."""

    tokens: tuple[int, ...]  # sampled tokens, end-of-text excluded
    text: str  # decoded text tokens, stripped
    avg_logprob: float  # sum of log probabilities / (number of tokens + 1)
    no_speech_prob: float  # probability of <|nospeech|> at the start-of-transcript position
    temperature: float
    compression_ratio: float
    trimmed_loop: bool = False  # the repetition guard cut a loop out of the tokens


#: Decodings of at most this many rows (a window's beams or samples) choose their CPU thread count by timing.
SMALL_DECODE_ROWS = 16


class StepThreads:
    """Chooses, by timing, whether a few-row decoding step runs faster on one CPU thread or on all of torch's.

    A step is a hundred or so small kernels. On an idle 2-core machine two threads make a base beam-5
    step about 1.35x faster; when other processes hold the cores, every kernel waits for the second
    thread to be scheduled and two threads make the step 5-10x slower. So every ``every`` steps both
    settings are timed for ``probe`` steps each and the faster one is used until the next probe.
    """

    def __init__(self, probe: int = 2, every: int = 128):
        self.probe, self.every = probe, every
        self.plan: list[int] = []  # thread counts of the steps still to time
        self.times: dict[int, list[float]] = {}
        self.choice: int | None = None
        self.countdown = 0

    def next(self, most: int) -> int:
        """The thread count for the next step (``most`` = torch's setting)."""
        if not self.plan and self.countdown <= 0:
            self.plan = [most] * self.probe + [1] * self.probe
            self.times = {}
        if self.plan:
            return self.plan[0]
        self.countdown -= 1
        return self.choice if self.choice is not None and self.choice <= most else most

    def record(self, threads: int, seconds: float) -> None:
        if not self.plan or self.plan[0] != threads:
            return
        self.plan.pop(0)
        self.times.setdefault(threads, []).append(seconds)
        if not self.plan:
            self.choice = min(self.times, key=lambda n: min(self.times[n]))
            self.countdown = self.every
            log.debug("decoding steps: %d thread(s) (timed %s)", self.choice, self.times)


_STEP_THREADS = StepThreads()


def initial_tokens(
    tokenizer, prompt: Sequence[int], without_timestamps: bool, n_text_ctx: int, hotwords: Sequence[int] = ()
) -> list[int]:
    """[<|startofprev|> hotwords... prompt...] <|startoftranscript|> <|lang|> <|task|> [<|notimestamps|>].

    The prompt (previous text) keeps its last ``n_text_ctx // 2 - 1`` tokens, and with hotwords
    (faster-whisper's layout: they come first) also leaves a quarter of the context to the new text,
    which shortens it only for hotwords of more than about a hundred tokens.
    """
    if without_timestamps:
        tokens = list(tokenizer.sot_sequence_including_notimestamps)
    else:
        tokens = list(tokenizer.sot_sequence)
    previous = list(prompt)[-(n_text_ctx // 2 - 1) :]
    if hotwords:
        room = n_text_ctx - n_text_ctx // 4 - len(tokens) - 1 - len(hotwords)
        previous = previous[max(0, len(previous) - room) :] if room > 0 else []
    if previous or hotwords:
        tokens = [tokenizer.sot_prev, *hotwords, *previous, *tokens]
    return tokens


def hotword_tokens(tokenizer, hotwords: str | None, n_text_ctx: int) -> list[int]:
    """faster-whisper's hotwords as tokens: ``" " + hotwords.strip()`` encoded, at most half the text context
    less one; none for None or an empty string."""
    if not hotwords:
        return []
    return list(tokenizer.encode(" " + hotwords.strip()))[: n_text_ctx // 2 - 1]


@dataclass
class _Started:
    state: object
    offset: int  # cache offset after the prompt
    last_logits: torch.Tensor  # (N, n_vocab) logits of the first sampled token, before filtering
    no_speech: list[float]  # per window


class WindowBatch:
    """Encoded windows plus the decoder state of their prompt, reused across temperatures.

    The prompt runs once, on one row per window; each decoding gets its own copy of those rows for
    its group of beams or samples (``state.select``).
    """

    def __init__(self, runtime, audio_features: torch.Tensor, open_until: Sequence[int] | None = None):
        """``open_until`` (one per window, or None): see :func:`early_ends`."""
        self.runtime = runtime
        self.features = audio_features  # (B, n_audio_ctx, d)
        if open_until is not None and len(open_until) != self.size:
            raise ValueError(f"{len(open_until)} end limits for {self.size} windows")
        self.open_until = None if open_until is None else tuple(open_until)
        self._prompt: tuple[int, ...] | None = None
        self._base: _Started | None = None

    @property
    def size(self) -> int:
        return int(self.features.shape[0])

    @property
    def state(self):
        """The decoder state of the prompt (its cross-attention keys and values), once a decoding started."""
        return None if self._base is None else self._base.state

    def subset(self, index: Sequence[int]) -> "WindowBatch":
        """The batch of some of these windows; their cross-attention and prompt caches are copied, not recomputed."""
        if list(index) == list(range(self.size)):
            return self
        limits = None if self.open_until is None else [self.open_until[i] for i in index]
        child = WindowBatch(self.runtime, self.features[list(index)], limits)
        if self._base is not None and hasattr(self._base.state, "select"):
            rows = torch.tensor(list(index), dtype=torch.long, device=self.features.device)
            state = self._base.state.select(rows)
            state.rewind(self._base.offset)
            child._prompt = self._prompt
            child._base = _Started(
                state, self._base.offset, self._base.last_logits[rows], [self._base.no_speech[i] for i in index]
            )
        return child

    def _run_prompt(self, tokens: list[int], sot_index: int, no_speech: int | None) -> _Started:
        state = self.runtime.new_state(self.features, repeat=1)
        x = torch.tensor([tokens] * self.size, dtype=torch.long, device=self.features.device)  # (B, T)
        at_sot = self.runtime.logits(x[:, : sot_index + 1], state, last_only=True)[:, -1].float()  # (B, n_vocab)
        if sot_index + 1 < len(tokens):
            last = self.runtime.logits(x[:, sot_index + 1 :], state, last_only=True)[:, -1].float()
        else:
            last = at_sot
        if no_speech is not None:
            no_speech_probs = at_sot.softmax(dim=-1)[:, no_speech].tolist()
        else:
            no_speech_probs = [0.0] * self.size
        return _Started(state, state.offset, last, no_speech_probs)

    def start(self, group: int, tokens: list[int], sot_index: int, no_speech: int | None) -> _Started:
        """A state of ``group`` rows per window with ``tokens`` (the prompt) already run, for the caller
        alone: decoding moves its rows (beams, finished windows leaving)."""
        key = tuple(tokens)
        if self._base is None or self._prompt != key:
            self._base = self._run_prompt(tokens, sot_index, no_speech)
            self._prompt = key
        base = self._base
        rows = torch.arange(self.size, device=self.features.device).repeat_interleave(group)
        state = base.state.select(rows)  # only the prompt's positions are copied (to first rows when group > 1)
        last = base.last_logits if group == 1 else base.last_logits.repeat_interleave(group, dim=0)
        return _Started(state, base.offset, last, base.no_speech)


def decode_windows(
    batch: WindowBatch,
    tokenizer,
    options: DecodeOptions,
    filters: Sequence[LogitFilter],
    prompt: Sequence[int],
    temperature: float,
    without_timestamps: bool,
    generator: torch.Generator | None = None,
    *,
    prefix: Sequence[int] = (),
    sample_len: int | None = None,
) -> list[WindowResult]:
    """Decode every window of ``batch`` at ``temperature``: beam search at 0 (when beam_size > 1), else sampling.

    ``prefix``: tokens placed after the start sequence as if already sampled (not part of the results;
    ``options.hotwords`` go before the previous text where there is no prefix, as in faster-whisper);
    ``sample_len``: the most tokens to sample per window (default: ``options.sample_len``, else half the
    text context).
    """
    runtime = batch.runtime
    n_ctx = runtime.dims.n_text_ctx
    hotwords = [] if prefix else hotword_tokens(tokenizer, options.hotwords, n_ctx)
    tokens = initial_tokens(tokenizer, prompt, without_timestamps, n_ctx, hotwords) + list(prefix)
    sot_index = tokens.index(tokenizer.sot)
    n_windows = batch.size
    if temperature == 0 and options.beam_size is not None and options.beam_size > 1:
        group = options.beam_size
        search: BeamSearch | GreedySearch = BeamSearch(group, tokenizer.eot, n_windows, options.patience)
    else:
        group = options.best_of if temperature > 0 and options.best_of else 1
        search = GreedySearch(temperature, tokenizer.eot, n_windows * group, generator, group)

    started = batch.start(group, tokens, sot_index, tokenizer.no_speech)
    state = started.state
    device = batch.features.device
    n_rows = n_windows * group
    open_until = None  # (N,) per row, while some window keeps its text open (see early_ends)
    if batch.open_until is not None and not without_timestamps:
        open_until = torch.tensor(batch.open_until, dtype=torch.long, device=device).repeat_interleave(group)
    identity = list(range(n_rows))
    layout = RowLayout(n_rows, group)  # beams' cache rows: a step copies only a parent's extra children
    rows = None  # (N,) layout.rows as a tensor while it is not the identity
    sampled = torch.empty((n_rows, 0), dtype=torch.long, device=device)
    logits = started.last_logits.clone()
    length = len(tokens)
    column = None  # (N, 1) the tokens chosen at the previous step
    most = torch.get_num_threads()
    tune = device.type == "cpu" and n_rows <= SMALL_DECODE_ROWS and most > 1
    try:
        for i in range(sample_len or options.sample_len or n_ctx // 2):
            timed = tune and column is not None  # the first step reuses the prompt's logits: nothing to time
            if timed:
                threads = _STEP_THREADS.next(most)
                torch.set_num_threads(threads)
                started_at = time.perf_counter()
            if column is not None:
                # (N, n_vocab) in the search's order: the hidden rows are put in it before the projection
                logits = runtime.logits(column, state, last_only=True, order=rows)[:, -1].float()
            for f in filters:
                f.apply(logits, sampled)
            if open_until is not None and sampled.shape[1] >= 2:
                early = early_ends(sampled, tokenizer.timestamp_begin, open_until)
                if early.any():
                    logits[early, tokenizer.eot] = NEG_INF
            step = search.step(logits)
            if step.source is not None and step.source != identity:
                destinations, sources = layout.follow(step.source)
                if destinations:
                    state.copy_rows(destinations, sources)
                sampled = sampled[torch.tensor(step.source, dtype=torch.long, device=device)]
            chosen = torch.tensor(step.next_tokens, dtype=torch.long, device=device)[:, None]  # (N, 1)
            sampled = torch.cat([sampled, chosen], dim=1)
            length += 1
            if timed:
                _STEP_THREADS.record(threads, time.perf_counter() - started_at)
            if step.completed or length > n_ctx:
                break
            if step.done:  # finished windows leave the batch: the others' steps no longer carry them
                live = search.retire(step.done)
                layout.keep(live)
                state.keep_windows(live)
                kept = torch.tensor([p * group + j for p in live for j in range(group)], dtype=torch.long, device=device)
                sampled, chosen = sampled[kept], chosen[kept]
                open_until = None if open_until is None else open_until[kept]
                identity = list(range(len(kept)))
            rows = None if layout.identity else torch.tensor(layout.rows, device=device)
            column = chosen if rows is None else chosen[rows.argsort()]  # the model's row order
    finally:
        if tune:
            torch.set_num_threads(most)

    results = []
    for w, candidates in enumerate(search.finish()):
        best = rank(candidates, options.length_penalty)
        chosen, sum_logprob = candidates[best]
        text = tokenizer.decode(list(chosen)).strip()
        results.append(
            WindowResult(
                tokens=tuple(chosen),
                text=text,
                avg_logprob=sum_logprob / (len(chosen) + 1),
                no_speech_prob=started.no_speech[w],
                temperature=temperature,
                compression_ratio=compression_ratio(text),
            )
        )
    return results


def early_ends(sampled: torch.Tensor, timestamp_begin: int, open_until: torch.Tensor) -> torch.Tensor:
    """Rows (N,) bool whose text may not end now: ending would leave the rest of the window to decode
    again, and their window asks for that to be avoided.

    Ending leaves a rest (:func:`.segments.split_window`) when the tokens ``sampled`` (N, n) hold a pair
    of consecutive timestamps and do not end in a lone closing one: the next window would start at the
    first timestamp of the last pair. A row must go on while that timestamp lies in
    ``(0, open_until]`` (in timestamp steps, per row). Batched mode, where a rest costs a window of its
    own, puts the limit where the rest would be too short to decode again.
    """
    is_ts = sampled >= timestamp_begin  # (N, n)
    pairs = is_ts[:, :-1] & is_ts[:, 1:]  # (N, n - 1): a pair starts at column j
    columns = torch.arange(pairs.shape[1], device=sampled.device)
    last_pair = torch.where(pairs, columns, -1).amax(dim=1)  # (N,), -1 without a pair
    first = sampled.gather(1, last_pair.clamp(min=0)[:, None]).squeeze(1) - timestamp_begin
    lone_closing = is_ts[:, -1] & ~is_ts[:, -2]
    return (last_pair >= 0) & ~lone_closing & (first > 0) & (first <= open_until)


def detect_language(runtime, tokenizer, audio_features: torch.Tensor) -> dict[str, float]:
    """Language probabilities pooled (averaged) over the windows of ``audio_features`` (B, n_audio_ctx, d)."""
    n = int(audio_features.shape[0])
    state = runtime.new_state(audio_features, repeat=1, max_tokens=1)
    x = torch.full((n, 1), tokenizer.sot, dtype=torch.long, device=audio_features.device)
    logits = runtime.logits(x, state)[:, 0].float()  # (B, n_vocab)
    language_tokens = torch.tensor(tokenizer.all_language_tokens, dtype=torch.long, device=logits.device)
    probs = logits[:, language_tokens].softmax(dim=-1).mean(dim=0).tolist()  # (n_languages,)
    return dict(zip(tokenizer.all_language_codes, probs))
