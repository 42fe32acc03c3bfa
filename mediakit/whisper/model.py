"""openai-whisper's ``whisper.model``: ``ModelDimensions`` and ``Whisper``, an ``nn.Module`` around mediakit's model.

``Whisper`` has openai-whisper's attributes (``dims``, ``encoder``, ``decoder``, ``alignment_heads``,
``is_multilingual``, ``num_languages``, ``device``) and methods (``embed_audio``, ``logits``, ``forward``,
``detect_language``, ``decode``, ``transcribe``, ``set_alignment_heads``). Its parameters carry openai's
names, so ``load_state_dict`` takes openai checkpoints. A model from :func:`mediakit.whisper.load_model`
runs on mediakit's runtime (packed CPU layouts, float16 on CUDA): moving it to another device or dtype
loads it again for that target.
"""

from __future__ import annotations

import base64
import gzip
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
from torch import Tensor, nn

from mediakit_whisper.model import ModelDims
from mediakit_whisper.model import Whisper as _CoreWhisper
from mediakit_whisper.tokenizer import num_languages_for

from .decoding import decode as decode_function
from .decoding import detect_language as detect_language_function
from .transcribe import transcribe as transcribe_function


@dataclass
class ModelDimensions:
    n_mels: int
    n_audio_ctx: int
    n_audio_state: int
    n_audio_head: int
    n_audio_layer: int
    n_vocab: int
    n_text_ctx: int
    n_text_state: int
    n_text_head: int
    n_text_layer: int


_COMPUTE_TYPES = {torch.float32: "float32", torch.float16: "float16", torch.bfloat16: "bfloat16"}


def _same_device(a: torch.device, b: torch.device) -> bool:
    return a.type == b.type and (a.index or 0) == (b.index or 0)


