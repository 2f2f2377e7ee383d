"""Data -> models: does the factory's curated data train better models than the same amount of raw data?

Everything runs through the real ``r1f`` commands, each resumable in a work directory (a killed bench
continues where it stopped):

1. Cold start: ``r1f cold-start --method worked`` (the built-in generator's own steps, verified), then
   ``r1f train sft`` from the base (SmolLM2-135M): the cold-start model, the factory's strongest sampler here.
2. ``r1f sample`` with the cold-start model on other built-in training problems: k samples per problem, verified;
   beside it (a second lane, one thread each: generation gains 1.6x from two lanes on 2 cores) the distillation
   of step 5 and the evaluations of the models that exist already.
3. Three SFT datasets of the **same size** N from those samples, N = what the factory keeps:
   (a) factory: the rows ``r1f sample`` kept (correct, R1 rules, language-consistent), then ``r1f curate``
       (dedup, decontamination); (b) raw: N samples drawn at random, unverified; (c) correct-only: N correct
       samples with no other filter. ``r1f train sft`` on each from the same model with the same steps: the base
       (``--arms-from base``, the default: what the rows teach from scratch) or the cold-start model
       (``--arms-from cold_start``: R1's stage-2 SFT continuing, as the tiny-r1 recipe does); (d) the cold-start
       model itself, and the base.
4. ``r1f eval`` of every model (the trained ones in two lanes at once) on the whole 200-problem held-out split
   (greedy pass@1, format, language, truncation; 95% Wilson intervals), and an exact McNemar test per pair of
   models on the same problems.
5. Distillation: the cold-start model teaches the base (``r1f distill``); the student is trained and evaluated
   against its own base under the student's prompt (no system turn).
6. R1-Zero: ``r1f train grpo`` from the base, format and pass@1 before/after (r1-zero-fewshot prompt).
7. With ``--refiners``: cold start from R1-Zero's outputs, the rule refiner vs the LLM refiner (rows kept, then
   SFT on each and pass@1).

Prints a markdown section (and writes it into bench/RESULTS.md unless --no-write) with each stage's cost.

    .venv/bin/python bench/data_to_models.py [--work DIR] [--problems 96] [--k 4] [--steps 40] [--refiners]
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
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
FAMILIES = "money,percent,distance,rate,arithmetic"
FORMAT = "think"
#: which built-in problems R1-Zero's samples for the refiner arms draw (easy English ones: it solves a few)
PROBLEMS = ["--languages", "en", "--families", FAMILIES, "--difficulties", "1"]
#: wall-clock seconds per stage, or per group of commands run at once (they add up to the whole bench)
costs: dict[str, float] = {}
#: each command of such a group: its own seconds while it shared the cores (not added again)
alongside: dict[str, float] = {}
#: which commands each group ran
lane_groups: dict[str, list[str]] = {}


#: where each stage's cost is kept across resumed runs (a rerun that skips a stage still reports it)
COSTS: Path | None = None


def _save_costs() -> None:
    if COSTS is not None:
        COSTS.write_text(json.dumps({"wall": costs, "alongside": alongside, "groups": lane_groups}, indent=1) + "\n")


def _run(label: str, args: tuple[str, ...], threads: int | None = None) -> float:
    """One real ``r1f`` command; its seconds. ``threads``: torch's and the verifier's threads for it."""
    started = time.time()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "160"}
    if threads:
        env.update(OMP_NUM_THREADS=str(threads), R1F_THREADS=str(threads))
    result = subprocess.run([sys.executable, "-m", "r1f", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.stdout.write(result.stdout[-3000:] + result.stderr[-3000:])
        raise SystemExit(f"{label}: r1f {' '.join(args[:2])} failed ({result.returncode})")
    return time.time() - started


def r1f(label: str, *args: str, done: Path | None = None) -> None:
    """Run one real command on every core (skipped when ``done`` exists), timing it."""
    if done is not None and done.exists():
        return
    costs[label] = costs.get(label, 0.0) + _run(label, args)
    _save_costs()
    print(f"  {label}: {costs[label]:.0f} s", flush=True)


#: one queued command: (label, r1f arguments, the file that says it is done)
Job = tuple[str, tuple[str, ...], Path]


def at_once(*lanes: list[Job]) -> None:
    """Run the lanes side by side, each command with one thread, each lane's commands in order.

    Generation on 2 cores is not bound by arithmetic alone (a decode step is 30 small layers of Python and
    thin matrices): two evaluations with one thread each took 35 s where one with both threads took 28 s
    (1.6x the work per second). Training is arithmetic-bound, so it keeps both threads and runs alone."""
    from concurrent.futures import ThreadPoolExecutor

    pending = [[job for job in lane if not job[2].exists()] for lane in lanes]
    if not any(pending):
        return
    started = time.time()

    saving = threading.Lock()

    def lane(jobs: list[Job]) -> None:
        for label, args, _ in jobs:
            seconds = _run(label, args, threads=1)
            with saving:  # kept as each command ends, so a bench killed mid-group still reports it when resumed
                alongside[label] = seconds
                _save_costs()
            print(f"  {label} (one thread, alongside another lane): {seconds:.0f} s", flush=True)

    with ThreadPoolExecutor(len(pending)) as pool:
        for future in [pool.submit(lane, jobs) for jobs in pending]:
            future.result()
    group = "at once: " + " ‖ ".join(", ".join(label for label, _, _ in lane) for lane in lanes)
    costs[group] = costs.get(group, 0.0) + time.time() - started
    lane_groups[group] = [label for lane in lanes for label, _, _ in lane]
    _save_costs()
    print(f"  {group}: {costs[group]:.0f} s", flush=True)


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


def eval_job(label: str, model: str, out: Path, template: str, max_new_tokens: int) -> Job:
    """``r1f eval`` of ``model`` on the 200 held-out problems, greedy only."""
    args = ("eval", model, "--n-problems", "200", "--k", "1", "--template", template)
    return (f"eval {label}", (*args, "--max-new-tokens", str(max_new_tokens), "--out", str(out)), out / "eval.json")


def read_eval(job: Job) -> dict[str, Any]:
    return json.loads(job[2].read_text())


def fmt(result: dict[str, Any], metric: str) -> str:
    value, ci = result.get(metric), (result.get("intervals") or {}).get(metric)
    if value is None:
        return "–"
    return f"{value:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else f"{value:.3f}"


#: CPU autocast to bf16 in every SFT stage (--bf16): 1.4x per step where the CPU has bf16 instructions
#: (bench/sft_step.py). GRPO stays fp32: under bf16 (run 5) held-out format reached 0.84 where fp32 reached 0.95.
TRAIN_BF16 = False


def sft(
    label: str,
    out: Path,
    dataset: Path,
    steps: int,
    recipe: str = "sft-rejection-smollm2",
    model: str = "smollm2-135m",
    lr: float = 1e-4,
) -> str:
    """SFT for ``steps`` at ``lr`` (from the base, 1e-4: the recipes' 1e-5 is sized for more steps than we have)."""
    r1f(
        f"sft {label}",
        "train",
        "sft",
        "--recipe",
        recipe,
        "--set",
        f"model={model}",
        "--set",
        f"dataset={dataset}",
        "--set",
        f"max_steps={steps}",
        "--set",
        f"learning_rate={lr}",
        "--set",
        f"bf16={str(TRAIN_BF16).lower()}",
        "--set",
        "save_strategy=no",
        "--output-dir",
        str(out),
        done=out / "r1f_training.json",
    )
    return str(out)


def breakdown(result: dict[str, Any]) -> dict[str, str]:
    """Greedy pass@1 per language and per difficulty on the held-out split (where a model's accuracy comes from)."""
    from generators.problems import heldout_problems

    meta = {p["id"]: p for p in heldout_problems()}
    correct = result.get("greedy_correct", {})
    parts: dict[str, str] = {}
    for key in ("lang", "difficulty"):
        groups: dict[Any, list[float]] = {}
        for pid, ok in correct.items():
            if pid in meta:
                groups.setdefault(meta[pid][key], []).append(ok)
        parts[key] = ", ".join(f"{g} {sum(v) / len(v):.2f}" for g, v in sorted(groups.items(), key=lambda x: str(x[0])))
    return parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default=str(ROOT / "datasets_out" / "bench-data-to-models"))
    parser.add_argument("--worked", type=int, default=2400, help="worked-solution cold-start rows")
    parser.add_argument("--cold-start-steps", type=int, default=300)
    parser.add_argument("--problems", type=int, default=640, help="problems rejection-sampled by the cold-start model")
    parser.add_argument("--k", type=int, default=4)
    parser.add_argument("--steps", type=int, default=100, help="SFT steps of every data arm")
    parser.add_argument(
        "--arms-from", choices=("base", "cold_start"), default="base", help="the model every data arm starts from"
    )
    parser.add_argument("--arm-lr", type=float, default=1e-4, help="learning rate of the data arms' SFT")
    parser.add_argument(
        "--distill-problems",
        type=int,
        default=640,
        help="problems the teacher answers twice each for the student (run 3's 640 gave 321 rows, +17 points)",
    )
    parser.add_argument("--student-steps", type=int, default=100, help="SFT steps of the distilled student")
    parser.add_argument("--grpo-steps", type=int, default=40)
    parser.add_argument("--max-new-tokens", type=int, default=160)
    parser.add_argument("--refiners", action="store_true", help="also compare the rule and LLM refiners (~25 min)")
    parser.add_argument(
        "--bf16",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="SFT under CPU bf16 autocast (default: where the CPU has bf16 instructions); GRPO runs in fp32",
    )
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    global TRAIN_BF16
    from generators.engines.cpu import native_bf16

    TRAIN_BF16 = native_bf16() if args.bf16 is None else args.bf16
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    global COSTS
    COSTS = work / "costs.json"
    if COSTS.exists():
        kept = json.loads(COSTS.read_text())
        costs.update(kept.get("wall", {}))
        alongside.update(kept.get("alongside", {}))
        lane_groups.update(kept.get("groups", {}))
    load_before = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    started = time.time()
    tokens = str(args.max_new_tokens)
    from r1f.io import read_rows

    # 1. cold start: worked solutions, SFT from the base
    r1f(
        "cold-start worked",
        "cold-start",
        "--method",
        "worked",
        "--n-problems",
        str(args.worked),
        "--format",
        FORMAT,
        "--out",
        str(work / "cold_start_worked"),
        done=work / "cold_start_worked" / "manifest.json",
    )
    models = {"base": "smollm2-135m"}
    models["cold_start"] = sft(
        "cold start (worked)",
        work / "models" / "cold_start",
        work / "cold_start_worked",
        args.cold_start_steps,
        recipe="sft-cold-start-smollm2",
    )

    # 2. rejection sampling with the cold-start model on other training problems; beside it, the cold-start
    # model teaches the base (distillation: the student has no system turn, nor has its eval) and the models
    # that exist already are evaluated on the 200 held-out problems, each under the prompt it is compared on
    sampled = ["--problems", "builtin", "--n-problems", str(args.problems), "--problem-seed", "1", "--k", str(args.k)]
    sample: Job = (
        "sample (cold-start model, verified)",
        ("sample", "--model", models["cold_start"], "--template", "sft-think", "--format", FORMAT, *sampled)
        + ("--max-new-tokens", tokens, "--out", str(work / "rs")),
        work / "rs" / "manifest.json",
    )
    teach = ("--problems", "builtin", "--n-problems", str(args.distill_problems), "--problem-seed", "2", "--n", "2")
    distill: Job = (
        "distill (teacher: cold-start model)",
        ("distill", "--model", models["cold_start"], "--teacher-template", "sft-think", *teach)
        + ("--temperature", "0.7", "--max-new-tokens", tokens, "--out", str(work / "distill")),
        work / "distill" / "manifest.json",
    )
    evals = {
        "base": eval_job("base", "smollm2-135m", work / "eval" / "base", "sft-think", args.max_new_tokens),
        "cold_start": eval_job(
            "cold_start", models["cold_start"], work / "eval" / "cold_start", "sft-think", args.max_new_tokens
        ),
        "base (student prompt)": eval_job(
            "base (student prompt)", "smollm2-135m", work / "eval" / "base-plain", "plain", 160
        ),
        "base (r1-zero prompt)": eval_job(
            "base (r1-zero prompt)", "smollm2-135m", work / "eval" / "base-r1zero", "r1-zero-fewshot", 96
        ),
    }
    at_once([sample], [distill, *evals.values()])
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
    factory = read_rows(work / "factory", allow_empty=True)
    samples = read_rows(work / "rs", allow_empty=True) + read_rows(work / "rs", split="rejected", allow_empty=True)
    n = len(factory)
    if n == 0:
        raise SystemExit("the factory kept no row: raise --problems, --k or --cold-start-steps")
    rng = random.Random(0)
    correct = [s for s in samples if s.get("reward_accuracy") == 1.0]
    arms = {
        "factory": factory,
        "raw": rng.sample(samples, n),
        "correct_only": rng.sample(correct, min(n, len(correct))),
    }
    for name, rows in arms.items():
        write_jsonl(work / f"{name}.jsonl", rows if name == "factory" else sft_rows(rows))
        start = models[args.arms_from]
        data = work / f"{name}.jsonl"
        models[name] = sft(name, work / "models" / name, data, args.steps, model=start, lr=args.arm_lr)

    # 3. the student, on the teacher's verified answers
    distilled = read_rows(work / "distill", allow_empty=True)
    if distilled:
        models["student"] = sft(
            "student", work / "models" / "student", work / "distill", args.student_steps, recipe="distill-smollm2"
        )

    # 4. R1-Zero: GRPO from the base (fp32), format before/after on its own prompt
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

    # 5. every trained model on the 200 held-out problems, in two lanes of one thread each
    for name in arms:
        evals[name] = eval_job(name, models[name], work / "eval" / name, "sft-think", args.max_new_tokens)
    if "student" in models:
        evals["student"] = eval_job(
            "student", models["student"], work / "eval" / "student", "plain", args.max_new_tokens
        )
    evals["r1-zero"] = eval_job("r1-zero", str(r0), work / "eval" / "r1-zero", "r1-zero-fewshot", 96)
    late = [name for name in ("factory", "raw", "correct_only", "student", "r1-zero") if name in evals]
    at_once([evals[name] for name in late[0::2]], [evals[name] for name in late[1::2]])
    order = ["base", "cold_start", *arms, *(["student"] if "student" in evals else []), "base (student prompt)"]
    results = {name: read_eval(evals[name]) for name in order}
    student_base = results["base (student prompt)"]
    zero_before, zero_after = read_eval(evals["base (r1-zero prompt)"]), read_eval(evals["r1-zero"])

    # 6. optional: cold start from R1-Zero's correct outputs, the rule refiner vs the LLM refiner
    refined: dict[str, int] = {}
    r0_samples = 0
    if args.refiners:
        r0_args = ["--problems", "builtin", "--n-problems", "96", "--k", "4", *PROBLEMS]
        r1f(
            "sample (r1-zero outputs)",
            "sample",
            "--model",
            str(r0),
            "--template",
            "r1-zero-fewshot",
            *r0_args,
            "--format",
            FORMAT,
            "--temperature",
            "0.8",
            "--max-new-tokens",
            "96",
            "--out",
            str(work / "r0_samples"),
            done=work / "r0_samples" / "manifest.json",
        )
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
            refined[refiner] = len(read_rows(out, allow_empty=True))
            if refined[refiner]:
                model = sft(f"cold start ({refiner})", work / "models" / f"cold_start_{refiner}", out, args.steps)
                evals[f"cold_start_{refiner}"] = eval_job(
                    f"cold start {refiner}", model, work / "eval" / f"cold_start_{refiner}", "sft-think", 160
                )
        at_once(*[[evals[f"cold_start_{r}"]] for r in refined if f"cold_start_{r}" in evals])
        for refiner in refined:
            if f"cold_start_{refiner}" in evals:
                results[f"cold_start_{refiner}"] = read_eval(evals[f"cold_start_{refiner}"])
        r0_samples = len(read_rows(work / "r0_samples", allow_empty=True))
    # the 60-minute budget is the default bench's: the optional refiner comparison is reported on its own
    optional = {"sample (r1-zero outputs)"} | {
        f"{stage} {r}" for r in ("rules", "llm") for stage in ("cold-start refine", "eval cold start")
    }
    optional |= {f"sft cold start ({r})" for r in ("rules", "llm")}
    optional |= {g for g, labels in lane_groups.items() if set(labels) <= optional}
    extra = sum(v for k, v in costs.items() if k in optional)
    # a resumed run: what the stages cost in all
    total = max(time.time() - started - extra, sum(v for k, v in costs.items() if k not in optional))

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

    kept_cs = len(read_rows(work / "cold_start_worked", allow_empty=True))
    lines = [
        f"### Data -> models — `bench/data_to_models.py` ({time.strftime('%Y-%m-%d')})",
        "",
        f"CPU: {cpu_name()}, {os.cpu_count()} cores; load average before {load_before}. Whole bench "
        f"**{total / 60:.1f} min**{f' (and {extra / 60:.1f} min for the refiner comparison)' if extra else ''}: "
        f"{kept_cs} worked cold-start rows, {args.cold_start_steps} SFT steps; "
        f"{args.problems} problems x k={args.k} samples from the cold-start model; {args.steps} SFT steps per data "
        f"arm from the {args.arms_from.replace('_', '-')} model (lr {args.arm_lr:g}, batch 4); "
        f"student {args.student_steps} steps from the base on the teacher's verified answers to "
        f"{args.distill_problems} problems x 2; "
        f"{args.grpo_steps} GRPO steps in fp32; SFT {'under bf16 autocast' if TRAIN_BF16 else 'in fp32'}, "
        f"without gradient checkpointing and the LM head on labelled positions only; greedy evaluation on the 200 "
        f"held-out problems, "
        f"{tokens} new tokens. Command: `.venv/bin/python bench/data_to_models.py "
        f"{' '.join(sys.argv[1:])}`.",
        "",
        f"Data arms of N = {n} SFT rows each (the factory kept {n} of {len(samples)} samples of the cold-start "
        f"model; {len(correct)} were correct). Student: {len(distilled)} distilled rows.",
        "",
        "| model | pass@1 [95% CI] | format | language consistent | truncated | pass@1 by language | by difficulty |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, result in results.items():
        parts = breakdown(result)
        lines.append(
            f"| {name} | {fmt(result, 'pass@1')} | {fmt(result, 'format')} | {fmt(result, 'language_consistent')} "
            f"| {fmt(result, 'truncated')} | {parts['lang']} | {parts['difficulty']} |"
        )
    lines += [
        "",
        "Exact McNemar tests on the same 200 problems (greedy pass@1):",
        "",
        "| pair | only first right | only second right | p |",
        "|---|---|---|---|",
    ]
    pairs = [
        ("factory", "raw"),
        ("factory", "correct_only"),
        ("correct_only", "raw"),
        ("factory", args.arms_from),
        ("raw", args.arms_from),
        ("cold_start", "base"),
    ]
    if "student" in results:
        pairs.append(("student", "base (student prompt)"))
    if "cold_start_rules" in results and "cold_start_llm" in results:
        pairs.append(("cold_start_rules", "cold_start_llm"))
    tests = {}
    for a, b in pairs:
        tests[(a, b)] = mcnemar(results[a].get("greedy_correct", {}), results[b].get("greedy_correct", {}))
        only_a, only_b, p = tests[(a, b)]
        lines.append(f"| {a} vs {b} | {only_a} | {only_b} | {p:.3g} |")
    if args.refiners:
        lines += [
            "",
            f"Cold start from R1-Zero's outputs ({r0_samples} correct R1-Zero samples of 96 x 4): "
            + "; ".join(f"{name} refiner kept {count} rows" for name, count in refined.items())
            + f" (each then SFT for {args.steps} steps from the base; pass@1 above as cold_start_*).",
        ]

    def goal(met: bool, short: str) -> str:
        return "**met**" if met else f"not met ({short})"

    best = max(("cold_start", "factory"), key=lambda m: results[m]["pass@1"])
    fp, zf = tests[("factory", "raw")], zero_after.get("format") or 0.0
    top = results[best]["pass@1"]
    gain = (results["student"]["pass@1"] - student_base["pass@1"]) * 100 if "student" in results else None
    lines += [
        "",
        "| goal (#14) | measured | |",
        "|---|---|---|",
        f"| R1-Zero format ≈0.3 → ≥ 0.9 | {fmt(zero_before, 'format')} → {fmt(zero_after, 'format')} "
        f"| {goal(zf >= 0.9, f'{0.9 - zf:.2f} short')} |",
        f"| pass@1 ≥ 25 % after the recipe (best: {best}) | {fmt(results[best], 'pass@1')} "
        f"| {goal(top >= 0.25, f'{(0.25 - top) * 100:.1f} points short')} |",
        f"| factory beats raw, paired p < 0.05 | {fp[0]} vs {fp[1]} problems only right, p = {fp[2]:.3g} "
        f"| {goal(fp[0] > fp[1] and fp[2] < 0.05, f'p = {fp[2]:.3g}')} |",
        f"| student ≥ base + 10 points | {'–' if gain is None else f'{gain:+.1f} points'} "
        f"| {goal(gain is not None and gain >= 10, 'no student' if gain is None else f'{10 - gain:.1f} short')} |",
        f"| whole bench ≤ 60 min | {total / 60:.1f} min | {goal(total <= 3600, f'{total / 60 - 60:.1f} min over')} |",
        "",
        "![pass@1 and format per arm, 95% Wilson intervals](plots/data_to_models-evals.png)",
        "![R1-Zero GRPO rewards per step](plots/data_to_models-r1zero-curves.png)",
        "",
        "Training runs alone on both cores; generation runs in two lanes of one thread each where commands do not "
        "depend on each other (each command's own seconds are shown under its lane; the lanes' wall clock counts).",
        "",
        "| stage | seconds |",
        "|---|---|",
    ]
    for label, seconds in costs.items():
        lines.append(f"| {label} | {seconds:.0f} |")
        # a group of lanes: each of its commands' own seconds under it (those it ran, not those done before)
        for name in lane_groups.get(label, []):
            if name in alongside:
                lines.append(f"| &nbsp;&nbsp;&nbsp;{name} (one thread) | {alongside[name]:.0f} |")
    lines.append("")
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
