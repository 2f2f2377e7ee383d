"""Decode-step linear layers in C, for CPUs where torch's sgemm is slow on thin matrices.

A decode step sends a few rows (the live sequences) through every weight matrix. torch's CPU build
gives that to MKL, whose sgemm on non-Intel CPUs takes a slow path for thin matrices: on an AMD EPYC
(Zen 1, fp32) 4 rows through 576 -> 1536 took 4.5x the time of one, and 10 rows through the 49k-token LM
head 47 ms where ``decode_linear.c`` takes 16 (bench/RESULTS.md, "Decode linear layers"). So on the
engine's decode and prompt passes, each fp32 ``nn.Linear`` that is big enough to matter and sees few
enough rows runs the C kernel instead (:func:`rows_taken`); everything else stays with torch.

Whether it pays is a property of the CPU and its BLAS, not of the model: ``decode_linear: auto`` times
both on decode-shaped matrices once per CPU model, thread count and torch version, remembers the verdict
(``cpu-linear.json`` in the cache directory) and uses the kernel only where it measured faster. Its
sums run in another order than MKL's, so results differ in the last bits: the engine's identity names
which one ran. Each output is one fixed-order dot product, so a row's result does not depend on the
other rows in its batch (MKL's may).
"""

from __future__ import annotations

import contextlib
import ctypes
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from generators.engines import kernels

SOURCE = Path(__file__).with_suffix(".c")
#: the kernel is chosen when its timed matmuls take at most this fraction of torch's
MARGIN = 0.85
#: weights of at least this many elements (an LM head) take up to HEAD_ROWS rows, one row included
HEAD_SIZE, HEAD_ROWS = 8_000_000, 128
#: weights of at least this many elements (attention q/o, the MLP) take 2 to LAYER_ROWS rows; one row is torch's
#: gemv, and smaller weights (k/v, 192 x 576) measured no faster in C (bench/decode_linear.py)
LAYER_SIZE, LAYER_ROWS = 300_000, 32

#: the compiled kernel, or None where this machine cannot build it (reported once)
library = kernels.Kernel(SOURCE, "r1f_linear", "decode linear kernel", "torch's matmul")


def rows_taken(out_features: int, in_features: int) -> tuple[int, int]:
    """The row counts (lowest, highest) the kernel takes for a weight of this shape; (1, 0) for none."""
    size = out_features * in_features
    if size >= HEAD_SIZE:
        return 1, HEAD_ROWS
    if size >= LAYER_SIZE:
        return 2, LAYER_ROWS
    return 1, 0


def linear(x: Any, weight: Any, bias: Any = None) -> Any:
    """``x @ weight.T + bias`` for fp32 CPU tensors (``x [..., in]``, ``weight [out, in]``), by the kernel."""
    import torch

    out_features, in_features = weight.shape
    if not (
        x.dtype == weight.dtype == torch.float32
        and weight.is_contiguous()
        and x.shape[-1] == in_features
        and (bias is None or (bias.dtype == torch.float32 and bias.shape == (out_features,) and bias.is_contiguous()))
    ):
        raise ValueError(
            f"decode linear: input {tuple(x.shape)} {x.dtype}, weight {tuple(weight.shape)} {weight.dtype} "
            "do not fit together (fp32, contiguous weight [out, in])"
        )
    rows = x.reshape(-1, in_features)
    if rows.stride(-1) != 1 or (rows.shape[0] > 1 and rows.stride(0) < in_features):
        rows = rows.contiguous()
    y = torch.empty((rows.shape[0], out_features), dtype=torch.float32, device=x.device)
    pointer, i64 = ctypes.c_void_p, ctypes.c_int64
    rc = library().r1f_linear(
        pointer(rows.data_ptr()), i64(rows.stride(0) if rows.shape[0] > 1 else in_features),
        pointer(weight.data_ptr()), pointer(bias.data_ptr()) if bias is not None else None,
        pointer(y.data_ptr()), i64(out_features), rows.shape[0], out_features, in_features, torch.get_num_threads(),
    )  # fmt: skip
    if rc != 0:
        raise ValueError(f"decode linear: shape not taken ({rows.shape[0]} rows, {out_features} x {in_features})")
    return y.reshape(*x.shape[:-1], out_features)


def _forward(module: Any, low: int, high: int) -> Any:
    import torch
    import torch.nn.functional as F

    def forward(x: Any) -> Any:
        rows = x.numel() // module.in_features if x.dim() else 0
        if low <= rows <= high and x.dtype == torch.float32 and not torch.is_grad_enabled():
            return linear(x, module.weight, module.bias)
        return F.linear(x, module.weight, module.bias)

    return forward


@contextlib.contextmanager
def dispatching(model: Any) -> Iterator[None]:
    """Route ``model``'s fp32 CPU linear layers through the kernel (for the row counts it takes) inside.

    Only around the engine's own passes, and put back after: a GRPO policy the engine generates with trains
    through torch's autograd, which the kernel has no part in."""
    import torch

    patched = []
    for module in model.modules():
        if not isinstance(module, torch.nn.Linear) or "forward" in vars(module):
            continue
        weight = module.weight
        if weight.dtype != torch.float32 or weight.device.type != "cpu" or not weight.is_contiguous():
            continue
        low, high = rows_taken(module.out_features, module.in_features)
        if high >= low:
            module.forward = _forward(module, low, high)
            patched.append(module)
    try:
        yield
    finally:
        for module in patched:
            del module.forward


def _time(threads: int, kernel: bool, rounds: int = 3) -> float:
    """Best seconds of decode-shaped fp32 matmuls (8 rows through SmolLM2-135M's MLP and LM head)."""
    import torch
    import torch.nn.functional as F

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        gen = torch.Generator().manual_seed(0)
        x = torch.randn(8, 576, generator=gen)
        up, down = torch.randn(1536, 576, generator=gen), torch.randn(576, 1536, generator=gen)
        head = torch.randn(49152, 576, generator=gen)
        mm = linear if kernel else F.linear
        best = float("inf")
        with torch.inference_mode():
            for _ in range(rounds):
                started = time.perf_counter()
                for _ in range(10):
                    mm(mm(x, up), down)
                mm(x, head)
                best = min(best, time.perf_counter() - started)
        return best
    finally:
        torch.set_num_threads(previous)


def measure(threads: int) -> dict[str, Any]:
    """Time torch's matmul and the kernel alternately; the verdict and its numbers."""
    from generators.engines.cpu import timed_ratio, verdict

    ratio = timed_ratio(lambda rounds: _time(threads, False, rounds), lambda rounds: _time(threads, True, rounds), 3)
    return verdict(threads, linear="kernel" if ratio <= MARGIN else "torch", kernel_over_torch_time=round(ratio, 3))


def pays(threads: int) -> bool:
    """Whether the kernel measured faster than torch's matmul on this CPU (measured once, then read back)."""
    from generators.engines.cpu import remembered

    if library() is None:
        return False
    verdict = remembered("cpu-linear.json", threads, measure, lambda v: v.get("linear") in ("kernel", "torch"))
    return verdict["linear"] == "kernel"
