"""Accuracy-reward throughput and agreement with known truth: ours vs seed-style and open-r1-style.

5 000 completions are made from built-in problems with a known truth (right or wrong answer, in
many written forms: <answer> tags with and without newlines, \\boxed{}, LaTeX fractions, "so the
answer is N", the R1 summary form, malformed LaTeX, long repetitive text, five languages). The two
baselines are written here to behave like the seed notebook's reward and like open-r1's; they run
one item at a time in this process. Ours runs as shipped (gold parses cached, worker pool).

    .venv/bin/python bench/rewards.py [--n 5000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from fractions import Fraction

from generators.problems import make_problems

REASONING = {
    "en": "First I read the problem carefully. Then I compute step by step and check the result.",
    "es": "Primero leo el problema con cuidado. Luego calculo paso a paso y compruebo el resultado.",
    "fr": "D'abord je lis le problème attentivement. Ensuite je calcule étape par étape et je vérifie.",
    "de": "Zuerst lese ich die Aufgabe genau. Dann rechne ich Schritt für Schritt und prüfe das Ergebnis.",
    "zh": "首先我仔细阅读题目。然后一步一步地计算并检查结果。",
}


def _latex(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"\\frac{{{value.numerator}}}{{{value.denominator}}}"


def _plain(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


def make_cases(n: int, seed: int = 0) -> list[tuple[str, str, float]]:
    """(completion, gold, truth) triples; truth is 1.0 when the written answer equals the gold."""
    rng = random.Random(seed)
    problems = make_problems(max(50, n // 10), seed=seed)
    forms = ["tags", "tags_newlines", "boxed", "latex_frac", "answer_is", "r1_summary", "malformed", "long_repetitive"]
    cases = []
    for i in range(n):
        problem = problems[i % len(problems)]
        gold = problem["solution"]
        value = Fraction(gold)
        correct = rng.random() < 0.5
        written = value if correct else value + rng.choice([1, 2, 3, -1, Fraction(1, 2), 10])
        think = REASONING[problem["lang"]]
        form = forms[i % len(forms)]
        if form == "tags":
            text = f"<think>{think}</think><answer>{_plain(written)}</answer>"
        elif form == "tags_newlines":
            text = f"<think>\n{think}\n</think>\n<answer>\n{_plain(written)}\n</answer>"
        elif form == "boxed":
            text = f"{think} Therefore the result is $\\boxed{{{_latex(written)}}}$."
        elif form == "latex_frac":
            text = f"<think>{think}</think><answer>${_latex(written)}$</answer>"
        elif form == "answer_is":
            text = f"{think} So the answer is {_plain(written)}."
        elif form == "r1_summary":
            text = f"|special_token| {think} |special_token| Summary: the answer is {_plain(written)}."
        elif form == "malformed":
            text = f"<think>{think}</think><answer>$\\frac{{{written.numerator}}}{{$</answer>"
            correct = False
        else:
            filler = " ".join([think] * rng.randint(20, 60))
            text = f"<think>{filler}</think><answer>{_plain(written)}</answer>"
        cases.append((text, gold, 1.0 if correct else 0.0))
    return cases


def _latex_only_answer(completion: str) -> list:
    """The answer parse both baselines share: LaTeX extraction only, anchored, boxed first, first match."""
    from math_verify import LatexExtractionConfig, parse
    from math_verify.parser import NormalizationConfig

    normalization = NormalizationConfig(
        nits=False, malformed_operators=False, basic_latex=True, equations=True, boxed="all", units=True
    )
    config = LatexExtractionConfig(
        normalization_config=normalization, boxed_match_priority=0, try_extract_without_anchor=False
    )
    return parse(completion, extraction_config=[config], extraction_mode="first_match")


def seed_style(completion: str, gold: str) -> float:
    """Like the seed notebook: gold with LaTeX extraction only (0.5 if unparsed), answer over the whole text,
    and verify called as (answer, gold), the seed's argument order."""
    from math_verify import LatexExtractionConfig, parse, verify

    gold_parsed = parse(gold, extraction_mode="first_match", extraction_config=[LatexExtractionConfig()])
    if not gold_parsed:
        return 0.5
    return float(verify(_latex_only_answer(completion), gold_parsed))


