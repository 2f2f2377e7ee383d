"""``r1f models | problems``: the embedded models, and built-in problem sets."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from r1f.commands import command_from_config
from r1f.console import console, print_stats, print_table


def models(
    name: Annotated[
        str | None,
        typer.Argument(help="Resolve this alias, local path or Hub id (converting the embedded model if needed)."),
    ] = None,
) -> None:
    """List the embedded model aliases, or resolve NAME to the directory engines and trainers load."""
    from generators.models import EMBEDDED, converted_dir, resolve_model

    if name:
        resolved = resolve_model(name)
        console.print(f"{resolved.name} -> {resolved.path} ({resolved.kind})")
        return
    rows = []
    for alias, model in EMBEDDED.items():
        target = converted_dir(model)
        ready = (target / "config.json").is_file()
        rows.append(
            [alias, model.description, str(target) if ready else "not converted yet (first use converts, ~30 s)"]
        )
    print_table(
        "Embedded models (any Hugging Face id or local model directory also works)", ["alias", "model", "cache"], rows
    )


def _problems(config: Any, extras: dict[str, Any]) -> None:
    from generators.steps import ProblemsStep
    from r1f.commands import run_step

    result = run_step(ProblemsStep(config))
    print_stats(result.data["rows"], columns=["lang", "family", "difficulty"], title="Problems")
    if result.stats.extra.get("repeats"):
        console.print(
            f"[yellow]note:[/] {result.stats.extra['repeats']} problems repeat an earlier one: the small value spaces "
            "(e.g. distance and percent at difficulty 1) ran out; ask for fewer, or add families/difficulties. "
            "`r1f curate` removes them."
        )


def register(app: typer.Typer) -> None:
    from generators.steps import ProblemSetConfig

    app.command()(models)
    command_from_config(
        app,
        "problems",
        ProblemSetConfig,
        _problems,
        help="Make a built-in set of math word problems with exact gold answers.",
    )
