"""The openai engine against a real OpenAI-compatible server on loopback, and against faults."""

import json
import time

import pytest

from generators.engines import SamplingParams, make_engine
from generators.problems import make_problems
from generators.prompts import build_prompt
from r1f.errors import EngineError
from r1f.io import read_rows
from tests.conftest import run_r1f
from tests.servers import FaultServer

SECRET = "sk-test-do-not-print-0123456789"


def test_real_server_concurrent_with_n_fallback(served, model_dir):
    engine = make_engine("openai", model_dir, {"base_url": served, "concurrency": 4, "max_retries": 1, "timeout": 120})
    prompts = [build_prompt("plain", p["problem"]) for p in make_problems(4, seed=2, languages=["en"])]
    out = engine.generate(prompts, SamplingParams(n=2, temperature=0.8, max_new_tokens=12, seed=3))
    assert [len(samples) for samples in out] == [2, 2, 2, 2]
    assert all(c.text.strip() for samples in out for c in samples)
    # transformers serve ignores n: the engine noticed and asked one sample at a time
    assert all(c.completion_tokens and 0 < c.completion_tokens <= 12 for s in out for c in s)
    assert all(c.finish_reason in ("stop", "length") for s in out for c in s)


def test_cli_against_real_server_never_prints_the_key(served, model_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("MY_ENDPOINT_KEY", SECRET)
    out = tmp_path / "remote"
    result = run_r1f(
        "generate",
        "--engine",
        "openai",
        "--base-url",
        served,
        "--model",
        model_dir,
        "--api-key-env",
        "MY_ENDPOINT_KEY",
        "--n-problems",
        "3",
        "--max-new-tokens",
        "12",
        "--concurrency",
        "3",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    rows = read_rows(out)
    assert len(rows) == 3 and all(r["completion"].strip() and r["engine"] == "openai" for r in rows)
    for text in (result.stdout, result.stderr, (out / "manifest.json").read_text()):
        assert SECRET not in text


def test_retries_429_and_500_then_succeeds():
    with FaultServer([429, 500, 503]) as server:
        engine = make_engine(
            "openai", "m", {"base_url": server.url, "max_retries": 4, "backoff": 0.01, "api_key_env": "R1F_TEST_KEY"}
        )
        out = engine.generate([[{"role": "user", "content": "2+2?"}]], SamplingParams(max_new_tokens=8))
    assert out[0][0].text == "<answer>4</answer>" and out[0][0].completion_tokens == 5
    assert len(server.requests) == 4


def test_sends_the_key_from_the_named_variable(monkeypatch):
    monkeypatch.setenv("R1F_TEST_KEY", SECRET)
    with FaultServer([]) as server:
        engine = make_engine("openai", "m", {"base_url": server.url, "api_key_env": "R1F_TEST_KEY"})
        engine.generate([[{"role": "user", "content": "hi"}]], SamplingParams(max_new_tokens=4))
    assert server.requests[0]["auth"] == f"Bearer {SECRET}"
    assert server.requests[0]["body"]["max_tokens"] == 4


def test_server_that_never_answers_gives_a_clear_error():
    with FaultServer(["hang", "hang"]) as server:
        engine = make_engine("openai", "m", {"base_url": server.url, "timeout": 0.5, "max_retries": 1, "backoff": 0.01})
        started = time.time()
        with pytest.raises(EngineError, match=r"failed after 2 attempts.*timeout"):
            engine.generate([[{"role": "user", "content": "hi"}]], SamplingParams(max_new_tokens=4))
    assert time.time() - started < 10


def test_cli_reports_a_dead_endpoint_in_one_line_and_keeps_finished_rows(tmp_path):
    # first run: a healthy server finishes 2 problems; second run asks for 3 against a dead port
    out = tmp_path / "ds"
    with FaultServer([]) as server:
        ok = run_r1f(
            "generate",
            "--engine",
            "openai",
            "--base-url",
            server.url,
            "--model",
            "m",
            "--n-problems",
            "2",
            "--out",
            str(out),
            "--batch-size",
            "1",
        )
        assert ok.returncode == 0, ok.stderr
    dead = run_r1f(
        "generate",
        "--engine",
        "openai",
        "--base-url",
        server.url,
        "--model",
        "m",
        "--n-problems",
        "3",
        "--out",
        str(out),
        "--batch-size",
        "1",
        "--max-retries",
        "0",
        "--timeout",
        "2",
    )
    assert dead.returncode == 1
    assert dead.stderr.strip().startswith("error: ") and len(dead.stderr.strip().splitlines()) == 1
    assert len(read_rows(out)) == 2  # the earlier dataset is intact
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["rows"] == 2
