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
from r1f.stats import mean_interval, wilson

#: language consistency at or above this counts a completion as "in the problem's language"
CONSISTENT = 0.95
DEFAULT_TEMPLATE = "r1-zero"
MARKER = ".r1f-eval"


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
    benchmark: list[str] = option(
        default_factory=list,
        help="Standard benchmarks instead of --problems (comma-separated): math500, gsm8k, aime24, aime25, amc23, "
        "math, svamp. Each reads its test split from a local copy (NAME=PATH, or $R1F_DATA_DIR) or the Hub.",
    )
    memorisation: bool = option(
        False,
        help="With --benchmark: also probe whether the model recites each benchmark (given 60 % of an item's words, "
        "how much of the rest it reproduces, ROUGE-L, and whether it states the gold).",
    )
    prompt_style: str = option(
        "benchmark",
        help="With --benchmark: benchmark (the problem then 'Please reason step by step, and put your final answer "
        "within \\boxed{}.', as open-r1/lighteval ask) or model (the model's own template, --template).",
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
        if self.prompt_style not in ("benchmark", "model"):
            raise ConfigError(f"--prompt-style {self.prompt_style!r}: use benchmark or model")
        from generators.datasets import PRESETS

        for name in self.benchmarks():
            if name.split("=")[0] not in PRESETS:
                raise ConfigError(f"--benchmark {name!r}: not a known benchmark; choose from {', '.join(PRESETS)}")

    def benchmarks(self) -> list[str]:
        """The benchmark specs, each once (``math500``, ``gsm8k=PATH``)."""
        return list(dict.fromkeys(p.strip() for spec in self.benchmark for p in spec.split(",") if p.strip()))


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


class BenchmarkPrompt:
    """The prompt harnesses use for a benchmark: the problem, then the instruction, as the user message."""

    def __init__(self, name: str, instruction: str) -> None:
        self.name = f"benchmark:{name}"
        self.instruction = instruction

    def __call__(self, row: dict[str, Any]) -> Any:
        return [{"role": "user", "content": f"{row['problem']}\n\n{self.instruction}"}]

    def __str__(self) -> str:
        return self.name


def run_eval(config: EvalConfig, *, engine: Any = None, progress: Any = None) -> dict[str, Any]:
    """Evaluate ``config.model`` on its problems, or on each ``--benchmark``; writes ``eval.json`` and ``eval.md``
    into the output directory (per benchmark: its own folder and a section of both files)."""
    out = default_out(config)
    # every input read before the model loads: a missing benchmark copy fails in a second, not after a load
    plans = [benchmark_problems(config, spec) for spec in config.benchmarks()]
    rows = None if plans else config.load_problems()
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).touch()  # a killed evaluation's folder is the factory's, to resume (benchmarks keep subfolders)
    own = engine is None
    engine = engine or config.make_engine()
    try:
        if rows is not None:
            result = evaluate(config, rows, resolve_template(config), out, engine, progress)
        else:
            result = {"model": config.model, "engine": config.engine, "benchmarks": {}}
            for name, problems, prompt in plans:
                step = (lambda d, t, text, name=name: progress(d, t, f"{name}: {text}")) if progress else None
                part = evaluate(config, problems, prompt, out / name, engine, step, name)
                if config.memorisation:
                    from training.probe import run_probe

                    part["memorisation"] = run_probe(problems, engine, out / name / "memorisation", step)
                result["benchmarks"][name] = part
            first = next(iter(result["benchmarks"].values()))
            result["n_problems"] = sum(b["n_problems"] for b in result["benchmarks"].values())
            result["template"] = first["template"]
    finally:
        if own:
            engine.close()
    out.mkdir(parents=True, exist_ok=True)
    from r1f.redact import public

    (out / "eval.json").write_text(json.dumps(public(result), indent=2) + "\n")
    (out / "eval.md").write_text(eval_markdown(result))
    result["out_dir"] = str(out)
    return result


def benchmark_problems(config: EvalConfig, spec: str) -> tuple[str, list[dict[str, Any]], Any]:
    """A benchmark's name, its test problems (capped by ``--n-problems``) and its prompt."""
    from generators.datasets import preset_of
    from generators.sources import load_problems

    preset = preset_of(spec)
    assert preset is not None
    rows = load_problems(spec, n=config.n_problems, split=preset.benchmark_split)
    prompt = BenchmarkPrompt(preset.name, preset.prompt) if config.prompt_style == "benchmark" else None
    return preset.name, rows, prompt or resolve_template(config)


