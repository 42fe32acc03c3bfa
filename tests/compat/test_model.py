"""whisper.load_model, the Whisper module's attributes, and a model built from dims + state dict."""

from __future__ import annotations

import dataclasses
import warnings

import pytest
import torch

pytestmark = pytest.mark.weights


def test_available_models_and_unknown_name(whisper):
    names = whisper.available_models()
    assert {"tiny.en", "base", "large-v3", "turbo"} <= set(names) and names[0] == "tiny.en"
    with pytest.raises(RuntimeError, match="not found; available models"):
        whisper.load_model("no-such-model")
    assert list(whisper._MODELS) == names and whisper._MODELS["base"].endswith("/base.pt")
    assert whisper._MODELS["turbo"] == whisper._MODELS["large-v3-turbo"] and set(whisper._ALIGNMENT_HEADS) == set(names)
    with pytest.raises(RuntimeError, match="not an official"):
        whisper._download("https://example.invalid/x.pt", "/tmp", False)


def test_attributes(whisper, tiny_en):
    dims = tiny_en.dims
    assert isinstance(dims, whisper.ModelDimensions)
    assert [f.name for f in dataclasses.fields(dims)] == [
        "n_mels", "n_audio_ctx", "n_audio_state", "n_audio_head", "n_audio_layer",
        "n_vocab", "n_text_ctx", "n_text_state", "n_text_head", "n_text_layer",
    ]  # fmt: skip
    assert (dims.n_vocab, dims.n_audio_state, dims.n_text_layer) == (51864, 384, 4)
    assert tiny_en.is_multilingual is False and tiny_en.num_languages == 99
    assert isinstance(tiny_en, torch.nn.Module) and tiny_en.device == torch.device("cpu")
    assert tiny_en.to("cpu") is tiny_en and tiny_en.cpu() is tiny_en
    assert tiny_en.alignment_heads.is_sparse and tiny_en.alignment_heads.shape == (4, 6)


def test_mediakit_load_options(whisper):
    from mediakit.errors import ConfigError

    with pytest.raises(ConfigError, match="compute type"):
        whisper.load_model("tiny.en", device="cpu", compute_type="float8")


def test_encoder_and_decoder_are_callable(whisper, tiny_en):
    mel = torch.zeros(1, 80, 3000)
    with torch.no_grad():
        features = tiny_en.encoder(mel)
        assert features.shape == (1, 1500, 384)
        tokens = torch.tensor([[50257, 50362]])
        logits = tiny_en.decoder(tokens, features)
        assert logits.shape == (1, 2, 51864)
        assert torch.allclose(tiny_en.logits(tokens, features), logits)
        assert torch.allclose(tiny_en(mel, tokens), logits)


def test_model_from_dims_and_state_dict(whisper, tiny_en, jfk_path, jfk_result):
    """The pattern of fine-tuning scripts: Whisper(ModelDimensions(**dims)).load_state_dict(state)."""
    from mediakit_whisper.locate import packaged_weights
    from mediakit_whisper.weights import read_checkpoint

    checkpoint = read_checkpoint(packaged_weights("tiny.en"))
    model = whisper.model.Whisper(whisper.ModelDimensions(**dataclasses.asdict(checkpoint.dims)))
    model.load_state_dict({k: v.float() for k, v in checkpoint.state_dict.items()})
    model.set_alignment_heads(b"ABzY8J1N>@0{>%R00Bk>$p{7v037`oCl~+#00")  # openai's tiny.en heads
    assert set(model.state_dict()) == set(checkpoint.state_dict) == set(tiny_en.state_dict())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = model.transcribe(jfk_path, language="en", temperature=0.0, word_timestamps=True)
    reference = jfk_result
    assert ours["text"] == reference["text"]
    assert [w["start"] for s in ours["segments"] for w in s["words"]] == [
        w["start"] for s in reference["segments"] for w in s["words"]
    ]


def test_submodules_are_attributes_after_one_import():
    """``import whisper`` gives whisper.audio, .decoding, .model, .timing, .tokenizer, .utils: so must ours."""
    import subprocess
    import sys

    code = (
        "import mediakit.whisper as whisper\n"
        "for name in ('audio', 'decoding', 'model', 'timing', 'tokenizer', 'utils'):\n"
        "    getattr(whisper, name)\n"
        "assert callable(whisper.transcribe) and whisper.tokenizer.LANGUAGES['en'] == 'english'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
