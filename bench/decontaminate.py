"""Decontamination: recall, precision and speed of ours vs a per-row Python baseline of the same rules.

20 000 built-in v2 training problems are checked against two evaluation sets: the built-in held-out split
(reserved phrasings) and a benchmark-style set of short problems (under 8 words, other wording than any
built-in phrasing). Contaminants are planted from both: exact copies, case/whitespace edits, one number
changed, all numbers changed, and short problems with other numbers. Both implementations apply the same
two rules (open-r1's word 8-gram rule and the digits-masked rule); the baseline builds Python sets of
n-gram strings per row, ours hashes words and windows in polars/numpy and joins once per rule.

Precision is measured on the generated rows, none of which is a copy: every flag there is a false positive.

    .venv/bin/python bench/decontaminate.py [--n 20000] [--plant 200] [--ngram 8] [--judge smollm2-135m]

``--judge`` also measures the paraphrase judge on 40 true pairs (one problem in a training and a held-out
phrasing, same numbers) and 40 false pairs (the same family, other numbers): its agreement, honestly.
"""

from __future__ import annotations

import argparse
import random
import re
import time

from curation.decontaminate import Decontaminator, EvalSet, load_eval_set, python_baseline
from generators.problems import heldout_problems, make_problems

NUMBER = re.compile(r"\d+")
SHORT_FORMS = ("How much is {a} plus {b}?", "Take {a} away from {b}.", "Multiply {a} by {b}.", "Halve {a}, add {b}.")


def short_set(size: int = 60, seed: int = 3) -> EvalSet:
    """A benchmark-style set of short problems, each under 8 words."""
    rng = random.Random(seed)
    texts = [rng.choice(SHORT_FORMS).format(a=rng.randint(2, 99), b=rng.randint(2, 99)) for _ in range(size)]
    return EvalSet("short", texts, [f"s{i}" for i in range(size)])


def _renumber(text: str, rng: random.Random, every: bool) -> str:
    numbers = list(NUMBER.finditer(text))
    chosen = numbers if every else [rng.choice(numbers)]
    for m in sorted(chosen, key=lambda m: -m.start()):
        text = text[: m.start()] + str(int(m.group()) + rng.randint(1, 9)) + text[m.end() :]
    return text


def plant(held: list[str], short: list[str], count: int, seed: int = 0) -> list[tuple[str, str]]:
    """(kind, text) contaminants of every kind."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        text = rng.choice(held)
        out.append(("exact", text))
        words = text.split(" ")
        out.append(("case_whitespace", "  ".join(w.upper() if rng.random() < 0.5 else w for w in words) + " \n"))
        out.append(("one_number", _renumber(text, rng, every=False)))
        out.append(("all_numbers", _renumber(text, rng, every=True)))
        out.append(("short_other_numbers", _renumber(rng.choice(short), rng, every=True)))
    return out


def judge_agreement(model: str, pairs: int = 40) -> None:
    from curation.paraphrase import judge_pairs, verdict
    from generators.engines import make_engine
    from generators.problems import FAMILIES, _problem

    rng = random.Random(1)
    true_pairs, false_pairs = [], []
    for i in range(pairs):
        family, lang, level = FAMILIES[i % 7], "en", 1 + i % 3  # the seven single-template families
        train = _problem("j", i, lang, family, level, 0, "train")["problem"]
        true_pairs.append((train, _problem("j", i, lang, family, level, 0, "heldout")["problem"]))
        false_pairs.append(
            (train, _problem("j", i + 10_000 + rng.randint(0, 99), lang, family, level, 0, "heldout")["problem"])
        )
    engine = make_engine("transformers", model)
    start = time.perf_counter()
    said_true = [verdict(a) for a in judge_pairs(engine, true_pairs)]
    said_false = [verdict(a) for a in judge_pairs(engine, false_pairs)]
    seconds = time.perf_counter() - start
    engine.close()
    print(f"\njudge {model} on {pairs} true + {pairs} false pairs ({seconds:.0f} s):")
    print("| pairs | said same | said different | unclear |")
    print("|---|---|---|---|")
    for name, said in (("same problem, reworded", said_true), ("other numbers", said_false)):
        print(f"| {name} | {said.count(True)} | {said.count(False)} | {said.count(None)} |")
    right = said_true.count(True) + said_false.count(False)
    print(f"agreement with the truth: {right / (2 * pairs):.0%} (chance: 50%)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--plant", type=int, default=200, help="contaminants of each kind")
    parser.add_argument("--ngram", type=int, default=8)
    parser.add_argument("--judge", help="also measure this model as the paraphrase judge")
    args = parser.parse_args()

    held = [p["problem"] for p in heldout_problems()]
    short = short_set()
    eval_sets = [load_eval_set("heldout"), short]
    train = [p["problem"] for p in make_problems(args.n, seed=11)]
    planted = plant(held, short.texts, args.plant)
    rows = train + [text for _, text in planted]
    kinds = ["generated"] * len(train) + [kind for kind, _ in planted]

    # one warm-up call each (polars starts its thread pool on first use), then the best of three
    python_baseline(rows[:100], eval_sets, args.ngram, masked=True)
    Decontaminator(eval_sets, args.ngram).check(rows[:100])
    base_s = ours_s = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        baseline = python_baseline(rows, eval_sets, args.ngram, masked=True)
        base_s = min(base_s, time.perf_counter() - start)
        start = time.perf_counter()
        ours = Decontaminator(eval_sets, args.ngram).check(rows)
        ours_s = min(ours_s, time.perf_counter() - start)
    ngram_only = Decontaminator(eval_sets, args.ngram, masked=False).check(rows)

    flagged = [hit is not None for hit in ours]
    agree = sum(f == bool(b) for f, b in zip(flagged, baseline)) / len(rows)
    print(f"{len(rows)} rows ({len(train)} generated + {len(planted)} planted), n={args.ngram}, both rules")
    print("| implementation | seconds | rows/s | vs baseline |")
    print("|---|---|---|---|")
    print(f"| per-row Python n-gram sets (baseline) | {base_s:.2f} | {len(rows) / base_s:,.0f} | 1.0x |")
    print(
        f"| ours: hashed windows + polars joins | {ours_s:.2f} | {len(rows) / ours_s:,.0f} | {base_s / ours_s:.1f}x |"
    )
    print(f"\nflags agree with the baseline on {agree:.2%} of rows")
    print("\n| planted kind | planted | 8-gram rule alone | with digits-masked | recall |")
    print("|---|---|---|---|---|")
    for kind in ("exact", "case_whitespace", "one_number", "all_numbers", "short_other_numbers"):
        idx = [i for i, k in enumerate(kinds) if k == kind]
        alone = sum(ngram_only[i] is not None for i in idx)
        hit = sum(flagged[i] for i in idx)
        print(f"| {kind} | {len(idx)} | {alone} | {hit} | {hit / len(idx):.1%} |")
    false_flags = sum(f for f, k in zip(flagged, kinds) if k == "generated")
    planted_hits = sum(f for f, k in zip(flagged, kinds) if k != "generated")
    print(f"\ngenerated rows flagged (false positives): {false_flags} of {len(train)}")
    print(f"precision: {planted_hits / max(1, planted_hits + false_flags):.2%}")
    if args.judge:
        judge_agreement(args.judge)


if __name__ == "__main__":
    main()
