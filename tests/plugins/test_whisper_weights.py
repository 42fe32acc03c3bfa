"""The real base and tiny.en weights: what a user sees (jfk text, language), and the three file formats agree."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch

import mediakit_whisper
from speechref import JFK_REFERENCE, normalize
from mediakit.config import ModelOptions
from mediakit.records import FeatureSpec
from mediakit_whisper import locate

pytestmark = pytest.mark.weights

if locate.packaged_weights("base") is None or locate.packaged_weights("tiny.en") is None:
    pytest.skip("the base / tiny.en weight packages are not installed", allow_module_level=True)

JFK_BASE = "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."
JFK_TINY_EN = "And so my fellow Americans ask not what your country can do for you, ask what you can do for your country."
# float32 arithmetic (weights stored as float16 where exact): the numbers the reference implementation gives
FLOAT32 = ModelOptions(device="cpu", compute_type="float32")


def load_samples(path: Path) -> np.ndarray:
    """16 kHz mono float32 through ffmpeg, as openai-whisper decodes (s16le / 32768)."""
    import imageio_ffmpeg

    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-i", str(path), "-f", "s16le", "-ac", "1", "-ar", "16000", "-"]
    raw = subprocess.run(command, capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.int16).astype(np.float32) / 32768.0


@pytest.fixture(scope="module")
def jfk_mel() -> torch.Tensor:
    """Log-mel of jfk.flac padded with silence to one 30 s window: (80, 3000)."""
    from mediakit_logmel import log_mel_spectrogram

    samples = load_samples(Path(__file__).parents[1] / "data" / "jfk.flac")
    samples = np.pad(samples, (0, 480_000 - len(samples)))
    return torch.from_numpy(log_mel_spectrogram(samples, FeatureSpec()))


@pytest.fixture(scope="module")
def base():
    return mediakit_whisper.load("base", FLOAT32)


@pytest.fixture(scope="module")
def base_features(base, jfk_mel) -> torch.Tensor:
    return base.encode(jfk_mel)


@pytest.fixture(scope="module")
def tiny_en():
    return mediakit_whisper.load("tiny.en", FLOAT32)


def greedy(runtime, features: torch.Tensor, prompt: list[int], eot: int, limit: int = 100) -> list[int]:
    """Plain greedy decoding of one window with the cached runtime."""
    state = runtime.new_state(features)
    logits = runtime.logits(torch.tensor([prompt]), state, last_only=True)
    out: list[int] = []
    for _ in range(limit):
        token = int(logits[0, -1].argmax())
        if token == eot:
            break
        out.append(token)
        logits = runtime.logits(torch.tensor([[token]]), state)
    return out


def test_base_detects_english_and_transcribes_jfk_exactly(base, base_features):
    features = base_features
    tokenizer = base.get_tokenizer()
    at_sot = base.logits(torch.tensor([[tokenizer.sot]]), base.new_state(features))[0, -1]
    probs = at_sot[list(tokenizer.all_language_tokens)].softmax(-1)
    by_code = dict(zip(tokenizer.all_language_codes, probs.tolist()))
    assert max(by_code, key=by_code.get) == "en"
    assert by_code["en"] == pytest.approx(0.959, abs=0.003)
    assert by_code["pt"] == pytest.approx(0.0069, abs=0.002)

    english = tokenizer.with_options(language="English")
    tokens = greedy(base, features, list(english.sot_sequence_including_notimestamps), english.eot)
    assert english.decode(tokens).strip() == JFK_BASE


def test_tiny_en_transcribes_jfk_exactly(tiny_en, jfk_mel):
    tokenizer = tiny_en.get_tokenizer()
    assert not tiny_en.is_multilingual and tokenizer.sot_sequence == (50257,)
    tokens = greedy(tiny_en, tiny_en.encode(jfk_mel), list(tokenizer.sot_sequence_including_notimestamps), tokenizer.eot)
    assert tokenizer.decode(tokens).strip() == JFK_TINY_EN


def test_mixed_cpu_model_stores_cross_keys_values_narrow_and_the_default_does_not(jfk_mel):
    default = mediakit_whisper.load("base", ModelOptions(device="cpu"))
    assert default.cross_dtype is None and not default.quantized  # auto is exactly float32
    mixed = mediakit_whisper.load("base", ModelOptions(device="cpu", compute_type="mixed"))
    assert mixed.cross_dtype == torch.float16 and not mixed.quantized
    for runtime, cross in ((default, torch.float32), (mixed, torch.float16)):
        tokenizer = runtime.get_tokenizer(language="en")
        features = runtime.encode(jfk_mel)
        state = runtime.new_state(features)
        assert state.cross_k.dtype == cross  # mixed: half the bytes per decoding step
        tokens = greedy(runtime, features, list(tokenizer.sot_sequence_including_notimestamps), tokenizer.eot)
        assert tokenizer.decode(tokens).strip() == JFK_BASE


def test_int8_quantized_tiny_en_still_transcribes_jfk(jfk_mel):
    quantized = mediakit_whisper.load("tiny.en", ModelOptions(device="cpu", compute_type="int8"))
    assert quantized.quantized and quantized.module.decoder.output is not None  # projection quantized too
    tokenizer = quantized.get_tokenizer()
    prompt = list(tokenizer.sot_sequence_including_notimestamps)
    tokens = greedy(quantized, quantized.encode(jfk_mel), prompt, tokenizer.eot)
    assert normalize(tokenizer.decode(tokens)) == JFK_REFERENCE


def test_builtin_models_carry_their_config_alignment_heads(base, tiny_en):
    assert base.alignment_heads == ((3, 1), (4, 2), (4, 3), (4, 7), (5, 1), (5, 2), (5, 4), (5, 6))
    assert tiny_en.alignment_heads == ((1, 0), (2, 0), (2, 5), (3, 0), (3, 1), (3, 2), (3, 3), (3, 4))
    assert base.feature_spec.n_mels == 80 and base.dims.n_vocab == 51865 and base.num_languages == 99
    assert tiny_en.dims.n_text_layer == 4 and tiny_en.dims.n_text_head == 6


def test_alignment_heads_look_at_the_spoken_word(base, base_features):
    """The cross-attention of ' Americans' peaks where it is spoken (about 1.6-2.1 s in jfk.flac)."""
    features = base_features
    tokenizer = base.get_tokenizer(language="en")
    text = tokenizer.encode(" " + JFK_BASE)
    prompt = list(tokenizer.sot_sequence_including_notimestamps)
    weights = base.alignment_attention(torch.tensor([prompt + text + [tokenizer.eot]]), features, audio_positions=550)
    # the row that predicts a token is the position before it
    position = len(prompt) + text.index(tokenizer.encode(" Americans")[0]) - 1
    seconds = int(weights[:, position].mean(0).argmax()) * 0.02
    assert 1.3 <= seconds <= 2.3


# -- the same weights in the other two formats ----------------------------------------------------------

_HF_NAMES = {
    "attn.query": "self_attn.q_proj", "attn.key": "self_attn.k_proj", "attn.value": "self_attn.v_proj",
    "attn.out": "self_attn.out_proj", "attn_ln": "self_attn_layer_norm",
    "cross_attn.query": "encoder_attn.q_proj", "cross_attn.key": "encoder_attn.k_proj",
    "cross_attn.value": "encoder_attn.v_proj", "cross_attn.out": "encoder_attn.out_proj",
    "cross_attn_ln": "encoder_attn_layer_norm", "mlp.0": "fc1", "mlp.2": "fc2", "mlp_ln": "final_layer_norm",
}  # fmt: skip


def to_hf_name(name: str) -> str:
    """transformers' name for an openai-whisper tensor name (written by these tests, not by mediakit)."""
    side, rest = name.split(".", 1)
    if rest.startswith("blocks."):
        _, layer, module = rest.split(".", 2)
        module, kind = module.rsplit(".", 1)
        return f"model.{side}.layers.{layer}.{_HF_NAMES[module]}.{kind}"
    top = {
        "encoder.positional_embedding": "model.encoder.embed_positions.weight",
        "decoder.positional_embedding": "model.decoder.embed_positions.weight",
        "encoder.ln_post.weight": "model.encoder.layer_norm.weight",
        "encoder.ln_post.bias": "model.encoder.layer_norm.bias",
        "decoder.ln.weight": "model.decoder.layer_norm.weight",
        "decoder.ln.bias": "model.decoder.layer_norm.bias",
        "decoder.token_embedding.weight": "model.decoder.embed_tokens.weight",
    }
    return top.get(name, "model." + name)


