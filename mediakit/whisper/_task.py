"""openai-whisper's decoding strategy objects, for code that composes, subclasses or drives them itself.

``DecodingTask(model, options).run(mel)`` decodes as ``decode()`` does, one step at a time through its
parts: ``inference`` (the decoder forward pass, on mediakit's runtime and its key/value caches),
``logit_filters`` (a list: append your own ``LogitFilter``), ``decoder`` (``GreedyDecoder`` or
``BeamSearchDecoder``) and ``sequence_ranker``. Replace any of them after construction, or subclass the task.
The filters are mediakit's (``mediakit_decode.filters``) behind openai-whisper's constructors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.distributions import Categorical

from .decoding import DecodingOptions, DecodingResult, _check, _features, detect_language
from .tokenizer import Tokenizer, get_tokenizer
from .utils import compression_ratio

if TYPE_CHECKING:  # pragma: no cover
    from .model import Whisper

_CHUNK_SECONDS = 30


# --- inference --------------------------------------------------------------------------------------------


class Inference:
    """The decoder's forward pass during one decoding."""

    def logits(self, tokens: Tensor, audio_features: Tensor) -> Tensor:
        """Logits (N, T, n_vocab) of ``tokens`` (N, T) over ``audio_features`` (n_audio, n_ctx, n_state)."""
        raise NotImplementedError

    def rearrange_kv_cache(self, source_indices) -> None:
        """Row ``i`` continues from row ``source_indices[i]`` (after a beam search step)."""
        raise NotImplementedError

    def cleanup_caching(self) -> None:
        """Free the caches when the decoding is over."""


