"""Logit filters: small objects that mask the next-token logits in place before a token is chosen.

Every filter has ``apply(logits, sampled)``: ``logits`` (N, n_vocab) float of the next token for N
rows, ``sampled`` (N, n) int64 the tokens chosen so far after the prompt (n = 0 at the first step).
"""

from __future__ import annotations

import math
from typing import Iterable, Protocol, Sequence

import torch

from mediakit.errors import ConfigError

NEG_INF = -math.inf


class LogitFilter(Protocol):
    def apply(self, logits: torch.Tensor, sampled: torch.Tensor) -> None: ...


def suppress_token_ids(spec: str | Iterable[int] | None, tokenizer) -> tuple[int, ...]:
    """openai-whisper's suppressed set: the listed ids (``-1`` = the non-speech symbols) plus the specials."""
    if isinstance(spec, str):
        try:
            ids = [int(t) for t in spec.split(",") if t.strip()]
        except ValueError as err:
            raise ConfigError(f"suppress_tokens must be comma-separated token ids, got {spec!r}") from err
    else:
        ids = list(spec or ())
    if -1 in ids:
        ids = [t for t in ids if t >= 0]
        ids.extend(tokenizer.non_speech_tokens)
    ids.extend([tokenizer.transcribe, tokenizer.translate, tokenizer.sot, tokenizer.sot_prev, tokenizer.sot_lm])
    if tokenizer.no_speech is not None:
        ids.append(tokenizer.no_speech)
    return tuple(sorted(set(ids)))


class SuppressTokens:
    """Never emit these ids."""

    def __init__(self, ids: Sequence[int]):
        self.ids = list(ids)
        self._index: torch.Tensor | None = None

    def apply(self, logits: torch.Tensor, sampled: torch.Tensor) -> None:
        if self._index is None or self._index.device != logits.device:
            self._index = torch.tensor(self.ids, dtype=torch.long, device=logits.device)
        logits.index_fill_(1, self._index, NEG_INF)


class SuppressBlank:
    """No blank (a lone space) and no end-of-text as the first sampled token."""

    def __init__(self, tokenizer):
        self.ids = list(tokenizer.encode(" ")) + [tokenizer.eot]

    def apply(self, logits: torch.Tensor, sampled: torch.Tensor) -> None:
        if sampled.shape[1] == 0:
            logits[:, self.ids] = NEG_INF


class RepetitionPenalty:
    """CTranslate2's repetition penalty (faster-whisper's ``repetition_penalty``): the logit of every token
    already chosen in this decoding of the window is divided by ``penalty`` where it is positive and
    multiplied by it where it is negative, once however often the token came. Opt-in: it changes text."""

    def __init__(self, penalty: float):
        self.penalty = float(penalty)

    def apply(self, logits: torch.Tensor, sampled: torch.Tensor) -> None:
        if sampled.shape[1] == 0:
            return
        previous = logits.gather(1, sampled)
        logits.scatter_(1, sampled, torch.where(previous < 0, previous * self.penalty, previous / self.penalty))


class NoRepeatNgram:
    """CTranslate2's n-gram block (faster-whisper's ``no_repeat_ngram_size``): a token that would complete,
    after the last ``size - 1`` tokens chosen, an n-gram already chosen in this decoding of the window is
    never emitted (``size`` 1: no token twice). Timestamps count as tokens. Opt-in: it changes text."""

    def __init__(self, size: int):
        self.size = size

    def apply(self, logits: torch.Tensor, sampled: torch.Tensor) -> None:
        n, length = self.size, sampled.shape[1]
        if length < n:
            return
        for row, tokens in enumerate(sampled.tolist()):
            last = tokens[length - n + 1 :]
            banned = {tokens[i + n - 1] for i in range(length - n + 1) if tokens[i : i + n - 1] == last}
            if banned:
                logits[row, sorted(banned)] = NEG_INF


