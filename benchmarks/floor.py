"""The memory floor of the exact default: what its process holds whatever the input and the pipeline.

Issue 20 asks for the default's peak memory at or below faster-whisper int8's. This script measures
the parts no pipeline work can remove. Each engine runs in a fresh Python process, phase by phase,
reading ``/proc/self/status`` (Linux only). It prints resident memory as anonymous (heap, tensors) plus
file-backed (the pages of shared libraries and mapped files that were touched):

* mediakit, ``compute_type="auto"`` (exact float32): ``import torch``; ``load_model``; one encoder
  window; a 5-beam decoder state (float32 cross-attention keys/values); a shared prompt of
  ``--prompt`` tokens, then ``--steps`` decoding steps, as a long-form window decodes them: the engine
  alone. Then what the default adds that no engine avoids: the tokenizer, and Silero's VAD over
  ``--vad-seconds`` of audio (the coverage pass, on by default). The mel, token and sample values do
  not change the memory.
* faster-whisper (with ``--peer-python``, its interpreter): its import; ``WhisperModel`` in each
  ``--peer-compute-types``; a whole sequential transcription of each of ``--files`` (beam 5, English,
  previous text as prompt), as ``benchmarks/commands.py`` runs it.

    python benchmarks/floor.py --peer-python <faster-whisper's venv>/bin/python

Each phase's line gives the memory after it and the kernel's peak so far (which includes transients,
such as packing the weights).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from machine import describe  # noqa: E402
from speed import SHARED, build_recordings, ct2_base_dir  # noqa: E402

#: Shared by both children: ``phase(name)`` prints one JSON line with the resident memory now and the
#: kernel's high-water mark so far (``VmHWM``, the ``ru_maxrss`` of the other benchmarks).
PHASE = """
import json
def phase(name):
    kb = {}
    with open('/proc/self/status') as handle:
        for line in handle:
            key, _, value = line.partition(':')
            if key in ('RssAnon', 'RssFile', 'VmHWM'):
                kb[key] = int(value.split()[0])
    mb = {key: count / 1024 for key, count in kb.items()}
    print(json.dumps(dict(phase=name, anon=mb['RssAnon'], file=mb['RssFile'], peak=mb['VmHWM'])), flush=True)
"""

MEDIAKIT = PHASE + """
import sys
threads, prompt_len, steps, vad_seconds = map(int, sys.argv[1:5])
import torch
phase('import torch')
import mediakit
model = mediakit.load_model('base', compute_type='auto', threads=threads).model
phase('load_model base, exact (auto)')
with torch.inference_mode():
    features = model.encode(torch.zeros(1, 80, 3000))
    phase('one encoder window')
    state = model.new_state(features, repeat=1)
    model.logits(torch.full((1, prompt_len), 440), state, last_only=True)
    state = state.select(torch.zeros(5, dtype=torch.long))
    phase(f'5-beam state, {prompt_len}-token prompt')
    for _ in range(steps):
        model.logits(torch.full((5, 1), 440), state, last_only=True)
    phase(f'{steps} decoding steps')
tokenizer = model.get_tokenizer('transcribe', 'en')
phase('+ the tokenizer (tiktoken)')
import types
import numpy as np
from mediakit_decode.vad import speech_probabilities_of
class QuietNoise:  # a feature source's samples as the coverage pass reads them (quiet noise: memory only)
    spec = types.SimpleNamespace(sample_rate=16000)
    n_samples = 16000 * vad_seconds
    def samples(self, first, end):
        return np.random.default_rng(first).normal(0, 0.01, end - first).astype(np.float32)
speech_probabilities_of(QuietNoise())
phase(f'+ Silero VAD over {vad_seconds} s (coverage pass)')
"""

FASTER_WHISPER = PHASE + """
import sys
model_dir, audio, compute_type, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
from faster_whisper import WhisperModel
phase('import faster_whisper')
model = WhisperModel(model_dir, device='cpu', compute_type=compute_type, cpu_threads=threads)
phase(f'WhisperModel {compute_type}')
segments, _ = model.transcribe(audio, language='en', beam_size=5, best_of=5, condition_on_previous_text=True)
text = ''.join(segment.text for segment in segments)
phase('transcription of the file')
"""


def run(label: str, argv: list[str]) -> list[dict]:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no error output"])[-1]
        raise SystemExit(f"{label}: the measuring process failed (exit {done.returncode}): {tail}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def show(label: str, phases: list[dict]) -> None:
    print(f"\n{label}")
    print(f"  {'phase':40s} {'anon MB':>8s} {'file MB':>8s} {'total MB':>9s} {'peak so far MB':>15s}")
    for p in phases:
        print(f"  {p['phase']:40s} {p['anon']:8.0f} {p['file']:8.0f} {p['anon'] + p['file']:9.0f} {p['peak']:15.0f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--prompt", type=int, default=150, help="shared prompt tokens (long-form conditioning)")
    parser.add_argument("--steps", type=int, default=100, help="5-beam decoding steps after the prompt")
    parser.add_argument("--vad-seconds", type=int, default=280, help="audio the coverage pass's Silero reads")
    parser.add_argument("--peer-python", help="a Python with faster-whisper installed")
    parser.add_argument("--peer-compute-types", nargs="+", default=["int8", "float32"])
    parser.add_argument("--files", nargs="+", default=["english", "long"], choices=["english", "long"],
                        help="what faster-whisper transcribes (benchmarks/speed.py's recordings)")
    parser.add_argument("--data", type=Path, default=SHARED)
    args = parser.parse_args(argv)
    if args.prompt + args.steps > 448:
        parser.error("--prompt plus --steps exceeds the decoder's 448 positions")

    print(describe())
    show("mediakit, exact default: the engine, then the tokenizer and the coverage pass's VAD",
         run("mediakit", [sys.executable, "-c", MEDIAKIT, str(args.threads), str(args.prompt), str(args.steps),
                          str(args.vad_seconds)]))
    if args.peer_python:
        if not (args.data / "manifest.tsv").is_file():
            raise SystemExit(f"{args.data}: no manifest.tsv (the shared speech set builds faster-whisper's input)")
        english, long, _ = build_recordings(args.data)
        model_dir = ct2_base_dir()
        for name in args.files:
            audio = {"english": english, "long": long}[name]
            for compute_type in args.peer_compute_types:
                phases = run(f"faster-whisper {compute_type}", [args.peer_python, "-c", FASTER_WHISPER, str(model_dir),
                                                                str(audio), compute_type, str(args.threads)])
                show(f"faster-whisper {compute_type}, whole transcription of {audio.name}", phases)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
