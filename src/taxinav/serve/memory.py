"""Give memory freed after loading a day back to the operating system.

Loading a day reads large tables that are dropped right after; glibc's allocator and Arrow's
pool keep the freed pages, so the process would stay at its load-time peak. Trimming them
keeps the resident size flat across day changes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc

import pyarrow as pa


def release_unused() -> None:
    gc.collect()
    pa.default_memory_pool().release_unused()
    name = ctypes.util.find_library("c")
    if name is None:
        return
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim
        return
    trim(0)
