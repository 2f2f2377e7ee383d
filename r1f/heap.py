"""Large tensors reuse freed memory instead of fresh pages from the kernel.

glibc serves every allocation over its mmap threshold (at most 32 MiB, often far less) with a fresh
``mmap`` and unmaps it on free. A training step allocates and frees tensors that size many times: the
embedding's gradient (49,152 x 576 floats, 113 MB), the LM head's chunks, autocast's bf16 copies. Each
time, every 4 KiB page is faulted in and zeroed by the kernel again: on a 2-core EPYC a 113 MB
``fill_`` took 85 ms, about 1.3 GB/s, and such page faults were ~13 % of an SFT step. Serving them
from the heap and keeping freed memory there makes the next step reuse warm pages: 2.75 -> 2.39 s per
4-row bf16 SFT step on a Zen 4 EPYC (1.15x), with the same losses bit for bit (``bench/sft_step.py --malloc
both``, bench/RESULTS.md).

The cost: memory freed after a peak stays with the process (it is reused, not returned), so the
resident size stays near the peak. ``R1F_MALLOC=system`` keeps the C library's defaults.
"""

from __future__ import annotations

import ctypes
import os
import sys

#: mallopt parameters (glibc's malloc.h)
M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_MAX = -4
#: free memory at the top of the heap beyond this goes back to the kernel
TRIM_BYTES = 1 << 30
#: how much more than asked the heap grows by at a time (fewer, larger extensions)
PAD_BYTES = 1 << 29

_applied: bool | None = None


def reuse_freed_memory() -> bool:
    """Serve large allocations from the heap and keep what is freed; True when in effect (glibc on Linux).

    Called once at a process's start (the CLI, each executor worker), before the first large tensor."""
    global _applied
    if _applied is not None:
        return _applied
    _applied = False
    if not sys.platform.startswith("linux") or os.environ.get("R1F_MALLOC", "").lower() == "system":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    settings = ((M_MMAP_MAX, 0), (M_TRIM_THRESHOLD, TRIM_BYTES), (M_TOP_PAD, PAD_BYTES))
    # mallopt returns 1 on success; musl's stub returns 0 and changes nothing
    _applied = all(mallopt(param, value) == 1 for param, value in settings)
    return _applied
