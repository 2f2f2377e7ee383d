"""Verification on real math: our accuracy reward vs open-r1's logic vs plain math-verify, same items.

Items are built from the golds of MATH-500 and GSM8K (local copies in ../shared/data, or files given with
--math500 / --gsm8k), each with a known truth:

- right, in every shape the factory reads: ``\\boxed{X}`` at the end of prose, ``<answer>X</answer>``,
  ``<answer>\\boxed{X}</answer>``, "The final answer is X", GSM8K's ``#### X`` and "A: X";
- equal rewrites (``\\dfrac`` for ``\\frac``, spacing, ``N.0``, thousands commas, ``\\$N``);
- wrong: another item's gold (true only where the two golds are the same string or number), the number
  plain math-verify reads out of the bare gold (a fragment: true only where it is the whole gold), N + 1.

Each checker sees the same (completion, gold) pairs, once with MATH-500's bare ``answer`` column as gold and
once with the worked ``solution`` (GSM8K: the worked answer ending ``#### N``). open-r1's ``accuracy_reward``
is re-implemented here from its documented behaviour (gold parsed with math-verify's default extraction,
first match; completion parsed with boxed-first LaTeX extraction that needs an anchor; None when the gold
does not parse); plain math-verify is ``verify(parse(gold), parse(completion))`` with default settings.
All three run in this process with one thread of sympy each; ours runs as shipped (pool of workers).

    .venv/bin/python bench/verify.py [--limit 500]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _read(path: Path, limit: int) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()][:limit]


def _fragment(gold: str) -> str | None:
    """What plain math-verify keeps of a bare gold (a number-like fragment), as text; None if nothing."""
    from math_verify import parse

    parsed = parse(gold, parsing_timeout=None)
    return parsed[1] if len(parsed) > 1 and isinstance(parsed[1], str) else None


def _canon(text: str) -> str:
    """The bench's truth for "the same answer": equal after spacing, ``\\left``, ``\\dfrac``, degree marks, a leading
    ``x=`` and a leading ``0.`` are normalised (what the README documents as one value). Checked by hand."""
    text = re.sub(r"\s+|\\left|\\right|\\!|\\,|\$|\^\\circ|\^\{\\circ\}", "", text.replace("\\dfrac", "\\frac"))
    text = re.sub(r"\\(?:text|mbox)\{[A-Za-z ]*\}(?:\^\{?2\}?)?$", "", text)
    text = re.sub(r"(?<=\d),(?:\\!)?(?=\d{3})", "", text)
    text = re.sub(r"^[a-z]=", "", text)
    return re.sub(r"^0(?=\.)", "", text)


def _rewrites(answer: str) -> list[str]:
    out = []
    if "\\frac" in answer:
        out.append(answer.replace("\\frac", "\\dfrac"))
    if re.fullmatch(r"-?\d+", answer):
        out.append(answer + ".0")
        if len(answer.lstrip("-")) > 3:
            out.append(f"{int(answer):,}")
    if " " not in answer and "," in answer and not re.search(r"\d,(?:\\!)?\d{3}", answer):
        out.append(answer.replace(",", ", "))
    return out


def math_items(rows: list[dict], rng: random.Random) -> list[tuple[str, str, str, int]]:
    """(kind, completion, answer gold, truth) for MATH-500; the worked-solution gold is looked up by index."""
    items = []
    for i, row in enumerate(rows):
        x = row["answer"]
        for kind, text in (
            ("boxed", f"Working through the problem gives the result. So the answer is $\\boxed{{{x}}}$."),
            ("tags", f"<think>I work it out.</think><answer>{x}</answer>"),
            ("tags_boxed", f"<think>I work it out.</think><answer>\\boxed{{{x}}}</answer>"),
            ("final_answer", f"I work it out step by step.\nThe final answer is ${x}$"),
        ):
            items.append((kind, text, i, 1))
        for rewrite in _rewrites(x):
            items.append(("rewrite", f"<answer>{rewrite}</answer>", i, 1))
        other = rows[rng.randrange(len(rows))]["answer"]
        items.append(("other_gold", f"<answer>{other}</answer>", i, int(_canon(other) == _canon(x))))
        fragment = _fragment(x)
        if fragment is not None:
            items.append(("fragment", f"<answer>{fragment}</answer>", i, int(_canon(fragment) == _canon(x))))
    return items


def gsm8k_items(rows: list[dict], rng: random.Random) -> list[tuple[str, str, int, int]]:
    items = []
    for i, row in enumerate(rows):
        n = row["answer"].rsplit("####", 1)[1].strip().replace(",", "")
        value = int(n)
        for kind, text in (
            ("answer_is", f"Let me compute. The answer is {n}."),
            ("boxed", f"Let me compute. So we get $\\boxed{{{n}}}$."),
            ("tags", f"<think>compute</think><answer>{n}</answer>"),
            ("hashes", f"She pays 3 * 4 = 12 dollars.\n#### {n}"),
            ("a_line", f"She pays 3 * 4 = 12 dollars.\nA: {n}"),
            ("thousands", f"<answer>{value:,}</answer>"),
            ("dollars", f"<answer>\\${n}</answer>"),
            ("decimal", f"The answer is {n}.00"),
        ):
            items.append((kind, text, i, 1))
        other = rows[rng.randrange(len(rows))]["answer"].rsplit("####", 1)[1].strip().replace(",", "")
        items.append(("other_gold", f"The answer is {other}.", i, int(int(other) == value)))
        items.append(("off_by_one", f"<answer>{value + 1}</answer>", i, 0))
    return items


# -- the two baselines ------------------------------------------------------------------------------


def open_r1_style(completion: str, gold: str) -> float | None:
    """open-r1's accuracy_reward as documented: gold by default extraction, answer boxed-first, anchored."""
    from math_verify import LatexExtractionConfig, parse, verify
    from math_verify.parser import NormalizationConfig

    gold_parsed = parse(gold, extraction_mode="first_match", parsing_timeout=None)
    if not gold_parsed:
        return None
    config = LatexExtractionConfig(
        normalization_config=NormalizationConfig(
            nits=False, malformed_operators=False, basic_latex=True, equations=True, boxed="all", units=True
        ),
        boxed_match_priority=0,
        try_extract_without_anchor=False,
    )
    answer = parse(completion, extraction_config=[config], extraction_mode="first_match", parsing_timeout=None)
    try:
        return float(verify(gold_parsed, answer, timeout_seconds=None))
    except Exception:
        return 0.0


