"""The training and evaluation steps: ``train-grpo``, ``train-sft`` and ``eval``.

Training runs whole (one shard); a killed stage resumes from its last complete checkpoint when its
settings are unchanged (``training.grpo.prepare_output``). Evaluation writes ``eval.json`` with Wilson
intervals, which the recipe report collects into one table.
"""

from __future__ import annotations

import json
from typing import Any

from r1f.step import DATASET, EVAL, MODEL, Slot, Step, StepContext, StepResult, StepStats
from training.config import GRPOTrainConfig, SFTTrainConfig
from training.evaluate import EvalConfig


def _training_result(step: Step, summary: dict[str, Any]) -> StepResult:
    logs = summary["final_logs"]
    table: list[tuple[str, Any]] = [
        ("steps", summary["steps"]),
        ("seconds", summary["seconds"]),
        ("rows", summary["rows"]),
    ]
    selection = summary.get("prompt_selection")
    if selection:
        table.append((f"prompts measured (k={selection['k']})", selection["measured"]))
        table += [(f"prompts dropped: {reason}", n) for reason, n in selection["dropped"].items()]
    table += [
        (k, round(v, 4) if isinstance(v, float) else v)
        for k, v in sorted(logs.items())
        if k.startswith(("rewards/", "reward", "loss", "train_loss", "grad_norm"))
    ]
    stats = StepStats(total=summary["rows"], kept=summary["rows"], timings={"train": summary["seconds"]})
    return StepResult(
        step.output,
        stats,
        table,
        title=f"r1f train {summary['stage']} -> {step.output} (model card written)",
        data={"training": summary},
    )


#: what a model folder the factory trained holds (its training fingerprint, its training summary)
MODEL_MARKERS = (".r1f-train-fingerprint", "r1f_training.json")


class GRPOStep(Step[GRPOTrainConfig]):
    """GRPO (R1-Zero, reasoning RL) with rewards from the registry by name and weight."""

    name = "train-grpo"
    config_class = GRPOTrainConfig
    model_template_key = "prompt_template"
    trains_template = "key:prompt_template"
    inputs = {
        "model": Slot("model", MODEL, help="the model to train"),
        "dataset": Slot(
            "dataset", DATASET, help="prompt/problem rows (default: built-in problems)", columns=("prompt|problem",)
        ),
    }
    output_kind = MODEL
    output_field = "output_dir"
    output_markers = MODEL_MARKERS
    summary = "GRPO (R1-Zero / reasoning RL)"

    def finish(self, ctx: StepContext) -> StepResult:
        from training.grpo import run_grpo

        return _training_result(self, run_grpo(self.config, progress=ctx.progress))


class SFTStep(Step[SFTTrainConfig]):
    """Supervised fine-tuning on a factory SFT dataset."""

    name = "train-sft"
    config_class = SFTTrainConfig
    trains_template = "input:dataset"
    inputs = {
        "model": Slot("model", MODEL, help="the model to start from"),
        "dataset": Slot("dataset", DATASET, help="SFT rows with messages", columns=("messages",)),
    }
    output_kind = MODEL
    output_field = "output_dir"
    output_markers = MODEL_MARKERS
    summary = "SFT (cold start, rejection sampled, distillation)"

    def finish(self, ctx: StepContext) -> StepResult:
        from training.sft import run_sft

        return _training_result(self, run_sft(self.config, progress=ctx.progress))


class EvalStep(Step[EvalConfig]):
    """pass@1, pass@k, format, language consistency and truncation on held-out problems, with intervals."""

    name = "eval"
    config_class = EvalConfig
    model_template_key = "template"
    model_template_auto = True
    inputs = {
        "model": Slot("model", MODEL, help="the model to evaluate"),
        "problems": Slot(
            "problems", DATASET, help="problems to evaluate on (default: the held-out split)", columns=("problem",)
        ),
    }
    output_kind = EVAL
    summary = "evaluate on held-out problems"

    def finish(self, ctx: StepContext) -> StepResult:
        from training.evaluate import run_eval

        result = run_eval(self.config, progress=ctx.progress)
        out = result.pop("out_dir")
        stats = StepStats(total=result["n_problems"], kept=result["n_problems"])
        table = []
        for name, part in (result.get("benchmarks") or {"": result}).items():
            intervals = part.get("intervals", {})
            for key, value in part.items():
                if key in ("intervals", "judged", "greedy_correct", "benchmarks") or isinstance(value, dict):
                    continue
                if name and key in ("model", "engine", "problems", "max_new_tokens"):
                    continue
                ci = intervals.get(key)
                shown = f"{value} ({ci[0]:.3f}–{ci[1]:.3f})" if ci and value is not None else value
                table.append((f"{name}: {key}" if name else key, shown))
            probe = part.get("memorisation")
            if probe and probe.get("n"):
                table.append(
                    (
                        f"{name}: memorisation (exact / ROUGE-L / states gold)",
                        f"{probe['exact']['value']} / {probe['rouge_l']['value']} / {probe['states_gold']['value']}",
                    )
                )
        return StepResult(
            self.output, stats, table, title=f"eval {self.config.model} -> {out}/eval.json", data={"eval": result}
        )

    @property
    def output(self) -> Any:
        from training.evaluate import default_out

        return default_out(self.config)


def read_eval(directory: Any) -> dict[str, Any] | None:
    """An evaluation's results, as the report reads them."""
    from pathlib import Path

    path = Path(directory) / "eval.json"
    return json.loads(path.read_text()) if path.is_file() else None
