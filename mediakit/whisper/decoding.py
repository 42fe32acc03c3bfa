"""openai-whisper's ``whisper.decoding``: ``DecodingOptions``, ``DecodingResult``, ``decode`` and ``detect_language``.

Decoding runs on mediakit's decoder (``mediakit_decode.window.decode_windows``: its logit filters, greedy
and beam searches and ranking, with its key/value caches), one 30 s window per row of ``mel``.
openai-whisper's strategy objects (``DecodingTask``, ``GreedyDecoder``, ``LogitFilter``...) are in ``_task``
and importable from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import Tensor

from .tokenizer import Tokenizer, get_tokenizer

if TYPE_CHECKING:  # pragma: no cover
    from .model import Whisper


@dataclass(frozen=True)
class DecodingOptions:
    # whether to perform X->X "transcribe" or X->English "translate" (or "lang_id": detect only)
    task: str = "transcribe"
    # language that the audio is in; uses detected language if None
    language: Optional[str] = None
    # sampling-related options
    temperature: float = 0.0
    sample_len: Optional[int] = None  # maximum number of tokens to sample
    best_of: Optional[int] = None  # number of independent sample trajectories, if t > 0
    beam_size: Optional[int] = None  # number of beams in beam search, if t == 0
    patience: Optional[float] = None  # patience in beam search (arxiv:2204.05424)
    # "alpha" in Google NMT's length penalty, or None for length normalisation
    length_penalty: Optional[float] = None
    # text or tokens to feed as the prompt or the prefix
    prompt: Optional[Union[str, List[int]]] = None  # for the previous context
    prefix: Optional[Union[str, List[int]]] = None  # to prefix the current context
    # comma-separated ids (or a list) to suppress; "-1" = the non-speech symbols
    suppress_tokens: Optional[Union[str, Iterable[int]]] = "-1"
    suppress_blank: bool = True  # no blank output at the start of sampling
    # timestamp sampling options
    without_timestamps: bool = False  # use <|notimestamps|> to sample text tokens only
    max_initial_timestamp: Optional[float] = 1.0
    # implementation details
    fp16: bool = True  # float16 on a GPU (the CPU computes in float32 regardless)


@dataclass(frozen=True)
class DecodingResult:
    audio_features: Tensor
    language: str
    language_probs: Optional[Dict[str, float]] = None
    tokens: List[int] = field(default_factory=list)
    text: str = ""
    avg_logprob: float = np.nan
    no_speech_prob: float = np.nan
    temperature: float = np.nan
    compression_ratio: float = np.nan


def _features(model: "Whisper", runtime, mel: Tensor) -> Tensor:
    """Encoder output (B, n_audio_ctx, n_audio_state) of mel (B, n_mels, 3000); features given pass as they are."""
    if tuple(mel.shape[-2:]) == (model.dims.n_audio_ctx, model.dims.n_audio_state):
        return mel.to(runtime.device)
    return runtime.encode(mel)


@torch.inference_mode()
def _language_probs(runtime, tokenizer: Tokenizer, features: Tensor) -> Tuple[Tensor, List[Dict[str, float]]]:
    """Per row: the most probable language token and every language's probability."""
    n = features.shape[0]
    state = runtime.new_state(features, repeat=1, max_tokens=1)
    start = torch.full((n, 1), tokenizer.sot, dtype=torch.long, device=runtime.device)
    logits = runtime.logits(start, state)[:, 0].float()  # (B, n_vocab)
    languages = torch.tensor(tokenizer.all_language_tokens, device=logits.device)
    probs = logits[:, languages].softmax(dim=-1)  # (B, n_languages): the softmax over the language tokens only
    best = languages[probs.argmax(dim=-1)]
    rows = probs.cpu().tolist()
    return best, [dict(zip(tokenizer.all_language_codes, row)) for row in rows]


def detect_language(
    model: "Whisper", mel: Tensor, tokenizer: Optional[Tokenizer] = None
) -> Tuple[Tensor, Union[List[dict], dict]]:
    """The most probable language token of each 30 s mel (B, n_mels, 3000) (or audio features), and the
    probabilities of every language; for one mel (n_mels, 3000) a single token and dict."""
    if tokenizer is None:
        tokenizer = get_tokenizer(model.is_multilingual, num_languages=model.num_languages)
    if tokenizer.language is None or tokenizer.language_token not in tokenizer.sot_sequence:
        raise ValueError("This model doesn't have language tokens so it can't perform lang id")
    single = mel.ndim == 2
    if single:
        mel = mel.unsqueeze(0)
    runtime = model.runtime()
    tokens, probs = _language_probs(runtime, tokenizer, _features(model, runtime, mel))
    return (tokens[0], probs[0]) if single else (tokens, probs)


