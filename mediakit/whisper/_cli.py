"""openai-whisper's ``whisper`` command (``python -m mediakit.whisper``): its argparse flags and defaults,
run by ``mediakit transcribe`` so that the files written are that command's.

No ``whisper`` console script is installed (it would shadow openai-whisper's); ``transcribe.cli()`` is the
entry point for those who want one.
"""

from __future__ import annotations

import argparse
import os
import warnings
from typing import List, Optional

import torch

from .tokenizer import LANGUAGES, TO_LANGUAGE_CODE
from .utils import optional_float, optional_int, str2bool

_LAYOUT = ("highlight_words", "max_line_count", "max_line_width", "max_words_per_line")


def _model_name(name: str) -> str:
    from . import available_models

    if name in available_models() or os.path.exists(name):
        return name
    raise ValueError(f"model should be one of {available_models()} or path to a model checkpoint")


def build_parser() -> argparse.ArgumentParser:
    """openai-whisper's flags with its defaults, then a few of mediakit's own."""
    p = argparse.ArgumentParser(
        prog="python -m mediakit.whisper", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="openai-whisper's command on mediakit (the files are those of `mediakit transcribe`).",
    )  # fmt: skip
    add = p.add_argument
    add("audio", nargs="+", type=str, help="audio file(s) to transcribe")
    add("--model", default="turbo", type=_model_name, help="name of the Whisper model to use (base and tiny.en ship with mediakit)")
    add("--model_dir", type=str, default=None, help="where model files are looked for and saved [default: $MEDIAKIT_MODEL_DIR or ~/.cache/mediakit]")
    add("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="device to use for PyTorch inference")
    add("--output_dir", "-o", type=str, default=".", help="directory to save the outputs")
    add("--output_format", "-f", type=str, default="all", choices=["txt", "vtt", "srt", "tsv", "json", "all"], help="format of the output file; all writes every format")
    add("--verbose", type=str2bool, default=True, help="print each segment as it is decoded")
    add("--task", type=str, default="transcribe", choices=["transcribe", "translate"], help="X->X speech recognition ('transcribe') or X->English translation ('translate')")
    add("--language", type=str, default=None, choices=sorted(LANGUAGES) + sorted(k.title() for k in TO_LANGUAGE_CODE), help="language spoken in the audio; None detects it")
    add("--temperature", type=float, default=0, help="temperature to use for sampling")
    add("--best_of", type=optional_int, default=5, help="number of candidates when sampling with non-zero temperature")
    add("--beam_size", type=optional_int, default=5, help="number of beams in beam search, only applicable when temperature is zero")
    add("--patience", type=float, default=None, help="beam search patience (arxiv:2204.05424); 1.0 is conventional beam search")
    add("--length_penalty", type=float, default=None, help="length penalty alpha (arxiv:1609.08144); simple length normalization by default")
    add("--suppress_tokens", type=str, default="-1", help="comma-separated token ids to suppress; '-1' suppresses most special characters except common punctuation")
    add("--initial_prompt", type=str, default=None, help="text to provide as a prompt for the first window")
    add("--carry_initial_prompt", type=str2bool, default=False, help="prepend initial_prompt to every window's prompt")
    add("--condition_on_previous_text", type=str2bool, default=True, help="give the previous window's text as the prompt of the next")
    add("--fp16", type=str2bool, default=True, help="whether to perform inference in fp16")
    add("--temperature_increment_on_fallback", type=optional_float, default=0.2, help="temperature step when a decoding fails the thresholds below")
    add("--compression_ratio_threshold", type=optional_float, default=2.4, help="a decoding whose gzip compression ratio is above this has failed")
    add("--logprob_threshold", type=optional_float, default=-1.0, help="a decoding whose average log probability is below this has failed")
    add("--no_speech_threshold", type=optional_float, default=0.6, help="a window whose <|nospeech|> probability is above this and whose decoding failed by logprob_threshold is silence")
    add("--word_timestamps", type=str2bool, default=False, help="word-level timestamps")
    add("--prepend_punctuations", type=str, default="\"'“¿([{-", help="with word timestamps, merge these punctuation symbols with the next word")
    add("--append_punctuations", type=str, default="\"'.。,，!！?？:：”)]}、", help="with word timestamps, merge these punctuation symbols with the previous word")
    add("--highlight_words", type=str2bool, default=False, help="(requires --word_timestamps True) underline each word as it is spoken in srt and vtt")
    add("--max_line_width", type=optional_int, default=None, help="(requires --word_timestamps True) characters in a line before it breaks")
    add("--max_line_count", type=optional_int, default=None, help="(requires --word_timestamps True) lines in a segment")
    add("--max_words_per_line", type=optional_int, default=None, help="(requires --word_timestamps True, no effect with --max_line_width) words in a segment")
    add("--threads", type=optional_int, default=0, help="torch threads for CPU inference")
    add("--clip_timestamps", type=str, default="0", help="comma-separated start,end,start,end,... seconds of clips to process; the last end defaults to the end of the file")
    add("--hallucination_silence_threshold", type=optional_float, help="(requires --word_timestamps True) skip silences longer than this (seconds) around a possible hallucination")
    own = p.add_argument_group("mediakit", "mediakit's own options (see `mediakit transcribe --help`)")
    own.add_argument("--compute_type", type=str, default="auto", help="auto, float32, mixed, float16, bfloat16 or int8")
    own.add_argument("--decoder", type=str, default="whisper", help="decoder plugin name")
    own.add_argument("--vad", type=str2bool, default=None, help="voice activity detection first (default: with --batch_size only)")
    own.add_argument("--batch_size", type=int, default=0, help="> 0: batched long-form mode")
    own.add_argument("--zh_script", type=str, default=None, choices=["simplified", "traditional"], help="write Chinese in one script")
    own.add_argument("--repair", type=str2bool, default=True, help="decode again the speech the seek loop left without text (False: openai-whisper's output)")
    return p  # fmt: skip


def _flag(name: str, value) -> List[str]:
    return [f"--{name}", "None" if value is None else str(value)]


def mediakit_arguments(args: argparse.Namespace) -> List[str]:
    """The ``mediakit transcribe`` arguments that do what ``args`` (parsed by :func:`build_parser`) asks."""
    a = vars(args)
    out: List[str] = list(a["audio"])
    out += ["--model", a["model"], "--device", a["device"], "--output_dir", a["output_dir"]]
    out += ["--output_format", a["output_format"], "--verbose", str(a["verbose"])]
    if a["model_dir"] is not None:
        out += ["--model_dir", a["model_dir"]]
    language = a["language"]
    if a["model"].endswith(".en") and language not in {"en", "English"}:
        if language is not None:
            warnings.warn(f"{a['model']} is an English-only model but received '{language}'; using English instead.")
        language = "en"
    if language is not None:
        out += ["--language", language]
    out += ["--beam_size", str(a["beam_size"] or 1), "--best_of", str(a["best_of"] or 1)]  # None: one candidate
    out += ["--threads", str(a["threads"] or 0)]  # None: torch's default
    for name in ("patience", "length_penalty", "initial_prompt", "hallucination_silence_threshold", "zh_script",
                 "max_line_width", "max_line_count", "max_words_per_line"):  # fmt: skip
        if a[name] is not None:  # None: mediakit's own default
            out += _flag(name, a[name])
    for name in ("task", "temperature", "suppress_tokens", "carry_initial_prompt", "condition_on_previous_text",
                 "fp16", "temperature_increment_on_fallback", "compression_ratio_threshold", "logprob_threshold",
                 "no_speech_threshold", "word_timestamps", "prepend_punctuations", "append_punctuations",
                 "highlight_words", "clip_timestamps", "compute_type", "decoder", "batch_size"):  # fmt: skip
        out += _flag(name, a[name])
    if a["vad"] is not None:
        out.append("--vad" if a["vad"] else "--no-vad")
    out.append("--repair" if a["repair"] else "--no-repair")
    return out


def main(argv: Optional[List[str]] = None) -> None:
    """Parse openai-whisper's command line and run it with ``mediakit transcribe``; exits with its status
    (non-zero when a file failed, where openai-whisper prints "Skipping ..." and exits 0)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.word_timestamps:
        for option in _LAYOUT:
            if getattr(args, option):
                parser.error(f"--{option} requires --word_timestamps True")
    from mediakit.cli import app

    try:
        app(args=["transcribe", *mediakit_arguments(args)], prog_name="mediakit")
    except SystemExit as done:
        if done.code not in (0, None):
            raise
