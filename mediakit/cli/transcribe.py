"""``mediakit transcribe``: openai-whisper's command line, plus batches, VAD and more."""

from __future__ import annotations

import logging
import os
import sys
from typing import Annotated, Optional

import typer

from ..config import (
    APPEND_PUNCTUATIONS,
    PREPEND_PUNCTUATIONS,
    DecodeOptions,
    DemuxOptions,
    ModelOptions,
    OutputOptions,
    RunConfig,
    WriterOptions,
    temperature_ladder,
)
from ..errors import ConfigError
from ..inputs import expand_inputs
from ..runners import DEFAULT_RUNNER, BatchJob, RunnerOptions, make_runner
from .common import collect_from_here, disabled_plugins, get_host
from .progress import make_events

log = logging.getLogger(__name__)


def str2bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"true", "1", "yes", "on"}:
        return True
    if lowered in {"false", "0", "no", "off"}:
        return False
    raise typer.BadParameter(f"expected True or False, got {value!r}")


def optional_float(value: str) -> Optional[float]:
    if value.strip().lower() == "none":
        return None
    try:
        return float(value)
    except ValueError:
        raise typer.BadParameter(f"expected a number or None, got {value!r}") from None


def _choice(value: Optional[str], *choices: str) -> Optional[str]:
    if value is None or value in choices:
        return value
    raise typer.BadParameter(f"{value!r} is not one of {', '.join(choices)}")


def _opt(*names: str, **kwargs):  # openai-whisper spells options with underscores; accept dashes too
    spelled = list(names)
    for name in names:
        if name.startswith("--") and "_" in name:
            spelled.append(name.replace("_", "-"))
    return typer.Option(*spelled, **kwargs)


MODEL = "Model"
DECODE = "Decoding"
OUTPUT = "Output"
LAYOUT = "Subtitle layout"
INPUT = "Input"
RUNNER = "Runner (scale-out)"