def _check(options: DecodingOptions) -> None:
    """openai-whisper's checks of an options combination."""
    if options.beam_size is not None and options.best_of is not None:
        raise ValueError("beam_size and best_of can't be given together")
    if options.temperature == 0 and options.best_of is not None:
        raise ValueError("best_of with greedy sampling (T=0) is not compatible")
    if options.patience is not None and options.beam_size is None:
        raise ValueError("patience requires beam_size to be given")
    if options.length_penalty is not None and not 0 <= options.length_penalty <= 1:
        raise ValueError("length_penalty (alpha) should be a value between 0 and 1")
    if options.task not in ("transcribe", "translate", "lang_id"):
        raise ValueError(f"unknown task {options.task!r}; use transcribe, translate or lang_id")


def _as_tokens(value: Optional[Union[str, Sequence[int]]], tokenizer) -> List[int]:
    if not value:
        return []
    if isinstance(value, str):
        return tokenizer.encode(" " + value.strip())
    return [int(t) for t in value]


def _mediakit_options(options: DecodingOptions, language: str):
    from mediakit.config import DecodeOptions

    suppress = options.suppress_tokens
    if suppress is not None and not isinstance(suppress, str):
        suppress = ",".join(str(int(t)) for t in suppress)
    return DecodeOptions(
        task=options.task,
        language=language,
        temperature=(float(options.temperature),),
        best_of=options.best_of,
        beam_size=options.beam_size,
        patience=options.patience,
        length_penalty=options.length_penalty,
        suppress_tokens=suppress if suppress is not None else "",
        suppress_blank=options.suppress_blank,
        without_timestamps=options.without_timestamps,
        max_initial_timestamp=options.max_initial_timestamp,
        repetition_guard=False,
    )


@torch.inference_mode()
def decode(
    model: "Whisper", mel: Tensor, options: DecodingOptions = DecodingOptions(), **kwargs
) -> Union[DecodingResult, List[DecodingResult]]:
    """Decode 30 s mel windows (n_mels, 3000) or (B, n_mels, 3000), or their audio features.

    Keywords replace fields of ``options``. One result for one window, else a list of them.
    """
    from mediakit_decode.filters import build_filters
    from mediakit_decode.window import WindowBatch, decode_windows

    if kwargs:
        options = replace(options, **kwargs)
    _check(options)
    single = mel.ndim == 2
    if single:
        mel = mel.unsqueeze(0)
    runtime = model.runtime(options.fp16)
    features = _features(model, runtime, mel)
    n = features.shape[0]

    tokenizer = get_tokenizer(
        model.is_multilingual, num_languages=model.num_languages, language=options.language or "en",
        task=options.task if options.task != "lang_id" else "transcribe",
    )  # fmt: skip
    languages = [tokenizer.language or "en"] * n
    language_probs: List[Optional[dict]] = [None] * n
    if options.language is None or options.task == "lang_id":
        tokens, language_probs = detect_language(model, features, tokenizer)
        languages = [max(p, key=p.get) for p in language_probs]
        if options.language is not None:
            languages = [tokenizer.language] * n
    if options.task == "lang_id":
        results = [DecodingResult(features[i], languages[i], language_probs[i]) for i in range(n)]
        return results[0] if single else results

    results: List[Optional[DecodingResult]] = [None] * n
    precision = runtime.feature_spec.chunk_frames // runtime.dims.n_audio_ctx * runtime.feature_spec.hop_length
    precision /= runtime.feature_spec.sample_rate  # seconds per timestamp step (0.02)
    for language in dict.fromkeys(languages):  # rows of one language decode together, in order of appearance
        rows = [i for i, code in enumerate(languages) if code == language]
        core = runtime.get_tokenizer(task=options.task, language=language if model.is_multilingual else None)
        settings = _mediakit_options(options, language)
        prefix = _as_tokens(options.prefix, core)
        if prefix and options.sample_len is not None:
            prefix = prefix[-(model.dims.n_text_ctx // 2 - options.sample_len) :]
        filters = build_filters(core, settings, without_timestamps=options.without_timestamps, precision=precision)
        batch = WindowBatch(runtime, features[rows])
        decoded = decode_windows(
            batch, core, settings, filters, _as_tokens(options.prompt, core), float(options.temperature),
            options.without_timestamps, None, prefix=prefix, sample_len=options.sample_len,
        )  # fmt: skip
        for i, result in zip(rows, decoded):
            results[i] = DecodingResult(
                audio_features=features[i],
                language=language,
                language_probs=language_probs[i],
                tokens=list(result.tokens),
                text=result.text,
                avg_logprob=result.avg_logprob,
                no_speech_prob=result.no_speech_prob,
                temperature=float(options.temperature),
                compression_ratio=result.compression_ratio,
            )
    return results[0] if single else results


# openai-whisper's strategy objects (they build on the names above)
from ._task import (  # noqa: E402
    ApplyTimestampRules, BeamSearchDecoder, DecodingTask, GreedyDecoder, Inference, LogitFilter,
    MaximumLikelihoodRanker, PyTorchInference, SequenceRanker, SuppressBlank, SuppressTokens, TokenDecoder,
)  # fmt: skip
