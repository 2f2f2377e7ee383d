"""Decontamination on real data: recall per kind of planted copy, false flags on clean rows, and seconds, for
ours and two published rules side by side in one process.

Clean rows: 2 000 GSM8K-train problems (fixed seed). Evaluation sets: GSM8K-test and MATH-500. Planted copies
(our own variant generator, half from each evaluation set): exact copies, every number changed, paraphrases
(question moved first, synonyms), the first 60 % of the words, and format edits (case, punctuation, spacing).
A second scenario prefixes every MATH-500 item with a harness instruction ("Return your final response within
\\boxed{}.") and plants numbers-changed copies without it.

Rules: ours (``curation.decontaminate``: cleaned text, 8-grams, at least half of the shorter text's n-grams
shared with one item, plus the digits-masked rule); open-r1's (lower case, split on spaces, any shared 8-gram;
texts under 8 words give no n-gram); a NeMo-Curator-style rule (lower case, punctuation removed, any shared
13-gram). Every false flag is printed with the item it hit, for reading by hand.

    .venv/bin/python bench/decontam.py [--data ../shared/data] [--clean 2000] [--per-kind 60]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from curation.decontaminate import Decontaminator, EvalSet

HARNESS = "Return your final response within \\boxed{}. "
KINDS = ("exact", "numbers", "paraphrase", "first60", "format")
SYNONYMS = {
    "has": "owns",
    "have": "own",
    "buys": "purchases",
    "bought": "purchased",
    "each": "every",
    "total": "sum",
    "how many": "what number of",
    "how much": "what amount of",
    "find": "determine",
    "compute": "calculate",
    "what is": "what's",
    "there are": "we have",
    "costs": "is priced at",
    "gives": "hands",
    "gave": "handed",
    "makes": "earns",
    "sells": "trades",
    "spends": "uses",
    "every": "each",
    "per": "a",
    "twice": "two times",
    "half": "one half",
    "more than": "above",
    "less than": "below",
    "wants to": "would like to",
    "then": "after that",
    "also": "as well",
    "number": "count",
    "money": "cash",
    "left": "remaining",
    "week": "7-day week",
}


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def renumber(text: str, rng: random.Random) -> str:
    return re.sub(r"\d+", lambda m: str(int(m.group()) + rng.randint(1, 9)), text)


def paraphrase(text: str, rng: random.Random) -> str:
    sentences = re.split(r"(?<=[.?!])\s+", text.strip())
    if len(sentences) > 1:
        sentences = [sentences[-1], *sentences[:-1]]
    out = " ".join(sentences)
    for a, b in SYNONYMS.items():
        out = re.sub(rf"\b{a}\b", b, out, flags=re.I)
    return out


def first60(text: str, rng: random.Random) -> str:
    words = text.split()
    return " ".join(words[: max(1, round(len(words) * 0.6))])


def reformat(text: str, rng: random.Random) -> str:
    words = text.split()
    out = []
    for word in words:
        roll = rng.random()
        word = word.upper() if roll < 0.15 else word.lower() if roll < 0.4 else word
        word = word.rstrip(",;") if rng.random() < 0.5 else word
        out.append(word)
    return ("  ".join(out) if rng.random() < 0.5 else "\n".join(out)).replace("?", " ?")


VARIANTS: dict[str, Callable[[str, random.Random], str]] = {
    "exact": lambda t, r: t,
    "numbers": renumber,
    "paraphrase": paraphrase,
    "first60": first60,
    "format": reformat,
}


def planted(sets: Sequence[EvalSet], per_kind: int, seed: int) -> list[tuple[str, str, str]]:
    """(kind, text, eval set) for ``per_kind`` copies of each kind, half from each evaluation set."""
    rng = random.Random(seed)
    out = []
    for kind in KINDS:
        for eval_set in sets:
            usable = [t for t in eval_set.texts if (kind != "numbers" or re.search(r"\d", t)) and len(t.split()) >= 8]
            for text in rng.sample(usable, per_kind // len(sets)):
                out.append((kind, VARIANTS[kind](text, rng), eval_set.name))
    return out


# -- the published rules, re-implemented from their descriptions ---------------------------------------------


def any_ngram(texts: Sequence[str], sets: Sequence[EvalSet], n: int, clean: Callable[[str], list[str]]) -> list[bool]:
    index = set()
    for eval_set in sets:
        for text in eval_set.texts:
            words = clean(text)
            index.update(" ".join(words[i : i + n]) for i in range(len(words) - n + 1))
    out = []
    for text in texts:
        words = clean(text)
        out.append(any(" ".join(words[i : i + n]) in index for i in range(len(words) - n + 1)))
    return out


def openr1_words(text: str) -> list[str]:
    return text.lower().split()


def nemo_words(text: str) -> list[str]:
    return re.sub(r"[^\w\s]", " ", text.lower()).split()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    parser.add_argument("--clean", type=int, default=2000)
    parser.add_argument("--per-kind", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    data = Path(args.data)
    gsm_test = _jsonl(data / "gsm8k_test.jsonl")
    math500 = _jsonl(data / "math500_test.jsonl")
    sets = [
        EvalSet("gsm8k", [r["question"] for r in gsm_test], [str(r["idx"]) for r in gsm_test]),
        EvalSet("math500", [r["problem"] for r in math500], [r["unique_id"] for r in math500]),
    ]
    train = _jsonl(data / "gsm8k_train.jsonl")
    clean = [r["question"] for r in random.Random(args.seed).sample(train, args.clean)]
    plants = planted(sets, args.per_kind, args.seed + 1)
    texts = clean + [t for _, t, _ in plants]
    prefixed = [EvalSet("math500-harness", [HARNESS + t for t in sets[1].texts], sets[1].ids)]
    rng = random.Random(args.seed + 2)
    harness_copies = [renumber(t, rng) for t in rng.sample([t for t in sets[1].texts if re.search(r"\d", t)], 30)]

    rules: dict[str, Callable[[Sequence[str], Sequence[EvalSet]], list[bool]]] = {
        "ours": lambda ts, ss: [h is not None for h in Decontaminator(ss).check(ts)],
        "open-r1 8-gram": lambda ts, ss: any_ngram(ts, ss, 8, openr1_words),
        "13-gram (NeMo-style)": lambda ts, ss: any_ngram(ts, ss, 13, nemo_words),
    }
    load = Path("/proc/loadavg").read_text().split()[:3]
    print(f"clean rows {len(clean)}, planted {len(plants)} ({args.per_kind} per kind), load {' '.join(load)}")
    header = f"| rule | {' | '.join(KINDS)} | harness-prefixed numbers | false flags / {len(clean)} | seconds |"
    lines = [header, "|---" * (len(KINDS) + 5) + "|"]
    flagged_by_ours: list[int] = []
    for name, rule in rules.items():
        started = time.perf_counter()
        flags = rule(texts, sets)
        seconds = time.perf_counter() - started
        harness = sum(rule(harness_copies, prefixed))
        recall = []
        for kind in KINDS:
            idx = [len(clean) + i for i, (k, _, _) in enumerate(plants) if k == kind]
            recall.append(f"{sum(flags[i] for i in idx)}/{len(idx)}")
        false = [i for i in range(len(clean)) if flags[i]]
        if name == "ours":
            flagged_by_ours = false
        lines.append(
            f"| {name} | {' | '.join(recall)} | {harness}/{len(harness_copies)} | {len(false)} | {seconds:.2f} |"
        )
    print("\n".join(lines))
    if flagged_by_ours:
        print("\nclean rows ours flags (read each by hand):")
        hits = Decontaminator(sets).check([clean[i] for i in flagged_by_ours])
        lookup = {(s.name, i): t for s in sets for i, t in zip(s.ids, s.texts)}
        for i, hit in zip(flagged_by_ours, hits):
            assert hit is not None
            name = hit["sets"][0].split(" (")[0]
            print(f"- {hit['sets'][0]} {hit['items'][0]} overlap {hit['overlap'][0]}")
            print(f"    train: {clean[i][:300]}")
            print(f"    eval:  {lookup[(name, hit['items'][0])][:300]}")


if __name__ == "__main__":
    main()
