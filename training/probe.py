"""The memorisation probe: can a model recite a benchmark it is about to be measured on?

Before a benchmark says anything about a model, the model is given the first 60 % of each item's words and asked
to go on, greedy. If it reproduces the rest (exactly, or mostly: ROUGE-L over words) or states the gold answer, the
item was likely in its pre-training data and a score on it measures recall, not reasoning. The probe reports,
per benchmark, the share of exact continuations, the mean ROUGE-L, and the share that state the gold, beside the
decontamination of the training data (which can only speak for the data the factory wrote).

The chat engines continue an assistant message that holds the prefix (the same prefill the generators use for
``<think>``), so any engine can run it.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

#: share of an item's words shown to the model
SHOWN = 0.6
INSTRUCTION = "Write out the following math problem."


class PrefixPrompt:
    """The prompt of the probe: a user line and the item's first words as the start of the model's reply."""

    name = "memorisation-prefix"

    def __call__(self, row: dict[str, Any]) -> Any:
        return [{"role": "user", "content": INSTRUCTION}, {"role": "assistant", "content": row["prefix"]}]

    def __str__(self) -> str:
        return self.name


def split_item(text: str, shown: float = SHOWN) -> tuple[str, str]:
    """(the first ``shown`` of the words, the rest).

    >>> split_item("one two three four five")
    ('one two three', 'four five')
    """
    words = text.split()
    cut = max(1, math.ceil(len(words) * shown))
    return " ".join(words[:cut]), " ".join(words[cut:])


def _words(text: str) -> list[str]:
    return re.findall(r"\w+|[^\w\s]", text.lower())


def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F1 over words (longest common subsequence), our own implementation.

    >>> rouge_l("the cat sat on the mat", "the cat sat on the mat"), rouge_l("a b", "c d")
    (1.0, 0.0)
    """
    a, b = _words(candidate), _words(reference)
    if not a or not b:
        return 0.0
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    lcs = previous[-1]
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(a), lcs / len(b)
    return round(2 * precision * recall / (precision + recall), 4)


def states_gold(text: str, gold: str | None) -> bool:
    """The continuation contains the gold answer as a whole token sequence (``18`` but not ``180``)."""
    if not gold:
        return False
    wanted = _words(gold)
    have = _words(text)
    n = len(wanted)
    return n > 0 and any(have[i : i + n] == wanted for i in range(len(have) - n + 1))


def run_probe(rows: list[dict[str, Any]], engine: Any, out: Path, progress: Any = None) -> dict[str, Any]:
    """Probe ``engine``'s model on benchmark ``rows``; continuations are kept in ``out`` (resumable)."""
    from generators.engines import SamplingParams
    from generators.generate import run_generation
    from r1f.stats import mean_interval, wilson

    items = []
    for row in rows:
        prefix, rest = split_item(row["problem"])
        if rest:
            items.append({**row, "prefix": prefix, "rest": rest})
    if not items:
        return {"n": 0}
    longest = max(len(_words(r["rest"])) for r in items)
    params = SamplingParams(max_new_tokens=min(512, 2 * longest + 16))
    done = run_generation(
        items,
        engine=engine,
        params=params,
        out_dir=out,
        template=PrefixPrompt(),
        on_chunk=(lambda d, t, tokens: progress(d, t, f"memorisation probe: {tokens} new tokens"))
        if progress
        else None,
    ).rows
    by_id = {r["id"]: r for r in items}
    exact = gold = 0
    scores = []
    for row in done:
        item = by_id.get(row.get("problem_id") or row.get("id"), row)
        rest = str(item.get("rest") or row.get("rest") or "")
        text = str(row["completion"])
        head = " ".join(text.split()[: len(rest.split())])
        score = rouge_l(head, rest)
        scores.append(score)
        exact += int(_words(head) == _words(rest))
        gold += int(states_gold(text, item.get("solution")))
    n = len(done)

    def share(k: int) -> dict[str, Any]:
        interval = wilson(k, n)
        return {"value": round(k / n, 4), "ci95": [round(x, 4) for x in interval] if interval else None}

    return {
        "n": n,
        "shown": SHOWN,
        "exact": share(exact),
        "rouge_l": {"value": round(sum(scores) / n, 4), "ci95": mean_interval(scores)},
        "states_gold": share(gold),
    }
