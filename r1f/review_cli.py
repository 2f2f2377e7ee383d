"""``r1f review``: human review in Argilla, as a typer sub-app of ``r1f``.

Each command parses options and calls one function of :mod:`curation.review`; the local server's
lifecycle lives in :mod:`curation.review.server`.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated

import typer

from r1f.cli import DatasetOutOpt, SplitOpt
from r1f.console import console, print_table

review_app = typer.Typer(
    help="Human review in Argilla: serve a local one, push rows, pull the curated result, follow progress.",
    no_args_is_help=True,
)
ApiUrlOpt = Annotated[
    str | None,
    typer.Option(
        envvar="ARGILLA_API_URL",
        help="An existing Argilla (HF Space, Docker). Default: the one `r1f review serve` started.",
    ),
]
ApiKeyOpt = Annotated[
    str | None, typer.Option(envvar="ARGILLA_API_KEY", help="Its API key (never printed).", show_envvar=True)
]
WorkspaceOpt = Annotated[str | None, typer.Option(help="Argilla workspace. Default: the owner's.")]
HomeOpt = Annotated[
    Path | None,
    typer.Option(help="Local Argilla home (venv, database, credentials). Default: $R1F_ARGILLA_HOME or the cache."),
]


@review_app.command("serve")
def review_serve(
    port: Annotated[int, typer.Option(help="Port for the web UI and API on 127.0.0.1.")] = 6900,
    reviewer: Annotated[
        list[str] | None, typer.Option(help="Create this annotator account (repeatable); same password as the owner.")
    ] = None,
    home: HomeOpt = None,
) -> None:
    """Start a real local Argilla (server + Redis + worker, SQLite search) on 127.0.0.1 until Ctrl-C."""
    import time

    from curation.review.server import CREDENTIALS, default_home, local_argilla

    home = home or default_home()
    console.print(f"starting Argilla in {home} (the first start installs argilla-server into its own venv) …")
    with local_argilla(home, port=port, reviewers=tuple(reviewer or ())) as credentials:
        print_table(
            "Argilla is running (Ctrl-C stops it)",
            ["", ""],
            [
                ["web UI / API", credentials.api_url],
                ["owner", f"{credentials.username} (password and API key in {home / CREDENTIALS})"],
                ["reviewers", ", ".join(reviewer or []) or "none (add with --reviewer NAME)"],
            ],
        )
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            console.print("stopping Argilla …")


@review_app.command("push")
def review_push(
    dataset: Annotated[str, typer.Argument(help="Factory dataset to review (directory, file or Hub name).")],
    dataset_name: Annotated[str, typer.Option(help="Name of the Argilla dataset (created or updated).")],
    split: SplitOpt = "train",
    api_url: ApiUrlOpt = None,
    api_key: ApiKeyOpt = None,
    workspace: WorkspaceOpt = None,
    home: HomeOpt = None,
) -> None:
    """Push rows as Argilla records: problem / reasoning / answer / gold, scores as metadata and suggestions."""
    from curation.review.client import push
    from curation.review.server import resolve_credentials
    from r1f.io import read_rows

    rows = read_rows(dataset, split=split)
    result = push(rows, dataset_name, resolve_credentials(api_url, api_key, home), workspace=workspace, source=dataset)
    print_table(
        f"Pushed {dataset} -> Argilla dataset {result.dataset!r} (workspace {result.workspace})",
        ["", ""],
        [["new records", result.created], ["updated records", result.updated], ["review at", result.url]],
    )


@review_app.command("pull")
def review_pull(
    dataset_name: Annotated[str, typer.Argument(help="The Argilla dataset to read.")],
    out: DatasetOutOpt,
    api_url: ApiUrlOpt = None,
    api_key: ApiKeyOpt = None,
    workspace: WorkspaceOpt = None,
    home: HomeOpt = None,
) -> None:
    """Build the curated dataset: accepted rows with corrections (re-verified), rejected with reasons."""
    from curation.review.client import pull
    from curation.review.server import resolve_credentials
    from r1f.io import write_dataset

    result = pull(dataset_name, resolve_credentials(api_url, api_key, home), workspace=workspace)
    splits = {"train": result.accepted}
    if result.rejected:
        splits["rejected"] = result.rejected
    if result.unreviewed:
        splits["unreviewed"] = result.unreviewed
    counts = dict(result.counts)
    counts["dropped_by_reason"] = dict(Counter(r["reject_reason"] for r in result.rejected))
    manifest = {
        "kind": "reviewed",
        "command": ["r1f", "review", "pull", dataset_name],
        "parameters": {"argilla_dataset": dataset_name, "workspace": workspace},
        "counts": counts,
    }
    write_dataset(out, splits, manifest)
    print_table(
        f"Reviewed {dataset_name!r} -> {out}",
        ["", "rows"],
        [
            [key, counts.get(key, 0)]
            for key in (
                "accepted",
                "corrected",
                "accepted_but_disagrees_with_gold",
                "rejected",
                "discarded",
                "unreviewed",
                "reviewers_disagree",
            )
        ],
    )


@review_app.command("status")
def review_status(
    dataset_name: Annotated[str, typer.Argument(help="The Argilla dataset.")],
    api_url: ApiUrlOpt = None,
    api_key: ApiKeyOpt = None,
    workspace: WorkspaceOpt = None,
    home: HomeOpt = None,
) -> None:
    """Review progress: records completed / pending, and per reviewer submitted / discarded / draft."""
    from curation.review.client import status
    from curation.review.server import resolve_credentials

    progress = status(dataset_name, resolve_credentials(api_url, api_key, home), workspace=workspace)
    print_table(
        f"Argilla dataset {dataset_name!r}",
        ["records", "completed", "pending"],
        [[progress.get("total", 0), progress.get("completed", 0), progress.get("pending", 0)]],
    )
    rows = []
    for user, parts in sorted((progress.get("users") or {}).items()):
        done, pending = parts.get("completed", {}), parts.get("pending", {})
        rows.append([user] + [done.get(k, 0) + pending.get(k, 0) for k in ("submitted", "discarded", "draft")])
    print_table(
        "Per reviewer", ["reviewer", "submitted", "discarded", "draft"], rows or [["(no responses yet)", 0, 0, 0]]
    )
