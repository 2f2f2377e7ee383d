"""GRPO prompt selection: measure each prompt's pass rate with the current model, drop those with no signal.

GRPO's advantage is a reward minus its group mean, so a prompt whose k completions all score the same (all
right or all wrong) contributes zero gradient and only costs generation time (DAPO's dynamic sampling; a
long-standing TRL request). Before training, the factory samples k completions per prompt with the model
being trained (its own engine, resumable in a run store beside the output), keeps the prompts whose pass
rate lies strictly between 0 and 1 (or in a window), and can order them easy to hard as a curriculum.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def measure_pass_rates(
    rows: Sequence[dict[str, Any]],
    model: str,
    *,
    k: int,
    max_new_tokens: int,
    store_dir: Path,
    temperature: float = 0.8,
    seed: int = 0,
) -> list[float | None]:
    """Each row's pass rate over ``k`` samples of its ``prompt`` (None when its gold cannot be judged)."""
    from filters.rewards.accuracy import correctness
    from generators.engines import SamplingParams, make_engine
    from generators.generate import generate_rows
    from r1f.store import RunStore

    problems = [
        {**row, "problem": row.get("problem") or str(row["prompt"][-1].get("content") or "?"), "id": str(i)}
        for i, row in enumerate(rows)
    ]
    engine = make_engine("transformers", model)
    try:
        summary = generate_rows(
            problems,
            engine=engine,
            params=SamplingParams(n=k, temperature=temperature, max_new_tokens=max_new_tokens, seed=seed),
            store=RunStore(store_dir),
            prompt=lambda problem: problem["prompt"],
            generator="grpo-select",
        )
    finally:
        engine.close()
    by_prompt: dict[str, list[dict[str, Any]]] = {}
    for row in summary.rows:
        by_prompt.setdefault(row["problem"], []).append(row)
    rates: list[float | None] = []
    for problem in problems:
        samples = by_prompt.get(problem["problem"], [])
        scores = (
            correctness([s["completion"] for s in samples], [problem.get("solution")] * len(samples)) if samples else []
        )
        judged = [s for s in scores if s is not None]
        rates.append(sum(judged) / len(judged) if judged else None)
    return rates


def select_prompts(
    rows: Sequence[dict[str, Any]],
    rates: Sequence[float | None],
    window: tuple[float, float] | None = None,
    curriculum: bool = False,
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Rows worth training on, each with its ``pass_rate``, and per reason how many were dropped.

    Without a window, a prompt is kept when its rate is strictly between 0 and 1 (its rewards differ);
    ``curriculum`` orders the kept prompts from the highest pass rate to the lowest (easy to hard).

    >>> rows = [{"p": i} for i in range(4)]
    >>> kept, dropped = select_prompts(rows, [0.0, 0.5, 1.0, 0.25], curriculum=True)
    >>> [r["p"] for r in kept], dropped
    ([1, 3], {'all_wrong': 1, 'all_right': 1})
    """
    kept, dropped = [], Counter[str]()
    for row, rate in zip(rows, rates):
        if rate is None:
            dropped["unjudged"] += 1
        elif window is not None and not window[0] <= rate <= window[1]:
            dropped["out_of_window"] += 1
        elif window is None and rate == 0.0:
            dropped["all_wrong"] += 1
        elif window is None and rate == 1.0:
            dropped["all_right"] += 1
        else:
            kept.append({**row, "pass_rate": rate})
    if curriculum:
        kept.sort(key=lambda row: -row["pass_rate"])
    return kept, dict(dropped)
