"""The official Whisper model names: download file, checksum, alignment heads, approximate size.

Facts carried over as data: the official checkpoint URLs embed their sha256 in the path, and the
alignment heads of each official model are gzipped boolean masks (decoder layers x heads) in base85.
"""

from __future__ import annotations

import base64
import gzip
from dataclasses import dataclass

#: Where the official openai-whisper checkpoints live: ``{base}/{sha256}/{file}``. Tests point it elsewhere.
DOWNLOAD_BASE_URL = "https://openaipublic.azureedge.net/main/whisper/models"


@dataclass(frozen=True)
class OfficialModel:
    name: str
    file: str  # the checkpoint's file name, e.g. base.pt
    sha256: str
    multilingual: bool
    approx_bytes: int  # size of the float16 .pt checkpoint, for ``models list``
    heads_mask: bytes  # base85 of the gzipped bool mask (n_text_layer x n_text_head)

    @property
    def url(self) -> str:
        return f"{DOWNLOAD_BASE_URL}/{self.sha256}/{self.file}"


_V3 = b"ABzY8gWO1E0{>%R7(9S+Kn!D~%ngiGaR?*L!iJG9p-nab0JQ=-{D1-g00"
_TURBO = b"ABzY8j^C+e0{>%RARaKHP%t(lGR*)0g!tONPyhe`"

OFFICIAL: dict[str, OfficialModel] = {
    m.name: m
    for m in (
        OfficialModel("tiny.en", "tiny.en.pt", "d3dd57d32accea0b295c96e26691aa14d8822fac7d9d27d5dc00b4ca2826dd03",
                      False, 75_000_000, b"ABzY8J1N>@0{>%R00Bk>$p{7v037`oCl~+#00"),
        OfficialModel("tiny", "tiny.pt", "65147644a518d12f04e32d6f3b26facc3f8dd46e5390956a9424a650c0ce22b9",
                      True, 75_000_000, b"ABzY8bu8Lr0{>%RKn9Fp%m@SkK7Kt=7ytkO"),
        OfficialModel("base.en", "base.en.pt", "25a8566e1d0c1e2231d1c762132cd20e0f96a85d16145c3a00adf5d1ac670ead",
                      False, 145_000_000, b"ABzY8;40c<0{>%RzzG;p*o+Vo09|#PsxSZm00"),
        OfficialModel("base", "base.pt", "ed3a0b6b1c0edf879ad9b11b1af5a0e6ab5db9205f891f668f8b0e6c6326e34e",
                      True, 145_000_000, b"ABzY8KQ!870{>%RzyTQH3`Q^yNP!>##QT-<FaQ7m"),
        OfficialModel("small.en", "small.en.pt", "f953ad0fd29cacd07d5a9eda5624af0f6bcf2258be67c92b79389873d91e0872",
                      False, 484_000_000, b"ABzY8>?_)10{>%RpeA61k&I|OI3I$65C{;;pbCHh0B{qLQ;+}v00"),
        OfficialModel("small", "small.pt", "9ecf779972d90ba49c06d968637d720dd632c55bbf19d441fb42bf17a411e794",
                      True, 484_000_000, b"ABzY8DmU6=0{>%Rpa?J`kvJ6qF(V^F86#Xh7JUGMK}P<N0000"),
        OfficialModel("medium.en", "medium.en.pt", "d7440d1dc186f76616474e0ff0b3b6b879abc9d1a4926b7adfa41db2d497ab4f",
                      False, 1_528_000_000, b"ABzY8usPae0{>%R7<zz_OvQ{)4kMa0BMw6u5rT}kRKX;$NfYBv00*Hl@qhsU00"),
        OfficialModel("medium", "medium.pt", "345ae4da62f9b3d59415adc60127b97c714f32e89e936602e85993674d08dcb1",
                      True, 1_528_000_000, b"ABzY8B0Jh+0{>%R7}kK1fFL7w6%<-Pf*t^=N)Qr&0RR9"),
        OfficialModel("large-v1", "large-v1.pt", "e4b87e7e0bf463eb8e6956e646f1e277e901512310def2c24bf0e11bd3c28e9a",
                      True, 3_087_000_000, b"ABzY8r9j$a0{>%R7#4sLmoOs{s)o3~84-RPdcFk!JR<kSfC2yj"),
        OfficialModel("large-v2", "large-v2.pt", "81f7c96c852ee8fc832187b0132e569d6c3065a3252ed18e56effd0b6a73e524",
                      True, 3_087_000_000,
                      b"ABzY8zd+h!0{>%R7=D0pU<_bnWW*tkYAhobTNnu$jnkEkXqp)j;w1Tzk)UH3X%SZd&fFZ2fC2yj"),
        OfficialModel("large-v3", "large-v3.pt", "e5b1a55b89c1367dacf97e3e19bfd829a01529dbfdeefa8caeb59b3f1b81dadb",
                      True, 3_087_000_000, _V3),
        OfficialModel("large-v3-turbo", "large-v3-turbo.pt",
                      "aff26ae408abcba5fbf8813c21e62b0941638c5f6eebfb145be0c9839262a19a", True, 1_618_000_000, _TURBO),
    )
}  # fmt: skip

#: Other spellings users type (openai-whisper's own aliases).
ALIASES = {"large": "large-v3", "turbo": "large-v3-turbo"}

#: Every name the plugin registers, in the order ``models list`` shows them.
ALL_NAMES: tuple[str, ...] = (*OFFICIAL, *ALIASES)


def canonical(name: str) -> str:
    """The official name behind an alias (``turbo`` -> ``large-v3-turbo``); other names unchanged."""
    return ALIASES.get(name, name)


def official_alignment_heads(name: str, n_layer: int, n_head: int) -> tuple[tuple[int, int], ...] | None:
    """openai-whisper's alignment heads for an official name, or None when unknown or the shape differs."""
    model = OFFICIAL.get(canonical(name))
    if model is None:
        return None
    mask = gzip.decompress(base64.b85decode(model.heads_mask))
    if len(mask) != n_layer * n_head:
        return None
    return tuple((i // n_head, i % n_head) for i, flag in enumerate(mask) if flag)


def default_alignment_heads(n_layer: int, n_head: int) -> tuple[tuple[int, int], ...]:
    """Every head of the last half of the decoder layers (openai-whisper's fallback)."""
    return tuple((layer, head) for layer in range(n_layer // 2, n_layer) for head in range(n_head))
