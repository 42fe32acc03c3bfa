"""Reader for CTranslate2 ``model.bin`` files (binary versions 1-6), also when split into byte parts.

Layout (little-endian, no padding): u32 version; [str spec name, u32 spec revision]; u32 variable count;
per variable: str name, u8 rank, u32 dims[rank], then (version >= 4) u8 dtype id and u32 byte count, or
(older) u8 item size and u32 element count, then the payload; (version >= 3) u32 alias count and
(str alias, str target) pairs. A str is a u16 length counting a trailing NUL, then the bytes.
"""

from __future__ import annotations

import mmap
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import torch

from mediakit.errors import StageError

# CTranslate2 dtype ids (binary version >= 4) -> torch dtypes
_DTYPES = {0: torch.float32, 1: torch.int8, 2: torch.int16, 3: torch.int32, 4: torch.float16, 5: torch.bfloat16}
# item size -> dtype for binary versions < 4
_LEGACY_DTYPES = {4: torch.float32, 2: torch.int16, 1: torch.int8}


class _Chain:
    """Reads a sequence of files as one byte stream (a model.bin split into parts), without copying them."""

    def __init__(self, paths: list[Path]):
        self.paths = paths
        self._index = 0
        self._file: BinaryIO = open(paths[0], "rb")  # noqa: SIM115 (closed in close())
        self.position = 0

    def read_into(self, buffer: memoryview) -> None:
        done = 0
        while done < len(buffer):
            n = self._file.readinto(buffer[done:])
            if n:
                done += n
                continue
            if self._index + 1 >= len(self.paths):
                raise EOFError(f"the file ends after {self.position + done} bytes")
            self._file.close()
            self._index += 1
            self._file = open(self.paths[self._index], "rb")  # noqa: SIM115
        self.position += done

    def map(self, n: int) -> tuple[mmap.mmap, int] | None:
        """The next ``n`` bytes as a private, copy-on-write mapping of the file and their offset in it
        (the mapping starts on a page boundary), skipping them; None when they are not all in one file
        (or the file cannot be mapped), and nothing is skipped then."""
        start = self._file.tell()
        aligned = start - start % mmap.ALLOCATIONGRANULARITY
        try:
            if start + n > os.fstat(self._file.fileno()).st_size:  # the open file, not its path again
                return None
            mapping = mmap.mmap(self._file.fileno(), start + n - aligned, access=mmap.ACCESS_COPY, offset=aligned)
        except (OSError, ValueError):
            return None
        self._file.seek(n, 1)
        self.position += n
        return mapping, start - aligned

    def read(self, n: int) -> bytes:
        buffer = bytearray(n)
        self.read_into(memoryview(buffer))
        return bytes(buffer)

    def at_end(self) -> bool:
        return not self._file.read(1) and self._index + 1 >= len(self.paths)

    def close(self) -> None:
        self._file.close()


@dataclass(frozen=True)
class CT2Model:
    """The variables of a CTranslate2 model: name -> tensor (scalars are 0-d), aliases resolved."""

    version: int
    spec_name: str
    revision: int
    variables: dict[str, torch.Tensor]
    #: The file mappings behind the variables read as mappings (see ``read_model_bin``).
    mappings: tuple[mmap.mmap, ...] = field(default=(), repr=False)


def release_pages(mappings: tuple[mmap.mmap, ...]) -> None:
    """Drop mapped variables' pages from this process's resident memory (the file's page cache keeps
    them): call it once they have been copied into other layouts, so that a variable still in use
    (the token embedding, for lookups) is resident only where it is read again."""
    dontneed = getattr(mmap, "MADV_DONTNEED", None)  # POSIX only: elsewhere the pages stay until unmapped
    for mapping in mappings:
        if dontneed is not None and not mapping.closed:
            mapping.madvise(dontneed)


#: Variables from this size on are memory-mapped from the file instead of read into memory.
MAP_FROM = 8 << 20


def _u8(chain: _Chain) -> int:
    return chain.read(1)[0]


def _u16(chain: _Chain) -> int:
    return struct.unpack("<H", chain.read(2))[0]


def _u32(chain: _Chain) -> int:
    return struct.unpack("<I", chain.read(4))[0]


def _str(chain: _Chain) -> str:
    n = _u16(chain)
    if n == 0:
        raise ValueError("a string of length 0")
    return chain.read(n)[:-1].decode("utf-8")


def read_model_bin(parts: list[Path], map_from: int | None = None) -> CT2Model:
    """Read ``model.bin`` (or its byte parts, in order). Raises StageError naming the file on any problem.

    Variables of ``map_from`` bytes or more (default :data:`MAP_FROM`) that lie within one file are
    mapped, not read: their memory is the file's page cache, resident in this process only where
    touched. Whisper base's token embedding (53 MB) is one: packing the output projection reads it
    all once (:func:`release_pages` then drops it), and decoding looks up a few rows a step.
    """
    map_from = MAP_FROM if map_from is None else map_from
    shown = str(parts[0]) if len(parts) == 1 else f"{parts[0]} (+{len(parts) - 1} parts)"
    try:
        chain = _Chain(parts)
    except OSError as err:
        raise StageError(f"cannot open the CTranslate2 model {shown}: {err}") from err
    try:
        version = _u32(chain)
        if not 1 <= version <= 6:
            raise ValueError(f"unsupported binary version {version} (mediakit reads 1 to 6)")
        spec_name, revision = ("", 1)
        if version >= 2:
            spec_name = _str(chain)
            revision = _u32(chain)
        variables: dict[str, torch.Tensor] = {}
        mappings: list[mmap.mmap] = []
        for _ in range(_u32(chain)):
            name = _str(chain)
            shape = [_u32(chain) for _ in range(_u8(chain))]
            if version >= 4:
                dtype_id, num_bytes = _u8(chain), _u32(chain)
                if dtype_id not in _DTYPES:
                    raise ValueError(f"variable {name} has an unknown dtype id {dtype_id}")
                dtype = _DTYPES[dtype_id]
            else:
                item_size, count = _u8(chain), _u32(chain)
                dtype = _LEGACY_DTYPES[item_size]
                num_bytes = item_size * count
            expected = dtype.itemsize
            for d in shape:
                expected *= d
            if expected != num_bytes:
                raise ValueError(f"variable {name} has {num_bytes} bytes for shape {shape}")
            mapped = chain.map(num_bytes) if num_bytes >= map_from else None
            if mapped is not None:
                mapping, offset = mapped
                mappings.append(mapping)
                count = num_bytes // dtype.itemsize
                variables[name] = torch.frombuffer(mapping, dtype=dtype, count=count, offset=offset).reshape(shape)
                continue
            payload = bytearray(num_bytes)
            chain.read_into(memoryview(payload))
            variables[name] = torch.frombuffer(payload, dtype=dtype).reshape(shape) if num_bytes else torch.empty(shape, dtype=dtype)
        if version >= 3:
            for _ in range(_u32(chain)):
                alias, target = _str(chain), _str(chain)
                variables[alias] = variables[target]
        if not chain.at_end():
            raise ValueError(f"unexpected bytes after the last record at offset {chain.position}")
    except (ValueError, EOFError, KeyError, struct.error, UnicodeDecodeError) as err:
        raise StageError(f"{shown} is not a readable CTranslate2 model: {err}") from err
    except OSError as err:
        raise StageError(f"cannot read the CTranslate2 model {shown}: {err}") from err
    finally:
        chain.close()
    return CT2Model(version=version, spec_name=spec_name, revision=revision, variables=variables, mappings=tuple(mappings))
