"""Speed levers keep results: oneDNN-packed decoder weights, beam reorder past the shared prompt, step threads."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

from mediakit_decode.window import StepThreads
from mediakit_whisper import packed
from mediakit_whisper.model import ModelDims, Whisper
from mediakit_whisper.runtime import WhisperRuntime

DIMS = ModelDims(n_mels=8, n_audio_ctx=12, n_audio_state=32, n_audio_head=2, n_audio_layer=1,
                 n_vocab=300, n_text_ctx=24, n_text_state=32, n_text_head=2, n_text_layer=2)  # fmt: skip


def runtime(module: Whisper) -> WhisperRuntime:
    return WhisperRuntime("tiny-random", module, DIMS, vocab_file=Path("unused"), alignment_heads=((1, 0),),
                          device=torch.device("cpu"), dtype=torch.float32)  # fmt: skip


@pytest.fixture(scope="module")
def module() -> Whisper:
    torch.manual_seed(0)
    model = Whisper(DIMS).eval().requires_grad_(False)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * 0.2)
        # float16-exact embedding, as weights from a float16 file are
        model.decoder.token_embedding.weight.copy_(model.decoder.token_embedding.weight.half().float())
    return model


@pytest.mark.skipif(not packed.available(), reason="torch without oneDNN linear ops")
def test_packed_decoder_gives_the_same_logits_and_state_dict(module):
    plain = runtime(module)
    fast_module = copy.deepcopy(module)
    assert packed.pack_decoder(fast_module.decoder)
    fast = runtime(fast_module)
    assert fast_module.decoder.token_embedding.weight.dtype == torch.float16  # exact, so stored narrow
    # the projection is packed in two halves: the whole embedding is never widened to float32 at once
    assert [type(p) for p in fast_module.decoder.output.parts] == [packed.HalfLinear] * 2
    features = plain.encode(torch.randn(2, DIMS.n_mels, 2 * DIMS.n_audio_ctx))
    tokens = torch.randint(0, DIMS.n_vocab, (2, 7))
    expected = plain.logits(tokens, plain.new_state(features))
    got = fast.logits(tokens, fast.new_state(features))
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)
    state, want = fast_module.state_dict(), module.state_dict()
    assert set(state) == set(want)
    for name in ("mlp.0.weight", "attn.query.bias", "attn.key.weight", "attn.value.weight", "cross_attn.value.bias"):
        torch.testing.assert_close(state[f"decoder.blocks.1.{name}"], want[f"decoder.blocks.1.{name}"])


@pytest.mark.skipif(not packed.available(), reason="torch without oneDNN linear ops")
def test_fused_attention_products_give_each_layer_its_own_outputs(module):
    fast_module = copy.deepcopy(module)
    assert packed.pack_decoder(fast_module.decoder)
    attn, cross = fast_module.decoder.blocks[0].attn, fast_module.decoder.blocks[0].cross_attn
    assert attn.fused_qkv is not None and cross.fused_kv is not None and cross.fused_qkv is None
    x = torch.randn(3, 4, DIMS.n_text_state)
    q, k, v = attn.queries_keys_values(x)
    plain = module.decoder.blocks[0].attn
    for got, layer in ((q, plain.query), (k, plain.key), (v, plain.value)):
        torch.testing.assert_close(got, plain.split_heads(layer(x)), rtol=1e-5, atol=1e-5)
        assert got.shape == (3, DIMS.n_text_head, 4, DIMS.n_text_state // DIMS.n_text_head)
    torch.testing.assert_close(attn.key(x), plain.key(x), rtol=1e-5, atol=1e-5)  # a part still works alone


def prompted_beams(rt: WhisperRuntime, windows: int, beams: int, prompt_length: int):
    """(features, prompt, state): a prompt run once per window, then copied to ``beams`` rows each."""
    features = rt.encode(torch.randn(windows, DIMS.n_mels, 2 * DIMS.n_audio_ctx))
    prompt = torch.randint(0, DIMS.n_vocab, (windows, prompt_length))
    base = rt.new_state(features)
    rt.logits(prompt, base)
    return features, prompt, base.select(torch.arange(windows).repeat_interleave(beams))


def test_beam_reorder_after_a_shared_prompt_matches_the_uncached_logits(module):
    rt = runtime(module)
    features, prompt, beams = prompted_beams(rt, windows=1, beams=3, prompt_length=5)
    histories = [prompt[0].tolist() for _ in range(3)]
    for step in range(4):
        column = torch.randint(0, DIMS.n_vocab, (3, 1))
        rt.logits(column, beams)
        for row in range(3):
            histories[row].append(int(column[row, 0]))
        order = [2, 2, 0] if step % 2 == 0 else [1, 0, 0]
        beams.reorder(torch.tensor(order))
        histories = [list(histories[i]) for i in order]
    last = torch.randint(0, DIMS.n_vocab, (3, 1))
    got = rt.logits(last, beams)[:, -1]
    full = torch.tensor([h + [int(t)] for h, t in zip(histories, last[:, 0])])
    expected = rt.logits_full(full, features.expand(3, -1, -1))[:, -1]
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


def test_step_threads_use_the_faster_setting_and_probe_again_later():
    chooser = StepThreads(probe=2, every=3)
    timings = {2: 0.010, 1: 0.030}  # idle machine: two threads win
    for _ in range(4):
        n = chooser.next(2)
        chooser.record(n, timings[n])
    assert [chooser.next(2) for _ in range(3)] == [2, 2, 2]
    timings = {2: 0.300, 1: 0.040}  # the cores got busy: one thread wins at the next probe
    for _ in range(4):
        n = chooser.next(2)
        chooser.record(n, timings[n])
    assert chooser.next(2) == 1


@pytest.mark.skipif(not packed.available(), reason="torch without oneDNN linear ops")
def test_decoder_weights_that_are_not_float16_exact_get_the_packed_float32_layouts(module):
    plain = runtime(module)
    wide = copy.deepcopy(module)
    with torch.no_grad():  # values float16 cannot hold: the float16-stored layout would change them
        wide.decoder.token_embedding.weight.add_(1e-7)
        wide.decoder.blocks[0].mlp[0].weight.add_(1e-7)
    reference = runtime(copy.deepcopy(wide))
    assert packed.pack_decoder(wide.decoder)
    assert isinstance(wide.decoder.output.parts[0], packed.PackedLinear)
    assert isinstance(wide.decoder.blocks[0].mlp[0], packed.PackedLinear)
    assert wide.decoder.token_embedding.weight.dtype == torch.float32
    features = plain.encode(torch.randn(1, DIMS.n_mels, 2 * DIMS.n_audio_ctx))
    tokens = torch.randint(0, DIMS.n_vocab, (1, 6))
    want = reference.logits(tokens, reference.new_state(features))
    got = runtime(wide).logits(tokens, runtime(wide).new_state(features))
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


def test_beams_read_the_shared_prompt_once_and_still_match_the_uncached_logits(module):
    rt = runtime(module)
    features, prompt, beams = prompted_beams(rt, windows=2, beams=3, prompt_length=6)
    assert beams.shared == 6  # the prompt is kept in each group's first row only
    first, second = torch.randint(0, DIMS.n_vocab, (6, 1)), torch.randint(0, DIMS.n_vocab, (6, 2))
    one = rt.logits(first, beams)[:, -1]  # one token per row: prompt read once per group
    two = rt.logits(second, beams)[:, -1]  # several tokens: every row gets its own copy of the prompt first
    assert beams.shared == 0
    history = torch.cat([prompt.repeat_interleave(3, dim=0), first, second], dim=1)
    reference = rt.logits_full(history, features.repeat_interleave(3, dim=0))
    torch.testing.assert_close(one, reference[:, 6], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(two, reference[:, -1], rtol=1e-4, atol=1e-4)


def test_encoder_in_place_path_matches_the_reference_path_and_leaves_its_input_alone(module):
    mel = torch.randn(2, DIMS.n_mels, 2 * DIMS.n_audio_ctx)
    before = mel.clone()
    with torch.enable_grad():
        reference = module.encoder(mel)  # autograd on: the out-of-place blocks
    with torch.inference_mode():
        fast = module.encoder(mel)  # no autograd: residual sums and GELU in place
    torch.testing.assert_close(fast, reference.detach(), rtol=1e-5, atol=1e-5)
    assert torch.equal(mel, before)


@pytest.mark.skipif(not packed.available(), reason="torch without oneDNN linear ops")
def test_without_float16_kernels_the_packed_projection_still_keeps_the_embedding_narrow(module, monkeypatch):
    monkeypatch.setattr(packed, "half_available", lambda: False)
    plain, fast_module = runtime(module), copy.deepcopy(module)
    assert packed.pack_decoder(fast_module.decoder)
    assert isinstance(fast_module.decoder.output.parts[0], packed.PackedLinear)
    assert fast_module.decoder.token_embedding.weight.dtype == torch.float16  # exact, so half the memory
    features = plain.encode(torch.randn(1, DIMS.n_mels, 2 * DIMS.n_audio_ctx))
    tokens = torch.randint(0, DIMS.n_vocab, (1, 5))
    want = plain.logits(tokens, plain.new_state(features))
    got = runtime(fast_module).logits(tokens, runtime(fast_module).new_state(features))
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


def _bfloat16_ops() -> bool:
    return packed.available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()


@pytest.mark.skipif(not _bfloat16_ops(), reason="no oneDNN bfloat16 linear on this CPU (needs AVX-512 or AMX)")
def test_bfloat16_encoder_stays_close_to_float32_and_keeps_its_state_dict(module):
    mel = torch.randn(2, DIMS.n_mels, 2 * DIMS.n_audio_ctx)
    with torch.inference_mode():
        reference = module.encoder(mel)
    fast = copy.deepcopy(module)
    assert packed.pack_encoder(fast.encoder, bfloat16=True)
    assert isinstance(fast.encoder.blocks[0].mlp[0], packed.BFloat16Linear)
    with torch.inference_mode():
        got = fast.encoder(mel)
    assert got.dtype == torch.float32
    # bfloat16 keeps 8 bits of each product's factors: close, not equal
    assert not torch.equal(got, reference)
    assert (got - reference).norm() / reference.norm() < 0.02
    state = fast.state_dict()
    assert set(state) == set(module.state_dict())
    weight = module.state_dict()["encoder.blocks.0.mlp.0.weight"]
    torch.testing.assert_close(state["encoder.blocks.0.mlp.0.weight"], weight.bfloat16().float())
    assert module.decoder.blocks[0].mlp[0].__class__ is fast.decoder.blocks[0].mlp[0].__class__  # decoder untouched
