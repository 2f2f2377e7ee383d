"""``r1f rewards | score | filter``: the reward registry; reward columns on every row; keep or drop each row."""

from __future__ import annotations

import typer

from r1f.commands import step_command
from r1f.console import print_table


def rewards() -> None:
    """List the registered reward functions (usable in --rewards, --keep and training recipes)."""
    from filters.registry import REWARDS
    from filters.rules import RULES

    print_table(
        "Rewards (TRL signature; None = cannot be judged)",
        ["name", "what it scores"],
        [[name, text] for name, (_, text) in REWARDS.items()],
    )
    print_table(
        "Removal rules (--rules)", ["name", "drops rows where"], [[n, make().help] for n, make in RULES.items()]
    )


def register(app: typer.Typer) -> None:
    app.command()(rewards)
    step_command(app, "score", "score", help="Add one reward_<name> column per reward to every row (resumable).")
    step_command(
        app,
        "filter",
        "filter",
        help="Score rows, keep or drop each with a recorded reason, plot each reward (resumable).",
    )
