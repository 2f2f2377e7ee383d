"""``r1f eval``: how every stage is judged — pass@1 (greedy), pass@k (sampled), format and language.

Completions are generated with the factory's own resumable runner and kept next to the results
(``<out>/greedy``, ``<out>/sampled``), so every number can be recomputed from saved rows.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from r1f.errors import ConfigError


def run_eval(
    model: str,
    *,
    out_dir: str | None = None,
    problems: str = "heldout",
    n_problems: int | None = 50,
    k: int = 4,
    temperature: float = 0.7,
    max_new_tokens: int = 256,
    template: str = "r1-zero",
    dtype: str = "auto",
    solution_column: str = "solution",
    problem_column: str = "problem",
) -> dict[str, Any]:
    """Evaluate ``model``; writes ``eval.json`` and ``eval.md`` into ``out_dir`` (default ``<model>/eval``)."""
    from filters.registry import parse_rewards
    from generators.engines import SamplingParams
    from generators.engines.transformers_engine import TransformersEngine
    from generators.generate import run_generation
    from generators.models import resolve_model
    from generators.sources import load_problems

    if k < 1:
        raise ConfigError(f"--k must be >= 1, got {k}")
    resolved = resolve_model(model)
    out = (
        Path(out_dir)
        if out_dir
        else (
            Path(resolved.path) / "eval" if resolved.kind == "local" else Path("datasets_out/eval") / Path(model).name
        )
    )
    rows = load_problems(problems, n=n_problems, problem_column=problem_column, solution_column=solution_column)
    engine = TransformersEngine(model=model, dtype=dtype)
    greedy = run_generation(
        rows,
        engine=engine,
        params=SamplingParams(max_new_tokens=max_new_tokens),
        out_dir=out / "greedy",
        template=template,
    ).rows
    sampled = []
    if k > 1:
        params = SamplingParams(n=k, temperature=temperature, top_p=0.95, max_new_tokens=max_new_tokens, seed=0)
        sampled = run_generation(rows, engine=engine, params=params, out_dir=out / "sampled", template=template).rows
    rewards = parse_rewards("accuracy,format,language_consistency")

    def scores(batch: list[dict[str, Any]]) -> dict[str, list[Any]]:
        columns = {key: [r.get(key) for r in batch] for key in ("solution", "lang", "problem", "prompt")}
        return {r.name: r.fn([b["completion"] for b in batch], **columns) for r in rewards}

    greedy_scores = scores(greedy)
    result: dict[str, Any] = {
        "model": model,
        "problems": problems,
        "n_problems": len(rows),
        "template": template,
        "max_new_tokens": max_new_tokens,
        "pass@1": _mean(greedy_scores["accuracy"]),
        "format": _mean(greedy_scores["format"]),
        "language_consistency": _mean(greedy_scores["language_consistency"]),
        "truncated": sum(1 for r in greedy if r["finish_reason"] == "length") / len(greedy),
    }
    if sampled:
        correct = scores(sampled)["accuracy"]
        by_problem: dict[str, list[bool]] = defaultdict(list)
        for row, ok in zip(sampled, correct):
            by_problem[row["problem_id"]].append(ok == 1.0)
        result[f"pass@{k}"] = round(statistics.mean(any(v) for v in by_problem.values()), 4)
        result["sampled_accuracy"] = _mean(correct)
        result["temperature"] = temperature
    out.mkdir(parents=True, exist_ok=True)
    (out / "eval.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = ["| metric | value |", "|---|---|"] + [
        f"| {key} | {value:.4f} |" if isinstance(value, float) else f"| {key} | {value} |"
        for key, value in result.items()
    ]
    (out / "eval.md").write_text("\n".join(lines) + "\n")
    result["out_dir"] = str(out)
    return result


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.mean(present), 4) if present else None
