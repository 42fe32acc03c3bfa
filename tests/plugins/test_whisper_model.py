"""The Whisper module and runtime on a random-initialised tiny model: caches are exact, shapes hold."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mediakit_whisper.model import ModelDims, Whisper
from mediakit_whisper.runtime import WhisperRuntime

DIMS = ModelDims(
    n_mels=8, n_audio_ctx=12, n_audio_state=32, n_audio_head=4, n_audio_layer=2,
    n_vocab=50, n_text_ctx=24, n_text_state=32, n_text_head=4, n_text_layer=3,
)  # fmt: skip
HEADS = ((1, 0), (2, 3))


def make_runtime(seed: int = 0, dims: ModelDims = DIMS) -> WhisperRuntime:
    torch.manual_seed(seed)
    module = Whisper(dims).eval()
    with torch.no_grad():  # bigger than default init so that the attention patterns differ per token
        for p in module.parameters():
            p.add_(torch.randn_like(p) * 0.2)
    return WhisperRuntime(
        "random", module, dims, vocab_file=Path("unused"), alignment_heads=HEADS,
        device=torch.device("cpu"), dtype=torch.float32,
    )  # fmt: skip


@pytest.fixture(scope="module")
def runtime() -> WhisperRuntime:
    return make_runtime()


@pytest.fixture(scope="module")
def features(runtime) -> torch.Tensor:
    torch.manual_seed(1)
    return runtime.encode(torch.randn(2, DIMS.n_mels, 2 * DIMS.n_audio_ctx))  # (2, A, C)


def test_encoder_output_shape_and_window_length_check(runtime, features):
    assert features.shape == (2, DIMS.n_audio_ctx, DIMS.n_audio_state)
    with pytest.raises(ValueError, match="positions"):
        runtime.encode(torch.randn(1, DIMS.n_mels, 2 * DIMS.n_audio_ctx + 6))


def test_incremental_decoding_equals_full_recomputation(runtime, features):
    tokens = torch.randint(0, DIMS.n_vocab, (2, 9))
    full = runtime.logits_full(tokens, features)  # (2, 9, V)
    state = runtime.new_state(features)
    steps = [runtime.logits(tokens[:, :3], state)]  # prompt
    steps += [runtime.logits(tokens[:, i : i + 1], state) for i in range(3, 9)]
    cached = torch.cat(steps, dim=1)
    assert cached.shape == (2, 9, DIMS.n_vocab) and cached.dtype == torch.float32
    assert state.offset == 9
    torch.testing.assert_close(cached, full, atol=1e-4, rtol=1e-4)


def test_multi_token_chunk_after_cached_tokens_is_causal(runtime, features):
    tokens = torch.randint(0, DIMS.n_vocab, (2, 8))
    full = runtime.logits_full(tokens, features)
    state = runtime.new_state(features)
    first = runtime.logits(tokens[:, :2], state)
    rest = runtime.logits(tokens[:, 2:], state)  # 6 new tokens at offset 2: needs the shifted causal mask
    torch.testing.assert_close(torch.cat([first, rest], 1), full, atol=1e-4, rtol=1e-4)


def test_last_only_returns_the_last_position(runtime, features):
    tokens = torch.randint(0, DIMS.n_vocab, (2, 5))
    full = runtime.logits_full(tokens, features)
    last = runtime.logits(tokens, runtime.new_state(features), last_only=True)
    assert last.shape == (2, 1, DIMS.n_vocab)
    torch.testing.assert_close(last[:, 0], full[:, -1], atol=1e-4, rtol=1e-4)


def test_beam_reorder_matches_recomputing_the_chosen_histories(runtime, features):
    beams = 3
    state = runtime.new_state(features, repeat=beams)  # rows: window i beam j at i * 3 + j
    histories = torch.randint(0, DIMS.n_vocab, (2 * beams, 4))
    runtime.logits(histories, state)
    # each window's beams continue from a permutation/duplication of its own rows
    index = torch.tensor([2, 0, 0, 4, 5, 3])
    state.reorder(index)
    histories = histories[index]
    new = torch.randint(0, DIMS.n_vocab, (2 * beams, 1))
    got = runtime.logits(new, state)[:, -1]
    expected_features = features.repeat_interleave(beams, dim=0)
    want = runtime.logits_full(torch.cat([histories, new], 1), expected_features)[:, -1]
    torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)


def test_rewind_and_reset_reuse_cross_attention(runtime, features):
    state = runtime.new_state(features)
    cross_k = state.cross_k
    prompt = torch.randint(0, DIMS.n_vocab, (2, 3))
    runtime.logits(prompt, state)
    first = runtime.logits(torch.tensor([[1], [2]]), state)
    state.rewind(3)
    runtime.logits(torch.tensor([[7], [8]]), state)  # another continuation overwrites position 3
    state.rewind(3)
    again = runtime.logits(torch.tensor([[1], [2]]), state)
    torch.testing.assert_close(again, first)
    state.reset()
    assert state.offset == 0 and state.cross_k is cross_k
    with pytest.raises(ValueError):
        state.rewind(5)


def test_select_keeps_chosen_rows_with_their_audio(runtime, features):
    state = runtime.new_state(features)
    tokens = torch.randint(0, DIMS.n_vocab, (2, 4))
    runtime.logits(tokens[:, :3], state)
    sub = state.select(torch.tensor([1, 1]))
    got = runtime.logits(tokens[[1, 1], 3:], sub)[:, -1]
    want = runtime.logits_full(tokens[[1]], features[[1]])[:, -1]
    torch.testing.assert_close(got, want.expand(2, -1), atol=1e-4, rtol=1e-4)


def test_beams_share_one_cross_attention_copy_per_window(runtime, features):
    state = runtime.new_state(features, repeat=4)
    assert state.batch_size == 8 and state.cross_k.shape[1] == 2 and state.group == 4  # not copied per beam
    tokens = torch.randint(0, DIMS.n_vocab, (2, 3))
    base = runtime.new_state(features)
    runtime.logits(tokens, base)
    for rows in ([0, 0, 0, 1, 1, 1], [1, 0, 0], [1, 1, 0, 0]):  # beam groups, uneven runs, swapped windows
        sub = base.select(torch.tensor(rows))
        nxt = torch.randint(0, DIMS.n_vocab, (len(rows), 1))
        got = runtime.logits(nxt, sub)[:, -1]
        want = runtime.logits_full(torch.cat([tokens[rows], nxt], 1), features[rows])[:, -1]
        torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)
    assert base.select(torch.tensor([0, 0, 0, 1, 1, 1])).group == 3
    assert base.select(torch.tensor([1, 0, 0])).group == 1


def test_keep_windows_drops_finished_windows_and_the_rest_decode_on_unchanged(runtime, features):
    three = torch.cat([features, features[:1] * 0.5])  # three windows
    base = runtime.new_state(three)
    prompt = torch.randint(0, DIMS.n_vocab, (3, 3))
    runtime.logits(prompt, base)
    state = base.select(torch.arange(3).repeat_interleave(2))  # two beams per window, the prompt shared
    assert state.shared == 3
    own = torch.randint(0, DIMS.n_vocab, (6, 1))
    runtime.logits(own, state)
    cross_k = state.cross_k
    state.keep_windows([0, 2])
    assert state.batch_size == 4 and state.windows == [0, 2] and state.offset == 4
    assert state.cross_k is cross_k  # the audio's keys/values are not copied
    nxt = torch.randint(0, DIMS.n_vocab, (4, 1))
    got = runtime.logits(nxt, state)[:, -1]
    rows = [0, 1, 4, 5]
    history = torch.cat([prompt[[r // 2 for r in rows]], own[rows], nxt], 1)
    want = runtime.logits_full(history, three[[0, 0, 2, 2]])[:, -1]
    torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)
    picked = state.select(torch.tensor([2, 3]))  # a copy of the second kept window's rows
    assert picked.cross_k.shape[1] == 1 and picked.windows is None
    nxt2 = torch.randint(0, DIMS.n_vocab, (2, 1))
    got2 = runtime.logits(nxt2, picked)[:, -1]
    want2 = runtime.logits_full(torch.cat([history[2:], nxt2], 1), three[[2, 2]])[:, -1]
    torch.testing.assert_close(got2, want2, atol=1e-4, rtol=1e-4)
    state.keep_windows([1])  # positions among the windows kept: the original window 2
    assert state.windows == [2] and state.batch_size == 2
    last = torch.randint(0, DIMS.n_vocab, (2, 1))
    again = runtime.logits(last, state)[:, -1]
    want = runtime.logits_full(torch.cat([history[2:], last], 1), three[[2, 2]])[:, -1]
    torch.testing.assert_close(again, want, atol=1e-4, rtol=1e-4)
    with pytest.raises(ValueError, match="ascending"):
        state.keep_windows([1, 0])


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_runtimes_decode_beams_after_a_shared_prompt(dtype):
    # --compute_type float16/bfloat16 on the CPU: the beams' shared-prompt attention joins float32
    # log-sum-exps to half-precision activations and must hand the output layer its own dtype
    wide = make_runtime()
    narrow = make_runtime()
    narrow.module.to(dtype)
    narrow.dtype = dtype
    torch.manual_seed(1)
    mel = torch.randn(1, DIMS.n_mels, 2 * DIMS.n_audio_ctx)
    prompt, step = torch.randint(0, DIMS.n_vocab, (1, 4)), torch.randint(0, DIMS.n_vocab, (3, 1))
    out = {}
    for name, rt in (("wide", wide), ("narrow", narrow)):
        base = rt.new_state(rt.encode(mel))
        rt.logits(prompt, base)
        beams = base.select(torch.zeros(3, dtype=torch.long))  # three beams sharing the prompt
        assert beams.shared == 4
        out[name] = rt.logits(step, beams)[:, -1].float()
    torch.testing.assert_close(out["narrow"], out["wide"], atol=0.15, rtol=0.05)


def test_logits_in_a_given_row_order(runtime, features):
    tokens = torch.randint(0, DIMS.n_vocab, (4, 2))
    plain, ordered = runtime.new_state(features, repeat=2), runtime.new_state(features, repeat=2)
    want = runtime.logits(tokens, plain, last_only=True)
    got = runtime.logits(tokens, ordered, last_only=True, order=torch.tensor([1, 0, 3, 2]))
    torch.testing.assert_close(got, want[[1, 0, 3, 2]])


def test_batch_and_cache_size_mismatch_are_errors(runtime, features):
    state = runtime.new_state(features, max_tokens=4)
    with pytest.raises(ValueError, match="rows"):
        runtime.logits(torch.zeros(3, 1, dtype=torch.long), state)
    with pytest.raises(ValueError, match="exceed"):
        runtime.logits(torch.zeros(2, 5, dtype=torch.long), state)


def test_alignment_attention_is_a_softmax_over_audio_per_head(runtime, features):
    tokens = torch.randint(0, DIMS.n_vocab, (1, 6))
    weights = runtime.alignment_attention(tokens, features[:1])
    assert weights.shape == (len(HEADS), 6, DIMS.n_audio_ctx)
    torch.testing.assert_close(weights.sum(-1), torch.ones(len(HEADS), 6))
    # truncating to the real audio renormalises: equal to a softmax over those positions only
    cut = runtime.alignment_attention(tokens, features[:1], audio_positions=5)
    torch.testing.assert_close(cut, weights[:, :, :5] / weights[:, :, :5].sum(-1, keepdim=True))
    # different heads see different patterns (they are not all the same row)
    assert not torch.allclose(weights[0], weights[1])
    # a decoder state's cross-attention keys and values are the ones it would compute (coverage reads them)
    state = runtime.new_state(features[:1])
    assert torch.equal(runtime.alignment_attention(tokens, features[:1], cross=state), weights)


def test_state_dict_uses_openai_whisper_names():
    keys = set(Whisper(DIMS).state_dict())
    assert "encoder.positional_embedding" in keys
    assert "decoder.blocks.2.cross_attn.key.weight" in keys
    assert "decoder.blocks.0.cross_attn.key.bias" not in keys  # keys have no bias, as in openai-whisper
    assert "encoder.blocks.1.mlp.2.bias" in keys and "decoder.ln.weight" in keys
    # 2 conv (4) + pos + 2 encoder blocks * 15 + ln_post (2) + emb + pos + 3 decoder blocks * 24 + ln (2)
    assert len(keys) == 4 + 1 + 2 * 15 + 2 + 2 + 3 * 24 + 2


def test_int8_quantized_runtime_stays_close_to_float(monkeypatch):
    from mediakit.config import ModelOptions
    from mediakit_whisper import loader
    from mediakit_whisper.weights import Checkpoint

    base = make_runtime(seed=3)
    checkpoint = Checkpoint("random", "openai", base.module.state_dict(), DIMS, HEADS, Path("unused"))
    quantized = loader.build_runtime(checkpoint, "random", ModelOptions(compute_type="int8", device="cpu"))
    assert quantized.quantized and quantized.dtype == torch.float32
    mel = torch.randn(1, DIMS.n_mels, 2 * DIMS.n_audio_ctx)
    tokens = torch.randint(0, DIMS.n_vocab, (1, 5))
    want = base.logits_full(tokens, base.encode(mel))
    got = quantized.logits(tokens, quantized.new_state(quantized.encode(mel)))
    assert not isinstance(quantized.module.decoder.blocks[0].mlp[0], torch.nn.Linear)  # really quantized
    assert (got - want).abs().max() < 0.1 * want.abs().max()
