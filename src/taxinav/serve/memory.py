"""Keep the service's memory flat and its pauses short across day changes.

Loading a day reads large tables that are dropped right after; glibc's allocator and Arrow's
pool keep the freed pages, so the process would stay at its load-time peak. Trimming them
keeps the resident size flat across day changes.

What is alive after a day is loaded (the imported libraries, the road network, the
recommender, the models) lives until the next day. Python's cyclic collector walks every
tracked object on each full collection; over those ~450,000 objects one took 0.75 s on the
2-core machine, holding the interpreter while ingest acknowledgements and route requests
waited (``docs/decisions.md``). Freezing them takes them out of its sight; they are still
freed by reference counting when the next day replaces them (cycles among them are not:
about a hundred objects per day change, measured).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc

import pyarrow as pa

M_MMAP_THRESHOLD = -3  # mallopt parameter (glibc malloc.h)
MMAP_THRESHOLD_B = 128 * 1024  # glibc's own initial value


def keep_large_blocks_mapped() -> None:
    """Keep every allocation of 128 KiB or more (numpy arrays, Arrow buffers) in its own
    mapping, given back to the system when freed. glibc raises that threshold each time such
    a block is freed (up to 32 MiB), after which a day's arrays land in the heap, and the heap
    cannot shrink past what is still used above them: the service grew with every day change
    (``docs/decisions.md``). Setting the threshold fixes it."""
    libc = _glibc()
    if libc is not None:
        libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_B)


def _glibc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    libc = ctypes.CDLL(name)
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


def settle() -> None:
    """After a day is loaded: collect, freeze what survives, give free memory back."""
    gc.collect()
    gc.freeze()
    give_back()


def give_back() -> None:
    """Return the memory freed so far to the system (Arrow's pool, glibc's heap), e.g. before
    a child process does the heavy work while this one waits."""
    gc.collect()
    pa.default_memory_pool().release_unused()
    libc = _glibc()  # not glibc (musl, macOS): nothing to trim
    if libc is not None:
        libc.malloc_trim(0)