class TimestampRules:
    """Whisper's timestamp grammar, vectorised over rows.

    - the first token is a timestamp, at most ``max_initial_index`` steps (0.02 s each) from the start;
    - timestamps come in pairs (end of one segment, start of the next) except right before end-of-text;
    - timestamps never decrease, and a segment cannot end where it started;
    - when the timestamps together are more probable than any single text token, a timestamp is forced.
    """

    def __init__(self, tokenizer, max_initial_index: int | None):
        self.eot = tokenizer.eot
        self.no_timestamps = tokenizer.no_timestamps
        self.timestamp_begin = tokenizer.timestamp_begin
        self.max_initial_index = max_initial_index

    def apply(self, logits: torch.Tensor, sampled: torch.Tensor) -> None:
        tb = self.timestamp_begin
        logits[:, self.no_timestamps] = NEG_INF
        n = sampled.shape[1]
        if n == 0:
            logits[:, :tb] = NEG_INF
            if self.max_initial_index is not None:
                logits[:, tb + self.max_initial_index + 1 :] = NEG_INF
        else:
            is_ts = sampled >= tb  # (N, n)
            last = is_ts[:, -1]
            penultimate = is_ts[:, -2] if n >= 2 else torch.ones_like(last)
            # two timestamps in a row: text (or end-of-text) must follow
            _mask_rows(logits[:, tb:], last & penultimate)
            # one timestamp after text: the segment's closing timestamp or end-of-text, no text
            closing = last & ~penultimate
            _mask_rows(logits[:, : self.eot], closing)
            # monotonic: nothing below the last timestamp, and strictly above it unless closing a pair
            last_ts = torch.where(is_ts, sampled, torch.full_like(sampled, -1)).amax(dim=1)  # (N,)
            bound = torch.where(closing, last_ts, last_ts + 1) - tb  # exclusive, in timestamp steps
            bound = torch.where(last_ts >= 0, bound, torch.zeros_like(bound))
            steps = torch.arange(logits.shape[1] - tb, device=logits.device)  # (n_ts,)
            logits[:, tb:].masked_fill_(steps[None, :] < bound[:, None], NEG_INF)

        # log P(any timestamp) > max log P(text token); the softmax normaliser cancels on both sides
        timestamp_mass = logits[:, tb:].float().logsumexp(dim=-1)  # (N,)
        best_text = logits[:, :tb].float().amax(dim=-1)  # (N,); amax: max() would also find the indices
        _mask_rows(logits[:, :tb], timestamp_mass > best_text)


def _mask_rows(logits: torch.Tensor, rows: torch.Tensor) -> None:
    """Set the rows of ``logits`` (N, V) where ``rows`` (N,) is True to -inf. Most steps mask no
    row, and a masked fill over the whole vocabulary cost 50 us per step even then."""
    if rows.any():
        logits[rows] = NEG_INF


def build_filters(tokenizer, options, *, without_timestamps: bool, precision: float) -> list[LogitFilter]:
    """The filters of one decoding, in openai-whisper's order; the opt-in penalties of CTranslate2 first, as
    faster-whisper applies them (before the timestamp rules compare the timestamps' mass with the text's)."""
    filters: list[LogitFilter] = []
    if options.repetition_penalty != 1.0:
        filters.append(RepetitionPenalty(options.repetition_penalty))
    if options.no_repeat_ngram_size > 0:
        filters.append(NoRepeatNgram(options.no_repeat_ngram_size))
    if options.suppress_blank:
        filters.append(SuppressBlank(tokenizer))
    ids = suppress_token_ids(options.suppress_tokens, tokenizer)
    if ids:
        filters.append(SuppressTokens(ids))
    if not without_timestamps:
        max_initial = None
        if options.max_initial_timestamp is not None:
            max_initial = round(options.max_initial_timestamp / precision)
        filters.append(TimestampRules(tokenizer, max_initial))
    return filters
