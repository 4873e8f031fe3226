"""Give freed heap memory back to the operating system.

glibc keeps freed blocks in its arenas (one per thread that allocated), so the
resident size of a process that has finished a big job stays at its high-water
mark. Whatever runs next, e.g. C2PA signing of the finished video, then adds its
own memory on top. ``malloc_trim(0)`` hands the free pages back.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import sys


@functools.cache
def _trim() -> object | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):  # musl and others have no malloc_trim
        return None


def release_free_memory(*, collect: bool = True) -> None:
    """Collect garbage (unless ``collect`` is false: a full collection takes
    ~40 ms) and return free heap pages to the OS (no-op off glibc)."""
    if collect:
        gc.collect()
    trim = _trim()
    if trim is not None:
        trim(0)
