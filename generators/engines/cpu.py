"""What a CPU engine decides from the machine it runs on: how many threads, and whether bf16 pays.

bf16 weights halve the bytes a decode step streams, but only CPUs with native bf16 dot products
(``avx512_bf16``/``amx_bf16`` on x86, ``bf16`` on Arm) turn that into speed, and even among those
it varies: on an Intel Xeon with avx512_bf16 (no AMX) bf16 generation measured slower than fp32,
on an AMD EPYC with the same flag 1.45x faster (bench/RESULTS.md). So ``dtype: auto`` measures, once
per CPU model, thread count and torch version, and remembers the answer in the cache directory; a
rerun reads the answer without importing torch.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: bf16 is chosen when its timed matmuls take at most this fraction of fp32's
BF16_MARGIN = 0.85


def cpu_threads() -> int:
    """Threads a CPU engine may use: ``R1F_THREADS`` (executors set it per worker), else every core it may use."""
    return int(os.environ.get("R1F_THREADS") or 0) or len(os.sched_getaffinity(0))


def _cpuinfo() -> tuple[str, set[str]]:
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return platform.processor() or platform.machine(), set()
    name, flags = platform.machine(), set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key in ("model name", "Model name", "CPU part") and name == platform.machine():
            name = value.strip()
        elif key in ("flags", "Features"):
            flags |= set(value.split())
    return name, flags


def cpu_name() -> str:
    """The CPU's model name as the kernel reports it (benchmarks print it beside their numbers)."""
    return _cpuinfo()[0]


def native_bf16(flags: set[str] | None = None) -> bool:
    """Whether the CPU has bf16 dot-product instructions (without them bf16 is emulated and slow)."""
    if flags is None:
        flags = _cpuinfo()[1]
    return bool(flags & {"avx512_bf16", "amx_bf16", "bf16"})


def _time_matmuls(dtype: Any, threads: int, rounds: int = 5) -> float:
    """Median seconds of a decode-shaped MLP (64 rows through 576 -> 1536 -> 576, SmolLM2-135M's sizes)."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        gen = torch.Generator().manual_seed(0)
        x = torch.randn(64, 576, generator=gen).to(dtype)
        up = torch.randn(576, 1536, generator=gen).to(dtype)
        down = torch.randn(1536, 576, generator=gen).to(dtype)
        times = []
        with torch.inference_mode():
            for _ in range(rounds):
                started = time.perf_counter()
                for _ in range(20):
                    (x @ up).relu_() @ down
                times.append(time.perf_counter() - started)
        return sorted(times)[len(times) // 2]
    finally:
        torch.set_num_threads(previous)


def timed_ratio(baseline: Callable[[int], float], candidate: Callable[[int], float], rounds: int) -> float:
    """``candidate``'s best time over ``baseline``'s. Each is called with a number of rounds and returns seconds:
    once with 1 as a warm-up (first calls allocate and pick kernels), then three times with ``rounds``,
    alternately, so load from other work hits both alike."""
    baseline(1)
    candidate(1)
    theirs, ours = [], []
    for _ in range(3):
        theirs.append(baseline(rounds))
        ours.append(candidate(rounds))
    return min(ours) / min(theirs)


def verdict(threads: int, **fields: Any) -> dict[str, Any]:
    """A measured verdict with what it was measured under, as :func:`remembered` stores it."""
    import torch

    return {**fields, "threads": threads, "torch": torch.__version__, "measured": time.strftime("%Y-%m-%dT%H:%M:%S")}


def measure_bf16(threads: int) -> dict[str, Any]:
    """Time fp32 and bf16 matmuls alternately; the verdict and its numbers."""
    import torch

    ratio = timed_ratio(
        lambda rounds: _time_matmuls(torch.float32, threads, rounds),
        lambda rounds: _time_matmuls(torch.bfloat16, threads, rounds),
        rounds=5,
    )
    dtype = "bfloat16" if ratio <= BF16_MARGIN else "float32"
    return verdict(threads, dtype=dtype, bf16_over_fp32_time=round(ratio, 3))


def remembered(filename: str, threads: int, measure: Any, valid: Any) -> dict[str, Any]:
    """A per-CPU verdict: read back from ``filename`` in the cache directory when one exists for this CPU model,
    thread count and torch version (``valid`` says whether a stored one is usable), else ``measure(threads)``,
    stored for next time."""
    from generators.models import cache_dir

    name, _ = _cpuinfo()
    path = cache_dir() / filename
    try:
        from importlib.metadata import version

        torch_version = version("torch")
    except Exception:  # noqa: BLE001 - no metadata (vendored torch): the key just omits it
        torch_version = "?"
    key = f"{name}|threads={threads}|torch={torch_version}"
    try:
        known = json.loads(path.read_text())
    except (OSError, ValueError):
        known = {}
    if isinstance(known.get(key), dict) and valid(known[key]):
        return known[key]
    verdict = measure(threads)
    known[key] = verdict
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        tmp.write_text(json.dumps(known, indent=1, sort_keys=True) + "\n")
        tmp.replace(path)
    except OSError:
        pass  # a read-only cache only means measuring again next time
    return verdict


def auto_cpu_dtype(threads: int) -> str:
    """fp32 unless this CPU has native bf16 and bf16 measured faster here; measured once, then read back."""
    if not native_bf16(_cpuinfo()[1]):
        return "float32"
    verdict = remembered("cpu-dtype.json", threads, measure_bf16, lambda v: v.get("dtype") in ("float32", "bfloat16"))
    return verdict["dtype"]
