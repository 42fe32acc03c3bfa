"""How glibc's allocator serves the multi-megabyte tensors of the CPU path (no effect elsewhere).

By default the model runs with large blocks served by mmap (:func:`unmap_large_frees`): a freed
tensor goes back to the system at once, which keeps the peak memory low. The price is that every
large temporary arrives as fresh pages. :func:`heap_temporaries` lifts that while the CPU encodes a
window (whose temporaries are all freed at its end), then hands the heap back.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
from collections.abc import Iterator

_M_MMAP_THRESHOLD = -3
#: Blocks from this size on are mapped apart and unmapped when freed (the default regime).
MAPPED_FROM = 1 << 20
#: While :func:`heap_temporaries` runs: the encoder's largest temporary of one window is 12 MB.
HEAP_UP_TO = 64 << 20


@functools.lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt, libc.malloc_trim  # glibc only
    except (OSError, AttributeError):
        return None
    return libc


def unmap_large_frees() -> None:
    """Have glibc serve blocks of 1 MiB or more with mmap, so freed tensors go back to the system.

    glibc raises this threshold on its own as large blocks are freed (loading frees many), after which
    megabyte-sized tensors come from the heap and its holes stay resident: about 100 MB more peak RSS
    over a long file.
    """
    libc = _libc()
    if libc is not None:
        libc.mallopt(_M_MMAP_THRESHOLD, MAPPED_FROM)


@contextlib.contextmanager
def heap_temporaries() -> Iterator[None]:
    """Serve blocks up to :data:`HEAP_UP_TO` from the heap inside the block, so that temporaries reuse
    warm memory; afterwards the mmap regime returns and the heap's free memory goes back to the system."""
    libc = _libc()
    if libc is None:
        yield
        return
    libc.mallopt(_M_MMAP_THRESHOLD, HEAP_UP_TO)
    try:
        yield
    finally:
        libc.mallopt(_M_MMAP_THRESHOLD, MAPPED_FROM)
        libc.malloc_trim(0)
