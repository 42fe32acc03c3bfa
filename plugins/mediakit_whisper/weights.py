"""Whisper weights in three formats, read into openai-whisper's state-dict names.

* CTranslate2 directories: ``model.bin`` (or ``model.bin.part1``, ``.part2``, ...), ``config.json``,
  ``tokenizer.json`` / ``vocabulary.txt``.
* openai-whisper checkpoints: a ``.pt`` file holding ``{"dims": {...}, "model_state_dict": {...}}``.
* Hugging Face transformers directories: ``config.json`` + ``model.safetensors`` (or shards, or an older
  ``pytorch_model.bin``).

Dimensions come from tensor shapes; only the head counts come from the file's configuration.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import torch

from mediakit.errors import StageError

from .ct2 import read_model_bin, release_pages
from .locate import detect_format, model_bin_parts
from .model import ModelDims, sinusoids

#: Files that hold the BPE vocabulary of a model, in order of preference.
VOCAB_FILES = ("tokenizer.json", "vocab.json", "vocabulary.txt")


@dataclass(frozen=True)
class Checkpoint:
    """Weights read from disk, before they become a module."""

    source: str  # the file or directory, for messages
    format: str  # ct2, openai or huggingface
    state_dict: dict[str, torch.Tensor]  # openai-whisper names
    dims: ModelDims
    alignment_heads: tuple[tuple[int, int], ...] | None  # from the file's config; None when it has none
    vocab_file: Path | None  # the model's own tokenizer.json / vocab.json / vocabulary.txt
    #: Drops from resident memory the pages of weights read as file mappings; the loader calls it once
    #: the weights are in their layouts (None: nothing is mapped).
    release_pages: Callable[[], None] | None = field(default=None, repr=False, compare=False)


def read_checkpoint(path: Path) -> Checkpoint:
    """Read weights in any supported format; StageError naming the path when they cannot be used."""
    kind = detect_format(path)
    if path.is_file() and kind in ("ct2", "huggingface"):
        path = path.parent
    if kind == "ct2":
        return read_ct2(path)
    if kind == "openai":
        return read_openai(path)
    if kind == "huggingface":
        return read_huggingface(path)
    raise StageError(
        f"{path}: not a Whisper model mediakit can read (expected a CTranslate2 directory with model.bin, "
        "an openai-whisper .pt file, or a Hugging Face directory with config.json and model.safetensors)"
    )


def find_vocab(directory: Path) -> Path | None:
    for name in VOCAB_FILES:
        if (directory / name).is_file():
            return directory / name
    return None


def _head_count(value: object, n_state: int) -> int:
    """A head count from a config, else Whisper's 64 channels per head."""
    return int(value) if value else max(1, n_state // 64)


def dims_from_state_dict(sd: dict[str, torch.Tensor], n_audio_head: object, n_text_head: object) -> ModelDims:
    """Model dimensions from the shapes of an openai-named state dict."""

    def count(prefix: str) -> int:
        found = {int(m.group(1)) for k in sd if (m := re.match(rf"{prefix}\.(\d+)\.", k))}
        return max(found) + 1 if found else 0

    try:
        conv1 = sd["encoder.conv1.weight"]  # (C, n_mels, 3)
        embedding = sd["decoder.token_embedding.weight"]  # (V, C)
        return ModelDims(
            n_mels=conv1.shape[1],
            n_audio_ctx=sd["encoder.positional_embedding"].shape[0],
            n_audio_state=conv1.shape[0],
            n_audio_head=_head_count(n_audio_head, conv1.shape[0]),
            n_audio_layer=count("encoder.blocks"),
            n_vocab=embedding.shape[0],
            n_text_ctx=sd["decoder.positional_embedding"].shape[0],
            n_text_state=embedding.shape[1],
            n_text_head=_head_count(n_text_head, embedding.shape[1]),
            n_text_layer=count("decoder.blocks"),
        )
    except KeyError as err:
        raise ValueError(f"no tensor {err.args[0]}") from err


def _heads_list(value: object) -> tuple[tuple[int, int], ...] | None:
    if not value:
        return None
    return tuple((int(layer), int(head)) for layer, head in value)  # type: ignore[union-attr]


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise StageError(f"cannot read {path}: {err}") from err


# -- CTranslate2 --------------------------------------------------------------------------------------


def _ct2_to_openai(variables: dict[str, torch.Tensor], d: int, n_enc: int, n_dec: int) -> dict[str, torch.Tensor]:
    """Rename CTranslate2 Whisper variables to openai-whisper's names, splitting the fused projections."""
    sd: dict[str, torch.Tensor] = {}

    def put(dst: str, src: str, rows: slice | None = None, bias: bool = True) -> None:
        weight = variables[f"{src}/weight"]
        sd[f"{dst}.weight"] = weight if rows is None else weight[rows]
        if bias:
            b = variables[f"{src}/bias"]
            sd[f"{dst}.bias"] = b if rows is None else b[rows]

    def norm(dst: str, src: str) -> None:
        sd[f"{dst}.weight"] = variables[f"{src}/gamma"]
        sd[f"{dst}.bias"] = variables[f"{src}/beta"]

    q, k, v = slice(0, d), slice(d, 2 * d), slice(2 * d, 3 * d)

    def self_attention(dst: str, src: str) -> None:
        put(f"{dst}.attn.query", f"{src}/self_attention/linear_0", q)
        put(f"{dst}.attn.key", f"{src}/self_attention/linear_0", k, bias=False)
        put(f"{dst}.attn.value", f"{src}/self_attention/linear_0", v)
        put(f"{dst}.attn.out", f"{src}/self_attention/linear_1")
        norm(f"{dst}.attn_ln", f"{src}/self_attention/layer_norm")
        put(f"{dst}.mlp.0", f"{src}/ffn/linear_0")
        put(f"{dst}.mlp.2", f"{src}/ffn/linear_1")
        norm(f"{dst}.mlp_ln", f"{src}/ffn/layer_norm")

    put("encoder.conv1", "encoder/conv1")
    put("encoder.conv2", "encoder/conv2")
    # converters that leave out the fixed encoder sinusoids: recompute them for a 30 s window (1500 positions)
    positions = variables.get("encoder/position_encodings/encodings")
    sd["encoder.positional_embedding"] = positions if positions is not None else sinusoids(1500, d)
    for i in range(n_enc):
        self_attention(f"encoder.blocks.{i}", f"encoder/layer_{i}")
    norm("encoder.ln_post", "encoder/layer_norm")

    sd["decoder.token_embedding.weight"] = variables["decoder/embeddings/weight"]
    sd["decoder.positional_embedding"] = variables["decoder/position_encodings/encodings"]
    for i in range(n_dec):
        dst, src = f"decoder.blocks.{i}", f"decoder/layer_{i}"
        self_attention(dst, src)
        put(f"{dst}.cross_attn.query", f"{src}/attention/linear_0")
        put(f"{dst}.cross_attn.key", f"{src}/attention/linear_1", slice(0, d), bias=False)
        put(f"{dst}.cross_attn.value", f"{src}/attention/linear_1", slice(d, 2 * d))
        put(f"{dst}.cross_attn.out", f"{src}/attention/linear_2")
        norm(f"{dst}.cross_attn_ln", f"{src}/attention/layer_norm")
    norm("decoder.ln", "decoder/layer_norm")
    return sd


def read_ct2(directory: Path) -> Checkpoint:
    """A CTranslate2 Whisper directory (float16, bfloat16 or float32 weights; quantized ones are refused)."""
    parts = model_bin_parts(directory)
    model = read_model_bin(parts)
    variables = model.variables
    if model.spec_name and model.spec_name != "WhisperSpec":
        raise StageError(f"{directory}: a CTranslate2 {model.spec_name} model, not Whisper (WhisperSpec)")
    quantized = sorted(
        name for name, t in variables.items()
        if name.endswith("_scale") or (t.ndim >= 1 and not t.dtype.is_floating_point)
    )  # fmt: skip
    if quantized:
        kind = "int16" if any(variables[n].dtype == torch.int16 for n in quantized if n in variables) else "int8"
        raise StageError(
            f"{directory}: quantized CTranslate2 weights ({kind}, e.g. {quantized[0]}) are not supported; "
            "use a float16 or float32 conversion (ct2-transformers-converter --quantization float16) and "
            "quantize at load time with compute_type int8"
        )
    activation = int(variables.get("decoder/activation", torch.tensor(3)))
    if activation != 3:
        raise StageError(f"{directory}: activation {activation} is not Whisper's GELU (3)")
    try:
        d = variables["encoder/conv1/weight"].shape[0]
        n_enc = len({m.group(1) for n in variables if (m := re.match(r"encoder/layer_(\d+)/", n))})
        n_dec = len({m.group(1) for n in variables if (m := re.match(r"decoder/layer_(\d+)/", n))})
        sd = _ct2_to_openai(variables, d, n_enc, n_dec)
        dims = dims_from_state_dict(
            sd, int(variables["encoder/num_heads"]), int(variables["decoder/num_heads"])
        )
    except (KeyError, ValueError) as err:
        raise StageError(f"{directory}: not a CTranslate2 Whisper model (missing {err})") from err
    config = _read_json(directory / "config.json") if (directory / "config.json").is_file() else {}
    return Checkpoint(
        source=str(directory),
        format="ct2",
        state_dict=sd,
        dims=dims,
        alignment_heads=_heads_list(config.get("alignment_heads")),
        vocab_file=find_vocab(directory),
        release_pages=partial(release_pages, model.mappings) if model.mappings else None,
    )


# -- openai-whisper .pt ------------------------------------------------------------------------------


def read_openai(path: Path) -> Checkpoint:
    """An openai-whisper checkpoint: ``{"dims": {...}, "model_state_dict": {...}}``."""
    try:
        try:
            data = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError:  # not a zip-format file: mmap needs one
            data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for a damaged or foreign file
        reason = next((line.strip() for line in str(err).splitlines() if line.strip()), type(err).__name__)
        raise StageError(f"cannot load {path} as an openai-whisper checkpoint: {reason}") from err
    if not isinstance(data, dict) or "model_state_dict" not in data:
        raise StageError(f"{path}: not an openai-whisper checkpoint (no model_state_dict)")
    sd = dict(data["model_state_dict"])
    config = data.get("dims") or {}
    try:
        dims = dims_from_state_dict(sd, config.get("n_audio_head"), config.get("n_text_head"))
    except ValueError as err:
        raise StageError(f"{path}: not a Whisper checkpoint ({err})") from err
    sd.pop("alignment_heads", None)
    return Checkpoint(
        source=str(path),
        format="openai",
        state_dict=sd,
        dims=dims,
        alignment_heads=None,
        vocab_file=find_vocab(path.parent),
    )


# -- Hugging Face transformers ------------------------------------------------------------------------

_HF_BLOCK = {
    "self_attn.q_proj": "attn.query",
    "self_attn.k_proj": "attn.key",
    "self_attn.v_proj": "attn.value",
    "self_attn.out_proj": "attn.out",
    "self_attn_layer_norm": "attn_ln",
    "encoder_attn.q_proj": "cross_attn.query",
    "encoder_attn.k_proj": "cross_attn.key",
    "encoder_attn.v_proj": "cross_attn.value",
    "encoder_attn.out_proj": "cross_attn.out",
    "encoder_attn_layer_norm": "cross_attn_ln",
    "fc1": "mlp.0",
    "fc2": "mlp.2",
    "final_layer_norm": "mlp_ln",
}
_HF_TOP = {
    "encoder.conv1": "encoder.conv1",
    "encoder.conv2": "encoder.conv2",
    "encoder.embed_positions.weight": "encoder.positional_embedding",
    "encoder.layer_norm": "encoder.ln_post",
    "decoder.embed_tokens": "decoder.token_embedding",
    "decoder.embed_positions.weight": "decoder.positional_embedding",
    "decoder.layer_norm": "decoder.ln",
}
_HF_LAYER = re.compile(r"(encoder|decoder)\.layers\.(\d+)\.(.+)\.(weight|bias)$")


def hf_to_openai_name(key: str) -> str | None:
    """openai-whisper name of a transformers Whisper tensor name; None for tensors it does not use."""
    key = key.removeprefix("model.")
    if m := _HF_LAYER.match(key):
        side, layer, module, kind = m.groups()
        target = _HF_BLOCK.get(module)
        return f"{side}.blocks.{layer}.{target}.{kind}" if target else None
    for src, dst in _HF_TOP.items():
        if key == src or key.startswith(src + "."):
            return dst + key[len(src) :]
    return None  # proj_out.weight: tied to the embedding


def read_huggingface(directory: Path) -> Checkpoint:
    """A transformers Whisper directory: ``config.json`` and ``model.safetensors`` (shards, or ``pytorch_model.bin``)."""
    from safetensors.torch import load_file

    config = _read_json(directory / "config.json")
    if config.get("model_type") not in (None, "whisper"):
        raise StageError(f"{directory}: a Hugging Face {config.get('model_type')} model, not Whisper")
    sd: dict[str, torch.Tensor] = {}
    files = sorted(directory.glob("*.safetensors")) or [directory / "pytorch_model.bin"]
    for file in files:
        try:
            if file.suffix == ".safetensors":
                tensors = load_file(str(file))
            else:  # older transformers checkpoints: a pickled state dict
                tensors = torch.load(file, map_location="cpu", weights_only=True)
        except Exception as err:  # safetensors and torch raise many types for a damaged file
            reason = next((line.strip() for line in str(err).splitlines() if line.strip()), type(err).__name__)
            raise StageError(f"cannot read {file}: {reason}") from err
        for key, tensor in tensors.items():
            if (name := hf_to_openai_name(key)) is not None:
                sd[name] = tensor
    try:
        dims = dims_from_state_dict(sd, config.get("encoder_attention_heads"), config.get("decoder_attention_heads"))
    except ValueError as err:
        raise StageError(f"{directory}: not a transformers Whisper checkpoint ({err})") from err
    heads = config.get("alignment_heads")
    generation = directory / "generation_config.json"
    if not heads and generation.is_file():
        heads = _read_json(generation).get("alignment_heads")
    return Checkpoint(
        source=str(directory),
        format="huggingface",
        state_dict=sd,
        dims=dims,
        alignment_heads=_heads_list(heads),
        vocab_file=find_vocab(directory),
    )
