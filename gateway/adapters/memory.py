"""Process memory settings (adapter): the C allocator's arenas.

glibc gives every thread that allocates its own malloc arena (up to 8 per core), and memory
freed in one arena is not reused by another. The gateway's threads — one per SQLite
connection, and the workers that build report archives — each then keep their own
high-water mark: measured with a report over a million events, the process grew by about
60 MB with the default, 40 MB with two arenas and stayed there. Two arenas is a common
setting for threaded servers (it is what `MALLOC_ARENA_MAX=2` does).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from typing import Final

log = logging.getLogger(__name__)

M_ARENA_MAX: Final = -8  # glibc's mallopt parameter
ARENAS: Final = 2


def limit_malloc_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's malloc arenas for threads started from now on; False where the C library
    is not glibc (musl, macOS), where there is nothing to do."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    done = bool(mallopt(M_ARENA_MAX, arenas))
    if not done:
        log.debug("mallopt(M_ARENA_MAX) refused")
    return done