@pytest.fixture(scope="module")
def tiny_en_files(tmp_path_factory, tiny_en):
    """tiny.en written as an openai .pt file and as a transformers directory, in float16 like the originals."""
    root = tmp_path_factory.mktemp("tiny_en_formats")
    state = {k: v.to(torch.float16).clone() for k, v in tiny_en.module.state_dict().items()}
    pt = root / "tiny.en.pt"
    torch.save({"dims": asdict(tiny_en.dims), "model_state_dict": state}, pt)
    renamed = root / "renamed.pt"
    shutil.copy(pt, renamed)

    from safetensors.torch import save_file

    hf = root / "whisper-tiny.en"
    hf.mkdir()
    tensors = {to_hf_name(k): v for k, v in state.items()}
    tensors["proj_out.weight"] = state["decoder.token_embedding.weight"].clone()  # tied in transformers
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(hf / "model.safetensors"))
    d = tiny_en.dims
    config = {
        "model_type": "whisper", "d_model": d.n_text_state, "encoder_attention_heads": d.n_audio_head,
        "decoder_attention_heads": d.n_text_head, "encoder_layers": d.n_audio_layer,
        "decoder_layers": d.n_text_layer, "num_mel_bins": d.n_mels, "vocab_size": d.n_vocab,
        "max_source_positions": d.n_audio_ctx, "max_target_positions": d.n_text_ctx,
    }  # fmt: skip
    (hf / "config.json").write_text(json.dumps(config))
    (hf / "generation_config.json").write_text(json.dumps({"alignment_heads": [[2, 1], [3, 5]]}))
    older = root / "whisper-tiny.en-bin"  # transformers before safetensors: pytorch_model.bin
    older.mkdir()
    torch.save(tensors, older / "pytorch_model.bin")
    (older / "config.json").write_text(json.dumps(config))
    return pt, renamed, hf, older