def plain_math_verify(completion: str, gold: str) -> float | None:
    from math_verify import parse, verify

    gold_parsed = parse(gold, parsing_timeout=None)
    if not gold_parsed:
        return None
    try:
        return float(verify(gold_parsed, parse(completion, parsing_timeout=None), timeout_seconds=None))
    except Exception:
        return 0.0


def _score(name: str, pairs: list[tuple[str, str]]) -> tuple[list[float | None], float]:
    started = time.perf_counter()
    if name == "ours":
        from filters.rewards.accuracy import Accuracy

        scores = Accuracy()([c for c, _ in pairs], solution=[g for _, g in pairs])
    else:
        check = open_r1_style if name == "open-r1" else plain_math_verify
        scores = [check(c, g) for c, g in pairs]
    return scores, time.perf_counter() - started


def evaluate(title: str, items: list, golds: list[str], names: list[str]) -> list[dict]:
    pairs = [(text, golds[index]) for _, text, index, _ in items]
    truths = [truth for *_, truth in items]
    kinds = sorted({kind for kind, *_ in items})
    results = []
    for name in names:
        scores, seconds = _score(name, pairs)
        row = {"set": title, "checker": name, "items": len(pairs), "seconds": round(seconds, 2)}
        row["items_per_s"] = round(len(pairs) / seconds, 1)
        row["agree"] = sum((s or 0.0) == t for s, t in zip(scores, truths))
        row["false_credit"] = sum(s == 1.0 and t == 0 for s, t in zip(scores, truths))
        row["false_zero"] = sum((s or 0.0) == 0.0 and t == 1 for s, t in zip(scores, truths))
        row["none"] = sum(s is None for s in scores)
        for kind in kinds:
            picked = [(s, t) for (k, *_), s, t in zip(items, scores, truths) if k == kind]
            row[kind] = f"{sum((s or 0.0) == t for s, t in picked)}/{len(picked)}"
        row["_wrong"] = [
            (k, text[-80:], golds[i][-60:], s, t) for (k, text, i, t), s in zip(items, scores) if (s or 0.0) != t
        ][:40]
        results.append(row)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--math500", default=str(DATA / "math500_test.jsonl"))
    parser.add_argument("--gsm8k", default=str(DATA / "gsm8k_test.jsonl"))
    parser.add_argument("--limit", type=int, default=500, help="items per dataset")
    parser.add_argument("--checkers", default="ours,open-r1,math-verify")
    parser.add_argument("--show-wrong", action="store_true", help="print up to 12 misjudged items per checker")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    rng = random.Random(0)
    names = args.checkers.split(",")
    math_rows = _read(Path(args.math500), args.limit)
    gsm_rows = _read(Path(args.gsm8k), args.limit)
    m_items = math_items(math_rows, rng)
    g_items = gsm8k_items(gsm_rows, rng)
    # warm our worker pool outside the clock, as a long run would have it
    from filters.verify import shared_pool

    shared_pool().verify([("\\frac{1}{2}", "\\frac{2}{4}")])
    results = []
    results += evaluate("MATH-500, gold = answer", m_items, [r["answer"] for r in math_rows], names)
    results += evaluate("MATH-500, gold = solution", m_items, [r["solution"] for r in math_rows], names)
    results += evaluate("GSM8K test, gold = worked #### N", g_items, [r["answer"] for r in gsm_rows], names)
    bare = [r["answer"].rsplit("####", 1)[1].strip() for r in gsm_rows]
    results += evaluate("GSM8K test, gold = N", g_items, bare, names)
    mixed = m_items + [(k, t, i + len(math_rows), truth) for k, t, i, truth in g_items]
    results += evaluate("mixed MATH-500 + GSM8K, bare golds", mixed, [r["answer"] for r in math_rows] + bare, names)
    from filters.rewards.accuracy import unreadable_golds

    bad_answer = unreadable_golds([r["answer"] for r in math_rows])
    bad_solution = unreadable_golds([r["solution"] for r in math_rows])
    print(
        f"MATH-500 golds that cannot be read whole: answer column {len(bad_answer)}, solution column "
        f"{len(bad_solution)} of {len(math_rows)}: {[math_rows[i]['answer'] for i in bad_answer][:10]}"
    )
    columns = ["set", "checker", "items", "agree", "false_credit", "false_zero", "none", "items_per_s"]
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in results:
        print("| " + " | ".join(str(row[c]) for c in columns) + " |")
    print()
    for row in results:
        extra = {k: v for k, v in row.items() if k not in columns and k not in ("seconds", "_wrong")}
        print(f"{row['set']:<34} {row['checker']:<12} " + "  ".join(f"{k} {v}" for k, v in extra.items()))
    if args.show_wrong:
        for row in results:
            print(f"\n{row['set']} / {row['checker']}:")
            for wrong in row["_wrong"]:
                print("   ", wrong)


if __name__ == "__main__":
    main()
