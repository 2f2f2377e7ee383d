"""Decode linear layers: torch's matmul (MKL) against the factory's C kernel, on thin matrices and end to end.

A decode step multiplies a few rows by every weight matrix, and on AMD CPUs MKL's sgemm takes a slow path for
thin matrices. Part 1 times one fp32 ``x @ W.T`` per shape and row count, cycling through enough copies of
the weight that each call reads it from memory as a decode step does (a warm, cached weight flatters
both). Part 2 runs the transformers engine on the same prompts with ``decode_linear: torch`` and ``kernel``,
alternately, and reports tokens per second and whether the completions are the same.

    .venv/bin/python bench/decode_linear.py [--threads 2] [--rows 1,4,10,32,64,128] [--prompts 10,32]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the r1f CLI sets it, before torch loads

#: SmolLM2-135M's linear layers: q/o, k/v, MLP up/gate, MLP down, LM head
SHAPES = [(576, 576), (192, 576), (1536, 576), (576, 1536), (49152, 576)]


def matmuls(rows: list[int]) -> None:
    import torch
    import torch.nn.functional as F

    from generators.engines import decode_linear

    print("| weight (out x in) | rows | torch (MKL) | kernel | ratio | taken by the engine |")
    print("|---|---|---|---|---|---|")
    for out_features, in_features in SHAPES:
        copies = [
            torch.randn(out_features, in_features)
            for _ in range(max(3, 120_000_000 // (out_features * in_features * 4)))
        ]
        low, high = decode_linear.rows_taken(out_features, in_features)
        for n in rows:
            x = torch.randn(n, in_features)
            best = {}
            for name, fn in (("torch", F.linear), ("kernel", decode_linear.linear)):
                best[name] = float("inf")
                for w in copies[:2]:
                    fn(x, w)
            for _ in range(3):  # alternate, so load from other work hits both alike
                for name, fn in (("torch", F.linear), ("kernel", decode_linear.linear)):
                    started = time.perf_counter()
                    for w in copies:
                        fn(x, w)
                    best[name] = min(best[name], (time.perf_counter() - started) / len(copies))
            taken = "yes" if low <= n <= high else "no"
            theirs, ours = best["torch"] * 1e6, best["kernel"] * 1e6
            print(
                f"| {out_features} x {in_features} | {n} | {theirs:.0f} us | {ours:.0f} us | **{theirs / ours:.2f}x** "
                f"| {taken} |",
                flush=True,
            )


def engine_runs(prompt_counts: list[int], max_new_tokens: int) -> None:
    from generators.engines import SamplingParams, make_engine
    from generators.problems import heldout_problems

    problems = heldout_problems()
    print("\n| prompts | sampling | decode_linear | new tokens | seconds | tok/s | vs torch | same completions |")
    print("|---|---|---|---|---|---|---|---|")
    for count in prompt_counts:
        prompts = [[{"role": "user", "content": p["problem"]}] for p in problems[:count]]
        for label, params in (
            ("greedy", SamplingParams(max_new_tokens=max_new_tokens)),
            ("k=4, T=0.7", SamplingParams(n=4, temperature=0.7, top_p=0.95, max_new_tokens=max_new_tokens, seed=0)),
        ):
            runs: dict[str, list[float]] = {"torch": [], "kernel": []}
            texts: dict[str, list[str]] = {}
            tokens = 0
            for choice in ("torch", "kernel", "torch", "kernel"):
                engine = make_engine("transformers", "smollm2-135m", {"dtype": "float32", "decode_linear": choice})
                engine.generate(prompts[:2], SamplingParams(max_new_tokens=4))  # load and warm up
                started = time.perf_counter()
                out = engine.generate(prompts, params)
                runs[choice].append(time.perf_counter() - started)
                tokens = sum(c.completion_tokens for cs in out for c in cs)
                texts[choice] = [c.text for cs in out for c in cs]
                engine.close()
            same = sum(a == b for a, b in zip(texts["torch"], texts["kernel"]))
            base = min(runs["torch"])
            for choice in ("torch", "kernel"):
                seconds = min(runs[choice])
                print(
                    f"| {count} | {label} | {choice} | {tokens} | {seconds:.1f} | {tokens / seconds:.1f} "
                    f"| {base / seconds:.2f}x | {same} of {len(texts['torch'])} |",
                    flush=True,
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rows", default="1,4,10,32,64,128", help="row counts for the matmul table")
    parser.add_argument("--prompts", default="10,32", help="prompt counts for the engine runs ('' skips them)")
    parser.add_argument("--max-new-tokens", type=int, default=96)
    args = parser.parse_args()

    import torch

    from generators.engines.cpu import cpu_name

    torch.set_num_threads(args.threads)
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    print(f"CPU: {cpu_name()}, {args.threads} threads, torch {torch.__version__}; load average before: {load}\n")
    matmuls([int(r) for r in args.rows.split(",")])
    if args.prompts:
        engine_runs([int(p) for p in args.prompts.split(",")], args.max_new_tokens)
    with open("/proc/loadavg") as f:
        print(f"\nload average after: {' '.join(f.read().split()[:3])}")


if __name__ == "__main__":
    main()
