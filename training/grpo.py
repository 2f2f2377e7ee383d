"""``r1f train grpo``: R1-Zero and reasoning-oriented RL as a thin wrapper around TRL's GRPOTrainer.

Straight-line on purpose: recipe -> data -> rewards -> TRL config -> trainer -> train -> save -> card.
Every check that can fail (recipe keys, dataset columns, reward names) runs before the model loads.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from r1f.errors import ConfigError, DataError


def grpo_rows(ours: dict[str, Any]) -> list[dict[str, Any]]:
    """Training rows with a chat ``prompt`` (and the columns rewards read: solution, lang, problem)."""
    from generators.prompts import build_prompt
    from generators.sources import load_problems
    from r1f.io import read_rows

    source = ours["dataset"]
    if source in ("builtin", "heldout"):
        rows = load_problems(
            source,
            n=ours["n_problems"],
            seed=ours["problem_seed"],
            languages=[x for x in str(ours["languages"]).split(",") if x],
        )
    else:
        rows = read_rows(source, split=ours["dataset_split"])
    out = []
    for i, row in enumerate(rows):
        prompt = row.get("prompt")
        if not prompt and row.get("problem"):
            prompt = build_prompt(ours["prompt_template"], row["problem"])
        if not prompt:
            raise DataError(
                f"{source}: row {i + 1} has neither 'prompt' (chat messages) nor 'problem'; columns: {', '.join(row)}"
            )
        if isinstance(prompt, str):
            prompt = [{"role": "user", "content": prompt}]
        out.append(
            {"prompt": prompt, "solution": row.get("solution"), "lang": row.get("lang"), "problem": row.get("problem")}
        )
    return out


def run_grpo(recipe: dict[str, Any], *, output_dir: str | None = None, resume: bool = False) -> dict[str, Any]:
    """Train with GRPO as ``recipe`` says; returns the summary written into the model card."""
    from trl import GRPOConfig

    from filters.registry import parse_rewards
    from training.config import device_defaults, split_recipe

    ours, trl = split_recipe("grpo", recipe, GRPOConfig)
    weights = ours["reward_weights"]
    rewards = parse_rewards(ours["rewards"], ",".join(str(w) for w in weights) if weights else None)
    rows = grpo_rows(ours)
    if any(r["solution"] is None for r in rows) and any(r.name in ("accuracy", "cosine", "length") for r in rewards):
        raise DataError("the accuracy-based rewards need a 'solution' column in the training data")
    trl = device_defaults(trl)
    trl["output_dir"] = output_dir or trl.get("output_dir") or "datasets_out/models/r1-zero"
    trl["reward_weights"] = [r.weight for r in rewards]
    try:
        config = GRPOConfig(**trl)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"GRPO settings rejected by TRL: {str(err).splitlines()[0]}") from None

    from datasets import Dataset
    from trl import GRPOTrainer

    from generators.models import resolve_model

    model = resolve_model(ours["model"]).path
    started = time.time()
    trainer = GRPOTrainer(
        model=model, reward_funcs=[r.fn for r in rewards], args=config, train_dataset=Dataset.from_list(rows)
    )
    trainer.train(resume_from_checkpoint=True if resume else None)
    trainer.save_model(config.output_dir)
    summary = {
        "stage": "grpo",
        "base_model": ours["model"],
        "dataset": ours["dataset"],
        "rows": len(rows),
        "rewards": {r.name: r.weight for r in rewards},
        "steps": trainer.state.global_step,
        "seconds": round(time.time() - started, 1),
        "final_logs": _last_logs(trainer.state.log_history),
        "recipe": recipe,
    }
    write_card(Path(config.output_dir), summary)
    return summary


def _last_logs(history: list[dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for entry in history:
        merged.update(entry)
    return {k: v for k, v in merged.items() if isinstance(v, (int, float))}


def write_card(directory: Path, summary: dict[str, Any]) -> None:
    """A model card saying which dataset and recipe made the model, with the final logged metrics."""
    import json

    import yaml

    meta = {
        "library_name": "transformers",
        "tags": ["r1-factory", "trl", summary["stage"]],
        "base_model": summary["base_model"],
    }
    body = [
        "---",
        yaml.safe_dump(meta, sort_keys=False).strip(),
        "---",
        "",
        f"# {directory.name}",
        "",
        f"Trained by r1-factory's `r1f train {summary['stage']}` (TRL) from `{summary['base_model']}` on "
        f"`{summary['dataset']}` ({summary['rows']} rows), {summary['steps']} steps in {summary['seconds']} s.",
        "",
        "## Recipe",
        "",
        "```yaml",
        yaml.safe_dump(summary["recipe"], sort_keys=True).strip(),
        "```",
        "",
        "## Final logged metrics",
        "",
        "```json",
        json.dumps(summary["final_logs"], indent=2),
        "```",
        "",
    ]
    (directory / "README.md").write_text("\n".join(body))
    (directory / "r1f_training.json").write_text(json.dumps(summary, indent=2, default=str))
