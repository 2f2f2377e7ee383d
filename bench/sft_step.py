"""SFT step time on CPU: TRL's defaults against the settings the factory's SFT recipes could use.

The data -> models bench spends most of its time in SFT (a 300-step cold start was 32 minutes at
6.4 s per 4-row step), so a cheaper step decides whether that bench fits its budget. Each arm trains
the embedded model for the same steps on the same rows in this one process and reports seconds per
step after a warm-up, the first loss (the same batch from the same weights: equal when a setting only
changes how the step is computed), the final loss (to show the arm still learns the same thing), and the ratio to
TRL's default (fp32, gradient checkpointing on).

    .venv/bin/python bench/sft_step.py [--dataset DIR] [--steps 8] [--rows 400] [--malloc both]

``--malloc both`` runs the arms twice, each time in a fresh process (the allocator's settings hold for a whole
process): with the C library's defaults and with freed memory kept in the heap (``r1f/heap.py``, what the CLI does).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ARMS = {
    # TRL 1.x as it comes: gradient checkpointing on, fp32 on this CPU, every position through the LM head
    "trl-default": {"gradient_checkpointing": True, "compact_head": False},
    "no-checkpointing": {"gradient_checkpointing": False, "compact_head": False},
    # as the factory's SFT recipes ship: no checkpointing, only labelled positions through the LM head
    "shipped": {"gradient_checkpointing": False},
    # batches of rows of similar length (transformers' LengthGroupedSampler): less padding, other batches
    "shipped-grouped": {"gradient_checkpointing": False, "train_sampling_strategy": "group_by_length"},
    # one flattened sequence per step, no padding; transformers masks across rows from position_ids
    "padding-free": {"gradient_checkpointing": False, "padding_free": True, "max_length": None},
    # CPU bf16 autocast: only where the CPU has bf16 instructions (emulated, it is many times slower)
    "no-checkpointing-bf16": {"gradient_checkpointing": False, "compact_head": False, "bf16": True},
    "shipped-bf16": {"gradient_checkpointing": False, "bf16": True},
    # more rows per step: larger matrices, fewer optimizer steps per epoch
    "shipped-batch8": {"gradient_checkpointing": False, "per_device_train_batch_size": 8},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default=None, help="an SFT dataset (default: worked cold-start rows made here)")
    parser.add_argument("--steps", type=int, default=8, help="timed steps per arm (after one warm-up step)")
    parser.add_argument("--rows", type=int, default=400, help="worked rows to make when no --dataset is given")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--arms",
        default="trl-default,no-checkpointing,shipped,shipped-grouped",
        help=f"comma-separated, of: {', '.join(ARMS)}",
    )
    parser.add_argument(
        "--malloc",
        choices=("reuse", "system", "both"),
        default="reuse",
        help="large allocations: kept in the heap as the CLI does (reuse), the C library's defaults (system), "
        "or each in its own process and compared (both)",
    )
    args = parser.parse_args()
    if args.malloc == "both":
        compare_malloc(args)
        return
    if args.malloc == "reuse":
        from r1f.heap import reuse_freed_memory

        if not reuse_freed_memory():
            raise SystemExit("freed memory cannot be kept in the heap here (no glibc)")

    import torch

    torch.set_num_threads(args.threads)
    from training.config import SFTTrainConfig
    from training.sft import run_sft

    work = tempfile.mkdtemp(prefix="r1f-sft-step-")
    dataset = args.dataset
    if dataset is None:
        from generators.coldstart import ColdStartConfig
        from generators.steps import ColdStartStep
        from r1f.executor import LocalExecutor

        dataset = f"{work}/worked"
        config = ColdStartConfig.from_mapping(
            {"method": "worked", "n_problems": args.rows, "format": "think", "out": dataset}
        )
        LocalExecutor().execute(ColdStartStep(config))

    class Clock:
        """Called by the SFT stage at the end of each step: the gaps between calls are step times, so the
        first step (allocation, warm-up) can be left out."""

        def __init__(self) -> None:
            self.marks = [time.perf_counter()]

        def __call__(self, done: int, total: int, label: str = "") -> None:
            self.marks.append(time.perf_counter())

        def times(self) -> list[float]:
            return [b - a for a, b in zip(self.marks, self.marks[1:])]

    results = {}
    for name in args.arms.split(","):
        clock = Clock()
        config = SFTTrainConfig.from_mapping(
            {
                "recipe": "sft-cold-start-smollm2",
                "dataset": dataset,
                "max_steps": args.steps + 1,
                "learning_rate": 1e-4,
                "save_strategy": "no",
                "output_dir": f"{work}/{name}",
                **ARMS[name],
            }
        )
        clock.marks = [time.perf_counter()]
        summary = run_sft(config, clock)
        timed = clock.times()[1:]
        batch = ARMS[name].get("per_device_train_batch_size", config.trl["per_device_train_batch_size"])
        results[name] = (sum(timed) / len(timed), summary["losses"][-1], batch, summary["losses"][0])
        print(f"{name}: {results[name][0]:.2f} s/step, last loss {results[name][1]:.3f}", flush=True)
    print("RESULTS " + json.dumps(results))

    base = results.get("trl-default", next(iter(results.values())))[0]
    print()
    print(f"CPU: {_cpu()}; load average {open('/proc/loadavg').read().split()[:3]}; threads {args.threads}")
    base_rows = results.get("trl-default", next(iter(results.values())))
    base = base_rows[0] / base_rows[2]
    print("| arm | rows / step | s / step | rows / s | vs TRL default (per row) | first loss | last loss |")
    print("|---|---|---|---|---|---|---|")
    for name, (seconds, loss, batch, first) in results.items():
        ratio = base / (seconds / batch)
        print(f"| {name} | {batch} | {seconds:.2f} | {batch / seconds:.2f} | {ratio:.2f}x | {first:.4f} | {loss:.3f} |")


def compare_malloc(args: argparse.Namespace) -> None:
    """The same arms under the C library's allocator defaults and with freed memory kept, one process each."""
    argv = [sys.executable, __file__, "--steps", str(args.steps), "--rows", str(args.rows), "--arms", args.arms]
    argv += ["--threads", str(args.threads)] + (["--dataset", args.dataset] if args.dataset else [])
    runs = {}
    for malloc in ("system", "reuse"):
        out = subprocess.run([*argv, "--malloc", malloc], capture_output=True, text=True, check=True).stdout
        runs[malloc] = json.loads(
            next(line.removeprefix("RESULTS ") for line in out.splitlines() if line.startswith("RESULTS "))
        )
    print(f"CPU: {_cpu()}; load average {open('/proc/loadavg').read().split()[:3]}; threads {args.threads}")
    print("| arm | s / step, system malloc | s / step, freed memory kept | speed-up | first loss | last loss (each) |")
    print("|---|---|---|---|---|---|")
    for name, (system, last, _, first) in runs["system"].items():
        reuse, last_reuse = runs["reuse"][name][0], runs["reuse"][name][1]
        ratio = system / reuse
        print(f"| {name} | {system:.2f} | {reuse:.2f} | {ratio:.2f}x | {first:.4f} | {last:.4f} / {last_reuse:.4f} |")


def _cpu() -> str:
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


if __name__ == "__main__":
    main()
