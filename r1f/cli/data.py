"""``r1f inspect | stats``: what any dataset holds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from r1f.console import console, print_rows, print_stats, print_table


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


def register(app: typer.Typer) -> None:
    app.command()(inspect)
    app.command()(stats)
