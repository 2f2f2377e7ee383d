"""Decode-step attention over the engine's KV slots, in C, for CPUs.

With the slot cache in place, a decode step at 128 rows still spent about 30 % of its time in
attention: torch's CPU SDPA kernel reads every row up to the batch's longest and, on a GQA group of
three query heads, streams the bf16 cache at ~6 GB/s where this class of machine does 22-33 GB/s
(bench/RESULTS.md). ``decode_attention.c`` reads each row only up to its own length and lets the
query heads of a group share every key and value it loads: 3x SDPA's speed on the engine's shapes.

The source is compiled on first use for this CPU (``generators/engines/kernels.py``). Where no
compiler works the engine keeps SDPA and says so once; ``decode_attention: sdpa`` asks for SDPA outright.
The two differ in float rounding, so the engine's identity names which one ran (rows of the two never mix
in one resumed run).
"""

from __future__ import annotations

import contextlib
import ctypes
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from generators.engines import kernels

SOURCE = Path(__file__).with_suffix(".c")
#: the name the engine registers the attention function under in transformers' AttentionInterface
NAME = "r1f_slots"
#: what the C side takes (query heads per KV head, head dim)
MAX_GROUP, MAX_DIM = 16, 256

#: the compiled kernel, or None where this machine cannot build it (reported once)
library = kernels.Kernel(SOURCE, "r1f_decode_attention", "decode attention kernel", "torch SDPA")


def supports(config: Any, dtype: Any, device: Any) -> bool:
    """Whether the kernel takes this model's decode steps (and compiles here)."""
    import torch

    heads = int(config.num_attention_heads)
    kv_heads = int(getattr(config, "num_key_value_heads", None) or heads)
    head_dim = int(getattr(config, "head_dim", None) or config.hidden_size // heads)
    return (
        torch.device(device).type == "cpu"
        and dtype in (torch.float32, torch.bfloat16)
        and heads % kv_heads == 0
        and heads // kv_heads <= MAX_GROUP
        and head_dim <= MAX_DIM
        and library() is not None
    )


def attend(query: Any, key: Any, value: Any, lengths: Any, scaling: float) -> Any:
    """Attention of one new token per row: ``query [rows, heads, 1, dim]`` over ``key``/``value``
    ``[rows, kv heads, >= max(lengths) + 1, dim]`` (last dim contiguous), row ``b`` seeing positions
    ``[0, lengths[b]]``. Returns ``[rows, 1, heads, dim]``, the layout transformers' attention returns."""
    import torch

    rows, heads, _, dim = query.shape
    lengths = lengths.to(torch.int64).contiguous()
    # the C side trusts these: a length past the keys' width would read out of bounds
    if not (
        key.dtype == value.dtype == query.dtype
        and key.shape[:2] == value.shape[:2] == (rows, key.shape[1])
        and key.shape[3] == value.shape[3] == dim
        and key.stride(3) == value.stride(3) == query.stride(3) == 1
        and lengths.shape == (rows,)
        and (rows == 0 or (0 <= int(lengths.min()) and int(lengths.max()) < min(key.shape[2], value.shape[2])))
    ):
        raise ValueError(
            f"decode attention: query {tuple(query.shape)}, keys {tuple(key.shape)}, values {tuple(value.shape)} "
            f"and lengths {tuple(lengths.shape)} do not fit together"
        )
    out = torch.empty((rows, 1, heads, dim), dtype=query.dtype, device=query.device)
    strides = (ctypes.c_int64 * 10)(
        query.stride(0), query.stride(1), key.stride(0), key.stride(1), key.stride(2),
        value.stride(0), value.stride(1), value.stride(2), out.stride(0), out.stride(2),
    )  # fmt: skip
    pointer = ctypes.c_void_p
    rc = library().r1f_decode_attention(
        pointer(query.data_ptr()), pointer(key.data_ptr()), pointer(value.data_ptr()),
        pointer(lengths.data_ptr()), pointer(out.data_ptr()),
        rows, heads, key.shape[1], dim, int(query.dtype == torch.bfloat16), strides,
        ctypes.c_float(scaling), torch.get_num_threads(),
    )  # fmt: skip
    if rc == -2:
        raise MemoryError("decode attention: out of memory for the score buffers")
    if rc != 0:
        raise ValueError(f"decode attention: shape not taken (heads {heads}, kv heads {key.shape[1]}, dim {dim})")
    return out


def attention_function(
    module: Any,
    query: Any,
    key: Any,
    value: Any,
    attention_mask: Any,
    scaling: float | None = None,
    dropout: float = 0.0,
    r1f_lengths: Any = None,
    **kwargs: Any,
) -> tuple[Any, None]:
    """transformers' attention-function signature; the engine passes each row's cached length as
    ``r1f_lengths`` on decode steps (anything else goes to SDPA, which the mask then serves)."""
    if r1f_lengths is None or query.shape[2] != 1 or key.stride(-1) != 1 or value.stride(-1) != 1:
        from transformers.integrations.sdpa_attention import sdpa_attention_forward

        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout, scaling, **kwargs)
    scale = scaling if scaling is not None else query.shape[-1] ** -0.5
    return attend(query.contiguous(), key, value, r1f_lengths, scale), None


def register() -> None:
    """Make ``NAME`` an attention implementation transformers can dispatch to (idempotent)."""
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask

    AttentionInterface.register(NAME, attention_function)
    ALL_MASK_ATTENTION_FUNCTIONS.register(NAME, sdpa_mask)


@contextlib.contextmanager
def dispatching(model: Any) -> Iterator[None]:
    """Route ``model``'s attention through :func:`attention_function` for the forward passes inside.

    Only around the engine's decode steps, and put back after: a GRPO policy the engine generates with
    trains with its own implementation, and a saved config never names ours."""
    register()
    config = model.config
    before = config._attn_implementation
    config._attn_implementation = NAME
    try:
        yield
    finally:
        config._attn_implementation = before