def test_ct2_pt_and_safetensors_give_the_same_logits(tiny_en, tiny_en_files, jfk_mel):
    pt, renamed, hf, older = tiny_en_files
    tokenizer = tiny_en.get_tokenizer()
    tokens = torch.tensor([list(tokenizer.sot_sequence_including_notimestamps) + tokenizer.encode(" And so my fellow")])
    reference = tiny_en.logits_full(tokens, tiny_en.encode(jfk_mel))
    loaded = {}
    for path in (pt, hf, older):
        other = loaded[path] = mediakit_whisper.load(str(path), FLOAT32)
        assert other.dims == tiny_en.dims
        got = other.logits(tokens, other.new_state(other.encode(jfk_mel)))
        torch.testing.assert_close(got, reference, atol=2e-3, rtol=1e-4)
        # no tokenizer file next to them: the vocabulary comes from the installed English-only package
        assert other.get_tokenizer().encode(" Americans") == tokenizer.encode(" Americans")

    assert loaded[hf].alignment_heads == ((2, 1), (3, 5))  # generation_config.json
    # naming the weights file inside a folder loads the folder
    assert mediakit_whisper.load(str(older / "pytorch_model.bin")).format == "huggingface"
    # .pt files carry no heads: openai's built-in ones by name, else all heads of the last half of the layers
    assert loaded[pt].alignment_heads == tiny_en.alignment_heads
    renamed_heads = mediakit_whisper.load(str(renamed)).alignment_heads
    assert renamed_heads == tuple((layer, h) for layer in (2, 3) for h in range(6))


def test_the_plugin_loads_a_path_and_declines_what_it_cannot_read(tiny_en_files, tmp_path):
    from mediakit_whisper import plugin

    pt, *_ = tiny_en_files
    runtime = plugin.mediakit_load_model_path(str(pt), ModelOptions(device="cpu"))
    assert runtime.name == "tiny.en" and runtime.format == "openai"
    (tmp_path / "notes.txt").write_text("hello")
    assert plugin.mediakit_load_model_path(str(tmp_path / "notes.txt"), ModelOptions()) is None
    assert plugin.mediakit_load_model_path(str(tmp_path), ModelOptions()) is None


def test_same_numbers_as_openai_whisper_with_the_same_weights(tiny_en, jfk_mel):
    """Where openai-whisper is installed (the benchmark's reference), its module agrees with ours."""
    openai_model = pytest.importorskip("whisper.model")
    reference = openai_model.Whisper(openai_model.ModelDimensions(**asdict(tiny_en.dims)))
    reference.load_state_dict(tiny_en.module.state_dict())  # our parameter names are openai-whisper's
    tokenizer = tiny_en.get_tokenizer()
    tokens = torch.tensor([list(tokenizer.sot_sequence_including_notimestamps) + tokenizer.encode(" And so my")])
    with torch.no_grad():
        want_features = reference.eval().encoder(jfk_mel[None])
        want = reference.decoder(tokens, want_features)
    features = tiny_en.encode(jfk_mel)
    torch.testing.assert_close(features, want_features, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(tiny_en.logits(tokens, tiny_en.new_state(features)), want, atol=1e-3, rtol=1e-4)
