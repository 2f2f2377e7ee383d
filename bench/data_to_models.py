"""Data -> models: does the factory's curated data train better models than the same amount of raw data?

Everything runs through the real ``r1f`` commands, each resumable in a work directory (a killed bench
continues where it stopped):

1. ``r1f sample`` with the base model (SmolLM2-135M) on built-in problems: k samples per problem, verified.
2. Three SFT datasets of the **same size** N from those samples, N = what the factory keeps:
   (a) factory: the rows ``r1f sample`` kept (correct, R1 rules, language-consistent), then ``r1f curate``
       (dedup, decontamination); (b) raw: N samples drawn at random, unverified; (c) correct-only: N correct
       samples with no other filter.
3. ``r1f train sft`` on each, same base, same steps; (d) is the base model itself.
4. ``r1f eval`` of every model on the whole 200-problem held-out split (greedy pass@1, format, language,
   truncation; 95% Wilson intervals), and an exact McNemar test per pair of models on the same problems.
5. R1-Zero: ``r1f train grpo`` from the base, format and pass@1 before/after (r1-zero-fewshot prompt).
6. Distillation: the factory arm's model teaches the base (``r1f distill``), the student is trained and
   evaluated against its own base.

Prints a markdown section (and writes it into bench/RESULTS.md unless --no-write) with each stage's cost.

    .venv/bin/python bench/data_to_models.py [--work DIR] [--problems 96] [--k 4] [--steps 40]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
FAMILIES = "money,percent,distance,rate,arithmetic"
FORMAT = "think"
#: which built-in problems every generating stage draws (easy English ones: the 135M model solves a few)
PROBLEMS = ["--languages", "en", "--families", FAMILIES, "--difficulties", "1"]
costs: dict[str, float] = {}


#: where each stage's cost is kept across resumed runs (a rerun that skips a stage still reports it)
COSTS: Path | None = None


def r1f(label: str, *args: str, done: Path | None = None) -> None:
    """Run one real command (skipped when ``done`` exists), timing it."""
    if done is not None and done.exists():
        return
    started = time.time()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "160"}
    result = subprocess.run([sys.executable, "-m", "r1f", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    costs[label] = costs.get(label, 0.0) + time.time() - started
    if COSTS is not None:
        COSTS.write_text(json.dumps(costs, indent=1) + "\n")
    if result.returncode != 0:
        sys.stdout.write(result.stdout[-3000:] + result.stderr[-3000:])
        raise SystemExit(f"{label}: r1f {' '.join(args[:2])} failed ({result.returncode})")
    print(f"  {label}: {costs[label]:.0f} s", flush=True)


def sft_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from generators.assemble import sft_messages
    from generators.prompts import SFT_SYSTEM

    return [
        {
            "id": r["id"],
            "problem": r["problem"],
            "solution": r.get("solution"),
            "lang": r.get("lang"),
            "messages": sft_messages(SFT_SYSTEM[FORMAT], r["problem"], r["completion"]),
        }
        for r in rows
    ]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def mcnemar(a: dict[str, float], b: dict[str, float]) -> tuple[int, int, float]:
    """(a right & b wrong, a wrong & b right, exact two-sided p) on the problems both judged."""
    shared = a.keys() & b.keys()
    only_a = sum(1 for p in shared if a[p] == 1.0 and b[p] != 1.0)
    only_b = sum(1 for p in shared if b[p] == 1.0 and a[p] != 1.0)
    n = only_a + only_b
    if n == 0:
        return only_a, only_b, 1.0
    tail = sum(math.comb(n, i) for i in range(0, min(only_a, only_b) + 1)) / 2**n
    return only_a, only_b, min(1.0, 2 * tail)


def evaluate(label: str, model: str, out: Path, template: str, max_new_tokens: int) -> dict[str, Any]:
    r1f(
        f"eval {label}",
        "eval",
        model,
        "--n-problems",
        "200",
        "--k",
        "1",
        "--template",
        template,
        "--max-new-tokens",
        str(max_new_tokens),
        "--out",
        str(out),
        done=out / "eval.json",
    )
    return json.loads((out / "eval.json").read_text())


def fmt(result: dict[str, Any], metric: str) -> str:
    value, ci = result.get(metric), (result.get("intervals") or {}).get(metric)
    if value is None:
        return "–"
    return f"{value:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else f"{value:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default=str(ROOT / "datasets_out" / "bench-data-to-models"))
    parser.add_argument("--problems", type=int, default=96)
    parser.add_argument("--k", type=int, default=4)
    parser.add_argument("--steps", type=int, default=40, help="SFT steps of every arm")
    parser.add_argument("--grpo-steps", type=int, default=40)
    parser.add_argument("--max-new-tokens", type=int, default=192)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    global COSTS
    COSTS = work / "costs.json"
    if COSTS.exists():
        costs.update(json.loads(COSTS.read_text()))
    load_before = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    started = time.time()
    tokens = str(args.max_new_tokens)

    # 1. samples, then the factory's own curation of what it kept
    sampled = ["--problems", "builtin", "--n-problems", str(args.problems), "--k", str(args.k), *PROBLEMS]
    sampled += ["--format", FORMAT]
    r1f(
        "sample (base, verified)",
        "sample",
        *sampled,
        "--max-new-tokens",
        tokens,
        "--out",
        str(work / "rs"),
        done=work / "rs" / "manifest.json",
    )
    r1f(
        "curate (dedup, decontaminate)",
        "curate",
        str(work / "rs"),
        "--out",
        str(work / "factory"),
        "--dedup-on",
        "completion",
        done=work / "factory" / "manifest.json",
    )
    from r1f.io import read_rows

    factory = read_rows(work / "factory", allow_empty=True)
    samples = read_rows(work / "rs", allow_empty=True) + read_rows(work / "rs", split="rejected", allow_empty=True)
    n = len(factory)
    if n == 0:
        raise SystemExit("the factory kept no row: raise --problems or --k")
    rng = random.Random(0)
    correct = [s for s in samples if s.get("reward_accuracy") == 1.0]
    arms = {
        "factory": factory,
        "raw": rng.sample(samples, n),
        "correct_only": rng.sample(correct, min(n, len(correct))),
    }
    for name, rows in arms.items():
        write_jsonl(work / f"{name}.jsonl", rows if name == "factory" else sft_rows(rows))

    # 2. SFT each arm from the same base, same steps
    models = {"base": "smollm2-135m"}
    for name in arms:
        out = work / "models" / name
        r1f(
            f"sft {name}",
            "train",
            "sft",
            "--recipe",
            "sft-rejection-smollm2",
            "--set",
            "model=smollm2-135m",
            "--set",
            f"dataset={work / f'{name}.jsonl'}",
            "--set",
            f"max_steps={args.steps}",
            "--set",
            "learning_rate=1e-4",
            "--set",
            "save_strategy=no",
            "--output-dir",
            str(out),
            done=out / "r1f_training.json",
        )
        models[name] = str(out)

    # 3. evaluate all on the 200 held-out problems, same prompt
    results = {
        name: evaluate(name, model, work / "eval" / name, "sft-think", args.max_new_tokens)
        for name, model in models.items()
    }

    # 4. R1-Zero: GRPO from the base, format before/after on its own prompt
    r0 = work / "models" / "r1_zero"
    r1f(
        "grpo r1-zero",
        "train",
        "grpo",
        "--recipe",
        "r1-zero-smollm2",
        "--set",
        f"max_steps={args.grpo_steps}",
        "--set",
        "save_strategy=no",
        "--output-dir",
        str(r0),
        done=r0 / "r1f_training.json",
    )
    zero_before = evaluate(
        "base (r1-zero prompt)", "smollm2-135m", work / "eval" / "base-r1zero", "r1-zero-fewshot", 96
    )
    zero_after = evaluate("r1-zero", str(r0), work / "eval" / "r1-zero", "r1-zero-fewshot", 96)

    # 4b. cold start from R1-Zero's correct outputs: the rule refiner vs the LLM refiner, rows kept, then SFT on
    # each (same steps, same base) and pass@1 on the held-out problems
    r1f(
        "sample (r1-zero outputs)",
        "sample",
        "--model",
        str(r0),
        "--template",
        "r1-zero-fewshot",
        *sampled,
        "--temperature",
        "0.8",
        "--max-new-tokens",
        "96",
        "--out",
        str(work / "r0_samples"),
        done=work / "r0_samples" / "manifest.json",
    )
    refined: dict[str, int] = {}
    for refiner in ("rules", "llm"):
        out = work / f"cold_start_{refiner}"
        r1f(
            f"cold-start refine {refiner}",
            "cold-start",
            "--method",
            "refine",
            "--refiner",
            refiner,
            "--problems",
            str(work / "r0_samples"),
            "--format",
            FORMAT,
            "--max-new-tokens",
            tokens,
            "--out",
            str(out),
            done=out / "manifest.json",
        )
        rows = read_rows(out, allow_empty=True)
        refined[refiner] = len(rows)
        if not rows:
            continue
        model = work / "models" / f"cold_start_{refiner}"
        r1f(
            f"sft cold start ({refiner})",
            "train",
            "sft",
            "--recipe",
            "sft-cold-start-smollm2",
            "--set",
            "model=smollm2-135m",
            "--set",
            f"dataset={out}",
            "--set",
            f"max_steps={args.steps}",
            "--set",
            "learning_rate=1e-4",  # as the other SFT arms
            "--set",
            "save_strategy=no",
            "--output-dir",
            str(model),
            done=model / "r1f_training.json",
        )
        results[f"cold_start_{refiner}"] = evaluate(
            f"cold start {refiner}",
            str(model),
            work / "eval" / f"cold_start_{refiner}",
            "sft-think",
            args.max_new_tokens,
        )
    r0_samples = len(read_rows(work / "r0_samples", allow_empty=True))

    # 5. distillation: the factory model teaches the base
    r1f(
        "distill (teacher: factory arm)",
        "distill",
        "--model",
        models["factory"],
        "--problems",
        "builtin",
        "--n-problems",
        "64",
        "--n",
        "2",
        "--temperature",
        "0.8",
        *PROBLEMS,
        "--max-new-tokens",
        tokens,
        "--out",
        str(work / "distill"),
        done=work / "distill" / "manifest.json",
    )
    distilled = read_rows(work / "distill", allow_empty=True)
    student = work / "models" / "student"
    if distilled:
        r1f(
            "sft student",
            "train",
            "sft",
            "--recipe",
            "distill-smollm2",
            "--set",
            "model=smollm2-135m",
            "--set",
            f"dataset={work / 'distill'}",
            "--set",
            f"max_steps={args.steps}",
            "--set",
            "save_strategy=no",
            "--output-dir",
            str(student),
            done=student / "r1f_training.json",
        )
        results["student"] = evaluate(
            "student", str(student), work / "eval" / "student", "sft-think", args.max_new_tokens
        )
    total = max(time.time() - started, sum(costs.values()))  # a resumed run: what the stages cost in all

    # plots beside RESULTS.md: every arm's pass@1 and format with intervals, and R1-Zero's rewards per step
    from generators.engines.cpu import cpu_name
    from r1f.report import curves_png, eval_bars_png

    plots = RESULTS.parent / "plots"
    plots.mkdir(exist_ok=True)
    named = {**results, "base (r1-zero prompt)": zero_before, "r1-zero": zero_after}
    bars = eval_bars_png([{**r, "model_stage": name} for name, r in named.items()])
    history = [e for e in json.loads((r0 / "r1f_training.json").read_text())["log_history"] if "step" in e]
    keys = ["rewards/format/mean", "rewards/tag_count/mean", "rewards/accuracy/mean", "reward"]
    curve = curves_png(history, [k for k in keys if any(k in e for e in history)], "R1-Zero GRPO: rewards per step")
    for name, png in (("data_to_models-evals.png", bars), ("data_to_models-r1zero-curves.png", curve)):
        if png and not args.no_write:
            (plots / name).write_bytes(png)

    lines = [
        f"### Data -> models — `bench/data_to_models.py` ({time.strftime('%Y-%m-%d')})",
        "",
        f"CPU: {cpu_name()}, {os.cpu_count()} cores; load average before {load_before}. Whole bench "
        f"**{total / 60:.1f} min** ({args.problems} problems x k={args.k} samples, {args.steps} SFT steps per arm, "
        f"{args.grpo_steps} GRPO steps, greedy evaluation on the 200 held-out problems, {tokens} new tokens).",
        "",
        f"Arms of N = {n} SFT rows each (the factory kept {n} of {len(samples)} samples; {len(correct)} were correct).",
        "",
        "| model | pass@1 [95% CI] | format | language consistent | truncated |",
        "|---|---|---|---|---|",
    ]
    for name, result in results.items():
        lines.append(
            f"| {name} | {fmt(result, 'pass@1')} | {fmt(result, 'format')} | {fmt(result, 'language_consistent')} "
            f"| {fmt(result, 'truncated')} |"
        )
    lines += [
        "",
        "Exact McNemar tests on the same 200 problems (greedy):",
        "",
        "| pair | only first right | only second right | p |",
        "|---|---|---|---|",
    ]
    pairs = [("factory", "raw"), ("factory", "correct_only"), ("factory", "base"), ("correct_only", "raw")]
    if "student" in results:
        pairs.append(("student", "base"))
    for a, b in pairs:
        only_a, only_b, p = mcnemar(results[a].get("greedy_correct", {}), results[b].get("greedy_correct", {}))
        lines.append(f"| {a} vs {b} | {only_a} | {only_b} | {p:.3g} |")
    lines += [
        "",
        f"Cold start from R1-Zero's outputs ({r0_samples} correct R1-Zero samples of {args.problems} x {args.k}): "
        + "; ".join(f"{name} refiner kept {count} rows" for name, count in refined.items())
        + f" (each then SFT for {args.steps} steps from the base; pass@1 in the table above as cold_start_*).",
    ]
    if "cold_start_rules" in results and "cold_start_llm" in results:
        only_a, only_b, p = mcnemar(
            results["cold_start_rules"].get("greedy_correct", {}), results["cold_start_llm"].get("greedy_correct", {})
        )
        lines.append(
            f"Rules vs LLM refiner after SFT: only rules right {only_a}, only LLM right {only_b}, p = {p:.3g}."
        )
    lines += [
        "",
        f"R1-Zero ({args.grpo_steps} GRPO steps, r1-zero-fewshot prompt, 96 tokens): format "
        f"{fmt(zero_before, 'format')} -> {fmt(zero_after, 'format')}; pass@1 {fmt(zero_before, 'pass@1')} -> "
        f"{fmt(zero_after, 'pass@1')}.",
        "",
        "![pass@1 and format per arm, 95% Wilson intervals](plots/data_to_models-evals.png)",
        "![R1-Zero GRPO rewards per step](plots/data_to_models-r1zero-curves.png)",
        "",
        "| stage | seconds |",
        "|---|---|",
        *[f"| {label} | {seconds:.0f} |" for label, seconds in costs.items()],
        "",
    ]
    section = "\n".join(lines)
    print(section)
    if not args.no_write:
        text = RESULTS.read_text()
        begin, end = "<!-- data-to-models:begin -->", "<!-- data-to-models:end -->"
        block = f"{begin}\n{section}\n{end}"
        text = (
            re.sub(re.escape(begin) + ".*?" + re.escape(end), block, text, flags=re.S)
            if begin in text
            else (text.rstrip() + "\n\n" + block + "\n")
        )
        RESULTS.write_text(text)


if __name__ == "__main__":
    main()