def transcribe(
    inputs: Annotated[list[str], typer.Argument(help="Media files, directories, glob patterns, URLs, or - for stdin.", show_default=False)],
    model: Annotated[str, _opt("--model", "-m", help="Model name (see `mediakit models list`) or path to weights.", rich_help_panel=MODEL)] = "base",
    model_dir: Annotated[Optional[str], _opt("--model_dir", help="Where models are cached [default: $MEDIAKIT_MODEL_DIR or ~/.cache/mediakit].", rich_help_panel=MODEL)] = None,
    device: Annotated[str, _opt("--device", help="auto, cpu, cuda, cuda:N.", rich_help_panel=MODEL)] = "auto",
    compute_type: Annotated[str, _opt("--compute_type", help="auto (exact: float32 on the CPU), float32, mixed, float16, bfloat16 or int8.", rich_help_panel=MODEL)] = "auto",
    fp16: Annotated[str, _opt("--fp16", metavar="True|False", help="openai-whisper compatibility: False forces float32.", rich_help_panel=MODEL)] = "True",
    threads: Annotated[int, _opt("--threads", help="CPU threads for torch; 0 = torch's default.", rich_help_panel=MODEL)] = 0,
    decoder: Annotated[str, _opt("--decoder", help="Decoder plugin name.", rich_help_panel=DECODE)] = "whisper",
    task: Annotated[str, _opt("--task", callback=lambda v: _choice(v, "transcribe", "translate"), help="transcribe, or translate to English.", rich_help_panel=DECODE)] = "transcribe",
    language: Annotated[Optional[str], _opt("--language", help="Spoken language, by code or name (en, Chinese...); default: detect.", rich_help_panel=DECODE)] = None,
    language_detection_segments: Annotated[int, _opt("--language_detection_segments", help="30 s windows pooled to detect the language.", rich_help_panel=DECODE)] = 1,
    temperature: Annotated[float, _opt("--temperature", help="Sampling temperature of the first attempt.", rich_help_panel=DECODE)] = 0.0,
    temperature_increment_on_fallback: Annotated[str, _opt("--temperature_increment_on_fallback", metavar="FLOAT|None", help="Temperature step when a result fails the thresholds.", rich_help_panel=DECODE)] = "0.2",
    best_of: Annotated[int, _opt("--best_of", help="Candidates when sampling with non-zero temperature.", rich_help_panel=DECODE)] = 5,
    beam_size: Annotated[int, _opt("--beam_size", help="Beams at temperature 0; 1 = greedy.", rich_help_panel=DECODE)] = 5,
    patience: Annotated[Optional[float], _opt("--patience", help="Beam search patience (1.0 = conventional).", rich_help_panel=DECODE)] = None,
    length_penalty: Annotated[Optional[float], _opt("--length_penalty", help="Length penalty alpha; default: simple length normalisation.", rich_help_panel=DECODE)] = None,
    hotwords: Annotated[Optional[str], _opt("--hotwords", help="Words or phrases given to every window as context before its previous text (faster-whisper's hotwords; changes text).", rich_help_panel=DECODE)] = None,
    repetition_penalty: Annotated[float, _opt("--repetition_penalty", help="Above 1: lower the logits of tokens already chosen in a window (faster-whisper's rule; changes text).", rich_help_panel=DECODE)] = 1.0,
    no_repeat_ngram_size: Annotated[int, _opt("--no_repeat_ngram_size", help="Above 0: never repeat an n-gram of this many tokens in a window (faster-whisper's rule; changes text).", rich_help_panel=DECODE)] = 0,
    suppress_tokens: Annotated[str, _opt("--suppress_tokens", help="Comma-separated token ids to suppress; -1 = non-speech symbols.", rich_help_panel=DECODE)] = "-1",
    initial_prompt: Annotated[Optional[str], _opt("--initial_prompt", help="Text to give the first window as previous context.", rich_help_panel=DECODE)] = None,
    carry_initial_prompt: Annotated[str, _opt("--carry_initial_prompt", metavar="True|False", help="Prepend the initial prompt to every window.", rich_help_panel=DECODE)] = "False",
    condition_on_previous_text: Annotated[str, _opt("--condition_on_previous_text", metavar="True|False", help="Feed the previous window's text as the prompt.", rich_help_panel=DECODE)] = "True",
    compression_ratio_threshold: Annotated[str, _opt("--compression_ratio_threshold", metavar="FLOAT|None", help="Fall back when gzip ratio is above this.", rich_help_panel=DECODE)] = "2.4",
    logprob_threshold: Annotated[str, _opt("--logprob_threshold", metavar="FLOAT|None", help="Fall back when average log probability is below this.", rich_help_panel=DECODE)] = "-1.0",
    no_speech_threshold: Annotated[str, _opt("--no_speech_threshold", metavar="FLOAT|None", help="Skip a window as silent above this no-speech probability.", rich_help_panel=DECODE)] = "0.6",
    word_timestamps: Annotated[str, _opt("--word_timestamps", metavar="True|False", help="Word-level timestamps.", rich_help_panel=DECODE)] = "False",
    prepend_punctuations: Annotated[str, _opt("--prepend_punctuations", help="Punctuation merged into the next word.", rich_help_panel=DECODE)] = PREPEND_PUNCTUATIONS,
    append_punctuations: Annotated[str, _opt("--append_punctuations", help="Punctuation merged into the previous word.", rich_help_panel=DECODE)] = APPEND_PUNCTUATIONS,
    clip_timestamps: Annotated[str, _opt("--clip_timestamps", help="start,end,start,end,... seconds to decode; 0 = all.", rich_help_panel=DECODE)] = "0",
    hallucination_silence_threshold: Annotated[Optional[float], _opt("--hallucination_silence_threshold", help="With word timestamps: skip silences longer than this around hallucinations.", rich_help_panel=DECODE)] = None,
    vad: Annotated[Optional[bool], _opt("--vad/--no-vad", help="Voice activity detection first: silence, music and noise give no text. Default: on with --batch_size only.", rich_help_panel=DECODE, show_default=False)] = None,
    repair: Annotated[bool, _opt("--repair/--no-repair", help="Decode again the speech (VAD) the seek loop left without text; --no-repair: openai-whisper's output exactly.", rich_help_panel=DECODE)] = True,
    zh_script: Annotated[Optional[str], _opt("--zh_script", callback=lambda v: _choice(v, "simplified", "traditional"), help="Write Chinese in one script.", rich_help_panel=DECODE)] = None,
    batch_size: Annotated[int, _opt("--batch_size", help="> 0: batched long-form mode: speech regions (VAD) joined into windows of at most 30 s, decoded N at a time.", rich_help_panel=DECODE)] = 0,
    verbose: Annotated[Optional[str], _opt("--verbose", metavar="True|False", help="True: print each segment as it is decoded.", rich_help_panel=OUTPUT)] = None,
    output_format: Annotated[list[str], _opt("--output_format", "-f", help="txt, vtt, srt, tsv, json, all, or any plugin format; repeat or comma-separate.", rich_help_panel=OUTPUT)] = ["all"],  # noqa: B006
    output_dir: Annotated[str, _opt("--output_dir", "-o", help="Directory for output files; - = standard output.", rich_help_panel=OUTPUT)] = ".",
    stdout: Annotated[bool, _opt("--stdout", help="Print the one chosen format to standard output.", rich_help_panel=OUTPUT)] = False,
    skip_existing: Annotated[bool, _opt("--skip_existing", help="Skip inputs whose outputs all exist (resume a batch).", rich_help_panel=OUTPUT)] = False,
    quiet: Annotated[bool, _opt("--quiet", "-q", help="Print nothing but errors.", rich_help_panel=OUTPUT)] = False,
    highlight_words: Annotated[str, _opt("--highlight_words", metavar="True|False", help="Underline each word as it is spoken (srt, vtt).", rich_help_panel=LAYOUT)] = "False",
    max_line_width: Annotated[Optional[int], _opt("--max_line_width", help="Characters per subtitle line (needs word timestamps).", rich_help_panel=LAYOUT)] = None,
    max_line_count: Annotated[Optional[int], _opt("--max_line_count", help="Lines per subtitle cue.", rich_help_panel=LAYOUT)] = None,
    max_words_per_line: Annotated[Optional[int], _opt("--max_words_per_line", help="Words per subtitle line.", rich_help_panel=LAYOUT)] = None,
    recursive: Annotated[bool, _opt("--recursive", "-r", help="Search directories (and ** patterns) recursively.", rich_help_panel=INPUT)] = False,
    audio_stream: Annotated[Optional[int], _opt("--audio_stream", help="Which audio stream (0 = first); default: the default stream.", rich_help_panel=INPUT)] = None,
    live: Annotated[bool, _opt("--live", help="One input that may never end (- or a URL): segments are written as they are decoded, cue by cue; Ctrl-C ends it cleanly.", rich_help_panel=INPUT)] = False,
    ffmpeg: Annotated[Optional[str], _opt("--ffmpeg", metavar="PATH", help="The ffmpeg binary, or 'bundled' [default: $MEDIAKIT_FFMPEG, else PATH, else bundled].", rich_help_panel=INPUT)] = None,
    # --- runner options (mediakit.runners; the ray runner is plugins/mediakit_ray) ---
    runner: Annotated[str, _opt("--runner", help="Batch runner plugin: local (this process) or ray (a Ray cluster; pip install 'mediakit[ray]').", rich_help_panel=RUNNER)] = DEFAULT_RUNNER,
    ray_address: Annotated[Optional[str], _opt("--ray_address", help="Ray cluster to join: auto, HOST:PORT or ray://HOST:PORT [default: $RAY_ADDRESS, else a local cluster for the run].", rich_help_panel=RUNNER)] = None,
    workers: Annotated[Optional[int], _opt("--workers", help="Worker processes, one model each [default: the cluster's CPUs / --threads_per_worker].", rich_help_panel=RUNNER)] = None,
    threads_per_worker: Annotated[Optional[int], _opt("--threads_per_worker", help="Torch threads (and CPUs reserved) per worker [default: --threads, else 1].", rich_help_panel=RUNNER)] = None,
) -> None:
    """Transcribe media files and write txt, vtt, srt, tsv and json next to each other."""
    layout = {"highlight_words": str2bool(highlight_words), "max_line_width": max_line_width,
              "max_line_count": max_line_count, "max_words_per_line": max_words_per_line}
    if not str2bool(word_timestamps):
        for option, value in layout.items():
            if value:
                raise typer.BadParameter(f"--{option} requires --word_timestamps True")
    if max_line_count and not max_line_width:
        log.warning("--max_line_count has no effect without --max_line_width")
    if max_words_per_line and max_line_width:
        log.warning("--max_words_per_line has no effect with --max_line_width")
    to_stdout = stdout or output_dir == "-"
    show_segments = verbose is not None and str2bool(verbose)
    increment = optional_float(temperature_increment_on_fallback)
    compute = compute_type
    if not str2bool(fp16) and compute == "auto":
        compute = "float32"
    config = RunConfig(
        model=ModelOptions(
            name=model,
            device=device,
            compute_type=compute,
            threads=threads,
            model_dir=model_dir or os.environ.get("MEDIAKIT_MODEL_DIR"),
        ),
        decoder=decoder,
        demux=DemuxOptions(audio_stream=audio_stream, ffmpeg=ffmpeg),
        decode=DecodeOptions(
            task=task,
            language=language,
            language_detection_segments=language_detection_segments,
            temperature=temperature_ladder(temperature, increment),
            best_of=best_of,
            beam_size=beam_size,
            patience=patience,
            length_penalty=length_penalty,
            hotwords=hotwords,
            repetition_penalty=repetition_penalty,
            no_repeat_ngram_size=no_repeat_ngram_size,
            suppress_tokens=suppress_tokens,
            initial_prompt=initial_prompt,
            carry_initial_prompt=str2bool(carry_initial_prompt),
            condition_on_previous_text=str2bool(condition_on_previous_text),
            compression_ratio_threshold=optional_float(compression_ratio_threshold),
            logprob_threshold=optional_float(logprob_threshold),
            no_speech_threshold=optional_float(no_speech_threshold),
            word_timestamps=str2bool(word_timestamps),
            prepend_punctuations=prepend_punctuations,
            append_punctuations=append_punctuations,
            clip_timestamps=clip_timestamps,
            hallucination_silence_threshold=hallucination_silence_threshold,
            vad=vad,
            repair=repair,
            zh_script=zh_script,
            batch_size=batch_size,
            verbose=show_segments,
        ),
        writer=WriterOptions(
            max_line_width=max_line_width,
            max_line_count=max_line_count,
            max_words_per_line=max_words_per_line,
            highlight_words=str2bool(highlight_words),
        ),
        output=OutputOptions(formats=tuple(output_format), output_dir=output_dir, skip_existing=skip_existing),
    )
    if live:
        _transcribe_live(config, inputs, to_stdout, runner)
        return
    sources = expand_inputs(inputs, recursive=recursive)
    if not sources:
        raise ConfigError("no input to transcribe")
    host = get_host()
    # --- the batch goes to the chosen runner (mediakit.runners); local is the in-process loop ---
    runner_options = RunnerOptions(
        address=ray_address,
        workers=workers,
        threads_per_worker=threads_per_worker,
        verbose=logging.getLogger("mediakit").getEffectiveLevel() <= logging.INFO,
    )
    chosen = make_runner(host.pm, runner, runner_options)
    emit = (lambda text: (sys.stdout.write(text), sys.stdout.flush())) if to_stdout else None
    job = BatchJob(config, tuple(sources), host.pm, disabled_plugins(), recursive=recursive, emit=emit,
                   on_model_loaded=collect_from_here)
    events = make_events(quiet=quiet, show_segments=show_segments)
    with events:
        summary = chosen.run(job, events)
    events.summary(summary)
    if not summary.ok:
        raise typer.Exit(1)


def _transcribe_live(config: RunConfig, inputs: list[str], to_stdout: bool, runner: str) -> None:
    """``--live``: one input decoded as it plays (mediakit.live); Ctrl-C ends it with exit status 0."""
    from ..live import LiveRun, stop_on_interrupt
    from ..pipeline import resolve

    if len(inputs) != 1:
        raise ConfigError(f"--live takes exactly one input (- or a URL), got {len(inputs)}")
    if runner != DEFAULT_RUNNER:
        raise ConfigError("--live runs in this process: it cannot be used with --runner")
    if config.output.skip_existing:
        raise ConfigError("--live cannot be used with --skip_existing")
    if config.decode.vad or config.decode.batch_size > 0:
        raise ConfigError("--live decodes window by window: --vad and --batch_size need the whole input first")
    host = get_host()
    stages = resolve(host.pm, config)
    collect_from_here()
    emit = (lambda text: (sys.stdout.write(text), sys.stdout.flush())) if to_stdout else None
    run = LiveRun(stages, inputs[0], config.output, emit)
    with stop_on_interrupt(run):
        _, written = run.run()
    for path in written:
        log.info("wrote %s", path)


def register(app: typer.Typer) -> None:
    app.command("transcribe", no_args_is_help=True)(transcribe)
