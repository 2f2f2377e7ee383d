"""``r1f models | problems | inspect | stats | rewards``: what there is to work with, and what a dataset holds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from r1f.cli.options import command_from_config
from r1f.console import console, print_rows, print_stats, print_table


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
    from r1f.cli.options import run_step

    result = run_step(ProblemsStep(config))
    print_stats(result.data["rows"], columns=["lang", "family", "difficulty"], title="Problems")
    if result.stats.extra.get("repeats"):
        console.print(
            f"[yellow]note:[/] {result.stats.extra['repeats']} problems repeat an earlier one: the small value spaces "
            "(e.g. distance and percent at difficulty 1) ran out; ask for fewer, or add families/difficulties. "
            "`r1f curate` removes them."
        )


def inspect(
    path: Annotated[str, typer.Argument(help="A dataset directory, a jsonl/parquet/csv file, or a Hub dataset name.")],
    rows: Annotated[int, typer.Option("--rows", help="How many example rows to show.")] = 3,
    split: Annotated[str, typer.Option(help="Split to show for multi-split datasets.")] = "train",
) -> None:
    """Show row count, columns, example rows and per-column statistics of any readable dataset."""
    from r1f.io import read_manifest, read_rows

    data = read_rows(path, split=split)
    manifest = read_manifest(path) if Path(path).is_dir() else None
    console.print(f"[bold]{path}[/]: {len(data)} rows, {len(data[0])} columns")
    if manifest:
        counts = manifest.get("counts", {})
        console.print(f"made by: {manifest.get('kind', '?')} | model: {manifest.get('model', {})} | counts: {counts}")
    print_rows(data[:rows])
    print_stats(data, title="Column statistics")


def stats(
    path: Annotated[str, typer.Argument(help="A dataset directory the factory wrote (or any readable table).")],
) -> None:
    """Print the tables a dataset card holds: rows per split, drops per reason, lengths, rewards, languages."""
    from r1f.card import dropped_by_reason, statistics
    from r1f.io import dataset_files, read_manifest, read_rows

    directory = Path(path)
    names = list(dataset_files(directory)) if directory.is_dir() else ["train"]
    splits = {name: read_rows(path, split=name, allow_empty=True) for name in names}
    manifest = (read_manifest(path) if directory.is_dir() else None) or {}
    print_table(
        f"{path} ({manifest.get('kind', 'table')})", ["split", "rows"], [[n, len(r)] for n, r in splits.items()]
    )
    reasons = dropped_by_reason(splits, manifest)
    if reasons:
        print_table("Dropped by reason", ["reason", "rows"], sorted(reasons.items(), key=lambda kv: -kv[1]))
    lines = statistics(splits, manifest)
    if lines:
        print_table("Statistics", ["statistic"], [[line] for line in lines])
    if splits.get("train"):
        print_stats(splits["train"], title="Columns of train")


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
    from generators.steps import ProblemSetConfig

    app.command()(models)
    command_from_config(
        app,
        "problems",
        ProblemSetConfig,
        _problems,
        help="Make a built-in set of math word problems with exact gold answers.",
    )
    app.command()(inspect)
    app.command()(stats)
    app.command()(rewards)
