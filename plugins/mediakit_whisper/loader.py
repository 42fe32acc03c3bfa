"""Turn a model name or path plus :class:`~mediakit.config.ModelOptions` into a :class:`WhisperRuntime`."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
from torch import nn

from mediakit.config import ModelOptions
from mediakit.errors import ConfigError, ModelNotFoundError, StageError

from . import heap, locate, names, packed, quantize
from .model import Whisper
from .runtime import WhisperRuntime
from .weights import Checkpoint, read_checkpoint

log = logging.getLogger(__name__)

COMPUTE_TYPES = ("auto", "float32", "mixed", "float16", "bfloat16", "int8")
_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def resolve_device(value: str) -> torch.device:
    """``auto`` -> cuda when available, else cpu; anything else as torch spells it."""
    if value == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(value)
    except RuntimeError as err:
        raise ConfigError(f"unknown device {value!r}; use auto, cpu, cuda, cuda:N or mps") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {value!r} asked for, but this torch has no usable CUDA GPU; use --device cpu")
    return device


@dataclass(frozen=True)
class Precision:
    """How a compute type is carried out on a device."""

    dtype: torch.dtype  # activations, and the weights that are not quantized
    int8: bool = False  # Linear layers and the output projection int8 (quantize.py)
    half_cross: bool = False  # cross-attention keys/values stored as float16, widened per layer
    bf16_encoder: bool = False  # the encoder's Linear layers in bfloat16 products (packed.BFloat16Linear)


def resolve_compute_type(value: str, device: torch.device) -> Precision:
    """The :class:`Precision` of a compute type on a device.

    ``auto``: exact. On the CPU it is ``float32``, whose transcripts are openai-whisper's on every CPU
    class; on CUDA float16, as openai-whisper's default ``fp16=True``. A lever that rounds anything
    (activations, keys/values, products) never enters ``auto``: it changed 2 of the shared set's 27
    transcripts on a CPU with bfloat16 products (issue 20). ``mixed`` (CPU, opt-in) is the former
    ``auto``: the cross-attention keys/values stored as float16 and, on CPUs that multiply bfloat16 in
    hardware, the encoder's Linear layers in bfloat16 (the decoder, which picks the tokens, stays
    float32). ``int8`` (CPU only) quantizes every Linear layer: faster, less exact.
    """
    if value not in COMPUTE_TYPES:
        raise ConfigError(f"unknown compute type {value!r}; use one of {', '.join(COMPUTE_TYPES)}")
    if value == "auto":
        return Precision(torch.float16 if device.type == "cuda" else torch.float32)
    if value == "mixed":
        if device.type != "cpu":
            raise ConfigError(f"compute type mixed runs on the CPU only (device is {device}); use float16 on a GPU")
        return Precision(torch.float32, half_cross=True, bf16_encoder=packed.bfloat16_native())
    if value == "int8":
        if device.type != "cpu":
            raise ConfigError(f"compute type int8 runs on the CPU only (device is {device}); use float16 on a GPU")
        if not quantize.available():
            raise ConfigError("compute type int8 needs torch's int8 CPU kernels (fbgemm), which this torch lacks; use float32")
        return Precision(torch.float32, int8=True, half_cross=True)
    return Precision(_DTYPES[value])


@torch.inference_mode()
def _widen_the_rest(module: Whisper, dtype: torch.dtype) -> None:
    """Convert the float weights that no layout took over (where packing was unavailable) to ``dtype``;
    the token embedding may stay narrower when the decoder has its own output projection."""
    decoder = module.decoder
    for name, param in list(module.named_parameters()):
        if param.dtype == dtype or (param is decoder.token_embedding.weight and decoder.output is not None):
            continue
        owner = module.get_submodule(name.rpartition(".")[0])
        setattr(owner, name.rpartition(".")[2], nn.Parameter(param.to(dtype), requires_grad=False))


def build_runtime(checkpoint: Checkpoint, name: str, options: ModelOptions) -> WhisperRuntime:
    """Instantiate the module from a checkpoint on the options' device and dtype."""
    if options.threads > 0:
        torch.set_num_threads(options.threads)
    device = resolve_device(options.device)
    precision = resolve_compute_type(options.compute_type, device)
    dtype = precision.dtype
    dims = checkpoint.dims
    with torch.device("meta"):
        module = Whisper(dims)
    # Convert one tensor at a time, dropping the checkpoint's copy as it goes (this consumes
    # checkpoint.state_dict): float16 weights widened to float32 are then never held twice.
    source, state = checkpoint.state_dict, {}
    # On the CPU, matrices (Linear weights, the embedding) stay in the checkpoint's dtype until they are
    # quantized or packed (float16 storage where exact), so the model is never all float32 at once.
    cpu_layouts = device.type == "cpu" and dtype == torch.float32
    for key in list(source):
        value = source.pop(key)
        narrow = cpu_layouts and value.ndim == 2 and key.endswith(".weight")
        state[key] = value.to(dtype) if value.is_floating_point() and not narrow else value
        del value
    try:
        module.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as err:
        first = str(err).splitlines()[1].strip() if len(str(err).splitlines()) > 1 else str(err)
        raise StageError(f"{checkpoint.source}: the weights do not fit a Whisper model ({first})") from err
    del state  # the module holds the weights now; packing below must be able to free the dense ones
    module = module.to(device).eval().requires_grad_(False)
    if device.type == "cpu":
        heap.unmap_large_frees()
    if cpu_layouts:
        if precision.int8:
            quantize.quantize_decoder(module.decoder, meanwhile=partial(quantize.quantize_encoder, module.encoder))
        else:  # float16-stored where exact, else oneDNN-reordered float32
            encoder = partial(packed.pack_encoder, module.encoder, bfloat16=precision.bf16_encoder)
            packed.pack_decoder(module.decoder, meanwhile=encoder)
        _widen_the_rest(module, dtype)
    if checkpoint.release_pages is not None:  # the mapped weights are in their layouts now
        checkpoint.release_pages()
    heads = (
        checkpoint.alignment_heads
        or names.official_alignment_heads(name, dims.n_text_layer, dims.n_text_head)
        or names.default_alignment_heads(dims.n_text_layer, dims.n_text_head)
    )
    bad = [h for h in heads if not (0 <= h[0] < dims.n_text_layer and 0 <= h[1] < dims.n_text_head)]
    if bad:
        raise StageError(f"{checkpoint.source}: alignment head {bad[0]} is outside the decoder's layers/heads")
    vocab = checkpoint.vocab_file or fallback_vocab(dims.n_vocab >= 51865)
    if vocab is None:
        raise StageError(
            f"{checkpoint.source}: no tokenizer.json, vocab.json or vocabulary.txt next to the weights, and no "
            "installed weight package to take the vocabulary from; put the model's tokenizer.json beside it"
        )
    log.info("loaded %s (%s) from %s on %s as %s", name, checkpoint.format, checkpoint.source, device, precision)
    return WhisperRuntime(
        name,
        module,
        dims,
        vocab_file=vocab,
        alignment_heads=heads,
        device=device,
        dtype=dtype,
        source=checkpoint.source,
        format=checkpoint.format,
        quantized=precision.int8,
        cross_dtype=torch.float16 if precision.half_cross else None,
    )