def open_r1_style(completion: str, gold: str) -> float | None:
    """Like open-r1: gold with the default config (None if unparsed), answer with LaTeX extraction only."""
    from math_verify import parse, verify

    gold_parsed = parse(gold, extraction_mode="first_match")
    if not gold_parsed:
        return None
    return float(verify(gold_parsed, _latex_only_answer(completion)))


def _timed_loop(fn, cases):
    times, scores = [], []
    started = time.perf_counter()
    for completion, gold, _ in cases:
        t0 = time.perf_counter()
        scores.append(fn(completion, gold))
        times.append(time.perf_counter() - t0)
    return scores, time.perf_counter() - started, times


def _p99(times: list[float]) -> float:
    return statistics.quantiles(times, n=100)[98] if len(times) >= 100 else max(times)


def _agreement(scores, truth) -> tuple[float, int]:
    judged = [(s, t) for s, t in zip(scores, truth) if s is not None]
    return (sum(1 for s, t in judged if s == t) / len(judged) if judged else 0.0), len(judged)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--baseline-n", type=int, default=None, help="items timed for each baseline (default: all)")
    args = parser.parse_args()
    import logging

    logging.disable(logging.WARNING)
    from filters.rewards.accuracy import Accuracy
    from filters.verify import shared_pool

    cases = make_cases(args.n)
    truth = [t for _, _, t in cases]
    base_cases = cases[: args.baseline_n] if args.baseline_n else cases
    base_truth = truth[: len(base_cases)]

    reward = Accuracy()
    reward(["<answer>$\\frac{2}{4}$</answer>"], solution=["1/2"])  # start the worker pool outside the timing
    started = time.perf_counter()
    ours = reward([c for c, _, _ in cases], solution=[g for _, g, _ in cases])
    ours_seconds = time.perf_counter() - started
    ours_p99 = _p99(shared_pool().durations)

    rows = [("ours (pool of workers, gold cache, tag extraction)", ours, ours_seconds, ours_p99, truth)]
    # The seed's LaTeX-only gold parse fails on plain numbers and shortcuts to 0.5; with golds written
    # as $...$ (as in the seed's NuminaMath data) it does the real work, which is the fair speed baseline.
    wrapped = [(c, f"${g}$", t) for c, g, t in base_cases]
    baselines = (
        ("seed-style baseline", seed_style, base_cases),
        ("seed-style baseline, golds as $...$ (does the verification)", seed_style, wrapped),
        ("open-r1-style baseline", open_r1_style, base_cases),
    )
    for label, fn, items in baselines:
        scores, seconds, times = _timed_loop(fn, items)
        rows.append((label, scores, seconds, _p99(times), base_truth))

    ours_rate = len(cases) / ours_seconds
    print(f"{len(cases)} completions ({sum(truth):.0f} correct by construction)\n")
    print("| reward | items | completions/s | ours is | p99 per item (ms) | agreement with truth (judged) |")
    print("|---|---|---|---|---|---|")
    for label, scores, seconds, p99, t in rows:
        rate = len(scores) / seconds
        agree, judged = _agreement(scores, t)
        print(
            f"| {label} | {len(scores)} | {rate:.0f} | {ours_rate / rate:.1f}x | {p99 * 1000:.1f} | "
            f"{agree * 100:.2f}% ({judged}) |"
        )
    wrong = [(c, g, t, s) for (c, g, t), s in zip(cases, ours) if s is not None and s != t]
    if wrong:
        print(f"\nours disagrees on {len(wrong)} items; first few:")
        for c, g, t, s in wrong[:5]:
            print(f"  gold={g!r} truth={t} ours={s} completion={c[-120:]!r}")


if __name__ == "__main__":
    main()
