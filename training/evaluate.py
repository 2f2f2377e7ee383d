"""``r1f eval``: how every stage is judged — pass@1 (greedy), pass@k (sampled), format, language, truncation.

Completions are generated with the factory's own resumable runner through the engine factory (so any
engine can evaluate) and kept next to the results (``<out>/greedy``, ``<out>/sampled``), so every
number can be recomputed from saved rows. Rates come with 95 % Wilson intervals: on 30 or 200
problems, the interval says more than the point.

The prompt template defaults to ``auto``: the one the model was trained with (recorded by the training
stages in ``r1f_training.json``), so a model is never judged under a format it was not taught.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generators.config import EngineConfig, OutputConfig, ProblemsConfig, SamplingConfig
from generators.models import DEFAULT_MODEL
from r1f.config import option
from r1f.errors import ConfigError
from r1f.stats import wilson

#: language consistency at or above this counts a completion as "in the problem's language"
CONSISTENT = 0.95
DEFAULT_TEMPLATE = "r1-zero"


@dataclass
class EvalConfig(SamplingConfig, EngineConfig, ProblemsConfig, OutputConfig):
    """``r1f eval``: evaluate a model on held-out problems."""

    model: str = option(
        DEFAULT_MODEL, argument=True, help="Model alias, local directory (a trained stage) or Hub id (served name)."
    )
    out: str = option(
        "", help="Where results and completions go (default MODEL/eval for a local model).", fingerprint=False
    )
    problems: str = option("heldout", help="Problems to evaluate on: heldout (default), builtin, a file or a dataset.")
    n_problems: int | None = option(50, help="Evaluate on the first N problems (all: leave empty in a recipe).")
    k: int = option(4, help="Samples per problem for pass@k (1: greedy only).")
    temperature: float = option(0.7, help="Temperature of the pass@k samples (pass@1 is greedy).")
    top_p: float = option(0.95, help="Nucleus sampling threshold of the pass@k samples.")
    template: str = option(
        "auto",
        help="Prompt template: auto (the one the model was trained with; r1-zero for others), r1-zero, "
        "r1-zero-fewshot, sft-think, sft-r1, step-by-step, plain.",
    )

    def samples(self) -> int:
        return 1

    def validate(self) -> None:
        super().validate()
        if self.k < 1:
            raise ConfigError(f"--k must be >= 1, got {self.k}")
        from generators.prompts import TEMPLATES

        if self.template != "auto" and self.template not in TEMPLATES:
            raise ConfigError(f"unknown template {self.template!r}; choose auto or one of: {', '.join(TEMPLATES)}")


def model_template(model: str) -> str | None:
    """The prompt template a model trained by the factory was trained with, or None."""
    path = Path(model) / "r1f_training.json"
    if path.is_file():
        return json.loads(path.read_text()).get("template")
    return None


def resolve_template(config: EvalConfig) -> str:
    if config.template != "auto":
        return config.template
    found = model_template(config.model)
    return found if found and found != "custom" else DEFAULT_TEMPLATE


def default_out(config: EvalConfig) -> Path:
    if config.out:
        return Path(config.out)
    path = Path(config.model)
    return path / "eval" if (path / "config.json").is_file() else Path("datasets_out/eval") / path.name


def rate(values: list[float | None], threshold: float = 1.0) -> dict[str, Any]:
    """A rate with its Wilson interval: the share of judged values at or above ``threshold``."""
    judged = [v for v in values if v is not None]
    hits = sum(1 for v in judged if v >= threshold)
    interval = wilson(hits, len(judged))
    return {
        "value": round(hits / len(judged), 4) if judged else None,
        "n": len(judged),
        "ci95": [round(x, 4) for x in interval] if interval else None,
    }


def run_eval(config: EvalConfig, *, engine: Any = None, progress: Any = None) -> dict[str, Any]:
    """Evaluate ``config.model``; writes ``eval.json`` and ``eval.md`` into the output directory."""
    from filters.registry import parse_rewards
    from generators.engines import SamplingParams
    from generators.generate import run_generation

    out = default_out(config)
    template = resolve_template(config)
    rows = config.load_problems()
    own = engine is None
    engine = engine or config.make_engine()

    def on_chunk(label: str) -> Any:
        return (
            (lambda done, total, tokens: progress(done, total, f"{label}: {tokens} new tokens")) if progress else None
        )

    try:
        greedy = run_generation(
            rows,
            engine=engine,
            params=SamplingParams(max_new_tokens=config.max_new_tokens, stop=tuple(config.stop)),
            out_dir=out / "greedy",
            template=template,
            on_chunk=on_chunk("greedy"),
        ).rows
        sampled: list[dict[str, Any]] = []
        if config.k > 1:
            params = SamplingParams(
                n=config.k,
                temperature=config.temperature,
                top_p=config.top_p,
                max_new_tokens=config.max_new_tokens,
                stop=tuple(config.stop),
                seed=config.seed,
            )
            sampled = run_generation(
                rows,
                engine=engine,
                params=params,
                out_dir=out / "sampled",
                template=template,
                on_chunk=on_chunk("sampled"),
            ).rows
    finally:
        if own:
            engine.close()
    rewards = parse_rewards("accuracy,format,language_consistency")

    def scores(batch: list[dict[str, Any]]) -> dict[str, list[Any]]:
        columns = {key: [r.get(key) for r in batch] for key in ("solution", "lang", "problem", "prompt")}
        return {r.name: r.fn([b["completion"] for b in batch], **columns) for r in rewards}

    greedy_scores = scores(greedy)
    rates = {
        "pass@1": rate(greedy_scores["accuracy"]),
        "format": rate(greedy_scores["format"]),
        "language_consistent": rate(greedy_scores["language_consistency"], CONSISTENT),
        "truncated": rate([1.0 if r["finish_reason"] == "length" else 0.0 for r in greedy]),
    }
    result: dict[str, Any] = {
        "model": config.model,
        "engine": config.engine,
        "problems": config.problems,
        "n_problems": len(rows),
        "template": template,
        "max_new_tokens": config.max_new_tokens,
        "pass@1": rates["pass@1"]["value"],
        "format": rates["format"]["value"],
        "language_consistency": _mean(greedy_scores["language_consistency"]),
        "language_consistent": rates["language_consistent"]["value"],
        "truncated": rates["truncated"]["value"],
    }
    if sampled:
        correct = scores(sampled)["accuracy"]
        by_problem: dict[str, list[bool]] = defaultdict(list)
        for row, ok in zip(sampled, correct):
            if ok is not None:  # a problem whose gold cannot be judged counts in neither pass@1 nor pass@k
                by_problem[row["problem_id"]].append(ok == 1.0)
        rates[f"pass@{config.k}"] = rate([1.0 if any(v) else 0.0 for v in by_problem.values()])
        result[f"pass@{config.k}"] = rates[f"pass@{config.k}"]["value"]
        result["sampled_accuracy"] = _mean(correct)
        result["temperature"] = config.temperature
    # per problem, for paired comparisons of two models on the same problems (McNemar)
    result["greedy_correct"] = {
        row["problem_id"]: score for row, score in zip(greedy, greedy_scores["accuracy"]) if score is not None
    }
    result["intervals"] = {name: r["ci95"] for name, r in rates.items()}
    result["judged"] = {name: r["n"] for name, r in rates.items()}
    out.mkdir(parents=True, exist_ok=True)
    from r1f.redact import public

    (out / "eval.json").write_text(json.dumps(public(result), indent=2) + "\n")
    lines = ["| metric | value | 95% CI |", "|---|---|---|"]
    for key, value in result.items():
        if key in ("intervals", "judged", "greedy_correct"):
            continue
        ci = result["intervals"].get(key)
        shown = f"{value:.4f}" if isinstance(value, float) else value
        lines.append(f"| {key} | {shown} | {f'{ci[0]:.3f}–{ci[1]:.3f}' if ci else ''} |")
    (out / "eval.md").write_text("\n".join(lines) + "\n")
    result["out_dir"] = str(out)
    return result


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.mean(present), 4) if present else None
