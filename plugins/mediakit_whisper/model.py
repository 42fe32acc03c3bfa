"""The Whisper encoder-decoder in PyTorch, in reading order. Pure modules: no I/O, no device guessing.

Parameter names are openai-whisper's, so its ``.pt`` state dicts load as they are. The decoder has two
paths: ``forward`` recomputes everything (reference), ``forward_cached`` reads cross-attention keys/values
computed once per audio window and a preallocated self-attention cache (what decoding uses).

Shapes: B batch, T tokens, A audio positions (1500), S cache length, C channels, H heads, D head size.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass(frozen=True)
class ModelDims:
    """Model dimensions, read from a checkpoint's shapes (and head counts from its config)."""

    n_mels: int  # mel bins of the input: 80, or 128 (large-v3)
    n_audio_ctx: int  # encoder positions: 1500 for 30 s
    n_audio_state: int  # encoder width
    n_audio_head: int
    n_audio_layer: int
    n_vocab: int  # 51864 English-only, 51865 multilingual, 51866 large-v3
    n_text_ctx: int  # decoder positions: 448
    n_text_state: int  # decoder width
    n_text_head: int
    n_text_layer: int


def sinusoids(length: int, channels: int, max_timescale: float = 10000.0) -> Tensor:
    """Fixed encoder positions: (length, channels), sines in the first half of the channels, cosines after."""
    # computed on the CPU even inside a meta-device context (cheap, and arange on meta is slow to set up)
    increment = math.log(max_timescale) / (channels // 2 - 1)
    inv_timescales = torch.exp(-increment * torch.arange(channels // 2, dtype=torch.float32, device="cpu"))
    scaled = torch.arange(length, dtype=torch.float32, device="cpu")[:, None] * inv_timescales[None, :]  # (length, C/2)
    return torch.cat([torch.sin(scaled), torch.cos(scaled)], dim=1)


class MultiHeadAttention(nn.Module):
    """Attention with separate query/key/value projections (no key bias) and an output projection."""

    def __init__(self, n_state: int, n_head: int):
        super().__init__()
        self.n_head = n_head
        self.query = nn.Linear(n_state, n_state)
        self.key = nn.Linear(n_state, n_state, bias=False)
        self.value = nn.Linear(n_state, n_state)
        self.out = nn.Linear(n_state, n_state)
        # Set by a CPU packer: one product for the queries, keys and values of one input (self-attention),
        # or for the keys and values (cross-attention, whose queries come from the decoder), outputs
        # joined along the channels. query/key/value stay for state_dict() and single use.
        self.fused_qkv: Callable[[Tensor], Tensor] | None = None
        self.fused_kv: Callable[[Tensor], Tensor] | None = None

    def split_heads(self, x: Tensor) -> Tensor:
        b, t, c = x.shape
        return x.view(b, t, self.n_head, c // self.n_head).transpose(1, 2)  # (B, H, T, D)

    def merge_heads(self, x: Tensor) -> Tensor:
        b, h, t, d = x.shape
        return x.transpose(1, 2).reshape(b, t, h * d)  # (B, T, C)

    def _heads(self, y: Tensor, x: Tensor) -> Tensor:
        """A product's output (B, T, C) split into heads (B, H, T, D), in ``x``'s dtype (a bfloat16
        product's output is widened: the attention sums in the activations' precision)."""
        return self.split_heads(y.to(x.dtype))

    def queries(self, x: Tensor) -> Tensor:
        """Queries of ``x`` (B, T, C), (B, H, T, D)."""
        return self._heads(self.query(x), x)

    def keys_values(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Keys and values of ``x`` (B, T, C), each (B, H, T, D), in ``x``'s dtype."""
        if self.fused_kv is not None:
            k, v = self.fused_kv(x).chunk(2, dim=-1)
            return self._heads(k, x), self._heads(v, x)
        return self._heads(self.key(x), x), self._heads(self.value(x), x)

    def queries_keys_values(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Queries, keys and values of ``x`` (B, T, C) for self-attention, each (B, H, T, D)."""
        if self.fused_qkv is not None:
            q, k, v = self.fused_qkv(x).chunk(3, dim=-1)
            return self._heads(q, x), self._heads(k, x), self._heads(v, x)
        return self.queries(x), *self.keys_values(x)

    def attend(self, x: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None, causal: bool = False) -> Tensor:
        """Attention of the queries of ``x`` (B, T, C) over ``k``/``v`` (B, H, S, D); mask (T, S) bool, True = keep."""
        return self.attend_heads(self.queries(x), k, v, mask, causal)

    def attend_heads(self, q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None, causal: bool = False) -> Tensor:
        """Attention of queries ``q`` (B, H, T, D) over ``k``/``v`` (B, H, S, D), through the output projection."""
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)  # (B, H, T, D)
        return self.out(self.merge_heads(y))

    def attend_grouped(
        self,
        x: Tensor,
        k: Tensor,
        v: Tensor,
        group: int,
        scratch: tuple[Tensor, Tensor] | None = None,
        windows: list[int] | None = None,
    ) -> Tensor:
        """Unmasked attention where each run of ``group`` rows of ``x`` (B*R, T, C) shares one row of
        ``k``/``v`` (W, H, S, D), as the beams of one audio window share its cross-attention keys/values:
        run ``i`` uses row ``windows[i]`` (default: row ``i``).

        The rows of a group are folded into the query length, so keys/values are read once per group.
        Keys/values stored narrower than ``x`` are widened one window at a time into ``scratch``
        ((1, H, S, D) each), which stays in the CPU's cache while it is read.
        """
        q = self.queries(x)  # (B*R, H, T, D)
        n, h, t, d = q.shape
        q = q.view(n // group, group, h, t, d).transpose(1, 2).reshape(n // group, h, group * t, d)  # (B, H, R*T, D)
        narrow = k.dtype != q.dtype
        if narrow and scratch is None:
            raise ValueError(f"keys/values are {k.dtype}, activations {q.dtype}: pass scratch buffers to widen them")
        if not narrow and windows is None:
            y = F.scaled_dot_product_attention(q, k, v)  # (B, H, R*T, D)
        else:
            parts = []
            for i, w in enumerate(windows if windows is not None else range(k.shape[0])):
                kw, vw = k[w : w + 1], v[w : w + 1]
                if narrow:
                    kw, vw = scratch[0].copy_(kw), scratch[1].copy_(vw)
                parts.append(F.scaled_dot_product_attention(q[i : i + 1], kw, vw))
            y = parts[0] if len(parts) == 1 else torch.cat(parts)
        y = y.view(n // group, h, group, t, d).transpose(1, 2).reshape(n, h, t, d)  # (B*R, H, T, D)
        return self.out(self.merge_heads(y))

    def attend_shared_prefix(self, q: Tensor, k: Tensor, v: Tensor, shared: int, end: int, group: int) -> Tensor:
        """One new token per row (queries ``q`` (B*R, H, 1, D)) attending to its cache ``k``/``v`` (B*R, H, S, D) up to
        ``end``, where positions ``[0, shared)`` are common to each group of ``group`` rows (the prompt the
        beams started from) and are read from the group's first row only (the others need not hold them).

        The shared part is read once per group (its rows folded into the query length, as for the
        cross-attention) and the rest per row; the two softmax-weighted sums are joined through their
        log-sum-exps, which equals attending to all positions at once (to float32 rounding).
        """
        n, h, _, d = q.shape
        grouped = q.view(n // group, group, h, d).transpose(1, 2)  # (B, H, R, D)
        head, head_lse = _attention_with_lse(grouped, k[::group, :, :shared], v[::group, :, :shared])
        head = head.transpose(1, 2).reshape(n, h, 1, d)  # (B*R, H, 1, D)
        head_lse = head_lse.transpose(1, 2).reshape(n, h, 1, 1)
        own, own_lse = _attention_with_lse(q, k[:, :, shared:end], v[:, :, shared:end])  # (B*R, H, 1, D)
        own_lse = own_lse.unsqueeze(-1)
        total = torch.logaddexp(head_lse, own_lse)
        y = head * (head_lse - total).exp() + own * (own_lse - total).exp()  # float32: the lse are
        return self.out(self.merge_heads(y.to(q.dtype)))

    def weights(self, x: Tensor, k: Tensor) -> Tensor:
        """Softmaxed attention weights (B, H, T, S) of the queries of ``x`` over ``k`` (no mask)."""
        q = self.queries(x)  # (B, H, T, D)
        scores = (q.float() @ k.float().transpose(-1, -2)) / math.sqrt(q.shape[-1])  # (B, H, T, S)
        return scores.softmax(dim=-1)

    def forward(self, x: Tensor, causal: bool = False) -> Tensor:
        """Self-attention over ``x`` (B, T, C)."""
        return self.attend_heads(*self.queries_keys_values(x), causal=causal)


def _attention_with_lse(q: Tensor, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
    """Unmasked attention (B, H, T, D) and the log-sum-exp of each query's scaled scores (B, H, T)."""
    if q.device.type == "cpu" and hasattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu"):
        out, lse = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(q, k, v)
        return out, lse
    scores = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])  # (B, H, T, S)
    lse = scores.float().logsumexp(dim=-1)
    return ((scores - lse.unsqueeze(-1).to(scores.dtype)).exp() @ v), lse.to(q.dtype)


class ResidualAttentionBlock(nn.Module):
    """Pre-LayerNorm block: self-attention, [cross-attention,] MLP, each added to the residual stream."""

    def __init__(self, n_state: int, n_head: int, cross_attention: bool = False):
        super().__init__()
        self.attn = MultiHeadAttention(n_state, n_head)
        self.attn_ln = nn.LayerNorm(n_state)
        self.cross_attn = MultiHeadAttention(n_state, n_head) if cross_attention else None
        self.cross_attn_ln = nn.LayerNorm(n_state) if cross_attention else None
        self.mlp = nn.Sequential(nn.Linear(n_state, 4 * n_state), nn.GELU(), nn.Linear(4 * n_state, n_state))
        self.mlp_ln = nn.LayerNorm(n_state)

    def forward(self, x: Tensor, xa: Tensor | None = None, causal: bool = False) -> Tensor:
        """Reference path: ``x`` (B, T, C); ``xa`` (B, A, C) audio features for the cross-attention."""
        x = x + self.attn(self.attn_ln(x), causal=causal)
        if self.cross_attn is not None:
            k, v = self.cross_attn.keys_values(xa)
            x = x + self.cross_attn.attend(self.cross_attn_ln(x), k, v)
        return x + self.mlp(self.mlp_ln(x))

    def forward_in_place(self, x: Tensor) -> Tensor:
        """The encoder's path without autograd (self-attention and MLP only): ``x`` (B, T, C), which must
        be the caller's own tensor, receives the residual sums in place, and the GELU overwrites the MLP's
        hidden layer, sparing two of a layer's multi-megabyte temporaries."""
        x += self.attn(self.attn_ln(x))
        hidden = self.mlp[0](self.mlp_ln(x))  # (B, T, 4C)
        x += self.mlp[2](torch.ops.aten.gelu_(hidden))
        return x

    def forward_cached(
        self,
        x: Tensor,  # (B, T, C) new tokens at positions offset ... offset+T-1
        self_k: Tensor,  # (B, H, S, D) cache of this layer, written at [offset, offset+T)
        self_v: Tensor,
        cross_k: Tensor,  # (B / group, H, A, D): one row per audio window
        cross_v: Tensor,
        offset: int,
        mask: Tensor | None,  # (T, offset+T) bool, or None when T == 1
        group: int = 1,  # consecutive rows of x that share one audio window (beams)
        shared: int = 0,  # cache positions [0, shared) are common to a group, held by its first row
        scratch: tuple[Tensor, Tensor] | None = None,  # (1, H, A, D) buffers to widen narrow cross keys/values
        windows: list[int] | None = None,  # the row of cross_k each group uses (default: its own index)
    ) -> Tensor:
        h = self.attn_ln(x)
        end = offset + x.shape[1]
        q, k, v = self.attn.queries_keys_values(h)  # (B, H, T, D)
        self_k[:, :, offset:end] = k
        self_v[:, :, offset:end] = v
        if group > 1 and 0 < shared <= offset and x.shape[1] == 1:  # beams after a common prompt
            x = x + self.attn.attend_shared_prefix(q, self_k, self_v, shared, end, group)
        else:
            causal = mask is None and offset == 0 and x.shape[1] > 1
            x = x + self.attn.attend_heads(q, self_k[:, :, :end], self_v[:, :, :end], mask=mask, causal=causal)
        x = x + self.cross_attn.attend_grouped(self.cross_attn_ln(x), cross_k, cross_v, group, scratch, windows)
        return x + self.mlp(self.mlp_ln(x))


class AudioEncoder(nn.Module):
    """Two convolutions (the second halves the frame rate), fixed sinusoid positions, attention blocks."""

    def __init__(self, n_mels: int, n_ctx: int, n_state: int, n_head: int, n_layer: int):
        super().__init__()
        self.conv1 = nn.Conv1d(n_mels, n_state, kernel_size=3, padding=1)
        self.conv2 = nn.Conv1d(n_state, n_state, kernel_size=3, stride=2, padding=1)
        self.register_buffer("positional_embedding", sinusoids(n_ctx, n_state))
        self.blocks = nn.ModuleList([ResidualAttentionBlock(n_state, n_head) for _ in range(n_layer)])
        self.ln_post = nn.LayerNorm(n_state)

    def forward(self, mel: Tensor) -> Tensor:
        """``mel`` (B, n_mels, 2 * A) -> audio features (B, A, C)."""
        x = F.gelu(self.conv1(mel))  # (B, C, 2A)
        x = F.gelu(self.conv2(x))  # (B, C, A)
        x = x.permute(0, 2, 1)  # (B, A, C)
        if x.shape[1:] != self.positional_embedding.shape:
            raise ValueError(f"audio has {x.shape[1]} positions after the convolutions, the encoder expects "
                             f"{self.positional_embedding.shape[0]} (a 30 s window of {2 * self.positional_embedding.shape[0]} frames)")
        x = x + self.positional_embedding.to(x.dtype)  # a new tensor: the blocks may write into it
        in_place = not torch.is_grad_enabled()
        for block in self.blocks:
            x = block.forward_in_place(x) if in_place else block(x)
        return self.ln_post(x)


class TextDecoder(nn.Module):
    """Token embedding plus learned positions, blocks with cross-attention, output tied to the embedding."""

    def __init__(self, n_vocab: int, n_ctx: int, n_state: int, n_head: int, n_layer: int):
        super().__init__()
        # Initialised with uniform_ only: weights are loaded over these, and on the meta device (how the
        # loader builds the module) normal_/randn would pull in torch's compiler stack, seconds of imports.
        self.token_embedding = nn.Embedding(n_vocab, n_state, _weight=torch.empty(n_vocab, n_state).uniform_(-0.05, 0.05))
        self.positional_embedding = nn.Parameter(torch.empty(n_ctx, n_state).uniform_(-0.01, 0.01))  # learned
        self.blocks = nn.ModuleList(
            [ResidualAttentionBlock(n_state, n_head, cross_attention=True) for _ in range(n_layer)]
        )
        self.ln = nn.LayerNorm(n_state)
        # Optional replacement of the tied projection: a packed float32 or an int8 copy of the embedding
        # (set by the loader for the CPU); None multiplies by the embedding itself.
        self.output: nn.Module | None = None

    def embed(self, tokens: Tensor, offset: int) -> Tensor:
        positions = self.positional_embedding[offset : offset + tokens.shape[-1]]  # (T, C)
        return self.token_embedding(tokens) + positions  # (B, T, C)

    def project(self, x: Tensor) -> Tensor:
        """Final LayerNorm and the tied output projection: (B, T, C) -> float32 logits (B, T, n_vocab)."""
        x = self.ln(x)
        if self.output is not None:
            return self.output(x).float()
        return (x @ self.token_embedding.weight.to(x.dtype).T).float()

    def forward(self, tokens: Tensor, xa: Tensor) -> Tensor:
        """Reference path without caches: ``tokens`` (B, T) from position 0, ``xa`` (B, A, C) -> logits (B, T, V)."""
        x = self.embed(tokens, 0).to(xa.dtype)
        for block in self.blocks:
            x = block(x, xa, causal=True)
        return self.project(x)

    def cross_keys_values(self, xa: Tensor, dtype: torch.dtype | None = None) -> tuple[Tensor, Tensor]:
        """Cross-attention keys and values of every layer, each (L, B, H, A, D), stored as ``dtype``
        (default: the activations')."""
        b, a, c = xa.shape
        heads = self.blocks[0].cross_attn.n_head
        shape = (len(self.blocks), b, heads, a, c // heads)
        keys = torch.empty(shape, dtype=dtype or xa.dtype, device=xa.device)
        values = torch.empty(shape, dtype=dtype or xa.dtype, device=xa.device)
        for i, block in enumerate(self.blocks):  # each layer's heads written (and narrowed) in place: one copy
            k, v = block.cross_attn.keys_values(xa)
            keys[i].copy_(k)
            values[i].copy_(v)
        return keys, values

    def forward_cached(
        self,
        tokens: Tensor,  # (B, T)
        self_k: Tensor,  # (L, B, H, S, D)
        self_v: Tensor,
        cross_k: Tensor,  # (L, B / group, H, A, D)
        cross_v: Tensor,
        offset: int,
        last_only: bool = False,
        group: int = 1,  # rows per audio window: row i uses cross_k[:, i // group]
        scratch: tuple[Tensor, Tensor] | None = None,  # (1, H, A, D) in the activations' dtype
        shared: int = 0,  # cache positions [0, shared) are common to a group, held by its first row
        windows: list[int] | None = None,  # the window of cross_k each group of rows uses (default: its index)
        order: Tensor | None = None,  # (B,) output row i is row order[i]
    ) -> Tensor:
        """Decode ``tokens`` at positions ``offset ...``, writing their keys/values into the cache -> (B, T, V)
        (or (B, 1, V) for the last position only)."""
        n_new = tokens.shape[1]
        mask = None
        if n_new > 1 and offset > 0:  # new token i sees cached positions and new tokens up to i
            mask = torch.ones(n_new, offset + n_new, dtype=torch.bool, device=tokens.device).tril(offset)
        x = self.embed(tokens, offset).to(self_k.dtype)
        for i, block in enumerate(self.blocks):
            x = block.forward_cached(
                x, self_k[i], self_v[i], cross_k[i], cross_v[i], offset, mask, group, shared, scratch, windows
            )  # fmt: skip
        x = x[:, -1:] if last_only else x
        return self.project(x if order is None else x[order])

    def cross_attention_weights(
        self, tokens: Tensor, xa: Tensor, layers: set[int], cross: tuple[Tensor, Tensor] | None = None
    ) -> dict[int, Tensor]:
        """Softmaxed cross-attention weights (B, H, T, A) of the given layers, on the reference path;
        ``cross``: the keys and values of ``xa``, (L, B, H, A, D) each, when already computed."""
        found: dict[int, Tensor] = {}
        x = self.embed(tokens, 0).to(xa.dtype)
        last = max(layers, default=-1)
        for i, block in enumerate(self.blocks[: last + 1]):
            x = x + block.attn(block.attn_ln(x), causal=True)
            h = block.cross_attn_ln(x)
            k, v = block.cross_attn.keys_values(xa) if cross is None else (cross[0][i], cross[1][i])
            if i in layers:
                found[i] = block.cross_attn.weights(h, k)
            if i == last:  # what follows the last layer's weights reaches none of them
                break
            x = x + block.cross_attn.attend(h, k, v)
            x = x + block.mlp(block.mlp_ln(x))
        return found


class Whisper(nn.Module):
    """Whisper: ``encoder`` (log-mel -> audio features) and ``decoder`` (tokens + audio features -> logits)."""

    def __init__(self, dims: ModelDims):
        super().__init__()
        self.dims = dims
        self.encoder = AudioEncoder(
            dims.n_mels, dims.n_audio_ctx, dims.n_audio_state, dims.n_audio_head, dims.n_audio_layer
        )
        self.decoder = TextDecoder(
            dims.n_vocab, dims.n_text_ctx, dims.n_text_state, dims.n_text_head, dims.n_text_layer
        )

    def forward(self, mel: Tensor, tokens: Tensor) -> Tensor:
        return self.decoder(tokens, self.encoder(mel))
