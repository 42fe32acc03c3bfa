"""WER on long recordings joined from the shared set's English clips against clip-by-clip WER (issue 24).

    python benchmarks/joined.py                                  # base, orders 0 1 2, 0.5 s pauses
    python benchmarks/joined.py --orders 0 1 2 7 --gaps mixed --far-field
    python benchmarks/joined.py --modes default batched --model tiny.en
    python benchmarks/joined.py --modes batched --compute-type int8   # an opt-in compute type

Each order shuffles the 13 English clips (order 0 = manifest order) and joins them with gaps: ``silence``
(0.5 s pauses, as the issue's recording) or ``mixed`` (2 s noise, 3 s music, 2 s of the set's noise clip,
1 s silence, in turn). ``--far-field`` passes the whispered and falsetto clips through a synthetic room
(benchmarks/joining.py: far_field), which Silero no longer calls speech. Errors are attributed to clips by
aligning the whole transcript with the clips' references in order; a clip is *lost* when more than half
of its words are deleted. Clip-by-clip: each clip decoded alone with the same options. Modes: default
(seek loop with the repair), norepair (openai-whisper's seek loop), batched (--batch_size 8 with its
repair), batched-norepair. ``norepair`` with the default compute type gives openai-whisper's
transcripts (tests/plugins/test_default_exact.py): its WER is openai-whisper's. Also prints any text
written inside a gap (non-speech). Not part of the tests.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import mediakit  # noqa: E402
from joining import Gap, english_clips, far_field, join, load_clips, score_clips, text_in_gaps  # noqa: E402
from machine import describe  # noqa: E402
from scoring import edit_distance, english  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "speech"
MODES = {
    "default": {},
    "norepair": {"repair": False},
    "batched": {"batch_size": 8},
    "batched-norepair": {"batch_size": 8, "repair": False},
}
GAPS = {
    "silence": [Gap("silence", 0.5)],
    "mixed": [Gap("noise", 2.0), Gap("music", 3.0), Gap("nonspeech_noise_picovoice_empty.wav", 2.0), Gap("silence", 1.0)],
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=SHARED)
    parser.add_argument("--model", default="base")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--compute-type", default="auto", help="the model's compute type (int8, mixed: opt-in, not exact)")
    parser.add_argument("--orders", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--gaps", choices=sorted(GAPS), default="silence")
    parser.add_argument("--far-field", action="store_true")
    parser.add_argument("--modes", nargs="+", choices=sorted(MODES), default=list(MODES))
    parser.add_argument("--show", action="store_true", help="print every transcript")
    parser.add_argument(
        "--no-clip-by-clip", dest="clip_by_clip", action="store_false",
        help="skip the clips decoded alone (the norepair modes never decode them: alone, a clip has nothing skipped)",
    )
    args = parser.parse_args(argv)

    names = english_clips(args.data)
    clips = load_clips(args.data, names)
    if args.far_field:
        clips = {n: far_field(c) if ("whisper" in n or "falsetto" in n) else c for n, c in clips.items()}
    model = mediakit.load_model(args.model, threads=args.threads, compute_type=args.compute_type)
    print(describe())
    print(f"model {args.model} ({args.compute_type}), beam 5, language en, orders {args.orders}, gaps {args.gaps}, far-field {args.far_field}")

    for mode in args.modes:
        options = dict(language="en", **MODES[mode])
        if args.clip_by_clip and not mode.endswith("norepair"):
            errors = words = 0
            t0 = time.perf_counter()
            for name in names:
                reference = english(clips[name].reference).split()
                hypothesis = english(model.transcribe(clips[name].samples, **options).text).split()
                errors += edit_distance(reference, hypothesis)
                words += len(reference)
            print(f"\n{mode}: clip by clip WER {100.0 * errors / words:.2f}% ({errors}/{words}), {time.perf_counter() - t0:.1f} s")
        else:
            print(f"\n{mode}:")
        for order in args.orders:
            names_in_order = list(names)
            if order:
                random.Random(order).shuffle(names_in_order)
            joined = join([clips[n] for n in names_in_order], GAPS[args.gaps], seed=order, data=args.data)
            t0 = time.perf_counter()
            result = model.transcribe(joined.samples, **options)
            elapsed = time.perf_counter() - t0
            scores = score_clips(joined, result.text)
            total_errors, total_words = sum(s.errors for s in scores), sum(s.words for s in scores)
            lost = [s.name for s in scores if s.deletions * 2 > s.words]
            in_gaps = text_in_gaps(joined, result.segments)
            repaired = sum(s.repaired for s in result.segments)
            print(
                f"  order {order}: joined WER {100.0 * total_errors / total_words:.2f}% ({total_errors}/{total_words}), "
                f"{joined.duration:.1f} s in {elapsed:.1f} s, {repaired} repaired segment(s), lost {lost or 'none'}, "
                f"text in gaps {in_gaps or 'none'}"
            )
            if args.show:
                print("   ", result.text.strip())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
