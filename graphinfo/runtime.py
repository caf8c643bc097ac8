"""Process-level settings: large CPU tensors cheap to allocate, and native evaluation code
that fails, never hangs, under a memory limit (:func:`guard_native_memory`).

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
import functools
import logging
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

logger = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])

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


#: Address space kept free for native libraries' own buffers when the process runs under an
#: address-space limit: OpenBLAS maps a buffer of tens of MiB per thread when a thread first
#: calls it, and where that map fails it can retry forever (OpenMathLib/OpenBLAS#5289) instead
#: of failing.
NATIVE_HEADROOM = 128 << 20


def address_space_left() -> int | None:
    """Bytes this process may still map under its address-space limit (``ulimit -v``,
    ``RLIMIT_AS``); ``None`` without a limit or where it cannot be read."""
    try:
        import resource

        limit = resource.getrlimit(resource.RLIMIT_AS)[0]
        if limit == resource.RLIM_INFINITY:
            return None
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return limit - int(line.split()[1]) * 1024
    except (ImportError, OSError, ValueError):
        pass
    return None


def guard_native_memory(function: F) -> F:
    """Makes a scikit-learn / BLAS evaluation (k-means, the probes) fail with ``MemoryError``
    under a tight memory limit instead of hanging: without an address-space limit it changes
    nothing; under one it raises ``MemoryError`` up front when less than about two float64
    copies of the embeddings (its first argument) plus :data:`NATIVE_HEADROOM` is left, and
    runs BLAS and OpenMP on one thread (one native buffer instead of one per thread)."""

    @functools.wraps(function)
    def guarded(z: Any, *args: Any, **kwargs: Any) -> Any:
        left = address_space_left()
        if left is None:
            return function(z, *args, **kwargs)
        count = z.numel() if hasattr(z, "numel") else getattr(z, "size", 0)
        needed = 2 * 8 * int(count)
        if left < needed + NATIVE_HEADROOM:
            raise MemoryError(f"{function.__name__} needs about "
                              f"{(needed + NATIVE_HEADROOM) >> 20} MiB of address space and "
                              f"the memory limit (ulimit -v) leaves {max(left, 0) >> 20} MiB")
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1):
            return function(z, *args, **kwargs)

    return guarded  # type: ignore[return-value]
