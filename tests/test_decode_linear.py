"""The C decode-linear kernel: the same product as torch's (checked against float64), deterministic, used only
inside the engine's passes and for the row counts it takes, the engine's greedy output unchanged by it in fp32,
and ``decode_linear: auto`` measured once per CPU and read back."""

import json
import os
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from generators.engines import SamplingParams, decode_linear
from generators.problems import make_problems
from generators.prompts import build_prompt
from r1f.errors import ConfigError
from tests.conftest import engine_like


def _weights(out_features, in_features, rows, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(rows, in_features, generator=gen)
    weight = torch.randn(out_features, in_features, generator=gen) / in_features**0.5
    bias = torch.randn(out_features, generator=gen)
    return x, weight, bias


@pytest.mark.parametrize("rows", [1, 2, 3, 5, 6, 7, 13, 64])
@pytest.mark.parametrize(("out_features", "in_features"), [(192, 576), (1536, 576), (577, 203), (3, 9)])
def test_the_kernel_is_the_linear_product(rows, out_features, in_features):
    assert decode_linear.library() is not None, "no C compiler: `make install` installs gcc"
    x, weight, bias = _weights(out_features, in_features, rows)
    for b in (None, bias):
        ours = decode_linear.linear(x, weight, b)
        exact = F.linear(x.double(), weight.double(), None if b is None else b.double())
        theirs = F.linear(x, weight, b)
        assert ours.shape == (rows, out_features) and ours.dtype == torch.float32
        error = (ours.double() - exact).abs().max().item()
        torch_error = (theirs.double() - exact).abs().max().item()
        assert error <= max(1.5 * torch_error, 1e-6), (error, torch_error)  # no worse than torch in fp32


def test_the_kernel_takes_any_leading_shape_and_strided_rows():
    x, weight, bias = _weights(96, 64, 12, seed=1)
    batched = x.reshape(3, 4, 64)
    assert torch.equal(
        decode_linear.linear(batched, weight, bias), decode_linear.linear(x, weight, bias).reshape(3, 4, 96)
    )
    wide = torch.cat([x, x], dim=1)[:, :64]  # rows 128 floats apart
    assert torch.equal(decode_linear.linear(wide, weight, bias), decode_linear.linear(x, weight, bias))
    with pytest.raises(ValueError, match="do not fit together"):
        decode_linear.linear(x.double(), weight.double())


def test_the_kernel_is_deterministic_across_threads_and_batch_company():
    x, weight, bias = _weights(1536, 576, 11, seed=3)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = decode_linear.linear(x, weight, bias)
        torch.set_num_threads(2)
        two = decode_linear.linear(x, weight, bias)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(one, two)
    # a row's result does not depend on which rows share the step (resume and rows joining rely on it)
    for r in (0, 4, 10):
        assert torch.equal(decode_linear.linear(x[r : r + 1], weight, bias), one[r : r + 1])


def test_dispatching_routes_only_thin_inference_matmuls_and_puts_everything_back(monkeypatch):
    model = torch.nn.Sequential(torch.nn.Linear(576, 1536), torch.nn.Linear(1536, 49152, bias=False))
    model.append(torch.nn.Linear(8, 8))  # too small to pay: stays with torch
    calls = []
    real = decode_linear.linear

    def counting(x, weight, bias=None):
        calls.append((x.numel() // weight.shape[1], weight.shape[0]))
        return real(x, weight, bias)

    monkeypatch.setattr(decode_linear, "linear", counting)  # a spy around the real kernel: which calls reach it
    with decode_linear.dispatching(model), torch.inference_mode():
        for rows in (1, 4, 200):
            x = torch.randn(rows, 576)
            assert torch.allclose(
                model[1](model[0](x)),
                F.linear(F.linear(x, model[0].weight, model[0].bias), model[1].weight),
                atol=1e-3,
            )
        model[2](torch.randn(4, 8))
    with decode_linear.dispatching(model):
        out = model[0](torch.randn(4, 576, requires_grad=True))  # training: autograd needs torch's own op
        assert out.grad_fn is not None
    # 1 row: only the head (an MLP's single row is torch's gemv); 4 rows: both; 200 rows: neither
    assert calls == [(1, 49152), (4, 1536), (4, 49152)]
    assert all("forward" not in vars(m) for m in model)


def test_engine_greedy_output_is_the_same_with_the_kernel_and_with_torch_in_fp32(engine):
    prompts = [build_prompt("plain", p["problem"]) for p in make_problems(6, seed=11, languages=["en", "zh"])]
    params = SamplingParams(max_new_tokens=24)
    kernel = engine_like(engine, decode_linear="kernel")
    assert kernel.identity()["linear"] == "kernel"
    ours = kernel.generate(prompts, params)
    assert all("forward" not in vars(m) for m in engine.model.modules())  # put back after the passes
    torch_engine = engine_like(engine, decode_linear="torch")
    assert torch_engine.identity()["linear"] == "torch"  # rows of the two never share a resumed run
    assert [c[0].text for c in torch_engine.generate(prompts, params)] == [c[0].text for c in ours]


def test_an_unknown_decode_linear_is_refused_and_bf16_never_takes_the_kernel():
    from generators.engines.transformers_engine import TransformersEngine

    with pytest.raises(ConfigError, match="decode_linear must be auto, kernel or torch"):
        TransformersEngine(decode_linear="blas")
    assert not TransformersEngine(dtype="bfloat16", decode_linear="kernel").linear_kernel()


def test_auto_measures_once_per_cpu_and_reads_the_verdict_back(tmp_path):
    env = {**os.environ, "R1F_CACHE_DIR": str(tmp_path)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [os.getcwd(), env.get("PYTHONPATH")]))
    code = (
        "import sys, time; from generators.engines import decode_linear; t = time.time(); "
        "print(decode_linear.pays(2), round(time.time() - t, 2))"
    )
    first = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    pays, _ = first.stdout.split()
    (verdict,) = json.loads((tmp_path / "cpu-linear.json").read_text()).values()
    assert verdict["linear"] == ("kernel" if pays == "True" else "torch") and verdict["threads"] == 2
    assert 0 < verdict["kernel_over_torch_time"] < 10
    stored = json.loads((tmp_path / "cpu-linear.json").read_text())
    flipped = "torch" if pays == "True" else "kernel"
    (tmp_path / "cpu-linear.json").write_text(json.dumps({k: {**v, "linear": flipped} for k, v in stored.items()}))
    again = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    pays_again, seconds = again.stdout.split()
    assert pays_again == str(flipped == "kernel") and float(seconds) < 1.0  # read back, not measured again
