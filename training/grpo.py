"""``r1f train grpo``: R1-Zero and reasoning-oriented RL as a thin wrapper around TRL's GRPOTrainer.

Straight-line on purpose: recipe -> data -> rewards -> TRL config -> trainer -> train -> save -> card.
Every check that can fail (recipe keys, dataset columns, reward names) runs before the model loads.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from r1f.errors import ConfigError, DataError
from r1f.step import Progress
from training.config import GRPOTrainConfig
from training.lifecycle import (
    drop_checkpoints,
    last_logs,
    prepare_output,
    progress_callback,
    quiet_libraries,
    quiet_trainer,
    write_card,
)


def grpo_rows(config: GRPOTrainConfig) -> list[dict[str, Any]]:
    """Training rows with a chat ``prompt`` (and the columns rewards read: solution, lang, problem)."""
    from generators.prompts import build_prompt
    from generators.sources import RG, is_builtin, load_problems
    from r1f.io import read_rows
    from r1f.schema import message_problem

    source = config.dataset
    if is_builtin(source) or source.startswith(RG):
        from generators.problems import DIFFICULTIES, FAMILIES

        rows = load_problems(
            source,
            n=config.n_problems,
            seed=config.problem_seed,
            languages=config.languages,
            families=config.families or FAMILIES,
            difficulties=config.difficulties or DIFFICULTIES,
        )
    else:
        rows = read_rows(source, split=config.dataset_split)
    out = []
    for i, row in enumerate(rows):
        prompt = row.get("prompt")
        if not prompt and row.get("problem"):
            prompt = build_prompt(config.prompt_template, row["problem"], row.get("lang"))
        if not prompt:
            raise DataError(
                f"{source}: row {i + 1} has neither 'prompt' (chat messages) nor 'problem'; columns: {', '.join(row)}"
            )
        problem = message_problem(prompt)
        if problem:
            raise DataError(
                f"{source}: row {i + 1}: 'prompt' {problem}; give chat messages, or a 'problem' column that "
                f"prompt_template ({config.prompt_template}) turns into messages"
            )
        kept = {
            "prompt": prompt,
            "solution": row.get("solution"),
            "lang": row.get("lang"),
            "problem": row.get("problem"),
        }
        if row.get("pass_rate") is not None:
            kept["pass_rate"] = row["pass_rate"]
        out.append(kept)
    return out


def run_grpo(config: GRPOTrainConfig, progress: Progress | None = None) -> dict[str, Any]:
    """Train with GRPO as ``config`` says; returns the summary written into the model card."""
    from trl import GRPOConfig

    from filters.registry import parse_rewards

    weights = config.reward_weights
    rewards = parse_rewards(config.rewards, ",".join(str(w) for w in weights) if weights else None)
    rows = grpo_rows(config)
    if any(r["solution"] is None for r in rows) and any(r.name in ("accuracy", "cosine", "length") for r in rewards):
        raise DataError(f"{config.dataset}: the accuracy-based rewards need a 'solution' column in the training data")
    trl = config.trl_kwargs("datasets_out/models/r1-zero")
    trl["reward_weights"] = [r.weight for r in rewards]
    if config.rollout == "factory":
        from training.rollout import check_rollout_args

        check_rollout_args(trl)
    try:
        args = GRPOConfig(**trl)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"GRPO settings rejected by TRL: {str(err).splitlines()[0]}") from None

    from datasets import Dataset
    from trl import GRPOTrainer

    from generators.models import resolve_model

    model = resolve_model(config.model).path
    quiet_libraries()
    started = time.time()
    checkpoint = prepare_output(config, Path(args.output_dir))
    selection = None
    if config.select_k:
        rows, selection = _select(config, rows, Path(args.output_dir), args.max_completion_length)
    elif config.curriculum:
        if not any("pass_rate" in row for row in rows):
            raise DataError(
                f"{config.dataset}: curriculum needs measured pass rates: set select_k, or train on problems labelled "
                "by `r1f problems --pass-rates SAMPLED`"
            )
        rows.sort(key=lambda row: -row.get("pass_rate", -1.0))
    if config.curriculum:
        args.shuffle_dataset = False
    funcs = [r.fn for r in rewards]
    if config.truncated_zero:
        from transformers import AutoTokenizer

        eos = AutoTokenizer.from_pretrained(model).eos_token_id
        limit = args.max_completion_length
        funcs = [TruncatedZero(r.fn, r.name, limit, eos) if r.name in ACCURACY_BASED else r.fn for r in rewards]
    rollout = None
    if config.rollout == "factory":
        from training.rollout import FactoryRollout

        os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")  # rollout_func is marked experimental in TRL
        rollout = FactoryRollout(
            args.max_completion_length, args.temperature, args.top_p, args.seed, config.rollout_dtype
        )
    trainer_class = GRPOTrainer
    if config.shared_prompt:
        from training.shared_prompt import shared_prompt_trainer

        trainer_class = shared_prompt_trainer()
    trainer = trainer_class(
        model=model,
        reward_funcs=funcs,
        args=args,
        train_dataset=Dataset.from_list(rows),
        callbacks=[progress_callback(progress)],
        rollout_func=rollout,
    )
    quiet_trainer(trainer)
    trainer.train(resume_from_checkpoint=checkpoint)
    trainer.save_model(args.output_dir)
    summary = {
        "stage": "grpo",
        "base_model": config.model,
        "dataset": config.dataset,
        "rows": len(rows),
        "prompt_selection": selection,
        "rewards": {r.name: r.weight for r in rewards},
        "shared_prompt_batches": getattr(trainer, "shared_batches", 0),
        "template": config.prompt_template,
        "steps": trainer.state.global_step,
        "resumed_from": checkpoint,
        "seconds": round(time.time() - started, 1),
        "final_logs": last_logs(trainer.state.log_history),
        "log_history": trainer.state.log_history,
        "recipe": config.flat(),
    }
    if trainer.is_world_process_zero():
        write_card(Path(args.output_dir), summary)
        drop_checkpoints(config, Path(args.output_dir))
    return summary


def _select(
    config: GRPOTrainConfig, rows: list[dict[str, Any]], output_dir: Path, max_new_tokens: int
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Prompt selection before training (see training/select.py); the samples resume from a store."""
    from generators.sampling import parse_pass_rate
    from training.select import measure_pass_rates, select_prompts

    rates = measure_pass_rates(
        rows,
        config.model,
        k=config.select_k,
        max_new_tokens=max_new_tokens,
        store_dir=output_dir.parent / f".{output_dir.name}.select",
    )
    kept, dropped = select_prompts(rows, rates, parse_pass_rate(config.select_pass_rate), config.curriculum)
    selection = {"k": config.select_k, "measured": len(rows), "kept": len(kept), "dropped": dropped}
    if not kept:
        raise DataError(
            f"prompt selection kept none of {len(rows)} prompts ({', '.join(f'{k} {v}' for k, v in dropped.items())}):"
            " use easier or more problems, a wider select_pass_rate, or select_k: 0"
        )
    return kept, selection


#: rewards that pay for a correct final answer, which a truncated completion never gave
ACCURACY_BASED = ("accuracy", "cosine", "length")


class TruncatedZero:
    """A reward that scores 0 for a completion cut at the length limit (no EOS within ``limit`` tokens).

    TRL passes ``completion_ids`` to every reward function; a completion as long as the limit that does not end
    in EOS was cut, and whatever number it ends on is not the model's answer.
    """

    def __init__(self, fn: Any, name: str, limit: int, eos: int | list[int] | None) -> None:
        self.fn, self.limit = fn, limit
        self.eos = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        self.__name__ = name  # TRL logs rewards by function name

    def truncated(self, ids: Any) -> bool:
        ids = list(ids)
        return len(ids) >= self.limit and not (ids and ids[-1] in self.eos)

    def __call__(self, completions: list[Any], completion_ids: list[Any] | None = None, **kwargs: Any) -> list:
        scores = self.fn(completions, completion_ids=completion_ids, **kwargs)
        if completion_ids is None:
            return scores
        return [
            0.0 if score is not None and self.truncated(ids) else score for score, ids in zip(scores, completion_ids)
        ]
