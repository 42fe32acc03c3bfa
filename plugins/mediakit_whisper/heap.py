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

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: glibc's default: free() gives the top of a heap back to the system once this much is free there.
TRIM_FROM = 128 << 10
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
    """Serve blocks up to :data:`HEAP_UP_TO` from the heap inside the block, and keep what is freed
    there (no trimming), so that temporaries reuse warm memory; afterwards the mmap regime returns and
    the heaps' free memory goes back to the system at once.

    Without the trim threshold lifted, free() handed the top of each heap back as soon as 128 KiB lay
    free there, and the next temporary faulted it in again: 20,000-40,000 page faults per encoded
    window instead of 6,000-8,000 (and 5-8% of its time)."""
    libc = _libc()
    if libc is None:
        yield
        return
    libc.mallopt(_M_MMAP_THRESHOLD, HEAP_UP_TO)
    libc.mallopt(_M_TRIM_THRESHOLD, 4 * HEAP_UP_TO)
    try:
        yield
    finally:
        libc.mallopt(_M_MMAP_THRESHOLD, MAPPED_FROM)
        libc.mallopt(_M_TRIM_THRESHOLD, TRIM_FROM)
        libc.malloc_trim(0)
