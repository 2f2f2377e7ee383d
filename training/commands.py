"""``r1f train grpo | sft`` (YAML recipes, ``--set key=value``) and ``r1f eval``."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from r1f.commands import run_step, step_command

train_app = typer.Typer(
    help="Thin TRL stages configured by YAML recipes (flat keys; --set key=value overrides).", no_args_is_help=True
)

RecipeOpt = Annotated[
    str | None,
    typer.Option(help="A recipe YAML file or a shipped recipe name (training/recipes/), e.g. r1-zero-smollm2."),
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a recipe key (repeatable): --set max_steps=3 --set dataset=PATH."),
]
OutputDirOpt = Annotated[str | None, typer.Option(help="Where the model, checkpoints and model card go.")]
ResumeOpt = Annotated[
    bool,
    typer.Option(
        "--resume/--no-resume",
        help="Continue from the last complete checkpoint in --output-dir when the same settings made it (default); "
        "--no-resume starts over.",
    ),
]


def _train(step: str, recipe: str | None, sets: list[str] | None, output_dir: str | None, resume: bool) -> None:
    from r1f.config import parse_overrides
    from r1f.step import step_class

    cls = step_class(step)
    mapping: dict[str, Any] = {"recipe": recipe, **parse_overrides(sets)}
    if output_dir:
        mapping["output_dir"] = output_dir
    mapping["resume"] = resume
    config = cls.config_class.from_mapping(mapping)
    if not config.output_dir:  # type: ignore[attr-defined]
        config.output_dir = config.trl.get("output_dir") or f"datasets_out/models/{step.removeprefix('train-')}"  # type: ignore[attr-defined]
    run_step(cls(config))


@train_app.command("grpo")
def train_grpo(
    recipe: RecipeOpt = "r1-zero-smollm2",
    set_: SetOpt = None,
    output_dir: OutputDirOpt = None,
    resume: ResumeOpt = True,
) -> None:
    """GRPO (R1-Zero, reasoning RL) with rewards from the registry by name and weight."""
    _train("train-grpo", recipe, set_, output_dir, resume)


@train_app.command("sft")
def train_sft(
    recipe: RecipeOpt = "sft-cold-start-smollm2",
    set_: SetOpt = None,
    output_dir: OutputDirOpt = None,
    resume: ResumeOpt = True,
) -> None:
    """SFT on a factory dataset with messages (cold start, rejection sampled, distill)."""
    _train("train-sft", recipe, set_, output_dir, resume)


def register(app: typer.Typer) -> None:
    app.add_typer(train_app, name="train")
    step_command(
        app,
        "eval",
        "eval",
        help="pass@1 (greedy) and pass@k (sampled), format, language consistency and truncation, with 95% intervals.",
    )
