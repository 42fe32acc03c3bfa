"""The ``whisper`` decoder stage: options checked once, then one ``decode`` per input."""

from __future__ import annotations

import logging
from dataclasses import replace

import torch

from mediakit.config import BATCHED_VAD, DecodeOptions, VadOptions
from mediakit.errors import ConfigError, StageError
from mediakit.records import DecodeStart, Features, ProgressCallback, Segment, Transcript, Word
from mediakit.stages import Batcher, SegmentCallback, StartCallback

from .batched import transcribe_batched
from .coverage import SpeechProbe, WordSpans
from .job import Job
from .longform import clip_frames, transcribe_windows
from .repair import keep_unaccounted, repair, repair_batched
from .script import CHINESE, converter
from .segments import Draft
from .source import LIVE_END, as_source, duration
from .vad import merge_regions, speech_probabilities_of, speech_regions_of, widen
from .window import detect_language

log = logging.getLogger(__name__)

TASKS = ("transcribe", "translate")


def check_options(options: DecodeOptions) -> DecodeOptions:
    """Validate and normalise (language code) the options; ConfigError names the bad option."""
    if options.task not in TASKS:
        raise ConfigError(f"task must be transcribe or translate, got {options.task!r}")
    if options.language is not None:
        from mediakit_whisper.tokenizer import language_code

        options = replace(options, language=language_code(options.language))
    if options.zh_script is not None:
        converter(options.zh_script)  # raises ConfigError for an unknown script
    if options.beam_size is not None and options.beam_size < 1:
        raise ConfigError(f"beam_size must be at least 1, got {options.beam_size}")
    if options.best_of is not None and options.best_of < 1:
        raise ConfigError(f"best_of must be at least 1, got {options.best_of}")
    if options.patience is not None and options.patience <= 0:
        raise ConfigError(f"patience must be positive, got {options.patience}")
    if any(t < 0 for t in options.temperature):
        raise ConfigError(f"temperatures must not be negative, got {options.temperature}")
    if options.language_detection_segments < 1:
        raise ConfigError("language_detection_segments must be at least 1")
    if options.sample_len is not None and options.sample_len < 1:
        raise ConfigError(f"sample_len must be at least 1, got {options.sample_len}")
    if not options.repetition_penalty > 0:
        raise ConfigError(f"repetition_penalty must be positive (1 = off), got {options.repetition_penalty}")
    if options.no_repeat_ngram_size < 0:
        raise ConfigError(f"no_repeat_ngram_size must not be negative (0 = off), got {options.no_repeat_ngram_size}")
    if options.batch_size < 0:
        raise ConfigError(f"batch_size must not be negative, got {options.batch_size}")
    try:
        clip_frames(options.clip_timestamps, 0, 100)
    except ValueError as err:
        raise ConfigError(f"clip_timestamps must be comma-separated seconds, got {options.clip_timestamps!r}") from err
    return options