class Whisper(nn.Module):
    """Whisper: ``encoder`` (log-mel (B, n_mels, 3000) -> audio features (B, 1500, C)) and ``decoder``
    (tokens (B, T) + audio features -> logits (B, T, n_vocab))."""

    def __init__(self, dims: ModelDimensions):
        super().__init__()
        self.dims = dims
        self._options = None  # mediakit ModelOptions when loaded by load_model (then it owns a runtime)
        self._runtime = None
        self._variants: dict[str, Any] = {}
        self._pm = None
        self._hooks: list[Any] = []
        self._attach(_CoreWhisper(ModelDims(**asdict(dims))))
        # openai's default: every head of the last half of the decoder layers
        heads = torch.zeros(dims.n_text_layer, dims.n_text_head, dtype=torch.bool)
        heads[dims.n_text_layer // 2 :] = True
        self.register_buffer("alignment_heads", heads.to_sparse(), persistent=False)

    @classmethod
    def _from_runtime(cls, runtime, options, pm) -> "Whisper":
        """Wrap a runtime that mediakit's loader built (weights already in their device layouts)."""
        self = cls.__new__(cls)
        nn.Module.__init__(self)
        self.dims = ModelDimensions(**asdict(runtime.dims))
        self._variants, self._hooks = {}, []
        self._pm = pm
        self._use(runtime, options)
        return self

    # -- plumbing ---------------------------------------------------------------------------------------
    def _attach(self, core: _CoreWhisper) -> None:
        for handle in self._hooks:
            handle.remove()
        self.__dict__["_core"] = core  # not a submodule: encoder and decoder are, under openai's names
        self.encoder = core.encoder
        self.decoder = core.decoder
        # openai's layers compute in the input's dtype; these take inputs in the activations' dtype instead
        self._hooks = [
            core.encoder.register_forward_pre_hook(lambda module, args: self._cast(args, 0)),
            core.decoder.register_forward_pre_hook(lambda module, args: self._cast(args, 1)),
        ]

    def _cast(self, args: tuple, index: int) -> tuple:
        if len(args) > index and torch.is_tensor(args[index]) and args[index].is_floating_point():
            dtype = self._activation_dtype()
            if args[index].dtype != dtype:
                return args[:index] + (args[index].to(dtype),) + args[index + 1 :]
        return args

    def _activation_dtype(self) -> torch.dtype:
        if self._runtime is not None and self._options is not None:
            return self._runtime._activation_dtype
        return next(self.parameters()).dtype

    def _use(self, runtime, options) -> None:
        self._options = options
        self._runtime = runtime
        self._attach(runtime.module)
        mask = torch.zeros(self.dims.n_text_layer, self.dims.n_text_head, dtype=torch.bool)
        for layer, head in runtime.alignment_heads:
            mask[layer, head] = True
        self.register_buffer("alignment_heads", mask.to_sparse().to(runtime.device), persistent=False)

    def _heads(self) -> tuple[tuple[int, int], ...]:
        mask = self.alignment_heads.to_dense().cpu()
        return tuple((int(i), int(j)) for i, j in mask.nonzero().tolist())

    def runtime(self, fp16: bool = True):
        """mediakit's runtime of this model (a ``WhisperRuntime``), in float32 when ``fp16`` is False."""
        if self._options is not None:
            if fp16 or self._runtime.dtype == torch.float32:
                return self._runtime
            if "float32" not in self._variants:  # openai's fp16=False on a GPU: a float32 copy, loaded once
                self._variants["float32"] = self._load(replace(self._options, compute_type="float32"))
            return self._variants["float32"]
        from mediakit_whisper.runtime import WhisperRuntime

        from .tokenizer import _vocab_file

        p = next(self.parameters())
        heads = self._heads()
        rt = self._runtime
        if rt is None or rt.device != p.device or rt.dtype != p.dtype or rt.alignment_heads != heads:
            rt = WhisperRuntime(
                "whisper", self._core, ModelDims(**asdict(self.dims)), vocab_file=Path(_vocab_file(self.is_multilingual)),
                alignment_heads=heads, device=p.device, dtype=p.dtype,
            )  # fmt: skip
            self._runtime = rt
        return rt

    def _load(self, options):
        from mediakit.pipeline import load_model

        return load_model(self._pm, options)

    # -- openai-whisper's API ---------------------------------------------------------------------------
    def set_alignment_heads(self, dump: bytes) -> None:
        """Set the alignment heads from a base85, gzipped boolean array (openai's ``_ALIGNMENT_HEADS`` format)."""
        array = np.frombuffer(gzip.decompress(base64.b85decode(dump)), dtype=bool).copy()
        mask = torch.from_numpy(array).reshape(self.dims.n_text_layer, self.dims.n_text_head)
        self.register_buffer("alignment_heads", mask.to_sparse().to(self.device), persistent=False)
        if self._options is not None:
            heads = self._heads()
            for runtime in (self._runtime, *self._variants.values()):
                runtime.alignment_heads = heads

    def embed_audio(self, mel: Tensor) -> Tensor:
        return self.encoder(mel)

    def logits(self, tokens: Tensor, audio_features: Tensor) -> Tensor:
        return self.decoder(tokens, audio_features)

    def forward(self, mel: Tensor, tokens: Tensor) -> Tensor:
        return self.decoder(tokens, self.encoder(mel))

    @property
    def device(self) -> torch.device:
        if self._options is not None:
            return self._runtime.device
        return next(self.parameters()).device

    @property
    def is_multilingual(self) -> bool:
        return self.dims.n_vocab >= 51865

    @property
    def num_languages(self) -> int:
        return num_languages_for(self.dims.n_vocab)

    def install_kv_cache_hooks(self, cache: Optional[dict] = None):
        raise NotImplementedError(
            "mediakit's decoder keeps its own preallocated key/value caches; install_kv_cache_hooks is not "
            "available (use model.decode / model.transcribe, or mediakit_whisper.WhisperRuntime.new_state)"
        )

    # -- moving between devices and dtypes -------------------------------------------------------------------
    def to(self, *args, **kwargs):
        if self._options is None:
            return super().to(*args, **kwargs)
        device, dtype, _, _ = torch._C._nn._parse_to(*args, **kwargs)
        options = self._options
        if device is not None and not _same_device(torch.device(device), self._runtime.device):
            options = replace(options, device=str(device))
        if dtype is not None and dtype != self._runtime.dtype:
            if dtype not in _COMPUTE_TYPES:
                raise TypeError(f"Whisper runs in float32, float16 or bfloat16, not {dtype}")
            options = replace(options, compute_type=_COMPUTE_TYPES[dtype])
        if options != self._options:
            self._variants = {}
            self._use(self._load(options), options)
        return self

    def cuda(self, device=None):
        if self._options is None:
            return super().cuda(device)
        return self.to(torch.device("cuda", device) if isinstance(device, int) else (device or "cuda"))

    def cpu(self):
        return super().cpu() if self._options is None else self.to("cpu")

    def half(self):
        return super().half() if self._options is None else self.to(torch.float16)

    def float(self):
        return super().float() if self._options is None else self.to(torch.float32)

    detect_language = detect_language_function
    transcribe = transcribe_function
    decode = decode_function
