"""``r1f train grpo | sft`` and ``r1f eval``: step commands like every other.

A training command takes its config's flags, ``--config FILE`` (a training config: flat keys, ours and TRL's;
a shipped name such as ``r1-zero-smollm2`` works too) and ``--set key=value`` for any key, TRL's included.
``--recipe`` is the old spelling of ``--config`` and still works for one release, with a note.
"""

from __future__ import annotations

from typing import Any

import typer

from r1f.commands import step_command

train_app = typer.Typer(
    help="Thin TRL stages: their flags, --config FILE (flat keys, ours and TRL's; shipped: training/recipes/) and "
    "--set key=value.",
    no_args_is_help=True,
)


def _default_config(name: str) -> Any:
    """The shipped config a training command starts from, unless the old ``--recipe`` names one."""
    return lambda flags: None if flags.get("recipe") else name


def _output_dir(default: str) -> Any:
    def prepare(config: Any) -> None:
        from r1f.console import console

        if config.recipe:
            console.print("[yellow]note:[/] --recipe is now --config (the old spelling works for one more release)")
        if not config.output_dir:
            config.output_dir = config.trl.get("output_dir") or default

    return prepare


def register(app: typer.Typer) -> None:
    step_command(
        train_app,
        "grpo",
        "train-grpo",
        help="GRPO (R1-Zero, reasoning RL) with rewards from the registry by name and weight.",
        default_config=_default_config("r1-zero-smollm2"),
        prepare=_output_dir("datasets_out/models/grpo"),
    )
    step_command(
        train_app,
        "sft",
        "train-sft",
        help="SFT on a factory dataset with messages (cold start, rejection sampled, distill).",
        default_config=_default_config("sft-cold-start-smollm2"),
        prepare=_output_dir("datasets_out/models/sft"),
    )
    app.add_typer(train_app, name="train")
    step_command(
        app,
        "eval",
        "eval",
        help="pass@1 (greedy) and pass@k (sampled), format, language consistency and truncation, with 95% intervals.",
    )
