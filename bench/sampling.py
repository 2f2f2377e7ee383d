"""Rejection sampling: scoring overlapped with generation vs generate-everything-then-score-everything.

Same engine, same settings, same problems, in one process:
  (a) generation alone (the floor),
  (b) sequential: generate all k completions, then score them all,
  (c) the ``sample`` step as shipped: each finished chunk is scored while the next one generates.
Prints wall times and the overhead of (b) and (c) over generation alone (goal for (c): <= 10 %).

    .venv/bin/python bench/sampling.py [--problems 64 --k 4 --max-new-tokens 128]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=64)
    parser.add_argument("--k", type=int, default=4)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=16, help="requests per chunk (more chunks, more overlap)")
    args = parser.parse_args()

    from filters.scoring import score_batch
    from generators import assemble
    from generators.engines.transformers_engine import TransformersEngine
    from generators.generate import generate_rows
    from generators.problems import make_problems
    from generators.sampling import SampleConfig
    from generators.steps import SampleStep
    from r1f.executor import LocalExecutor
    from r1f.store import RunStore

    problems = make_problems(args.problems, seed=7)
    config = SampleConfig(
        n_problems=args.problems, problem_seed=7, k=args.k, max_new_tokens=args.max_new_tokens, seed=1
    )
    params = config.params()
    engine = TransformersEngine(batch_size=args.batch_size)
    engine.model  # noqa: B018 - load outside the timings
    rewards = assemble.verifier("think")
    score_batch(
        [{"id": "w", "completion": "<answer>$\\frac{1}{2}$</answer>", "solution": "1/2", "lang": "en"}],
        rewards,
        "completion",
    )  # start the verifier workers outside the timings
    work = tempfile.mkdtemp(prefix="r1f-bench-")
    try:
        started = time.perf_counter()
        rows = generate_rows(problems, engine=engine, params=params, store=RunStore(f"{work}/a")).rows
        generation = time.perf_counter() - started

        started = time.perf_counter()
        rows = generate_rows(problems, engine=engine, params=params, store=RunStore(f"{work}/b")).rows
        score_batch([dict(r) for r in rows], rewards, "completion")
        sequential = time.perf_counter() - started

        started = time.perf_counter()
        step = SampleStep(config.replace(out=f"{work}/c"), engine=engine)
        counts = LocalExecutor().execute(step).data["counts"]
        overlapped = time.perf_counter() - started
    finally:
        shutil.rmtree(work, ignore_errors=True)

    samples = args.problems * args.k
    print(f"{args.problems} problems x k={args.k}, max_new_tokens={args.max_new_tokens}, chunk {args.batch_size}")
    print("| run | wall s | overhead over generation alone |")
    print("|---|---|---|")
    print(f"| generation alone | {generation:.1f} | - |")
    print(f"| generate all, then score all | {sequential:.1f} | {100 * (sequential / generation - 1):+.1f}% |")
    print(f"| r1f sample (scoring overlapped) | {overlapped:.1f} | {100 * (overlapped / generation - 1):+.1f}% |")
    print(f"\n{samples} samples, kept {counts['kept']}, mean pass rate {counts['pass_rate']}")


if __name__ == "__main__":
    main()
