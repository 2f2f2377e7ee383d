"""GRPO step time: TRL's own generation vs the factory rollout, same recipe, same machine, one process.

Recipe ``r1-zero-smollm2`` (a step: 4 completions of one ~320-token prompt, 96 new tokens, fp32). Each arm
trains from the base model for ``--steps`` steps; the first step (warm-up: allocations, kernel choice)
is left out of the per-step time, a mean (so an arm that generates every few steps is counted fairly).
Rewards logged by TRL are printed per arm so a faster arm that learns something else would show.
Peak RSS per arm via VmHWM (r1f/memory.py).

    .venv/bin/python bench/grpo_step.py [--steps 6]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the r1f CLI sets it, before torch loads


#: arms: label -> settings over the recipe (the first is the baseline the others are compared with)
ARMS = {
    "trl": {"rollout": "trl", "shared_prompt": False},  # TRL as it comes: its generate, gradient checkpointing
    "factory": {},  # as shipped: factory rollout, shared prompt pass in the loss (gradient checkpointing off)
    "factory-unshared": {"rollout": "factory", "shared_prompt": False},  # the previous default
    "factory-fp32": {"rollout_dtype": "float32"},
    "factory-bf16train": {"bf16": True},
    "factory-nogc": {"shared_prompt": False, "gradient_checkpointing": False},
    "trl-nogc": {"rollout": "trl", "shared_prompt": False, "gradient_checkpointing": False},
    "trl-shared": {"rollout": "trl"},
    # one generation serves 4 optimizer steps (TRL's steps_per_generation): off-policy for 3 of them
    "factory-bf16train-spg4": {"bf16": True, "steps_per_generation": 4},
}


def run_arm(label: str, steps: int, work: str) -> dict:
    from r1f.memory import peak_mb, reset_peak
    from training.config import GRPOTrainConfig
    from training.grpo import run_grpo

    stamps: list[float] = []

    def progress(done: int, total: int, text: str = "") -> None:
        stamps.append(time.time())

    reset_peak()
    started = time.time()
    summary = run_grpo(
        GRPOTrainConfig.from_mapping(
            {
                "recipe": "r1-zero-smollm2",
                "max_steps": steps,
                "save_strategy": "no",
                **ARMS[label],
                "output_dir": f"{work}/{label}",
            }
        ),
        progress=progress,
    )
    per_step = [b - a for a, b in zip(stamps, stamps[1:])]
    logs = [e for e in summary["log_history"] if "reward" in e]
    return {
        "arm": label,
        "seconds": time.time() - started,
        "step_s": statistics.mean(per_step) if per_step else float("nan"),
        "first_step_s": stamps[0] - started if stamps else float("nan"),
        "reward": statistics.mean(e["reward"] for e in logs),
        "format": statistics.mean(e.get("rewards/format/mean", float("nan")) for e in logs),
        "length": statistics.mean(e.get("completions/mean_length", float("nan")) for e in logs),
        "peak_mb": peak_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--work", default=None)
    parser.add_argument("--arms", default="trl,factory", help=f"comma-separated, from: {', '.join(ARMS)}")
    args = parser.parse_args()
    work = args.work or tempfile.mkdtemp(prefix="r1f-grpo-step-")
    with open("/proc/loadavg") as f:
        print("load before:", f.read().strip())
    arms = [run_arm(label, args.steps, work) for label in args.arms.split(",")]
    with open("/proc/loadavg") as f:
        print("load after:", f.read().strip())
    base = arms[0]["step_s"]
    print(
        "| arm | settings | mean step s (steps 2..N) | vs first arm | first step s | mean reward | format reward "
        "| mean length | peak RSS MB |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for arm in arms:
        print(
            f"| {arm['arm']} | {ARMS[arm['arm']]} | {arm['step_s']:.2f} | {base / arm['step_s']:.2f}x | "
            f"{arm['first_step_s']:.1f} | "
            f"{arm['reward']:.3f} | {arm['format']:.3f} | {arm['length']:.1f} | {arm['peak_mb']} |"
        )


if __name__ == "__main__":
    main()
