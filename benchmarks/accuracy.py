"""Accuracy on the shared speech set: English WER, Chinese/Japanese CER, other languages' WER, non-speech.

    python benchmarks/accuracy.py                      # base, openai-whisper CLI defaults (beam 5, best_of 5)
    python benchmarks/accuracy.py --beam-size 1 --only en_

The model is loaded once; each file is decoded with the manifest's language. Non-speech files are
decoded as configured and again with --vad. Prints a table per language, the non-speech results and
the wall time. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import mediakit  # noqa: E402
from mediakit.errors import MediakitError  # noqa: E402
from machine import describe  # noqa: E402
from scoring import edit_distance, normalise  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "speech"
CHARACTER_LANGUAGES = ("zh", "ja", "yue")


def read_manifest(directory: Path) -> list[dict[str, str]]:
    with open(directory / "manifest.tsv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=SHARED)
    parser.add_argument("--model", default="base")
    parser.add_argument("--compute-type", default="auto")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--beam-size", type=int, default=5)
    parser.add_argument("--best-of", type=int, default=5)
    parser.add_argument("--vad", action="store_true", help="VAD on every file (batched mode has it anyway)")
    parser.add_argument("--batch-size", type=int, default=0)
    parser.add_argument("--word-timestamps", action="store_true")
    parser.add_argument("--only", default="", help="decode only files whose name starts with this")
    parser.add_argument("--show", action="store_true", help="print every hypothesis")
    args = parser.parse_args(argv)

    rows = [r for r in read_manifest(args.data) if r["file"].startswith(args.only)]
    t0 = time.perf_counter()
    model = mediakit.load_model(args.model, compute_type=args.compute_type, threads=args.threads)
    load_s = time.perf_counter() - t0
    options = dict(
        beam_size=args.beam_size,
        best_of=args.best_of,
        vad=True if args.vad else None,  # None: the mode's default (on in batched mode)
        batch_size=args.batch_size,
        word_timestamps=args.word_timestamps,
    )

    errors: dict[str, int] = defaultdict(int)
    units: dict[str, int] = defaultdict(int)
    files: dict[str, int] = defaultdict(int)
    nonspeech: list[tuple[str, str, str]] = []
    audio_s = wall_s = 0.0
    for row in rows:
        path = args.data / row["file"]
        language = None if row["language"] == "-" else row["language"]
        start = time.perf_counter()
        try:
            result = model.transcribe(str(path), language=language, **options)
            text = result.text
        except MediakitError as err:
            text = f"<error: {err}>"
        elapsed = time.perf_counter() - start
        wall_s += elapsed
        audio_s += float(row["duration_s"])
        if row["file"].startswith("nonspeech_"):
            try:
                vad_text = model.transcribe(str(path), **{**options, "vad": True}).text
            except MediakitError as err:
                vad_text = f"<error: {err}>"
            nonspeech.append((row["file"], text, vad_text))
            continue
        if row["reference"] == "-" or language is None:
            if args.show:
                print(f"{row['file']} ({elapsed:.1f} s, no reference): {text.strip()[:200]}")
            continue
        reference, hypothesis = normalise(language, row["reference"]), normalise(language, text)
        e = edit_distance(reference, hypothesis)
        errors[language] += e
        units[language] += len(reference)
        files[language] += 1
        if args.show:
            print(f"{row['file']} ({elapsed:.1f} s, {e}/{len(reference)}): {text.strip()}")

    print(f"\n{describe()}")
    print(f"model {args.model} ({model.model.dtype}), options {options}, load {load_s:.2f} s")
    print(f"{'language':<10}{'files':>6}{'units':>7}{'errors':>8}{'rate %':>9}  metric")
    for language in sorted(units, key=lambda lang: (lang != "en", lang != "zh", lang)):
        metric = "CER" if language in CHARACTER_LANGUAGES else "WER"
        rate = 100.0 * errors[language] / max(1, units[language])
        print(f"{language:<10}{files[language]:>6}{units[language]:>7}{errors[language]:>8}{rate:>9.2f}  {metric}")
    print("\nnon-speech files (as configured | with vad):")
    for name, text, vad_text in nonspeech:
        print(f"  {name}: {text.strip()!r} | {vad_text.strip()!r}")
    rtf = audio_s / wall_s if wall_s else 0.0
    print(f"\nwall {wall_s:.1f} s for {audio_s:.1f} s of audio (real-time factor {rtf:.2f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
