"""``r1f curate | push``: dataset hygiene before training, and publishing to the Hub."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from r1f.commands import step_command
from r1f.console import print_table
from r1f.errors import ConfigError


def push(
    path: Annotated[Path, typer.Argument(help="A dataset directory the factory wrote (data/, README.md, plots).")],
    repo: Annotated[str | None, typer.Option(help="Hub dataset repo, user/name or org/name.")] = None,
    private: Annotated[bool, typer.Option(help="Create the repo private (applies when it is created).")] = False,
    revision: Annotated[str | None, typer.Option(help="Branch to push to (created from main if missing).")] = None,
    message: Annotated[str | None, typer.Option(help="Commit message.")] = None,
    dry_run: Annotated[
        Path | None, typer.Option(help="Write exactly the files that would be uploaded into this folder; send nothing.")
    ] = None,
    include_rejected: Annotated[
        bool, typer.Option(help="Also publish the rejected split (without the rows decontamination removed).")
    ] = False,
    include_contaminated: Annotated[
        bool, typer.Option(help="With --include-rejected: also publish rejected rows that copy a benchmark.")
    ] = False,
    license: Annotated[
        str | None, typer.Option(help="The card's license id (default: the source datasets', else apache-2.0).")
    ] = None,
) -> None:
    """Publish the kept splits of a dataset with its card, plots and manifest to the Hugging Face Hub
    (token: HF_TOKEN or login)."""
    from curation.publish import Selection, publish
    from curation.publish import dry_run as write_dry_run

    selection = Selection(include_rejected, include_contaminated, license)
    selection.check()
    if dry_run is not None:
        result = write_dry_run(path, dry_run, repo, selection)
        title = f"Dry run: {len(result.files)} files that a push would upload -> {dry_run}"
    else:
        if not repo:
            raise ConfigError("give --repo user/name (or --dry-run FOLDER to see what would be uploaded)")
        result = publish(path, repo, private=private, revision=revision, message=message, selection=selection)
        title = f"Pushed {path} -> {result.repo}@{result.revision} ({result.url})"
    print_table(title, ["file", "bytes"], [[name, result.sizes[name]] for name in result.files])


def register(app: typer.Typer) -> None:
    step_command(
        app,
        "curate",
        "curate",
        help="Decontaminate, dedup, mix at a ratio and split: the dataset hygiene step before training or publishing.",
    )
    step_command(
        app,
        "pairs",
        "pairs",
        help="Preference pairs (prompt, chosen, rejected) for TRL's DPOTrainer from a rejection-sampled dataset: "
        "chosen = the shortest correct sample, rejected = an incorrect one (or the longest correct).",
    )
    step_command(
        app,
        "audit",
        "audit",
        help="Re-check a scored dataset's accuracy verdicts with an independent checker (and optionally a model): "
        "agreement, false-credit and false-zero rates with 95% intervals, the disagreeing rows for review, "
        "and every reward on adversarial probes.",
    )
    app.command("push")(push)
