"""Token choice strategies (greedy/sampling, beam search) and the ranking of finished candidates.

A strategy sees the filtered next-token logits of all rows and returns the next token of each row
plus, for beam search, which row each new row continues (the decoder reorders its cache with it).
Rows are grouped per audio window: row ``i * group + j`` is candidate ``j`` of the ``i``-th window
still being decoded. A window whose candidates are complete is reported in ``Step.done``; the decoder
then retires it (:meth:`retire`), so that it stops costing model work while the others go on. Its
candidates are frozen at that step, as if it had been decoded alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch


#: Up to this many rows, torch's top-k runs row by row on the calling thread. torch's multi-row top-k
#: works in its worker threads, whose per-row buffers (0.8 MB for Whisper's vocabulary) came back as
#: fresh pages every step inside the decoding loop: 5 rows took 582 µs there, row by row 345 µs.
#: From about 8 rows on, the worker threads pay for themselves (40 rows: 1.38 ms against 1.76 ms).
ROWWISE_TOPK_ROWS = 8
#: :func:`top_k` first finds the best chunks of this many entries, then the best entries in them.
TOPK_CHUNK = 256


def top_k(values: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``values.topk(k, dim=-1)`` of a (N, V) tensor: the same values and indices.

    The k best entries of a row lie in the k chunks with the highest maxima, so only those chunks (and
    the entries after the last whole chunk) are searched: one pass over the row for the chunk maxima
    instead of torch's sort of it. Exact ties at the k-th place are left to torch, whose choice among
    equal entries is its own.
    """
    n, v = values.shape
    m = v // TOPK_CHUNK
    if m <= k:
        return _torch_top_k(values, k)
    body = values[:, : m * TOPK_CHUNK].view(n, m, TOPK_CHUNK)
    peaks, chunks = body.amax(dim=-1).topk(k + 1, dim=-1)  # (N, k + 1)
    picked = body.gather(1, chunks[:, :k, None].expand(n, k, TOPK_CHUNK)).view(n, k * TOPK_CHUNK)
    if m * TOPK_CHUNK < v:
        picked = torch.cat([picked, values[:, m * TOPK_CHUNK :]], dim=1)
    best, where = picked.topk(k + 1, dim=-1)
    rows, outside = best.tolist(), peaks[:, k].tolist()
    # strictly decreasing, and above every chunk not searched (False for NaN too): no tie to settle
    if not all(all(a > b for a, b in zip(row, row[1:])) and row[k - 1] > out for row, out in zip(rows, outside)):
        return _torch_top_k(values, k)
    first, span = k * TOPK_CHUNK, m * TOPK_CHUNK
    indices = [
        [c[j // TOPK_CHUNK] * TOPK_CHUNK + j % TOPK_CHUNK if j < first else span + j - first for j in w]
        for c, w in zip(chunks.tolist(), where[:, :k].tolist())
    ]
    return best[:, :k], torch.tensor(indices, dtype=torch.long, device=values.device)


def _torch_top_k(values: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    if values.shape[0] > ROWWISE_TOPK_ROWS:
        return values.topk(k, dim=-1)
    rows = [row.topk(k) for row in values]
    return torch.stack([r.values for r in rows]), torch.stack([r.indices for r in rows])


@dataclass
class Step:
    """The outcome of one search step."""

    next_tokens: list[int]  # (N,) the token appended to each row
    source: list[int] | None  # (N,) the row each new row continues; None = unchanged order
    completed: bool  # every window has its candidates: stop decoding
    done: tuple[int, ...] = ()  # positions (among the live windows) of windows whose candidates are complete


class _WindowRows:
    """What both searches keep per window: which windows are live, in row-group order (``group`` rows
    each), and the candidates of those already retired."""

    def __init__(self, n_windows: int, group: int):
        self.group = group
        self.windows = list(range(n_windows))  # the original index of each live window
        self.retired: dict[int, list[tuple[tuple[int, ...], float]]] = {}

    def retire(self, positions: Sequence[int]) -> list[int]:
        """Set the windows at ``positions`` (among the live ones) aside with their candidates as they are;
        returns the positions of the windows that stay, ascending."""
        gone = set(positions)
        for p in gone:
            self.retired[self.windows[p]] = self._candidates(p)
        live = [p for p in range(len(self.windows)) if p not in gone]
        self._keep(live, [p * self.group + j for p in live for j in range(self.group)])
        self.windows = [self.windows[p] for p in live]
        return live

    def finish(self) -> list[list[tuple[tuple[int, ...], float]]]:
        """Per window (original order), its candidates as (tokens without end-of-text, sum of log probabilities)."""
        out = dict(self.retired)
        for position, window in enumerate(self.windows):
            out[window] = self._candidates(position)
        return [out[w] for w in range(len(out))]

    def _candidates(self, position: int) -> list[tuple[tuple[int, ...], float]]:
        raise NotImplementedError

    def _keep(self, positions: list[int], rows: list[int]) -> None:
        """Keep only the live windows at ``positions``, whose rows are ``rows``."""
        raise NotImplementedError


class GreedySearch(_WindowRows):
    """Argmax at temperature 0, otherwise sampling from softmax(logits / temperature); ``group`` rows per window."""

    def __init__(
        self, temperature: float, eot: int, n_rows: int, generator: torch.Generator | None = None, group: int = 1
    ):
        if n_rows % group:
            raise ValueError(f"{n_rows} rows do not make windows of {group}")
        super().__init__(n_rows // group, group)
        self.temperature = temperature
        self.eot = eot
        self.generator = generator
        self.histories: list[list[int]] = [[] for _ in range(n_rows)]
        self.sum_logprobs = torch.zeros(n_rows, dtype=torch.float32)

    def step(self, logits: torch.Tensor) -> Step:
        # logits: (N, n_vocab) for the live rows
        if self.temperature == 0:
            next_tokens = logits.argmax(dim=-1)
        else:
            probs = torch.softmax(logits.float() / self.temperature, dim=-1)
            next_tokens = torch.multinomial(probs, 1, generator=self.generator).squeeze(1)
        logprobs = torch.log_softmax(logits.float(), dim=-1)
        chosen = logprobs.gather(1, next_tokens[:, None]).squeeze(1).cpu()  # (N,)
        tokens = next_tokens.tolist()
        for row, history in enumerate(self.histories):
            if history and history[-1] == self.eot:
                tokens[row] = self.eot
            else:
                self.sum_logprobs[row] += chosen[row]
            history.append(tokens[row])
        g = self.group
        done = tuple(p for p in range(len(self.windows)) if all(t == self.eot for t in tokens[p * g : (p + 1) * g]))
        return Step(tokens, None, len(done) == len(self.windows), done)

    def _keep(self, positions: list[int], rows: list[int]) -> None:
        self.histories = [self.histories[r] for r in rows]
        self.sum_logprobs = self.sum_logprobs[rows]

    def _candidates(self, position: int) -> list[tuple[tuple[int, ...], float]]:
        candidates = []
        for row in range(position * self.group, (position + 1) * self.group):
            tokens = self.histories[row]
            end = tokens.index(self.eot) if self.eot in tokens else len(tokens)
            candidates.append((tuple(tokens[:end]), float(self.sum_logprobs[row])))
        return candidates


class BeamSearch(_WindowRows):
    """openai-whisper's beam search: ``beam_size`` live beams per window, finished sequences set aside.

    Each beam proposes its ``beam_size + 1`` best next tokens; the best ``beam_size`` proposals that do
    not end the text become the live beams, the ending ones join the window's finished sequences.
    A window is done with ``round(beam_size * patience)`` finished sequences.
    """

    def __init__(self, beam_size: int, eot: int, n_windows: int, patience: float | None = None):
        self.beam_size = beam_size
        self.eot = eot
        self.patience = 1.0 if patience is None else patience
        self.max_candidates = round(beam_size * self.patience)
        if self.max_candidates <= 0:
            raise ValueError(f"patience {patience} leaves no candidates for beam size {beam_size}")
        super().__init__(n_windows, beam_size)
        n_rows = n_windows * beam_size
        self.histories: list[tuple[int, ...]] = [() for _ in range(n_rows)]
        self.sum_logprobs: list[float] = [0.0] * n_rows
        self.finished: list[dict[tuple[int, ...], float]] = [{} for _ in range(n_windows)]  # per live window

    def step(self, logits: torch.Tensor) -> Step:
        # logits: (N, n_vocab) with N = live windows * beam_size
        logprobs = torch.log_softmax(logits.float(), dim=-1)
        top_logprobs, top_tokens = top_k(logprobs, self.beam_size + 1)  # (N, beam + 1)
        base = torch.tensor(self.sum_logprobs, dtype=torch.float32, device=logits.device)
        scores_all = (base[:, None] + top_logprobs).cpu().tolist()  # float32 sums, as openai-whisper
        tokens_all = top_tokens.cpu().tolist()

        histories: list[tuple[int, ...]] = []
        sums: list[float] = []
        source: list[int] = []
        for w, finished in enumerate(self.finished):
            rows = range(w * self.beam_size, (w + 1) * self.beam_size)
            for sequence, score, row in next_beams(
                self.histories, scores_all, tokens_all, rows, self.beam_size, self.eot, finished, self.max_candidates
            ):
                histories.append(sequence)
                sums.append(score)
                source.append(row)
        self.histories = histories
        self.sum_logprobs = sums
        done = tuple(p for p, f in enumerate(self.finished) if len(f) >= self.max_candidates)
        return Step([h[-1] for h in histories], source, len(done) == len(self.finished), done)

    def _keep(self, positions: list[int], rows: list[int]) -> None:
        self.histories = [self.histories[r] for r in rows]
        self.sum_logprobs = [self.sum_logprobs[r] for r in rows]
        self.finished = [self.finished[p] for p in positions]

    def _candidates(self, position: int) -> list[tuple[tuple[int, ...], float]]:
        finished = dict(self.finished[position])
        if len(finished) < self.beam_size:  # topped up with the best live beams
            rows = range(position * self.beam_size, (position + 1) * self.beam_size)
            for row in sorted(rows, key=lambda r: self.sum_logprobs[r], reverse=True):
                finished[self.histories[row] + (self.eot,)] = self.sum_logprobs[row]
                if len(finished) >= self.beam_size:
                    break
        return [(seq[:-1], score) for seq, score in finished.items()]


def next_beams(
    prefixes: Sequence[Sequence[int]],
    scores: Sequence[Sequence[float]],
    tokens: Sequence[Sequence[int]],
    rows: range,
    beam_size: int,
    eot: int,
    finished: dict[tuple[int, ...], float],
    max_candidates: int,
) -> list[tuple[tuple[int, ...], float, int]]:
    """One window's beam search step, as openai-whisper takes it: each of its beams ``rows`` proposes
    ``tokens[row]`` after ``prefixes[row]``, scored ``scores[row]`` (the beam's sum plus each token's log
    probability). Returns the best ``beam_size`` proposals that do not end with ``eot``, as (sequence,
    score, row), best first; the best ending ones join ``finished`` (in place) while it holds fewer than
    ``max_candidates``. A sequence proposed by two beams counts once (the later beam's)."""
    proposed: dict[tuple[int, ...], tuple[float, int]] = {}
    for row in rows:
        for score, token in zip(scores[row], tokens[row]):
            proposed[(*prefixes[row], token)] = (score, row)
    live: list[tuple[tuple[int, ...], float, int]] = []
    ending: dict[tuple[int, ...], float] = {}
    for sequence in sorted(proposed, key=lambda s: proposed[s][0], reverse=True):
        score, row = proposed[sequence]
        if sequence[-1] == eot:
            ending[sequence] = score
            continue
        live.append((sequence, score, row))
        if len(live) == beam_size:
            break
    for sequence in sorted(ending, key=ending.get, reverse=True):
        if len(finished) >= max_candidates:
            break
        finished[sequence] = ending[sequence]
    return live


def rank(candidates: list[tuple[tuple[int, ...], float]], length_penalty: float | None) -> int:
    """Index of the best candidate: sum log probability over length (or over Google NMT's penalty)."""
    best, best_score = 0, -float("inf")
    for i, (tokens, logprob) in enumerate(candidates):
        length = len(tokens)
        penalty = length if length_penalty is None else ((5 + length) / 6) ** length_penalty
        score = logprob / penalty if penalty else -float("inf")
        if score > best_score:
            best, best_score = i, score
    return best