class PyTorchInference(Inference):
    """The model's decoder with mediakit's preallocated key/value caches: after the first call only each
    row's last token is fed. Rows are ``n_audio x group`` (beams or samples of one audio in a row).

    ``fp16`` (mediakit's): False uses the model's float32 runtime on a GPU, as ``DecodingOptions.fp16``.
    """

    def __init__(self, model: "Whisper", initial_token_length: int, *, fp16: bool = True):
        self.model = model
        self.initial_token_length = initial_token_length
        self.runtime = model.runtime(fp16)
        self.kv_cache: Dict = {}  # openai-whisper's attribute; the caches are in `state`
        self.hooks: List = []
        self.state = None  # mediakit_whisper.runtime.DecoderState, made at the first call

    def logits(self, tokens: Tensor, audio_features: Tensor) -> Tensor:
        if self.state is None:
            group = max(1, tokens.shape[0] // audio_features.shape[0])
            self.state = self.runtime.new_state(audio_features, repeat=group)
        if tokens.shape[-1] > self.initial_token_length:
            tokens = tokens[:, -1:]  # the earlier positions are in the cache
        return self.runtime.logits(tokens, self.state)

    def rearrange_kv_cache(self, source_indices) -> None:
        source_indices = [int(i) for i in source_indices]
        if self.state is not None and source_indices != list(range(len(source_indices))):
            self.state.reorder(torch.tensor(source_indices))

    def cleanup_caching(self) -> None:
        self.state = None
        self.kv_cache = {}
        self.hooks = []


# --- ranking ------------------------------------------------------------------------------------------------


class SequenceRanker:
    def rank(self, tokens: List[List[Tensor]], sum_logprobs: List[List[float]]) -> List[int]:
        """For each audio, the index of the chosen sequence among its candidates."""
        raise NotImplementedError


class MaximumLikelihoodRanker(SequenceRanker):
    """The candidate with the best sum log probability over its length, or over Google NMT's length penalty
    ``((5 + length) / 6) ** length_penalty`` when one is given."""

    def __init__(self, length_penalty: Optional[float]):
        self.length_penalty = length_penalty

    def rank(self, tokens: List[List[Tensor]], sum_logprobs: List[List[float]]) -> List[int]:
        from mediakit_decode.search import rank

        return [rank(list(zip(group, logprobs)), self.length_penalty) for group, logprobs in zip(tokens, sum_logprobs)]


# --- choosing the next token ----------------------------------------------------------------------------------


class TokenDecoder:
    def reset(self) -> None:
        """Forget the state of the previous decoding."""

    def update(self, tokens: Tensor, logits: Tensor, sum_logprobs: Tensor) -> Tuple[Tensor, bool]:
        """Choose the next tokens: ``tokens`` (N, T) with one more column, and whether every row has ended.

        ``logits`` (N, n_vocab) of the next position; ``sum_logprobs`` (N,) is updated in place.
        """
        raise NotImplementedError

    def finalize(self, tokens: Tensor, sum_logprobs: Tensor) -> Tuple[Sequence[Sequence[Tensor]], List[List[float]]]:
        """The candidates of each audio and their sum log probabilities, from ``tokens`` (n_audio, group, T)
        and ``sum_logprobs`` (n_audio, group); each candidate ends with end-of-text."""
        raise NotImplementedError


class GreedyDecoder(TokenDecoder):
    """The most probable token (temperature 0), or one sampled at ``temperature``."""

    def __init__(self, temperature: float, eot: int):
        self.temperature = temperature
        self.eot = eot

    def update(self, tokens: Tensor, logits: Tensor, sum_logprobs: Tensor) -> Tuple[Tensor, bool]:
        if self.temperature == 0:
            chosen = logits.argmax(dim=-1)  # (N,)
        else:
            chosen = Categorical(logits=logits / self.temperature).sample()
        logprobs = F.log_softmax(logits.float(), dim=-1)
        ended = tokens[:, -1] == self.eot  # (N,): rows that ended keep their sum and repeat end-of-text
        sum_logprobs += logprobs[torch.arange(logprobs.shape[0]), chosen] * ~ended
        chosen[ended] = self.eot
        tokens = torch.cat([tokens, chosen[:, None]], dim=-1)
        return tokens, bool((tokens[:, -1] == self.eot).all())

    def finalize(self, tokens: Tensor, sum_logprobs: Tensor):
        return F.pad(tokens, (0, 1), value=self.eot), sum_logprobs.tolist()  # every row ends with end-of-text


class BeamSearchDecoder(TokenDecoder):
    """Beam search: each beam proposes its ``beam_size + 1`` best next tokens; the best ``beam_size`` that do
    not end the text stay live, the ending ones join the audio's finished sequences. An audio is done with
    ``round(beam_size * patience)`` finished sequences (patience: arxiv:2204.05424)."""

    def __init__(self, beam_size: int, eot: int, inference: Inference, patience: Optional[float] = None):
        self.beam_size = beam_size
        self.eot = eot
        self.inference = inference
        self.patience = patience or 1.0
        self.max_candidates: int = round(beam_size * self.patience)
        self.finished_sequences: Optional[List[Dict[Tuple[int, ...], float]]] = None
        if self.max_candidates <= 0:
            raise AssertionError(f"Invalid beam size ({beam_size}) or patience ({patience})")

    def reset(self) -> None:
        self.finished_sequences = None

    def update(self, tokens: Tensor, logits: Tensor, sum_logprobs: Tensor) -> Tuple[Tensor, bool]:
        from mediakit_decode.search import next_beams

        if tokens.shape[0] % self.beam_size != 0:
            raise ValueError(f"{tokens.shape}[0] % {self.beam_size} != 0")
        n_audio = tokens.shape[0] // self.beam_size
        if self.finished_sequences is None:
            self.finished_sequences = [{} for _ in range(n_audio)]

        logprobs = F.log_softmax(logits.float(), dim=-1)
        top_logprobs, top_tokens = logprobs.topk(self.beam_size + 1)  # (N, beam + 1)
        scores_all = (sum_logprobs[:, None] + top_logprobs).tolist()  # float32 sums
        tokens_all, prefixes = top_tokens.tolist(), tokens.tolist()
        live: List[List[int]] = []
        sources: List[int] = []
        for audio, finished in enumerate(self.finished_sequences):
            rows = range(audio * self.beam_size, (audio + 1) * self.beam_size)
            for sequence, score, row in next_beams(
                prefixes, scores_all, tokens_all, rows, self.beam_size, self.eot, finished, self.max_candidates
            ):
                sum_logprobs[len(live)] = score
                live.append(list(sequence))
                sources.append(row)

        self.inference.rearrange_kv_cache(sources)
        completed = all(len(finished) >= self.max_candidates for finished in self.finished_sequences)
        return torch.tensor(live, device=tokens.device), completed

    def finalize(self, preceding_tokens: Tensor, sum_logprobs: Tensor):
        sum_logprobs = sum_logprobs.cpu()
        for i, finished in enumerate(self.finished_sequences or []):
            if len(finished) < self.beam_size:  # topped up with the best live beams
                for j in sum_logprobs[i].argsort(descending=True, stable=True).tolist():
                    finished[(*preceding_tokens[i, j].tolist(), self.eot)] = sum_logprobs[i][j].item()
                    if len(finished) >= self.beam_size:
                        break
        tokens = [[torch.tensor(sequence) for sequence in finished] for finished in self.finished_sequences or []]
        return tokens, [list(finished.values()) for finished in self.finished_sequences or []]


# --- logit filters ------------------------------------------------------------------------------------------------


class LogitFilter:
    def apply(self, logits: Tensor, tokens: Tensor) -> None:
        """Mask or change ``logits`` (N, n_vocab) in place, given ``tokens`` (N, T): every token so far,
        the initial tokens (prompt, start of transcript, prefix) included."""
        raise NotImplementedError


class SuppressBlank(LogitFilter):
    """No blank (a lone space) and no end-of-text as the first sampled token."""

    def __init__(self, tokenizer: Tokenizer, sample_begin: int):
        from mediakit_decode.filters import SuppressBlank as Blank

        self.tokenizer = tokenizer
        self.sample_begin = sample_begin
        self._filter = Blank(tokenizer)

    def apply(self, logits: Tensor, tokens: Tensor) -> None:
        self._filter.apply(logits, tokens[:, self.sample_begin :])


class SuppressTokens(LogitFilter):
    """Never these token ids."""

    def __init__(self, suppress_tokens: Sequence[int]):
        from mediakit_decode.filters import SuppressTokens as Suppress

        self.suppress_tokens = list(suppress_tokens)
        self._filter = Suppress(self.suppress_tokens)

    def apply(self, logits: Tensor, tokens: Tensor) -> None:
        self._filter.apply(logits, tokens)


class ApplyTimestampRules(LogitFilter):
    """Whisper's timestamp grammar: a timestamp first (at most ``max_initial_timestamp_index`` steps of
    0.02 s), timestamps in pairs and never decreasing, and a timestamp when all of them together are more
    probable than any text token."""

    def __init__(self, tokenizer: Tokenizer, sample_begin: int, max_initial_timestamp_index: Optional[int]):
        from mediakit_decode.filters import TimestampRules

        self.tokenizer = tokenizer
        self.sample_begin = sample_begin
        self.max_initial_timestamp_index = max_initial_timestamp_index
        self._filter = TimestampRules(tokenizer, max_initial_timestamp_index)

    def apply(self, logits: Tensor, tokens: Tensor) -> None:
        self._filter.apply(logits, tokens[:, self.sample_begin :])


# --- the task -------------------------------------------------------------------------------------------------


class DecodingTask:
    """One decoding of 30 s windows with ``options``, composed of the parts above; ``run(mel)`` returns a
    ``DecodingResult`` per window."""

    inference: Inference
    sequence_ranker: SequenceRanker
    decoder: TokenDecoder
    logit_filters: List[LogitFilter]

    def __init__(self, model: "Whisper", options: DecodingOptions):
        self.model = model
        tokenizer = get_tokenizer(
            model.is_multilingual, num_languages=model.num_languages, language=options.language or "en",
            task=options.task if options.task != "lang_id" else "transcribe",
        )  # fmt: skip
        self.tokenizer: Tokenizer = tokenizer
        self.options: DecodingOptions = self._verify_options(options)

        self.n_group: int = options.beam_size or options.best_of or 1
        self.n_ctx: int = model.dims.n_text_ctx
        self.sample_len: int = options.sample_len or model.dims.n_text_ctx // 2
        self.sot_sequence: Tuple[int, ...] = tuple(
            tokenizer.sot_sequence_including_notimestamps if options.without_timestamps else tokenizer.sot_sequence
        )
        self.initial_tokens: Tuple[int, ...] = self._get_initial_tokens()
        self.sample_begin: int = len(self.initial_tokens)
        self.sot_index: int = self.initial_tokens.index(tokenizer.sot)

        self.inference = PyTorchInference(model, len(self.initial_tokens), fp16=options.fp16)
        self.sequence_ranker = MaximumLikelihoodRanker(options.length_penalty)
        if options.beam_size is not None:
            self.decoder = BeamSearchDecoder(options.beam_size, tokenizer.eot, self.inference, options.patience)
        else:
            self.decoder = GreedyDecoder(options.temperature, tokenizer.eot)

        self.logit_filters = []
        if options.suppress_blank:
            self.logit_filters.append(SuppressBlank(tokenizer, self.sample_begin))
        if options.suppress_tokens:
            self.logit_filters.append(SuppressTokens(self._get_suppress_tokens()))
        if not options.without_timestamps:
            precision = _CHUNK_SECONDS / model.dims.n_audio_ctx  # seconds per timestamp step (0.02)
            max_initial = None
            if options.max_initial_timestamp:
                max_initial = round(options.max_initial_timestamp / precision)
            self.logit_filters.append(ApplyTimestampRules(tokenizer, self.sample_begin, max_initial))

    def _verify_options(self, options: DecodingOptions) -> DecodingOptions:
        _check(options)
        return options

    def _text_tokens(self, value) -> List[int]:
        return self.tokenizer.encode(" " + value.strip()) if isinstance(value, str) else list(value)

    def _get_initial_tokens(self) -> Tuple[int, ...]:
        """[sot_prev, prompt...] + sot sequence + [prefix...]."""
        tokens = list(self.sot_sequence)
        if self.options.prefix:
            prefix = self._text_tokens(self.options.prefix)
            room = self.n_ctx // 2 - self.sample_len  # 0 (the whole prefix) with the default sample_len
            tokens += prefix[-room:]
        if self.options.prompt:
            prompt = self._text_tokens(self.options.prompt)
            tokens = [self.tokenizer.sot_prev, *prompt[-(self.n_ctx // 2 - 1) :], *tokens]
        return tuple(tokens)

    def _get_suppress_tokens(self) -> Tuple[int, ...]:
        from mediakit_decode.filters import suppress_token_ids

        return suppress_token_ids(self.options.suppress_tokens, self.tokenizer)

    def _get_audio_features(self, mel: Tensor) -> Tensor:
        runtime = self.inference.runtime if isinstance(self.inference, PyTorchInference) else self.model.runtime()
        return _features(self.model, runtime, mel)

    def _detect_language(self, audio_features: Tensor, tokens: Tensor):
        """Per audio: its language code (written into ``tokens`` when not given) and, when detected, the
        probabilities of every language."""
        n = audio_features.shape[0]
        languages = [self.options.language or "en"] * n
        probs = None
        detect = self.options.language is None or self.options.task == "lang_id"
        if detect:  # an English-only model raises, as openai-whisper's does
            language_tokens, probs = detect_language(self.model, audio_features, self.tokenizer)
            languages = [max(p, key=p.get) for p in probs]
            if self.options.language is None:
                tokens[:, self.sot_index + 1] = language_tokens.to(tokens.device)
        return languages, probs

    def _main_loop(self, audio_features: Tensor, tokens: Tensor):
        n = tokens.shape[0]
        sum_logprobs = torch.zeros(n, device=tokens.device)
        no_speech_probs = [np.nan] * n
        try:
            for i in range(self.sample_len):
                logits = self.inference.logits(tokens, audio_features)  # (N, T, n_vocab)
                if i == 0 and self.tokenizer.no_speech is not None:
                    at_sot = logits[:, self.sot_index].float().softmax(dim=-1)
                    no_speech_probs = at_sot[:, self.tokenizer.no_speech].tolist()
                logits = logits[:, -1]  # (N, n_vocab): the next token's
                for logit_filter in self.logit_filters:
                    logit_filter.apply(logits, tokens)
                tokens, completed = self.decoder.update(tokens, logits, sum_logprobs)
                if completed or tokens.shape[-1] > self.n_ctx:
                    break
        finally:
            self.inference.cleanup_caching()
        return tokens, sum_logprobs, no_speech_probs

    @torch.inference_mode()
    def run(self, mel: Tensor) -> List[DecodingResult]:
        """Decode ``mel`` (n_audio, n_mels, 3000) (or its audio features): one result per audio."""
        self.decoder.reset()
        n_audio = mel.shape[0]
        audio_features = self._get_audio_features(mel)
        tokens = torch.tensor([self.initial_tokens]).repeat(n_audio, 1)
        languages, language_probs = self._detect_language(audio_features, tokens)
        if self.options.task == "lang_id":
            return [
                DecodingResult(audio_features=features, language=language, language_probs=probs)
                for features, language, probs in zip(audio_features, languages, language_probs or [None] * n_audio)
            ]

        tokens = tokens.repeat_interleave(self.n_group, dim=0).to(audio_features.device)
        tokens, sum_logprobs, no_speech_probs = self._main_loop(audio_features, tokens)
        no_speech_probs = no_speech_probs[:: self.n_group]
        tokens = tokens.reshape(n_audio, self.n_group, -1)
        sum_logprobs = sum_logprobs.reshape(n_audio, self.n_group)

        candidates, candidate_logprobs = self.decoder.finalize(tokens, sum_logprobs)
        eot = self.tokenizer.eot
        candidates = [[t[self.sample_begin : int((t == eot).nonzero()[0, 0])] for t in group] for group in candidates]
        chosen = self.sequence_ranker.rank(candidates, candidate_logprobs)
        results = []
        for i, pick in enumerate(chosen):
            text_tokens = candidates[i][pick].tolist()
            text = self.tokenizer.decode(text_tokens).strip()
            results.append(
                DecodingResult(
                    audio_features=audio_features[i],
                    language=languages[i],
                    language_probs=language_probs[i] if language_probs else None,
                    tokens=text_tokens,
                    text=text,
                    avg_logprob=candidate_logprobs[i][pick] / (len(text_tokens) + 1),
                    no_speech_prob=no_speech_probs[i],
                    temperature=self.options.temperature,
                    compression_ratio=compression_ratio(text),
                )
            )
        return results
