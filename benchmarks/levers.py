"""Each speed lever on its own, at the level of the parts a transcription spends its time in.

    python benchmarks/levers.py                       # base, 2 threads, every lever
    python benchmarks/levers.py --threads 1 --rounds 5
    python benchmarks/levers.py --levers float32 int8 compile

Whole commands (benchmarks/commands.py) mix a lever's effect with everything else and drift with the
machine; this times the three parts where the default spends its time, for one 30 s window of real
speech (the shared set's LibriVox clip, or noise when it is absent):

- encoder: one 30 s window through the encoder;
- prompt: the cross-attention keys/values of that window plus a 150-token prompt (the previous text);
- step: one decoding step of 5 beams after that prompt, averaged over 40 steps.

Levers (each against ``float32``, the default's arithmetic, in interleaved rounds: A B C A B C ...):

- ``float32``: the default (float16-stored weights widened in the product, fused query/key/value).
- ``unfused``: the same without the decoder's fused query/key/value products (what fusing buys).
- ``fused-encoder``: the default with the encoder's query, key and value products fused into one as
  well (the encoder's layers are packed apart by default).
- ``mixed``: the opt-in compute type (float16 cross keys/values, bfloat16 encoder where the CPU has it).
- ``int8``: the opt-in compute type (int8 Linear layers).
- ``compile``: ``torch.compile`` of the decoder step (compile time shown apart).

Besides times (wall seconds per part, the minimum over rounds, which load from other processes
inflates least; not CPU seconds, which count the idle threads' spinning), it prints whether the lever is exact: the largest difference from float32's
encoder output and step logits, and whether the 5 best tokens of every step agree. Only an exact lever
may go into the default (issue 20). Figures are printed under the machine line; nothing here is a test.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from machine import describe  # noqa: E402
from speed import LONG_CLIP, SHARED  # noqa: E402

LEVERS = ("float32", "unfused", "fused-encoder", "mixed", "int8", "compile")
PROMPT_TOKENS = 150
BEAMS = 5
STEPS = 40


def window_mel(data: Path):
    """(1, 80, 3000) log-mel of a 30 s window of real speech (noise when the shared set is absent)."""
    import numpy as np
    import torch

    from mediakit.whisper import load_audio, log_mel_spectrogram  # the public functions, on mediakit's stages

    clip = data / LONG_CLIP
    if clip.exists():
        audio = load_audio(str(clip))[16000 * 30 : 16000 * 60]
    else:
        audio = np.random.default_rng(0).standard_normal(16000 * 30).astype(np.float32) * 0.1
    return torch.as_tensor(np.asarray(log_mel_spectrogram(audio)))[None, :, :3000]


def fuse_encoder(encoder) -> None:  # noqa: ANN001 (the loaded model's AudioEncoder)
    """Give each encoder self-attention one product for its queries, keys and values, in the layout the
    loader gives the encoder's layers (float16-stored where exact): the layers are rebuilt as dense
    Linear layers from their packed weights, then fused as the decoder's are."""
    import torch
    from torch import nn

    from mediakit_whisper import packed

    with torch.inference_mode():
        for block in encoder.blocks:
            for name in ("query", "key", "value"):
                weight, bias = getattr(block.attn, name).dense()
                layer = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
                layer.weight = nn.Parameter(weight, requires_grad=False)
                if bias is not None:
                    layer.bias = nn.Parameter(bias, requires_grad=False)
                setattr(block.attn, name, layer)
        packed.fuse_attention_products(encoder.blocks, packed.exact_layout(1500))  # the loader's encoder layout


class Lever:
    """One configuration: a loaded runtime and how a decoding step is called."""

    def __init__(self, name: str, threads: int):
        import mediakit

        compute_type = name if name in ("mixed", "int8") else "float32"
        self.name = name
        self.runtime = mediakit.load_model("base", compute_type=compute_type, threads=threads).model
        self.compile_s = 0.0
        decoder = self.runtime.module.decoder
        if name == "unfused":
            for block in (*self.runtime.module.encoder.blocks, *decoder.blocks):
                for attn in (block.attn, block.cross_attn):
                    if attn is not None:
                        attn.fused_qkv = attn.fused_kv = None
        if name == "fused-encoder":
            fuse_encoder(self.runtime.module.encoder)
        if name == "compile":
            import torch

            decoder.forward_cached = torch.compile(decoder.forward_cached, dynamic=True)

    def measure(self, mel, prompt, steps):
        """(encoder s, prompt s, step s, features, step logits), wall seconds."""
        import torch

        rt = self.runtime
        t0 = time.perf_counter()
        features = rt.encode(mel)
        t1 = time.perf_counter()
        state = rt.new_state(features, repeat=1)
        rt.logits(prompt, state, last_only=True)
        t2 = time.perf_counter()
        state = state.select(torch.zeros(BEAMS, dtype=torch.long))
        logits = []
        for i, token in enumerate(steps):
            if i == 1:
                t3 = time.perf_counter()  # the first step is left out (a compiled step compiles there)
            logits.append(rt.logits(torch.full((BEAMS, 1), token), state, last_only=True)[:, -1])
        t4 = time.perf_counter()
        return t1 - t0, t2 - t1, (t4 - t3) / (len(steps) - 1), features, torch.stack(logits)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levers", nargs="+", default=list(LEVERS), choices=LEVERS)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data", type=Path, default=SHARED)
    args = parser.parse_args(argv)

    import torch

    names = ["float32"] + [name for name in args.levers if name != "float32"]
    mel = window_mel(args.data)
    generator = torch.Generator().manual_seed(0)
    prompt = torch.randint(220, 50000, (1, PROMPT_TOKENS), generator=generator)
    steps = torch.randint(220, 50000, (STEPS,), generator=generator).tolist()
    levers = {}
    for name in names:
        started = time.perf_counter()
        levers[name] = Lever(name, args.threads)
        if name == "compile":  # the first call compiles: timed apart
            levers[name].measure(mel, prompt, steps[:3])
            levers[name].compile_s = time.perf_counter() - started
    best: dict[str, list[float]] = {name: [float("inf")] * 3 for name in names}
    outputs = {}
    for _ in range(args.rounds):
        for name in names:
            *times, features, logits = levers[name].measure(mel, prompt, steps)
            best[name] = [min(a, b) for a, b in zip(best[name], times)]
            outputs[name] = (features, logits)

    print(f"\n{describe()}")
    print(f"Whisper base, {args.threads} threads, one 30 s window, {BEAMS} beams after a {PROMPT_TOKENS}-token prompt; "
          f"wall seconds, best of {args.rounds} interleaved rounds\n")
    print("| lever | encoder ms | prompt ms | step ms | step vs float32 | max diff encoder | max diff logits | top-5 equal | compile s |")
    print("|---|---|---|---|---|---|---|---|---|")
    ref_features, ref_logits = outputs["float32"]
    for name in names:
        enc, pro, step = best[name]
        features, logits = outputs[name]
        diff_f = (features.float() - ref_features.float()).abs().max().item()
        diff_l = (logits - ref_logits).abs().max().item()
        top = bool(torch.equal(logits.topk(5, dim=-1).indices, ref_logits.topk(5, dim=-1).indices))
        ratio = best["float32"][2] / step
        compile_s = f"{levers[name].compile_s:.0f}" if name == "compile" else "-"
        print(f"| {name} | {enc * 1000:.0f} | {pro * 1000:.0f} | {step * 1000:.1f} | {ratio:.2f}x | "
              f"{diff_f:.1e} | {diff_l:.1e} | {'yes' if top else 'no'} | {compile_s} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
