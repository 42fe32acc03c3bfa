"""The 30-second seek loop (openai-whisper's ``transcribe``): decode a window, keep its finished
segments, move to the last predicted timestamp, feed the text back as the next window's prompt."""

from __future__ import annotations

import logging
from typing import Callable, Sequence

from mediakit.records import ProgressCallback

from .fallback import decode_with_fallback
from .job import Job
from .quality import is_repeated_segment, is_silent
from .segments import Draft, split_window
from .source import LIVE_END, known_content
from .timing import add_word_timestamps, last_word_end
from .window import WindowBatch

log = logging.getLogger(__name__)

#: ``on_window`` of :func:`transcribe_windows` (its ``state`` keyword: the window's decoder state).
WindowObserver = Callable[..., None]

PUNCTUATION = "\"'“¿([{-\"'.。,，!！?？:：”)]}、"


def format_timestamp(seconds: float) -> str:
    """``MM:SS.mmm`` (or ``HH:MM:SS.mmm`` past an hour), as openai-whisper's verbose lines."""
    ms = round(seconds * 1000)
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1000)
    prefix = f"{hours:02d}:" if hours else ""
    return f"{prefix}{minutes:02d}:{secs:02d}.{ms:03d}"


def log_segment(segment: Draft) -> None:
    log.info("[%s --> %s] %s", format_timestamp(segment.start), format_timestamp(segment.end), segment.text)


def clip_frames(clip_timestamps: str | Sequence[float], content_frames: int, fps: int) -> list[tuple[int, int]]:
    """``"start,end,start,end..."`` seconds -> frame ranges; an odd count runs to the end of the content."""
    if isinstance(clip_timestamps, str):
        values = [float(v) for v in clip_timestamps.split(",") if v.strip()]
    else:
        values = [float(v) for v in clip_timestamps]
    points = [round(v * fps) for v in values] or [0]
    if len(points) % 2 == 1:
        points.append(content_frames)
    return list(zip(points[::2], points[1::2]))


def _word_anomaly(word: dict) -> float:
    probability = word.get("probability", 0.0)
    duration = word["end"] - word["start"]
    score = 0.0
    if probability < 0.15:
        score += 1.0
    if duration < 0.133:
        score += (0.133 - duration) * 15
    if duration > 2.0:
        score += duration - 2.0
    return score


def _is_anomaly(segment: Draft | None) -> bool:
    if segment is None or not segment.words:
        return False
    words = [w for w in segment.words if w["word"] not in PUNCTUATION][:8]
    score = sum(_word_anomaly(w) for w in words)
    return score >= 3 or score + 0.01 >= len(words)


def _next_with_words(segments: Sequence[Draft]) -> Draft | None:
    return next((s for s in segments if s.words), None)


