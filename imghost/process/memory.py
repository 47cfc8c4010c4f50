"""Keep a worker's memory proportional to the uploads in flight, not to the largest one seen.

glibc raises its mmap threshold each time a large block is freed, so after one 20 MB decode
every later one comes from a per-thread heap arena and is never returned to the system; with
dozens of threadpool threads that is hundreds of MiB per worker. A fixed threshold keeps large
blocks (decoded frames) in mmap, released on free, and few arenas bound the fragmentation.
"""

from __future__ import annotations

import ctypes
import ctypes.util

# From glibc's <malloc.h>.
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
MMAP_THRESHOLD_BYTES = 128 * 1024
ARENA_MAX = 2


def tune_allocator() -> bool:
    """Apply the settings above where the C library is glibc; returns whether it did."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    libc = ctypes.CDLL(name)
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is None:
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(
        mallopt(_M_ARENA_MAX, ARENA_MAX)
    )
