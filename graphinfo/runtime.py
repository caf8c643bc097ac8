"""Process-level settings that make large CPU tensors cheap to allocate.

PyTorch allocates CPU tensors with the C library's ``malloc``. glibc serves every block larger
than its mmap threshold (at most 32 MiB by default) with a fresh ``mmap`` and returns it to the
system on free, so each new feature matrix of a large graph is page-faulted in and zeroed by
the kernel again, every epoch. On the 2-core machines this library is benchmarked on, that made
a simple elementwise op on a 170k x 256 matrix about 4x slower than the arithmetic.
:func:`tune_cpu_allocator` raises the thresholds so that freed memory stays in the heap and is
reused (the remedy PyTorch's CPU tuning guide gives with jemalloc/tcmalloc, without preloading a
library). The costs: memory freed after the peak stays with the process until it exits, and
the peak itself can be higher (about a fifth on the PubMed- and arxiv-shaped benchmarks).

:func:`graphinfo.train.fit` calls it once unless ``GRAPHINFO_TUNE_ALLOCATOR=0``; it changes
nothing on other C libraries (macOS, Windows, musl).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys

logger = logging.getLogger(__name__)

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD = 1 << 30   # blocks up to 1 GiB come from (and go back to) the heap
_TRIM_THRESHOLD = 2**31 - 1  # hand the heap's top back to the system only past 2 GiB

_tuned: bool | None = None


def allocator_tuning_enabled() -> bool:
    """Whether :func:`graphinfo.train.fit` tunes the allocator (``GRAPHINFO_TUNE_ALLOCATOR``,
    default on; ``0``, ``false``, ``no`` or ``off`` turn it off)."""
    value = os.environ.get("GRAPHINFO_TUNE_ALLOCATOR", "1").strip().lower()
    return value not in ("0", "false", "no", "off")


def tune_cpu_allocator() -> bool:
    """Keeps large freed blocks in glibc's heap for reuse (``mallopt``); idempotent.

    Returns:
        bool: True when the settings are in effect (glibc), False where nothing was changed.
    """
    global _tuned
    if _tuned is not None:
        return _tuned
    _tuned = False
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
        libc.gnu_get_libc_version  # noqa: B018 -- only glibc has it (and these mallopt codes)
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    ok = mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD) == 1
    ok = mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD) == 1 and ok
    _tuned = ok
    logger.debug("glibc allocator tuned for large tensors: %s", ok)
    return ok