def transcribe_windows(
    job: Job,
    source,
    clips: list[tuple[int, int]],
    initial_prompt_tokens: list[int],
    progress: ProgressCallback | None = None,
    emit: Callable[[list[Draft]], None] | None = None,
    on_window: WindowObserver | None = None,
) -> tuple[list[Draft], list[int]]:
    """Run the seek loop over the clip ranges of a feature source (:mod:`.source`); return the segments
    and every token (prompt first). ``emit`` gets each window's segments once they are final. Windows
    are read in order: a live source is waited for, and what lies behind ``seek`` is released.

    ``on_window(time_offset, segment_size, audio_features, segments, state=...)``, when given, sees each
    decoded window's encoder output (n_audio_ctx, d), the segments kept from it, and the decoder state of
    its prompt (cross-attention keys and values); it must not change them."""
    options, tokenizer = job.options, job.tokenizer
    fps, n_frames = job.frames_per_second, job.n_frames
    content_frames = known_content(source, 0, n_frames)
    n_text_ctx = job.runtime.dims.n_text_ctx

    all_tokens: list[int] = list(initial_prompt_tokens)
    segments: list[Draft] = []
    prompt_reset_since = 0
    remaining_prompt_length = n_text_ctx // 2 - 1 - len(initial_prompt_tokens)
    last_speech_timestamp = 0.0
    threshold = options.hallucination_silence_threshold

    clip_idx = 0
    seek = clips[0][0] if clips else content_frames
    while clip_idx < len(clips):
        if source.live:
            source.release(seek)
            content_frames = known_content(source, seek, n_frames)
        content_duration = content_frames / fps
        clip_start, clip_end = clips[clip_idx]
        seek = max(seek, clip_start)
        if seek >= clip_end or seek >= content_frames:
            clip_idx += 1
            if clip_idx < len(clips):
                seek = clips[clip_idx][0]
            continue
        time_offset = seek / fps
        window_end_time = (seek + n_frames) / fps
        segment_size = min(n_frames, content_frames - seek, clip_end - seek)
        segment_duration = segment_size / fps
        hop = source.spec.hop_length
        if is_silent(source.samples(seek * hop, (seek + segment_size) * hop)):
            seek += segment_size  # nothing can be said here; Whisper would invent "you"
            _report(progress, seek, content_frames, fps)
            continue
        batch = None  # free the previous window's decoder caches before the encoder needs its memory
        audio_features = job.encode_ranges(source, [(seek, segment_size)])

        if options.carry_initial_prompt:
            ignored = max(len(initial_prompt_tokens), prompt_reset_since)
            remaining = all_tokens[ignored:][-remaining_prompt_length:] if remaining_prompt_length > 0 else []
            prompt = list(initial_prompt_tokens) + remaining
        else:
            prompt = all_tokens[prompt_reset_since:]

        batch = WindowBatch(job.runtime, audio_features)
        result = decode_with_fallback(batch, job, prompt)[0]

        if options.no_speech_threshold is not None:
            skip = result.no_speech_prob > options.no_speech_threshold
            if options.logprob_threshold is not None and result.avg_logprob > options.logprob_threshold:
                skip = False  # probable enough despite the no-speech probability
            if skip:
                seek += segment_size
                _report(progress, seek, content_frames, fps)
                continue

        previous_seek = seek
        split = split_window(
            result.tokens, tokenizer.timestamp_begin, time_offset, segment_size, job.time_precision, job.input_stride
        )
        current = [Draft.from_result(seek, start, end, tokens, tokenizer, result) for start, end, tokens in split.spans]
        seek += split.advance
        if result.trimmed_loop:
            seek = previous_seek + segment_size  # the loop filled the window; do not decode it again

        if options.word_timestamps:
            add_word_timestamps(
                current,
                job.runtime,
                tokenizer,
                audio_features[0],
                segment_size,
                options.prepend_punctuations,
                options.append_punctuations,
                last_speech_timestamp,
                time_offset,
            )
            if not split.single_timestamp_ending:
                end = last_word_end(current)
                if end is not None and end > time_offset:
                    seek = round(end * fps)

            if threshold is not None:
                if not split.single_timestamp_ending:
                    end = last_word_end(current)
                    if end is not None and end > time_offset:
                        seek = round(end * fps) if window_end_time - end > threshold else previous_seek + segment_size

                # a first segment that may be a hallucination: skip the silence before it
                first = _next_with_words(current)
                if first is not None and _is_anomaly(first):
                    gap = first.start - time_offset
                    if gap > threshold:
                        seek = previous_seek + round(gap * fps)
                        continue

                # a possible hallucination surrounded by silence or more hallucinations: drop it and what follows
                hal_last_end = last_speech_timestamp
                for si, segment in enumerate(current):
                    if not segment.words:
                        continue
                    if _is_anomaly(segment):
                        following = _next_with_words(current[si + 1 :])
                        hal_next_start = following.words[0]["start"] if following else time_offset + segment_duration
                        silence_before = (
                            segment.start - hal_last_end > threshold
                            or segment.start < threshold
                            or segment.start - time_offset < 2.0
                        )
                        silence_after = (
                            hal_next_start - segment.end > threshold
                            or _is_anomaly(following)
                            or window_end_time - segment.end < 2.0
                        )
                        if silence_before and silence_after:
                            seek = round(max(time_offset + 1, segment.start) * fps)
                            if content_duration - segment.end < threshold:
                                seek = content_frames
                            del current[si:]
                            break
                    hal_last_end = segment.end

            end = last_word_end(current)
            if end is not None:
                last_speech_timestamp = end

        # an instantaneous segment or one without text keeps its place but loses its text
        for segment in current:
            if segment.start == segment.end or segment.text.strip() == "":
                segment.text, segment.tokens, segment.words = "", [], ([] if options.word_timestamps else None)

        looped = result.trimmed_loop
        if options.repetition_guard:
            kept = []
            recent = [s.text for s in segments if s.text]
            for segment in current:
                if segment.text and is_repeated_segment(segment.text, recent):
                    looped = True
                    continue
                kept.append(segment)
                if segment.text:
                    recent.append(segment.text)
            if len(kept) < len(current):
                log.info("repetition guard: dropped %d repeated segment(s) at %.1f s", len(current) - len(kept), time_offset)
            current = kept

        for segment in current:
            if options.verbose:
                log_segment(segment)
        if on_window is not None:
            on_window(time_offset, segment_size, audio_features[0], current, state=batch.state)
        segments.extend(current)
        if emit is not None and current:
            emit(current)
        all_tokens.extend(t for s in current for t in s.tokens)

        if not options.condition_on_previous_text or result.temperature >= 0.5 or looped:
            prompt_reset_since = len(all_tokens)  # a hot or looping result must not steer the next window
        _report(progress, seek, content_frames, fps)
    return segments, all_tokens


def _report(progress: ProgressCallback | None, seek: int, content_frames: int, fps: int) -> None:
    if progress is not None and content_frames < LIVE_END:
        progress(min(seek, content_frames) / fps, content_frames / fps)
