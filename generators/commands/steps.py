"""``r1f generate | cold-start | sample | distill``: each a step whose flags come from its config."""

from __future__ import annotations

import typer

from r1f.commands import step_command


def register(app: typer.Typer) -> None:
    step_command(
        app,
        "generate",
        "generate",
        help="Run problems through an engine and write a dataset of completions (resumable: rerun to continue).",
    )
    step_command(
        app,
        "cold-start",
        "cold-start",
        help="Make cold-start SFT data: verified long-CoT samples in train, the rest in rejected with reasons.",
    )
    step_command(
        app,
        "sample",
        "sample",
        help="Rejection sampling: k completions per problem, verified; keep the correct ones, record pass rates.",
    )
    step_command(
        app,
        "distill",
        "distill",
        help="Distillation data: a teacher's (--model) verified reasoning traces, sized for a student.",
    )
