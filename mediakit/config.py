"""Options: one frozen dataclass per stage, grouped in one :class:`RunConfig`.

Defaults follow openai-whisper's command line, so a user switching from it gets the same results.
Each stage receives only its own section; stages never read environment variables.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: openai-whisper's default punctuation that word timestamps merge into the next / previous word.
PREPEND_PUNCTUATIONS = "\"'“¿([{-"
APPEND_PUNCTUATIONS = "\"'.。,，!！?？:：”)]}、"


@dataclass(frozen=True)
class DemuxOptions:
    audio_stream: int | None = None  # index among the input's audio streams (0 = first); None = the default stream
    ffmpeg: str | None = None  # ffmpeg binary, or "bundled"; None = $MEDIAKIT_FFMPEG, else PATH, else the imageio-ffmpeg binary


@dataclass(frozen=True)
class ModelOptions:
    name: str = "base"  # a model name (base, tiny.en, ...) or a path to weights
    device: str = "auto"  # auto, cpu, cuda, cuda:N, mps
    compute_type: str = "auto"  # auto, float32, float16, bfloat16, int8
    threads: int = 0  # torch CPU threads; 0 = leave torch's default
    model_dir: str | None = None  # mediakit's model cache; None = MEDIAKIT_MODEL_DIR or ~/.cache/mediakit
    download: bool = True  # fetch an official checkpoint when no local copy exists


@dataclass(frozen=True)
class VadOptions:
    threshold: float = 0.5  # speech probability above which a frame is speech
    min_speech_duration_ms: int = 250  # drop speech shorter than this
    min_silence_duration_ms: int = 2000  # a silence must last this long to split speech regions
    speech_pad_ms: int = 400  # padding kept around each speech region


#: Batched mode's VAD: a 160 ms pause already separates regions (as in faster-whisper's batched
#: pipeline), so that windows of at most 30 s are joined from whole phrases and end only where nobody speaks.
#: Speech from a speech probability of 0.15 (it ends below 0.01): at Silero's usual 0.5 quiet speech was
#: lost (the shared set's English clips, batched: 8.71% WER against 5.11%; the joined english.wav
#: 11.41% against 5.41%), and noise, music and silence still gave no text.
BATCHED_VAD = VadOptions(threshold=0.15, min_silence_duration_ms=160)


@dataclass(frozen=True)
class DecodeOptions:
    task: str = "transcribe"  # transcribe, or translate (to English)
    language: str | None = None  # code or name; None = detect
    language_detection_segments: int = 1  # 30 s windows pooled for language detection
    temperature: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)  # fallback ladder
    best_of: int | None = 5  # candidates when sampling with a non-zero temperature
    beam_size: int | None = 5  # beams at temperature 0; None or 1 = greedy
    patience: float | None = None  # beam search patience (1.0 = conventional)
    length_penalty: float | None = None  # None = simple length normalisation
    suppress_tokens: str = "-1"  # comma-separated token ids; -1 = the model's non-speech symbols
    suppress_blank: bool = True  # no blank or end-of-text as the first sampled token
    initial_prompt: str | None = None  # text given as previous context to the first window
    carry_initial_prompt: bool = False  # prepend the initial prompt to every window's context
    condition_on_previous_text: bool = True  # feed the previous window's text as the prompt
    compression_ratio_threshold: float | None = 2.4  # gzip ratio above which a result is a repetition failure
    logprob_threshold: float | None = -1.0  # average log probability below which decoding falls back
    no_speech_threshold: float | None = 0.6  # no-speech probability above which a silent window is skipped
    without_timestamps: bool = False  # decode text only, one segment per window
    max_initial_timestamp: float = 1.0  # seconds: bound on the first timestamp of a window
    sample_len: int | None = None  # most tokens sampled per window; None = half the text context (224)
    hotwords: str | None = None  # words given to every window as context before its previous text (faster-whisper's)
    repetition_penalty: float = 1.0  # > 1: the logits of tokens already chosen in a window lowered (CTranslate2's rule)
    no_repeat_ngram_size: int = 0  # > 0: no n-gram of this many tokens twice in a window's text (CTranslate2's rule)
    word_timestamps: bool = False  # word-level timestamps from cross-attention
    prepend_punctuations: str = PREPEND_PUNCTUATIONS
    append_punctuations: str = APPEND_PUNCTUATIONS
    clip_timestamps: str = "0"  # comma-separated start,end,... seconds to decode; "0" = everything
    hallucination_silence_threshold: float | None = None  # skip silence longer than this around hallucinations
    vad: bool | None = None  # voice activity detection first, decoding speech regions only; None = in batched mode only
    vad_options: VadOptions | None = None  # None = VadOptions(), or BATCHED_VAD in batched mode
    repetition_guard: bool = True  # detect and break repetition loops in long inputs
    repair: bool = True  # decode again the speech stretches (VAD) the decoding left without text; False = openai-whisper's output
    zh_script: str | None = None  # simplified or traditional: convert Chinese output
    batch_size: int = 0  # > 0: batched long-form mode over VAD speech windows of at most 30 s
    verbose: bool | None = None  # True: log every segment as it is decoded (the CLI prints it)


@dataclass(frozen=True)
class WriterOptions:
    max_line_width: int | None = None  # characters per subtitle line (needs word timestamps)
    max_line_count: int | None = None  # lines per subtitle cue
    max_words_per_line: int | None = None  # words per subtitle line; ignored with max_line_width
    highlight_words: bool = False  # underline each word as it is spoken (srt, vtt)


@dataclass(frozen=True)
class OutputOptions:
    formats: tuple[str, ...] = ("all",)  # writer names, or "all"
    output_dir: str = "."  # "-" = standard output
    skip_existing: bool = False  # leave inputs whose outputs all exist alone


@dataclass(frozen=True)
class RunConfig:
    """Everything one transcription run needs, built by the CLI or an API caller."""

    model: ModelOptions = field(default_factory=ModelOptions)
    decoder: str = "whisper"  # decoder name
    demux: DemuxOptions = field(default_factory=DemuxOptions)
    decode: DecodeOptions = field(default_factory=DecodeOptions)
    writer: WriterOptions = field(default_factory=WriterOptions)
    output: OutputOptions = field(default_factory=OutputOptions)


def temperature_ladder(temperature: float | tuple[float, ...] | list[float], increment: float | None = 0.2) -> tuple[float, ...]:
    """openai-whisper's fallback ladder: ``temperature`` up to 1.0 in steps of ``increment``.

    A tuple or list is taken as the ladder itself; ``increment`` None or 0 means no fallback.
    """
    if isinstance(temperature, (tuple, list)):
        return tuple(float(t) for t in temperature)
    start = float(temperature)
    if not increment or increment <= 0:
        return (start,)
    steps = int((1.0 + 1e-6 - start) // increment) + 1
    return tuple(round(start + i * increment, 6) for i in range(max(steps, 1)))