def evaluate(
    config: EvalConfig,
    rows: list[dict[str, Any]],
    template: Any,
    out: Path,
    engine: Any,
    progress: Any = None,
    benchmark: str | None = None,
) -> dict[str, Any]:
    """Greedy pass@1, sampled pass@k, pass@1 averaged over the k samples, maj@k, format, language, truncation,
    and (when the problems carry them) pass@1 per level and subject, with 95 % intervals."""
    from filters.registry import parse_rewards
    from generators.engines import SamplingParams
    from generators.generate import run_generation

    def on_chunk(label: str) -> Any:
        return (
            (lambda done, total, tokens: progress(done, total, f"{label}: {tokens} new tokens")) if progress else None
        )

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
            rows, engine=engine, params=params, out_dir=out / "sampled", template=template, on_chunk=on_chunk("sampled")
        ).rows
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
        "problems": benchmark or config.problems,
        "n_problems": len(rows),
        "template": str(template),
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
        votes: dict[str, list[tuple[str, bool]]] = defaultdict(list)
        for row, ok in zip(sampled, correct):
            if ok is not None:  # a problem whose gold cannot be judged counts in neither pass@1 nor pass@k
                by_problem[row["problem_id"]].append(ok == 1.0)
                votes[row["problem_id"]].append((vote_key(row["completion"]), ok == 1.0))
        rates[f"pass@{config.k}"] = rate([1.0 if any(v) else 0.0 for v in by_problem.values()])
        result[f"pass@{config.k}"] = rates[f"pass@{config.k}"]["value"]
        means = [sum(v) / len(v) for v in by_problem.values()]
        result[f"pass@1 (mean of {config.k})"] = round(statistics.mean(means), 4) if means else None
        rates[f"pass@1 (mean of {config.k})"] = {"ci95": mean_interval(means), "n": len(means)}
        rates[f"maj@{config.k}"] = rate([1.0 if majority(v) else 0.0 for v in votes.values()])
        result[f"maj@{config.k}"] = rates[f"maj@{config.k}"]["value"]
        result["sampled_accuracy"] = _mean(correct)
        result["temperature"] = config.temperature
    for label in ("level", "subject"):
        groups: dict[str, list[float | None]] = defaultdict(list)
        for row, score in zip(greedy, greedy_scores["accuracy"]):
            if row.get(label) is not None:
                groups[str(row[label])].append(score)
        if groups:
            result[f"pass@1 by {label}"] = {k: rate(v) for k, v in sorted(groups.items())}
    # per problem, for paired comparisons of two models on the same problems (McNemar)
    result["greedy_correct"] = {
        row["problem_id"]: score for row, score in zip(greedy, greedy_scores["accuracy"]) if score is not None
    }
    result["intervals"] = {name: r["ci95"] for name, r in rates.items()}
    result["judged"] = {name: r["n"] for name, r in rates.items()}
    return result


def vote_key(completion: Any) -> str:
    """What majority voting counts: the extracted answer, case and whitespace folded ("" when there is none)."""
    from filters.text import answer_region, completion_text, normalize_answer

    return "".join(normalize_answer(answer_region(completion_text(completion))).lower().split())


def majority(votes: list[tuple[str, bool]]) -> bool:
    """maj@k: the most frequent non-empty answer (ties: the first seen) is correct."""
    counted: dict[str, list[bool]] = {}
    for key, ok in votes:
        if key:
            counted.setdefault(key, []).append(ok)
    if not counted:
        return False
    best = max(counted.values(), key=len)
    return any(best)


SKIPPED = ("intervals", "judged", "greedy_correct", "benchmarks")


def eval_markdown(result: dict[str, Any]) -> str:
    """eval.md: one metrics table (per benchmark when there are several), then per level / subject tables."""
    sections = result.get("benchmarks") or {"": result}
    lines: list[str] = [f"# Evaluation of {result.get('model')}", ""]
    for name, part in sections.items():
        if name:
            lines += [f"## {name} ({part['n_problems']} problems, prompt {part['template']})", ""]
        lines += ["| metric | value | 95% CI |", "|---|---|---|"]
        for key, value in part.items():
            if key in SKIPPED or key.startswith("pass@1 by "):
                continue
            ci = part.get("intervals", {}).get(key)
            shown = f"{value:.4f}" if isinstance(value, float) else value
            lines.append(f"| {key} | {shown} | {f'{ci[0]:.3f}–{ci[1]:.3f}' if ci else ''} |")
        for label in ("level", "subject"):
            groups = part.get(f"pass@1 by {label}")
            if groups:
                lines += [
                    "",
                    f"pass@1 (greedy) by {label}:",
                    "",
                    f"| {label} | n | pass@1 | 95% CI |",
                    "|---|---|---|---|",
                ]
                for key, r in groups.items():
                    ci = r["ci95"]
                    lines.append(f"| {key} | {r['n']} | {r['value']} | {f'{ci[0]:.3f}–{ci[1]:.3f}' if ci else ''} |")
        lines.append("")
    probes = {name: part["memorisation"] for name, part in sections.items() if part.get("memorisation")}
    if probes:
        lines += [
            "## Memorisation probe",
            "",
            "Given the first 60 % of each item's words, greedy: how much of the rest the model reproduces.",
            "",
            "| benchmark | n | exact | ROUGE-L (mean) | states the gold |",
            "|---|---|---|---|---|",
        ]
        for name, probe in probes.items():
            cells = [_with_ci(probe[key]) for key in ("exact", "rouge_l", "states_gold")]
            lines.append(f"| {name} | {probe['n']} | {' | '.join(cells)} |")
        lines.append("")
    return "\n".join(lines)


def _with_ci(entry: dict[str, Any]) -> str:
    ci = entry.get("ci95")
    return f"{entry['value']}" + (f" ({ci[0]:.3f}–{ci[1]:.3f})" if ci else "")


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.mean(present), 4) if present else None
