"""What every training stage does around its trainer: where it resumes from, quiet logs, progress, the model card.

GRPO and SFT differ in their trainer and their rows; the lifecycle around them is one: prepare the output
(resume only from a complete checkpoint the same settings made), keep libraries quiet, report progress,
write the model card and its summary, drop the checkpoints once the model is saved.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from r1f.step import Progress
from training.config import TrainConfig

FINGERPRINT_FILE = ".r1f-train-fingerprint"


def prepare_output(config: TrainConfig, output_dir: Path) -> str | None:
    """The checkpoint to resume from, or None to start fresh.

    A run resumes only from checkpoints its own settings made (recorded beside them) and only from a
    complete one (``trainer_state.json`` is written last); a checkpoint left half-written by a kill is
    removed. With other settings, or ``resume: false``, old checkpoints are cleared and training starts over.
    """
    import shutil

    from r1f.executor import distributed_rank
    from r1f.schema import stable_id

    if distributed_rank() > 0:  # rank 0 owns the output directory; the others resume from what it chose
        return _last_complete(output_dir) if config.resume else None
    output_dir.mkdir(parents=True, exist_ok=True)
    marker = output_dir / FINGERPRINT_FILE
    fingerprint = stable_id(config.fingerprint_dict())
    same = marker.is_file() and marker.read_text().strip() == fingerprint
    checkpoints = sorted(output_dir.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]))
    complete = [c for c in checkpoints if (c / "trainer_state.json").is_file()]
    for partial in set(checkpoints) - set(complete):
        shutil.rmtree(partial, ignore_errors=True)
    if not (config.resume and same and complete):
        for old in complete:
            shutil.rmtree(old, ignore_errors=True)
        complete = []
    marker.write_text(fingerprint + "\n")
    return str(complete[-1]) if complete else None


def quiet_trainer(trainer: Any) -> None:
    """Our progress bar and summary table replace the trainer's own tqdm bar and printed log dicts."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)


def quiet_libraries() -> None:
    """Silence what transformers prints on every load and save (weight-loading bars, deprecations inside TRL)."""
    import warnings

    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"transformers\..*")
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"torch\.nn\..*")


def drop_checkpoints(config: TrainConfig, output_dir: Path) -> None:
    """Once the model is saved, its checkpoints have done their job (resuming a killed run); remove them unless
    asked to keep them, so a recipe does not leave gigabytes of optimizer state per stage."""
    import shutil

    if not config.keep_checkpoints:
        for checkpoint in output_dir.glob("checkpoint-*"):
            shutil.rmtree(checkpoint, ignore_errors=True)


def _last_complete(output_dir: Path) -> str | None:
    checkpoints = sorted(output_dir.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]))
    complete = [c for c in checkpoints if (c / "trainer_state.json").is_file()]
    return str(complete[-1]) if complete else None


def progress_callback(progress: Progress | None) -> Any:
    """A TRL callback that reports steps done to the runner's progress bar."""
    from transformers import TrainerCallback

    class StepProgress(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if progress is not None:
                loss = next((e.get("loss") for e in reversed(state.log_history) if "loss" in e), None)
                progress(
                    state.global_step, state.max_steps, f"steps (loss {loss:.4f})" if loss is not None else "steps"
                )

    return StepProgress()


def last_logs(history: list[dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for entry in history:
        merged.update(entry)
    return {k: v for k, v in merged.items() if isinstance(v, (int, float))}


def write_card(directory: Path, summary: dict[str, Any]) -> None:
    """A model card saying which dataset and recipe made the model, with the final logged metrics."""
    import json

    import yaml

    from r1f.redact import public

    summary = public(summary)

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
        *(
            [
                f"Prompt selection: {s['kept']} of {s['measured']} prompts kept after {s['k']} samples each with "
                f"the starting model; dropped: {json.dumps(s['dropped'])}.",
                "",
            ]
            if (s := summary.get("prompt_selection"))
            else []
        ),
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
    (directory / FINGERPRINT_FILE).unlink(missing_ok=True)
