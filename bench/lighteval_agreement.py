"""Our answer extraction and scoring vs lighteval's documented math extraction, on the same outputs.

lighteval scores math benchmarks by extracting the prediction with math-verify's ``parse`` under its extraction
configs (LaTeX first with ``\\boxed{}`` given priority, then plain expressions/numbers) and comparing it to the
parsed gold with ``verify``. That is re-done here through math-verify's public API (not lighteval's code), and
both verdicts are computed for every output of three kinds:

- **model**: what ``r1f eval --benchmark`` generated (greedy completions saved under ``OUT/<benchmark>/greedy``);
- **worked, own gold**: each benchmark item's real worked solution scored against its own gold (all right);
- **worked, other gold**: the same solution against the next item's gold (right only where the golds agree).

Prints agreement and each direction of disagreement per kind and benchmark, with examples to read.

    R1F_DATA_DIR=../shared/data .venv/bin/python -m r1f eval smollm2-135m --benchmark gsm8k,math500 \\
        --n-problems 60 --k 1 --max-new-tokens 160 --out /tmp/bench-eval
    .venv/bin/python bench/lighteval_agreement.py --eval-dir /tmp/bench-eval --data ../shared/data
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from filters.rewards.accuracy import correctness
from generators.sources import load_problems
from r1f.io import read_rows


def lighteval_style(prediction: str, gold: str) -> float:
    """lighteval's math scoring as its docs describe it: parse both with math-verify (gold as LaTeX wrapped in
    ``$``; prediction with LaTeX (boxed first) then expression extraction), then ``verify``."""
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

    gold_parsed = parse(f"${gold}$", extraction_config=[LatexExtractionConfig(), ExprExtractionConfig()])
    predicted = parse(
        prediction, extraction_config=[LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig()]
    )
    if not gold_parsed or not predicted:
        return 0.0
    try:
        return 1.0 if verify(gold_parsed, predicted) else 0.0
    except Exception:
        return 0.0


def compare(label: str, outputs: list[str], golds: list[str], examples: int) -> dict[str, Any]:
    started = time.perf_counter()
    ours = correctness(outputs, golds)
    ours_s = time.perf_counter() - started
    started = time.perf_counter()
    theirs = [lighteval_style(o, g) for o, g in zip(outputs, golds)]
    theirs_s = time.perf_counter() - started
    judged = [(o, g, a, b) for o, g, a, b in zip(outputs, golds, ours, theirs) if a is not None]
    agree = sum(1 for _, _, a, b in judged if a == b)
    only_ours = [(o, g) for o, g, a, b in judged if a == 1.0 and b == 0.0]
    only_theirs = [(o, g) for o, g, a, b in judged if a == 0.0 and b == 1.0]
    n = len(judged)
    right = (sum(a for _, _, a, _ in judged), sum(b for _, _, _, b in judged))
    print(
        f"| {label} | {n} | {agree} ({agree / max(n, 1):.1%}) | {len(only_ours)} | {len(only_theirs)} "
        f"| {right[0]:.0f} | {right[1]:.0f} | {ours_s:.2f} / {theirs_s:.2f} |"
    )
    for kind, rows in (("ours 1, lighteval 0", only_ours), ("ours 0, lighteval 1", only_theirs)):
        for output, gold in rows[:examples]:
            tail = output[-160:].replace("\n", " ")
            print(f"    {kind}: gold {gold!r} ... {tail!r}")
    return {"n": n, "agree": agree}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval-dir", help="An `r1f eval --benchmark` output folder (model outputs).")
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    parser.add_argument("--examples", type=int, default=3)
    args = parser.parse_args()
    import os

    os.environ.setdefault("R1F_DATA_DIR", args.data)
    print(f"load {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    print(
        "| outputs | judged | agree | ours 1 / lighteval 0 | ours 0 / lighteval 1 | ours right | lighteval right |"
        " seconds (ours / lighteval) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name in ("gsm8k", "math500"):
        rows = load_problems(name, split="test")
        worked = [r["worked"] for r in rows if r.get("worked") and r.get("solution")]
        golds = [r["solution"] for r in rows if r.get("worked") and r.get("solution")]
        compare(f"{name}: worked, own gold", worked, golds, args.examples)
        compare(f"{name}: worked, other gold", worked, golds[1:] + golds[:1], args.examples)
        greedy = Path(args.eval_dir or "") / name / "greedy"
        if args.eval_dir and greedy.is_dir():
            done = read_rows(greedy)
            compare(
                f"{name}: model", [str(r["completion"]) for r in done], [r["solution"] for r in done], args.examples
            )


if __name__ == "__main__":
    main()
