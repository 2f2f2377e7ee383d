"""The C decode-attention kernel: the same attention as SDPA (checked against float64), deterministic, and
the engine's greedy output unchanged by it in fp32; a machine that cannot compile it falls back to SDPA."""

import json
import os
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from generators.engines import SamplingParams, decode_attention
from generators.problems import make_problems
from generators.prompts import build_prompt
from r1f.errors import ConfigError
from tests.conftest import engine_like


def _slots(rows, heads, kv_heads, dim, dtype, seed=0):
    """A slot cache as the engine holds it (more slots and capacity than in use: strided views)."""
    gen = torch.Generator().manual_seed(seed)
    keys = torch.randn(rows + 2, kv_heads, 48, dim, generator=gen).to(dtype)
    values = torch.randn(rows + 2, kv_heads, 48, dim, generator=gen).to(dtype)
    lengths = torch.randint(0, 40, (rows,), generator=gen)
    lengths[0] = 39  # one row at the width, the others shorter
    width = int(lengths.max()) + 1
    query = torch.randn(rows, heads, 1, dim, generator=gen).to(dtype)
    return query, keys[:rows, :, :width], values[:rows, :, :width], lengths


def _reference(query, keys, values, lengths, dtype):
    rows, heads, _, dim = query.shape
    group = heads // keys.shape[1]
    k = keys.to(dtype).repeat_interleave(group, dim=1)
    v = values.to(dtype).repeat_interleave(group, dim=1)
    hidden = torch.arange(keys.shape[2])[None, :] > lengths[:, None]
    mask = torch.zeros(hidden.shape, dtype=dtype).masked_fill_(hidden, float("-inf"))[:, None, None, :]
    out = F.scaled_dot_product_attention(query.to(dtype), k, v, attn_mask=mask, scale=dim**-0.5)
    return out.transpose(1, 2)  # [rows, 1, heads, dim], as the kernel returns


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
@pytest.mark.parametrize(("heads", "kv_heads", "dim"), [(9, 3, 64), (4, 4, 64), (6, 2, 40)])
def test_the_kernel_is_attention_over_each_rows_own_length(dtype, heads, kv_heads, dim):
    assert decode_attention.library() is not None, "no C compiler: `make install` installs gcc"
    query, keys, values, lengths = _slots(7, heads, kv_heads, dim, dtype)
    ours = decode_attention.attend(query, keys, values, lengths, dim**-0.5)
    exact = _reference(query, keys, values, lengths, torch.float64)
    sdpa = _reference(query, keys, values, lengths, dtype)
    assert ours.shape == (7, 1, heads, dim) and ours.dtype == dtype
    error = (ours.double() - exact).abs().max().item()
    sdpa_error = (sdpa.double() - exact).abs().max().item()
    # no worse than torch's own kernel in the same dtype (bf16's output rounding alone is ~4e-3 here)
    assert error <= max(1.5 * sdpa_error, 1e-6), (error, sdpa_error)


def test_the_kernel_is_deterministic_across_threads_and_batch_company():
    query, keys, values, lengths = _slots(9, 9, 3, 64, torch.bfloat16, seed=3)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = decode_attention.attend(query, keys, values, lengths, 0.125)
        torch.set_num_threads(2)
        two = decode_attention.attend(query, keys, values, lengths, 0.125)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(one, two)
    # a row's result does not depend on which rows share the step (resume and rows joining rely on it)
    alone = decode_attention.attend(query[4:5], keys[4:5], values[4:5], lengths[4:5], 0.125)
    assert torch.equal(alone, one[4:5])


def test_engine_greedy_output_is_the_same_with_the_kernel_and_with_sdpa_in_fp32(engine):
    prompts = [build_prompt("plain", p["problem"]) for p in make_problems(6, seed=11, languages=["en", "zh"])]
    params = SamplingParams(max_new_tokens=24)
    assert engine.identity()["attention"] == "kernel"
    ours = engine.generate(prompts, params)
    assert engine.model.config._attn_implementation == "sdpa"  # put back after the decode steps
    sdpa = engine_like(engine, decode_attention="sdpa")
    assert sdpa.identity()["attention"] == "sdpa"  # rows of the two never share a resumed run
    assert [c[0].text for c in sdpa.generate(prompts, params)] == [c[0].text for c in ours]


def test_an_unknown_decode_attention_is_refused():
    from generators.engines.transformers_engine import TransformersEngine

    with pytest.raises(ConfigError, match="decode_attention must be auto or sdpa"):
        TransformersEngine(decode_attention="flash")


def test_without_a_working_compiler_the_engine_uses_sdpa_and_torchs_matmul_and_says_so(model_dir):
    # a real broken compiler (`false` exits 1), in a fresh process so this one keeps its compiled kernel
    script = (
        "import json, logging\n"
        "logging.basicConfig(level=logging.WARNING)\n"
        "from generators.engines.transformers_engine import TransformersEngine\n"
        "e = TransformersEngine(dtype='float32')\n"
        "print(json.dumps(e.identity()))\n"
    )
    env = {**os.environ, "CC": "false"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [os.getcwd(), env.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    identity = json.loads(done.stdout.strip().splitlines()[-1])
    assert identity["attention"] == "sdpa" and identity["linear"] == "torch"
    assert "decode attention kernel unavailable" in done.stderr and "torch SDPA" in done.stderr
    assert "decode linear kernel unavailable" in done.stderr and "torch's matmul" in done.stderr


def test_lengths_past_the_cached_width_are_refused_before_the_c_side_reads():
    query, keys, values, lengths = _slots(3, 9, 3, 64, torch.float32)
    lengths[1] = keys.shape[2]  # one past the last cached position
    with pytest.raises(ValueError, match="do not fit together"):
        decode_attention.attend(query, keys, values, lengths, 0.125)
