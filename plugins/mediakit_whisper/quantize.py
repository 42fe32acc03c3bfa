"""int8 weights for the CPU: every Linear layer and the output projection, one scale per output channel.

The weights are quantized from the checkpoint's own (usually float16) tensors one matrix at a time, so
a float32 copy of the whole model never exists: loading base this way peaks about 400 MB below
``quantize_dynamic`` on a float32 module. Activations are quantized per call (dynamic quantization,
torch's fbgemm/x86 kernels); LayerNorms, convolutions, attention and the embedding lookup stay float.

One scale per output row (symmetric, as CTranslate2's int8) keeps Whisper's accuracy where one scale
per matrix does not: on the English benchmark recording, per-matrix int8 cost 0.9-2.4 WER points,
per-row int8 none (docs/benchmarks.md).
"""

from __future__ import annotations

import logging
import warnings

import torch
from torch import Tensor, nn

try:  # torch.ao's eager quantization is deprecated upstream; a torch without it runs float32 instead
    from torch.ao.nn.quantized import dynamic as qdynamic
    from torch.ao.quantization.observer import PerChannelMinMaxObserver
except ImportError:  # pragma: no cover - depends on the torch build
    qdynamic = PerChannelMinMaxObserver = None

log = logging.getLogger(__name__)


def available() -> bool:
    """This torch has an int8 CPU engine for dynamic quantized linears (fbgemm/x86 kernels need AVX2)."""
    engines = torch.backends.quantized.supported_engines
    return qdynamic is not None and any(engine in engines for engine in ("x86", "fbgemm"))


def quantized_linear(weight: Tensor, bias: Tensor | None) -> nn.Module:
    """A dynamic int8 Linear for ``weight`` (out, in) of any float dtype, with one scale per output row."""
    dense = weight.detach().float()
    observer = PerChannelMinMaxObserver(ch_axis=0, dtype=torch.qint8, qscheme=torch.per_channel_symmetric)
    observer(dense)
    scales, zero_points = observer.calculate_qparams()
    with warnings.catch_warnings():  # "quantized tensor creation functions ... are deprecated" (torch 2.13)
        warnings.simplefilter("ignore", UserWarning)
        qweight = torch.quantize_per_channel(dense, scales.double(), zero_points.long(), 0, torch.qint8)
    del dense
    out_features, in_features = weight.shape
    layer = qdynamic.Linear(in_features, out_features, bias_=bias is not None, dtype=torch.qint8)
    layer.set_weight_bias(qweight, None if bias is None else bias.detach().float())
    return layer


def quantize_linears(module: nn.Module) -> int:
    """Replace every ``nn.Linear`` below ``module`` by its int8 version, dropping the float weight as it goes."""
    count = 0
    for name, child in list(module.named_children()):
        if type(child) is nn.Linear:
            setattr(module, name, quantized_linear(child.weight, child.bias))
            count += 1
        else:
            count += quantize_linears(child)
    return count


def _narrow_if_exact(weight: Tensor, slice_rows: int = 8192) -> Tensor:
    """``weight`` as float16 when every value survives the round trip (checked slice by slice), else as is."""
    if weight.dtype == torch.float16:
        return weight
    narrow = torch.empty(weight.shape, dtype=torch.float16)
    for src, dst in zip(weight.split(slice_rows), narrow.split(slice_rows)):
        dst.copy_(src)
        if not torch.equal(dst.to(src.dtype), src):
            return weight
    return narrow


@torch.inference_mode()
def quantize_model(module: nn.Module) -> None:
    """Quantize a Whisper module's Linear layers and give its decoder an int8 output projection, in place.

    Linear weights may still be in the checkpoint's dtype (float16): each is widened only while it is
    quantized. The token embedding stays float for lookups, as float16 when that is exact.
    """
    n = quantize_linears(module.encoder) + quantize_linears(module.decoder)
    decoder = module.decoder
    embedding = _narrow_if_exact(decoder.token_embedding.weight)
    decoder.token_embedding.weight = nn.Parameter(embedding, requires_grad=False)
    decoder.output = quantized_linear(embedding, None)
    log.debug("quantized %d linears and the output projection to int8 (per-channel)", n)