def intersect(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The overlaps of two lists of frame ranges, in order, empty overlaps left out."""
    out = [(max(s1, s2), min(e1, e2)) for s1, e1 in a for s2, e2 in b]
    return sorted((s, e) for s, e in out if e > s)


class WhisperDecoder:
    """openai-whisper's decoding for a Whisper runtime, plus VAD, a repetition guard and batching."""

    def __init__(self, options: DecodeOptions, batcher: Batcher | None = None):
        self.options = check_options(options)
        self.batcher = batcher

    def with_batcher(self, batcher: Batcher | None) -> "WhisperDecoder":
        """This decoder, with batched mode's windows decoded through ``batcher`` together with other
        inputs' (``mediakit serve --batch_size``); the tokens are those decoded alone."""
        return WhisperDecoder(self.options, batcher)

    def decode(self, model, features: Features, progress: ProgressCallback | None = None) -> Transcript:
        return self.decode_stream(model, features, progress)

    def decode_stream(
        self,
        model,
        features,
        progress: ProgressCallback | None = None,
        emit: SegmentCallback | None = None,
        started: StartCallback | None = None,
    ) -> Transcript:
        """Decode whole :class:`Features` or a :class:`~mediakit.stages.FeatureSource` (read window by
        window); ``emit`` gets each segment once it is final: after its window in the seek loop, at the
        end in batched mode (and with the coverage pass). ``started`` gets the language and the audio to
        decode before any segment (a live input's duration so far)."""
        if not hasattr(model, "get_tokenizer") or not hasattr(model, "new_state"):
            raise StageError(f"decoder 'whisper' needs a Whisper model; {getattr(model, 'name', model)!r} is not one")
        features = as_source(features)
        if features.live and (self.options.batch_size > 0 or self.options.vad):
            raise ConfigError("a live input is decoded window by window: --vad and --batch_size need the whole input first")
        with torch.inference_mode():
            return self._decode(model, features, progress, emit, started)

    def _decode(
        self,
        model,
        features,
        progress: ProgressCallback | None,
        emit: SegmentCallback | None = None,
        started: StartCallback | None = None,
    ) -> Transcript:
        options = self.options
        fps = features.spec.frames_per_second
        if features.live:
            features.wait(1)
        content = features.content_frames if features.ended else LIVE_END
        source = features.source or "input"

        regions: list[tuple[float, float]] | None = None
        batched = options.batch_size > 0
        vad = batched if options.vad is None else options.vad
        # the coverage passes read Silero's probabilities of the whole input: VAD's are shared
        probs = speech_probabilities_of(features) if vad and options.repair and not features.live else None
        if vad or batched:
            if vad:
                vad_options = options.vad_options or (BATCHED_VAD if batched else VadOptions())
                max_speech = features.spec.chunk_seconds if batched else float("inf")
                regions = speech_regions_of(features, vad_options, max_speech, probs)
            else:
                regions = [(0.0, content / fps)]
            # one 30 s window for speech regions that fit one; batched windows never exceed it
            regions = merge_regions(regions, features.spec.chunk_seconds, split=batched)
            if vad:
                regions = widen(regions, max_length=features.spec.chunk_seconds if batched else None)
        clips = clip_frames(options.clip_timestamps, content, fps)
        if regions is not None:
            speech = [(round(s * fps), min(content, round(e * fps))) for s, e in regions]
            clips = intersect(speech, clips)
        if content == 0 or not clips:
            log.info("%s: no speech found", source)
            empty = self._empty(model, features)
            if started is not None:
                started(DecodeStart(empty.language, None, empty.duration, 0.0))
            return empty

        language, language_probs, primed = self._language(model, features, clips)
        task = options.task
        if not model.is_multilingual and (language != "en" or task != "transcribe"):
            log.warning("%s is English-only; transcribing in English instead of %s/%s", model.name, language, task)
            language, task = "en", "transcribe"
        if started is not None:
            speech = sum(end - start for start, end in clips) / fps if features.ended else duration(features)
            started(DecodeStart(language, language_probs, duration(features), speech))
        tokenizer = model.get_tokenizer(task=task, language=language)
        job = Job.create(model, tokenizer, options, primed)

        convert = self._converter(language)
        emitted = 0

        def emit_drafts(current: list[Draft]) -> None:
            nonlocal emitted
            for draft in current:
                if emit is not None:
                    emit(self._segment(emitted, draft, convert))
                emitted += 1

        # coverage needs word alignment (cross-attention); a runtime without it is decoded as openai-whisper
        # does, and so is a live input (its segments are final as they are decoded)
        aligns = hasattr(model, "logits_full") and hasattr(model, "alignment_attention")
        if options.batch_size > 0:
            repairs = options.repair and regions is not None and vad and not features.live
            speech = SpeechProbe(features, probs).map() if repairs and probs is not None and aligns else None
            keep = keep_unaccounted(job) if speech is not None else None
            drafts = transcribe_batched(job, features, clips, progress, self.batcher, keep)
            if repairs:
                requested = clip_frames(options.clip_timestamps, content, fps)
                drafts, _ = repair_batched(job, features, drafts, requested, clips, speech)
            emit_drafts(drafts)
            text_tokens = [t for d in drafts for t in d.tokens if t < tokenizer.eot]
            text = tokenizer.decode(text_tokens)
        else:
            prompt = tokenizer.encode(" " + options.initial_prompt.strip()) if options.initial_prompt else []
            probe = SpeechProbe(features, probs) if options.repair and aligns and not features.live else None
            words = WordSpans(job, defer=True) if probe is not None else None
            # with a coverage pass, segments are final only after it: emitted once it has run
            try:
                drafts, all_tokens = transcribe_windows(
                    job, features, clips, prompt, progress, None if words is not None else emit_drafts,
                    words and words.observe,
                )
            except BaseException:
                if probe is not None:
                    probe.close()
                raise
            text = tokenizer.decode([t for t in all_tokens[len(prompt) :] if t < tokenizer.eot])
            if words is not None:
                drafts, text = self._repair(job, features, clips, drafts, words, probe, prompt, text)
                emit_drafts(drafts)
        return self._transcript(drafts, text, language, features, language_probs)

    def _repair(self, job, features, clips, drafts, words, probe, prompt, text):
        """The seek loop's segments and text, with the speech it left without text decoded again."""
        fps = features.spec.frames_per_second
        speech = probe.map()
        ranges = [(start / fps, end / fps) for start, end in clips]
        repaired, report = repair(job, features, drafts, words, speech, ranges, prompt)
        log.debug("coverage: %d window(s) aligned (%d encoded again), %d not (their text accounts for them)",
                  words.aligned, words.encoded_again, len(words.claimed))
        if not report.repaired:
            return drafts, text  # nothing added: the seek loop's own transcript
        eot = job.tokenizer.eot
        return repaired, job.tokenizer.decode([t for d in repaired for t in d.tokens if t < eot])

    def _language(self, model, features: Features, clips) -> tuple[str, dict[str, float] | None, dict]:
        """The language, its probabilities when detected, and the windows encoded to detect it."""
        options = self.options
        if options.language is not None:
            return options.language, None, {}
        if not model.is_multilingual:
            return "en", None, {}
        tokenizer = model.get_tokenizer(task=options.task, language=None)
        job = Job.create(model, tokenizer, options)
        starts = []
        for start, end in clips:
            seek = start
            while seek < end and len(starts) < options.language_detection_segments:
                starts.append((seek, min(job.n_frames, end - seek)))
                seek += job.n_frames
        starts = starts or [(0, features.content_frames)]
        encoded = job.encode_ranges(features, starts)
        probs = detect_language(model, tokenizer, encoded)
        language = max(probs, key=probs.get)
        log.info("Detected language: %s (%.2f)", language, probs[language])
        return language, probs, dict(zip(starts, encoded))

    def _empty(self, model, features: Features) -> Transcript:
        language = self.options.language or "en"
        return Transcript(text="", segments=(), language=language, duration=duration(features))

    def _converter(self, language: str):
        if self.options.zh_script is not None and language in CHINESE:
            return converter(self.options.zh_script)
        return None

    @staticmethod
    def _segment(i: int, d: Draft, convert) -> Segment:
        words = None
        if d.words is not None:
            words = tuple(
                Word(
                    start=float(w["start"]),
                    end=float(w["end"]),
                    word=convert(w["word"]) if convert else w["word"],
                    probability=float(w["probability"]),
                )
                for w in d.words
            )
        return Segment(
            id=i,
            seek=int(d.seek),
            start=round(float(d.start), 3),
            end=round(float(d.end), 3),
            text=convert(d.text) if convert else d.text,
            tokens=tuple(d.tokens),
            temperature=float(d.temperature),
            avg_logprob=float(d.avg_logprob),
            compression_ratio=float(d.compression_ratio),
            no_speech_prob=float(d.no_speech_prob),
            words=words,
            repaired=bool(d.extra.get("repaired", False)),
        )

    def _transcript(self, drafts: list[Draft], text: str, language: str, features, probs) -> Transcript:
        convert = self._converter(language)
        segments = [self._segment(i, d, convert) for i, d in enumerate(drafts)]
        return Transcript(
            text=convert(text) if convert else text,
            segments=tuple(segments),
            language=language,
            duration=duration(features),
            language_probs=probs,
        )