def fallback_vocab(multilingual: bool) -> Path | None:
    """The multilingual or GPT-2 vocabulary of an installed weight package (for .pt files without one)."""
    directory = locate.packaged_weights("base" if multilingual else "tiny.en")
    return directory / "tokenizer.json" if directory and (directory / "tokenizer.json").is_file() else None


def load_path(path: str | Path, options: ModelOptions | None = None, name: str | None = None) -> WhisperRuntime:
    """Load weights from a CTranslate2 directory, an openai ``.pt`` file or a Hugging Face directory.

    ``name`` picks openai's built-in alignment heads when the file carries none (default: the file's stem).
    """
    path = Path(path).expanduser()
    options = options or ModelOptions()
    checkpoint = read_checkpoint(path)
    label = name or (path.stem if path.is_file() else path.name)
    return build_runtime(checkpoint, label, options)


@dataclass(frozen=True)
class NamedModelFactory:
    """The factory registered for an official name: ``factory(options, weights_path) -> WhisperRuntime``."""

    name: str

    def __call__(self, options: ModelOptions, weights: str | None = None) -> WhisperRuntime:
        path = Path(weights) if weights else locate.locate(self.name, options.model_dir, options.download)
        return load_path(path, options, name=names.canonical(self.name))


def load(name_or_path: str | Path, options: ModelOptions | None = None) -> WhisperRuntime:
    """Load a Whisper model by official name (``base``, ``tiny.en``, ``large-v3``...) or from a path.

    Load once, then call ``encode`` / ``new_state`` / ``logits`` as often as needed.
    """
    options = options or ModelOptions()
    value = str(name_or_path)
    if Path(value).expanduser().exists():
        return load_path(value, options)
    if names.canonical(value) not in names.OFFICIAL:
        raise ModelNotFoundError("model", value, list(names.ALL_NAMES))
    return NamedModelFactory(value)(options)
