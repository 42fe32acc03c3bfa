"""int8 weights for the CPU: Linear layers and the output projection, one scale per output row.

The weights are quantized from the checkpoint's own (usually float16) tensors one matrix at a time, so
a float32 copy of the whole model never exists (loading base peaks about 440 MB below torch's
``quantize_dynamic`` on a float32 module). Activations are quantized per call (dynamic quantization,
torch's fbgemm kernels); LayerNorms, convolutions, attention and the embedding lookup stay float.

Measured on the shared speech set (docs/benchmarks.md): one scale per row (symmetric, as CTranslate2's
int8) costs far less than one scale per matrix, but int8 is not exact: an int8 encoder cost English
WER +0.6 points and words in three other languages, and an int8 decoder alone made one clip lose
half its words (a window ended early). So int8 is opt-in (``--compute_type int8``), never ``auto``.
"""

from __future__ import annotations

import functools
import logging
import warnings
from collections.abc import Callable

import torch
from torch import Tensor, nn

from . import packed

log = logging.getLogger(__name__)


def available() -> bool:
    """This torch has an int8 CPU engine for dynamic quantized linears (fbgemm/x86 kernels need AVX2)."""
    engines = torch.backends.quantized.supported_engines
    ops = torch.ops.quantized
    kernels = hasattr(ops, "linear_prepack") and hasattr(ops, "linear_dynamic")
    return hasattr(torch, "quantize_per_channel") and kernels and any(e in engines for e in ("x86", "fbgemm"))


@functools.cache
def _has_vnni() -> bool:
    """The CPU multiplies int8 into int32 without saturation (AVX512-VNNI or AVX-VNNI; Linux flags)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            flags = next((line for line in f if line.startswith("flags")), "")
    except OSError:
        return False
    return " avx512_vnni" in flags or " avx_vnni" in flags



class Int8Linear(packed.PrepackedLinear):
    """``y = x W^T + b`` with ``W`` int8 (one scale per output row), ``x`` quantized per call; float32 in/out."""

    kind = "int8"

    def __init__(self, weight: Tensor, bias: Tensor | None):
        super().__init__(weight, bias)
        weight = weight.detach()
        scales = torch.empty(self.out_features, dtype=torch.float64)
        values = torch.empty(weight.shape, dtype=torch.int8)
        # slice by slice, so the output projection is never widened whole (51865 x 512 float32 = 106 MB)
        for rows, scale, out in zip(weight.split(4096), scales.split(4096), values.split(4096)):
            dense = rows.float()
            scale.copy_((dense.abs().amax(dim=1) / 127.5).clamp_min(torch.finfo(torch.float32).eps))  # symmetric
            out.copy_((dense / scale.float()[:, None]).round_().clamp_(-128, 127))
        zero_points = torch.zeros(self.out_features, dtype=torch.long)
        with warnings.catch_warnings():  # "quantized tensor creation functions ... are deprecated" (torch 2.13)
            warnings.simplefilter("ignore", UserWarning)
            qweight = torch._make_per_channel_quantized_tensor(values, scales, zero_points, 0)
        # activations use all 8 bits where the CPU's int8 products cannot saturate; without VNNI, fbgemm's
        # AVX2 kernels add pairs of u8 x s8 products into int16, so they keep 7 bits (torch's default)
        self.reduce_range = not _has_vnni()
        self.packed = torch.ops.quantized.linear_prepack(qweight, None if bias is None else bias.detach().float())

    def forward(self, x: Tensor) -> Tensor:
        return torch.ops.quantized.linear_dynamic(x, self.packed, reduce_range=self.reduce_range)

    def dense(self) -> tuple[Tensor, Tensor | None]:
        """The int8 weight dequantized (not the original values) and the bias."""
        qweight, bias = torch.ops.quantized.linear_unpack(self.packed)
        return qweight.dequantize(), bias if self.has_bias else None


class Int8Projection(packed.Tied, Int8Linear):
    """The output projection as an int8 copy of the token embedding."""


@torch.inference_mode()
def quantize_decoder(decoder: nn.Module, meanwhile: Callable[[], object] | None = None) -> None:
    """int8 Linear layers and an int8 output projection for the decoder, in place.

    Linear weights may still be in the checkpoint's dtype (float16): each is widened only while it is
    quantized. The token embedding stays float for lookups, as float16 when that is exact. The
    projection, by far the largest matrix (most of the load's quantizing time), is quantized on a second
    thread while ``meanwhile`` (say, the encoder's quantizing) and the Linear layers run here
    (:func:`packed.lay_out_decoder`, which the float16-stored layouts use too). Fused attention products
    have one scale per row, so they give the same numbers as the products apart.
    """
    n = packed.lay_out_decoder(decoder, _int8_projection, Int8Linear, meanwhile)
    log.debug("quantized %d decoder linears and the output projection to int8 (per-channel)", n)


def _int8_projection(decoder: nn.Module) -> Int8Projection:
    return Int8Projection(packed.narrow_embedding(decoder), None)


@torch.inference_mode()
def quantize_encoder(encoder: nn.Module) -> None:
    """int8 Linear layers for the encoder, in place."""
    n = packed.replace_linears(encoder.blocks, Int8Linear)
    log.debug("quantized %d encoder linears to int8 (per-channel)", n)
