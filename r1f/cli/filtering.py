"""``r1f score | filter``: reward columns on every row; keep or drop each row with a reason."""

from __future__ import annotations

import typer

from r1f.cli.options import step_command


def register(app: typer.Typer) -> None:
    step_command(app, "score", "score", help="Add one reward_<name> column per reward to every row (resumable).")
    step_command(
        app,
        "filter",
        "filter",
        help="Score rows, keep or drop each with a recorded reason, plot each reward (resumable).",
    )
