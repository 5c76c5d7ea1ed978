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


def settle() -> None:
    """After a day is loaded: collect, freeze what survives, give free memory back."""
    gc.collect()
    gc.freeze()
    pa.default_memory_pool().release_unused()
    name = ctypes.util.find_library("c")
    if name is None:
        return
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim
        return
    trim(0)
